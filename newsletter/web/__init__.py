"""The web pages of `newsletter serve` (subscription, preferences, archive), one ASGI app."""

from newsletter.web.app import create_app

__all__ = ["create_app"]
