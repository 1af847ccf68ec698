"""SMTP: the relay connection (`transport`), MIME encoding (`mime`), DKIM signing
(`dkim`), N connections under one rate limit (`pool`), and a local receiving server for the
demo and the tests (`sink`)."""

from newsletter.delivery.smtp.mime import compose
from newsletter.delivery.smtp.transport import RecipientRefused, SmtpTransport

__all__ = ["RecipientRefused", "SmtpTransport", "compose"]
