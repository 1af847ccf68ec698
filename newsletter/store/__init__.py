"""Persistence: typed SQLAlchemy models, named queries and Alembic migrations."""
