"""Transform: raw event rows (with their looked-up context) to model features.

`make_features` is the one feature function: training calls it on the ingested splits and
serving calls it on each request, so the two can never disagree. Missing values stay visible:
a missing category becomes "" (the model's out-of-vocabulary bucket), a missing number NaN
(the model imputes the training mean and sees a missing flag).
"""

import pandas as pd

from components.config import Config
from components.errors import DataError

TIME_PARTS = {
    "hour": lambda t: t.dt.hour,
    "weekday": lambda t: t.dt.weekday,
    "month": lambda t: t.dt.month,
}


def make_features(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Model inputs for `rows`: categorical as str, numeric as float32, time parts as int64."""
    spec = config.features
    needed = [*spec.categorical, *spec.numeric, *([config.source.timestamp] if spec.time else [])]
    missing = [c for c in needed if c not in rows.columns]
    if missing:
        raise DataError(f"rows lack column(s) needed for features: {', '.join(missing)}")
    out = {c: rows[c].astype("string").fillna("").astype(object) for c in spec.categorical}
    out |= {c: pd.to_numeric(rows[c], errors="coerce").astype("float32") for c in spec.numeric}
    if spec.time:
        local = pd.to_datetime(rows[config.source.timestamp], utc=True).dt.tz_convert(config.source.timezone)
        out |= {part: TIME_PARTS[part](local).astype("int64") for part in spec.time}
    return pd.DataFrame(out, index=rows.index)


def transform(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Features plus the label: the training examples of one split."""
    return make_features(rows, config).assign(**{config.label.name: rows[config.label.name].astype("int64")})
