"""The prediction and ground-truth store: every prediction the server made and, later, what
happened, joined by flight key. SQLAlchemy over SQLite by default, PostgreSQL in production; the
schema is created and migrated by Alembic."""
