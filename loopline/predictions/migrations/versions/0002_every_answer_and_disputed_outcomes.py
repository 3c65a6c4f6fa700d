"""every answer kept, disputed outcomes, the times the monitor reads

Revision ID: 0002
Revises: 0001

A prediction is keyed by its answer (a new id per answer), not by the client's request id, so
two requests that reuse an id are both stored; it carries its scheduled departure (windows are
of departures; earlier rows have none). An outcome carries when it became known (the arrival
it reports; without one, when it was received) and, when a later report disagrees with it, is
flagged, the report kept in outcome_disputes.
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

COLUMNS = "request_id, position, role, predicted_at, flight_key, model_version, inputs, score"


def upgrade() -> None:
    op.drop_index("ix_predictions_flight_key", "predictions")
    op.rename_table("predictions", "predictions_0001")
    op.create_table(
        "predictions",
        sa.Column("answer_id", sa.String(128), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("request_id", sa.String(128), nullable=False),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("departs_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("flight_key", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
    )
    # an earlier request id stood for one answer: it becomes that answer's id
    op.execute(f"INSERT INTO predictions (answer_id, {COLUMNS}) SELECT request_id, {COLUMNS} FROM predictions_0001")
    op.drop_table("predictions_0001")
    op.create_index("ix_predictions_flight_key", "predictions", ["flight_key"])
    op.create_index("ix_predictions_request_id", "predictions", ["request_id"])
    op.create_index("ix_predictions_departs_at", "predictions", ["departs_at"])
    op.add_column("outcomes", sa.Column("known_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("outcomes", sa.Column("disputed", sa.Boolean, nullable=False, server_default=sa.false()))
    op.create_table(
        "outcome_disputes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("flight_key", sa.String(128), nullable=False, index=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outcome_disputes")
    op.drop_column("outcomes", "disputed")
    op.drop_column("outcomes", "known_at")
    op.drop_index("ix_predictions_departs_at", "predictions")
    op.drop_index("ix_predictions_request_id", "predictions")
    op.drop_index("ix_predictions_flight_key", "predictions")
    op.rename_table("predictions", "predictions_0002")
    op.create_table(
        "predictions",
        sa.Column("request_id", sa.String(128), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("role", sa.String(16), primary_key=True),
        sa.Column("predicted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("flight_key", sa.String(128), nullable=False),
        sa.Column("model_version", sa.String(16), nullable=False),
        sa.Column("inputs", sa.JSON, nullable=False),
        sa.Column("score", sa.Float, nullable=False),
    )
    op.execute(
        f"INSERT INTO predictions ({COLUMNS}) SELECT {COLUMNS} FROM predictions_0002 WHERE true ON CONFLICT DO NOTHING"
    )
    op.drop_table("predictions_0002")
    op.create_index("ix_predictions_flight_key", "predictions", ["flight_key"])
