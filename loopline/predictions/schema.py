"""The store's tables (SQLAlchemy Core). Alembic's migrations create them; this is what the code reads."""

from sqlalchemy import JSON, Boolean, Column, DateTime, Float, Index, Integer, MetaData, String, Table

metadata = MetaData()

predictions = Table(
    "predictions",
    metadata,
    Column("answer_id", String(128), primary_key=True),  # one per answer given, whatever the request id
    Column("position", Integer, primary_key=True),  # the instance's place in its request
    Column("role", String(16), primary_key=True),  # production, canary or shadow
    Column("request_id", String(128), nullable=False, index=True),  # the client's, or a new one
    Column("predicted_at", DateTime(timezone=True), nullable=False),
    Column("departs_at", DateTime(timezone=True), nullable=True, index=True),  # the scheduled departure
    Column("flight_key", String(128), nullable=False, index=True),
    Column("model_version", String(16), nullable=False),
    Column("inputs", JSON, nullable=False),
    Column("score", Float, nullable=True),  # None: the model failed (`error` says how)
    Column("latency_ms", Float, nullable=True),  # the model call that scored the instance's request
    Column("error", String(200), nullable=True),  # a canary or shadow that failed: production answered
    Index("ix_predictions_version_departs", "model_version", "departs_at"),
)

outcomes = Table(
    "outcomes",
    metadata,
    Column("flight_key", String(128), primary_key=True),
    Column("value", Float, nullable=True),  # the label column's value; None: it never arrived
    Column("received_at", DateTime(timezone=True), nullable=False),
    Column("known_at", DateTime(timezone=True), nullable=True),  # the arrival it reports; None: received_at
    Column("disputed", Boolean, nullable=False, default=False),  # another report disagreed
)

outcome_disputes = Table(  # every later report that disagreed with the stored outcome
    "outcome_disputes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("flight_key", String(128), nullable=False, index=True),
    Column("value", Float, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False),
)
