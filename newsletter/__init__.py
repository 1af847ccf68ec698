"""Daily email edition of a defence-industry news site: ingest, pick, summarize, render, deliver."""

__version__ = "0.1.0"
