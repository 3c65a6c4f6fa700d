"""Alembic environment: the URL comes from the caller's config (loopline.predictions.store.migrate)."""

from alembic import context
from sqlalchemy import create_engine

from loopline.predictions.schema import metadata

engine = create_engine(context.config.get_main_option("sqlalchemy.url"))
with engine.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata)
    with context.begin_transaction():
        context.run_migrations()
engine.dispose()
