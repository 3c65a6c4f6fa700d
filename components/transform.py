"""Transform: the feature store's rows to model features, and the request-time features.

`request_features` computes what only the request knows (local hour, weekday and month of the
scheduled departure, hours since the previous outcome); Feast's on-demand feature view calls it,
offline for training and online for serving. `make_features` turns the feature service's rows
into model inputs, for training and for every request alike. Missing values stay visible:
a missing category becomes "" (the model's out-of-vocabulary bucket), a missing number NaN
(the model imputes the training mean and sees a missing flag).
"""

import pandas as pd

from components import features, storage
from components.config import HOURS_SINCE_PREVIOUS, PREVIOUS_AT, Config
from components.errors import DataError
from components.ingest import parse_date

TIME_PARTS = {
    "hour": lambda t: t.dt.hour,
    "weekday": lambda t: t.dt.weekday,
    "month": lambda t: t.dt.month,
}


def request_features(rows: pd.DataFrame, timestamp: str, timezone: str) -> pd.DataFrame:
    """Every time part of `timestamp` in local time, and hours since the previous outcome (NaN
    when there is none): the on-demand feature view's output for `rows`."""
    stamps = pd.to_datetime(rows[timestamp], utc=True)
    local = stamps.dt.tz_convert(timezone)
    out = pd.DataFrame({part: TIME_PARTS[part](local).astype("int64") for part in TIME_PARTS}, index=rows.index)
    if PREVIOUS_AT in rows:
        previous = pd.to_datetime(rows[PREVIOUS_AT], utc=True)
        out[HOURS_SINCE_PREVIOUS] = ((stamps - previous).dt.total_seconds() / 3600).astype("float64")
    return out


def make_features(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Model inputs for `rows`: categorical as str, numeric as float32, time parts as int64."""
    spec = config.features
    missing = [c for c in config.feature_names if c not in rows.columns]
    if missing:
        raise DataError(f"rows lack column(s) needed for features: {', '.join(missing)}")
    out = {c: rows[c].astype("string").fillna("").astype(object) for c in spec.categorical}
    out |= {c: pd.to_numeric(rows[c], errors="coerce").astype("float32") for c in spec.numeric}
    out |= {c: rows[c].astype("int64") for c in spec.time}
    return pd.DataFrame(out, index=rows.index)


def transform(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Features plus the label: the training examples of one split."""
    return make_features(rows, config).assign(**{config.label.name: rows[config.label.name].astype("int64")})


def transform_splits(config: Config, source: str, repo_path: str, end: str, splits: list[tuple[str, str]]) -> dict:
    """Load the feature store up to `end` (tables, stream, online store), then turn each split's
    events (input URI) into examples (output URI) through the feature service, point in time.
    Returns rows per feature table and per split."""
    loaded = features.load(config, source, repo_path, parse_date(end, "end"))
    for events_uri, examples_uri in splits:
        events = storage.read_frame(events_uri)
        examples = transform(features.training_set(config, events, repo_path), config)
        storage.write_frame(examples, examples_uri)
        loaded[examples_uri] = len(examples)
    return loaded
