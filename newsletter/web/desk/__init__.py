"""The editors' desk under /desk: sign-in, the calendar of editions, an edition's page (preview,
changes, test copy, approval, audit log) and the delivery view. Every page needs a session;
every action also a CSRF token from the desk's own page and a same-origin request."""

from newsletter.web.desk.pages import routes

__all__ = ["routes"]
