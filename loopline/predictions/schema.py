"""The store's tables (SQLAlchemy Core). Alembic's migrations create them; this is what the code reads."""

from sqlalchemy import JSON, Column, DateTime, Float, Integer, MetaData, String, Table

metadata = MetaData()

predictions = Table(
    "predictions",
    metadata,
    Column("request_id", String(128), primary_key=True),
    Column("position", Integer, primary_key=True),  # the instance's place in its request
    Column("role", String(16), primary_key=True),  # production, canary or shadow
    Column("predicted_at", DateTime(timezone=True), nullable=False),
    Column("flight_key", String(128), nullable=False, index=True),
    Column("model_version", String(16), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("score", Float, nullable=False),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("flight_key", String(128), primary_key=True),
    Column("value", Float, nullable=True),  # the label column's value; None: it never arrived
    Column("received_at", DateTime(timezone=True), nullable=False),
)
