"""The public pages a mailed link opens. The web app routes these paths and every mail points
at them, so they are written once, here, below both (subscribers sign the tokens; they do not
choose where the pages live)."""

CONFIRM_PAGE = "/confirm"
UNSUBSCRIBE_PAGE = "/unsubscribe"
PREFERENCES_PAGE = "/preferences"


def page_url(base_url: str, page: str, token: str) -> str:
    """The absolute link to `page` for one signed token."""
    return f"{base_url.rstrip('/')}{page}/{token}"
