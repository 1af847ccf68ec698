"""Delivery: compose one recipient's message, hand it to a transport."""

from newsletter.deliver.message import compose
from newsletter.deliver.transport import RecipientRefused, SmtpTransport, Transport

__all__ = ["RecipientRefused", "SmtpTransport", "Transport", "compose"]
