"""predictions and outcomes

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
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
    op.create_index("ix_predictions_flight_key", "predictions", ["flight_key"])
    op.create_table(
        "outcomes",
        sa.Column("flight_key", sa.String(128), primary_key=True),
        sa.Column("value", sa.Float, nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("outcomes")
    op.drop_index("ix_predictions_flight_key", "predictions")
    op.drop_table("predictions")
