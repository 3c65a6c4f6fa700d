"""Reading events: a source's tables, the event table, dates and the label.

A source is a folder (local or gs://) holding one file per table, `<table>.parquet` or
`<table>.csv`. Ingest and the feature store both read through here.
"""

import tempfile

import pandas as pd

from loopline import storage
from loopline.config import ColumnKind, Config
from loopline.errors import DataError

FORMATS = ("parquet", "csv")


def read_table(source: str, table: str, kinds: dict[str, ColumnKind]) -> pd.DataFrame:
    """The table's required columns, checked and coerced to their kinds."""
    for fmt in FORMATS:
        uri = storage.join(source, f"{table}.{fmt}")
        if storage.exists(uri):
            break
    else:
        raise DataError(f"source {source} has no table '{table}' ({' or '.join(f'{table}.{f}' for f in FORMATS)})")
    with tempfile.TemporaryDirectory() as workdir:
        path = storage.local_copy(uri, workdir)
        try:
            frame = pd.read_parquet(path) if fmt == "parquet" else pd.read_csv(path, low_memory=False)
        except Exception as error:  # any reader failure is a bad file, reported by name
            raise DataError(f"{uri}: cannot be read as {fmt}: {error}") from None
    return coerce_columns(frame, kinds, uri)


def coerce_columns(frame: pd.DataFrame, kinds: dict[str, ColumnKind], where: str) -> pd.DataFrame:
    """Keep `kinds`' columns, each coerced to its kind; a missing or mistyped one is named."""
    missing = [c for c in kinds if c not in frame.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {', '.join(missing)}")
    out = {}
    for column, kind in kinds.items():
        values = frame[column]
        if kind == "string":
            out[column] = values.astype("string")
        elif kind == "timestamp":
            try:
                out[column] = pd.to_datetime(values, utc=True)
            except (ValueError, TypeError):
                raise DataError(f"{where}: column '{column}' should hold timestamps") from None
        else:
            converted = pd.to_numeric(values, errors="coerce")
            bad = values.notna() & converted.isna()
            if bad.any():
                example = values[bad].iloc[0]
                raise DataError(f"{where}: column '{column}' should be {kind}, found {example!r}")
            if kind == "int" and (converted.dropna() % 1 != 0).any():
                raise DataError(f"{where}: column '{column}' should be int, found fractions")
            out[column] = converted.astype("Int64" if kind == "int" else "float64")
    return pd.DataFrame(out)


def read_events(config: Config, source: str) -> pd.DataFrame:
    """The source's event table: its configured columns, checked."""
    return read_table(source, config.source.table, config.source.columns)


def parse_date(value: str, what: str) -> pd.Timestamp:
    """`value` as a UTC timestamp; a value that is no date is an error naming `what`."""
    try:
        return pd.Timestamp(value, tz="UTC")
    except ValueError:
        raise DataError(f"{what} {value!r} is not a date like 2013-01-01") from None


def label(frame: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Add the binary label column; rows missing the label source follow `label.missing`."""
    spec = config.label
    values = frame[spec.column]
    if spec.missing == "drop":
        frame, values = frame[values.notna()], values[values.notna()]
    positive = (values >= spec.threshold).where(values.notna(), spec.missing == "positive")
    return frame.assign(**{spec.name: positive.astype("int64")})


def parse_window(start: str, end: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The window's bounds; an unparsable date or an end not after the start is named."""
    begin, finish = (
        parse_date(start, f"window [{start}, {end}): start"),
        parse_date(end, f"window [{start}, {end}): end"),
    )
    if begin >= finish:
        raise DataError(f"window [{start}, {end}): start must come before end")
    return begin, finish


def event_time(frame: pd.DataFrame, config: Config) -> pd.Series:
    """When each event happens: its timestamp plus `source.minute` minutes, when configured."""
    stamps = pd.to_datetime(frame[config.source.timestamp], utc=True)
    if not config.source.minute:
        return stamps
    return stamps + pd.to_timedelta(frame[config.source.minute].astype("float64").fillna(0), unit="min")


def event_keys(frame: pd.DataFrame, config: Config) -> list[str]:
    """Each event's identity as one string, from `entity_keys` (timestamps in ISO 8601, UTC):
    how a prediction and the outcome that arrives later find each other."""
    parts = []
    for key in config.entity_keys:
        values = frame[key]
        if config.source.columns.get(key) == "timestamp":
            values = pd.to_datetime(values, utc=True).map(lambda t: t.isoformat())
        parts.append(values.astype(str).tolist())
    return ["|".join(values) for values in zip(*parts, strict=True)]
