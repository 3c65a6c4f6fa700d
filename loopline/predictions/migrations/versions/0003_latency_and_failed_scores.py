"""latency and failed scores

Revision ID: 0003
Revises: 0002

Each prediction carries how long its model call took, and a canary or shadow model that failed
is stored as a prediction without a score, with the error (production answered in its place):
the canary judge compares error rates and latency, not only AUC.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("predictions") as batch:  # SQLite rebuilds the table to change a column
        batch.alter_column("score", existing_type=sa.Float, nullable=True)
        batch.add_column(sa.Column("latency_ms", sa.Float, nullable=True))
        batch.add_column(sa.Column("error", sa.String(200), nullable=True))


def downgrade() -> None:
    op.execute("DELETE FROM predictions WHERE score IS NULL")
    with op.batch_alter_table("predictions") as batch:
        batch.drop_column("error")
        batch.drop_column("latency_ms")
        batch.alter_column("score", existing_type=sa.Float, nullable=False)
