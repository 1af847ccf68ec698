"""The languages the site publishes in, and so the editions there are."""

LANGUAGES = ("en", "ru")
