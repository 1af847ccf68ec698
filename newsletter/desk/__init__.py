"""The editors' desk as a library: accounts, the choices editors make about an edition (kept
apart from the built items, so a rebuild keeps them), approval, test copies, and the audit log
of all of it. The web pages (`newsletter.web.desk`) and the CLI call these functions."""
