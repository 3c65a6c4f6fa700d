"""Writing predictions and outcomes: idempotent inserts (a record written twice is one row)."""

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.dialects import postgresql, sqlite

from loopline.predictions.schema import outcomes, predictions

MIGRATIONS = Path(__file__).with_name("migrations")


def migrate(url: str) -> None:
    """Create or upgrade the store's schema to the newest revision (Alembic)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


class PredictionStore:
    """The store at a SQLAlchemy URL (sqlite:///... or postgresql+psycopg://...)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=True)
        self._insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert

    def write_predictions(self, records: list[dict]) -> None:
        """Insert prediction records; one already stored (same request, position, role) is skipped."""
        if records:
            with self.engine.begin() as connection:
                connection.execute(self._insert(predictions).on_conflict_do_nothing(), records)

    def write_outcomes(self, records: list[dict]) -> int:
        """Insert outcomes by flight key; a key already stored keeps its first value. Returns the
        number of new outcomes."""
        if not records:
            return 0
        received = datetime.now(UTC)
        rows = [{"received_at": received, **r} for r in records]
        with self.engine.begin() as connection:
            done = connection.execute(
                self._insert(outcomes).on_conflict_do_nothing().returning(outcomes.c.flight_key), rows
            )
            return len(done.fetchall())

    def predictions(self) -> list[dict]:
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(predictions))]

    def joined(self) -> list[dict]:
        """Every prediction with its outcome, where one has arrived."""
        query = select(predictions, outcomes.c.value).join(
            outcomes, predictions.c.flight_key == outcomes.c.flight_key, isouter=True
        )
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]
