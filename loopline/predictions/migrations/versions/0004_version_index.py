"""an index on each prediction's model version and departure

Revision ID: 0004
Revises: 0003

The canary judge reads a version's predictions from its first scored departure on; without the
index finding that departure scans every prediction stored.
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_predictions_version_departs", "predictions", ["model_version", "departs_at"])


def downgrade() -> None:
    op.drop_index("ix_predictions_version_departs", "predictions")
