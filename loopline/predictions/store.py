"""Writing predictions and outcomes: idempotent inserts (a record written twice is one row)."""

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
from sqlalchemy import and_, create_engine, exc, func, select, update
from sqlalchemy.dialects import postgresql, sqlite

from loopline.predictions.schema import outcome_disputes, outcomes, predictions

MIGRATIONS = Path(__file__).with_name("migrations")
WINDOW_COLUMNS = [*predictions.c.keys(), "outcome", "disputed", "known_at"]


def migrate(url: str) -> None:
    """Create or upgrade the store's schema to the newest revision (Alembic)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url)
    command.upgrade(config, "head")


def is_outage(error: Exception) -> bool:
    """Whether `error` says the database is away (try again later), not that it refused the data."""
    if isinstance(error, exc.DBAPIError):
        return error.connection_invalidated or isinstance(error, exc.OperationalError | exc.InterfaceError)
    return isinstance(error, OSError | exc.TimeoutError)


@dataclass
class OutcomesWritten:
    """What a batch of outcomes did: flights new to the store, and those whose stored outcome
    another report contradicted (kept, and the stored one flagged)."""

    new: list[str] = field(default_factory=list)
    disputed: list[str] = field(default_factory=list)


class PredictionStore:
    """The store at a SQLAlchemy URL (sqlite:///... or postgresql+psycopg://...)."""

    def __init__(self, url: str):
        self.url = url
        self.engine = create_engine(url, pool_pre_ping=True)
        self._insert = (postgresql if self.engine.dialect.name == "postgresql" else sqlite).insert

    def migrate(self) -> None:
        migrate(self.url)

    def write_predictions(self, records: list[dict]) -> None:
        """Insert prediction records; one already stored (same answer, position, role) is skipped."""
        if records:
            with self.engine.begin() as connection:
                connection.execute(self._insert(predictions).on_conflict_do_nothing(), records)

    def write_outcomes(self, records: list[dict]) -> OutcomesWritten:
        """Insert outcomes by flight key. A flight already stored keeps its first outcome; a later
        report that disagrees with it is kept in outcome_disputes and the outcome is flagged."""
        written = OutcomesWritten()
        if not records:
            return written
        received = datetime.now(UTC)
        rows = [{"received_at": received, **r} for r in records]
        with self.engine.begin() as connection:
            done = connection.execute(
                self._insert(outcomes).on_conflict_do_nothing().returning(outcomes.c.flight_key), rows
            )
            written.new = [row.flight_key for row in done]
            known = {r["flight_key"]: r["value"] for r in rows if r["flight_key"] not in set(written.new)}
            if known:
                query = select(outcomes.c.flight_key, outcomes.c.value).where(outcomes.c.flight_key.in_(known))
                stored = dict(connection.execute(query).all())
                disputes = [
                    r for r in rows if r["flight_key"] in known and not _same(stored[r["flight_key"]], r["value"])
                ]
                if disputes:
                    columns = set(outcome_disputes.c.keys())
                    connection.execute(
                        outcome_disputes.insert(), [{k: r[k] for k in columns & set(r)} for r in disputes]
                    )
                    written.disputed = sorted({r["flight_key"] for r in disputes})
                    flag = update(outcomes).where(outcomes.c.flight_key.in_(written.disputed)).values(disputed=True)
                    connection.execute(flag)
        return written

    def window(
        self,
        start: datetime,
        end: datetime,
        as_of: datetime | None = None,
        roles: list[str] | None = None,
        version: str | None = None,
        inputs: bool = True,
    ) -> pd.DataFrame:
        """The predictions of flights scheduled to depart in [start, end) (of `roles`, by `version`
        when given), each with its outcome if that had become known by `as_of` (its `known_at`,
        else when it was received; no `as_of`: every outcome stored): `outcome` is NaN and
        `labelled` false otherwise. A missing outcome is unknown, never a negative. Without
        `inputs` that column is left empty: not read, nor decoded (most of a long window's cost)."""
        start, end, as_of = (None if t is None else _utc(t) for t in (start, end, as_of))
        known = func.coalesce(outcomes.c.known_at, outcomes.c.received_at)
        on = predictions.c.flight_key == outcomes.c.flight_key
        if as_of is not None:
            on = and_(on, known <= as_of)
        read = predictions.c if inputs else [c for c in predictions.c if c.name != "inputs"]
        query = (
            select(*read, outcomes.c.value.label("outcome"), outcomes.c.disputed, known.label("known_at"))
            .join(outcomes, on, isouter=True)
            .where(predictions.c.departs_at >= start, predictions.c.departs_at < end)
            .order_by(predictions.c.departs_at, predictions.c.answer_id, predictions.c.position)
        )
        if roles:
            query = query.where(predictions.c.role.in_(roles))
        if version:
            query = query.where(predictions.c.model_version == version)
        with self.engine.connect() as connection:
            frame = pd.DataFrame([dict(row._mapping) for row in connection.execute(query)], columns=WINDOW_COLUMNS)
        for column in ("predicted_at", "departs_at", "known_at"):
            frame[column] = pd.to_datetime(frame[column], utc=True)
        frame["labelled"] = frame["known_at"].notna()
        frame["outcome"] = frame["outcome"].astype("float64")
        frame["disputed"] = frame["disputed"].eq(True)  # None where no outcome joined
        return frame

    def first_departure(self, version: str) -> datetime | None:
        """The earliest scheduled departure `version` scored (in any role); None if none."""
        query = select(func.min(predictions.c.departs_at)).where(predictions.c.model_version == version)
        with self.engine.connect() as connection:
            first = connection.execute(query).scalar()
        return None if first is None else pd.to_datetime(first, utc=True).to_pydatetime()

    def predictions(self) -> list[dict]:
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(predictions))]

    def disputes(self) -> list[dict]:
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(select(outcome_disputes))]

    def joined(self) -> list[dict]:
        """Every prediction with its outcome, where one has arrived (and whether it is disputed)."""
        query = select(predictions, outcomes.c.value, outcomes.c.disputed).join(
            outcomes, predictions.c.flight_key == outcomes.c.flight_key, isouter=True
        )
        with self.engine.connect() as connection:
            return [dict(row._mapping) for row in connection.execute(query)]


def _utc(moment: datetime) -> datetime:
    """`moment` in UTC, as every time is stored: SQLite keeps the wall time and drops the offset."""
    return pd.Timestamp(moment).tz_convert("UTC").to_pydatetime()


def _same(a: float | None, b: float | None) -> bool:
    return (a is None and b is None) or (a is not None and b is not None and math.isclose(a, b))
