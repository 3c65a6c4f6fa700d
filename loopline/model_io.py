"""The one model contract, shared by training, evaluation, the feature store and serving.

- `request_features`: what only the request knows (local hour, weekday and month of the scheduled
  departure, hours since the previous outcome). Feast's on-demand view calls it, offline for
  training sets and online for serving.
- `make_features`: the feature service's rows as model inputs. Missing values stay visible: a
  missing category becomes "" (the model's out-of-vocabulary bucket), a missing number NaN (the
  model imputes the training mean and sees a missing flag).
- `keras_inputs`, `as_model_inputs`, `example_kinds`: the inputs' dtypes, as Keras inputs, as
  arrays, and as tf.Example kinds (TFMA's input).
- `load`, `predict` and `score`: the exported SavedModel's serving signature, on features or on
  model inputs.
"""

import math
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from loopline.config import HOURS_SINCE_PREVIOUS, PREVIOUS_AT, Config
from loopline.errors import DataError

TIME_PARTS = {
    "hour": lambda t: t.hour,
    "weekday": lambda t: t.weekday(),
    "month": lambda t: t.month,
}
# Each feature family's dtype: in the DataFrame, in the model's signature, as a tf.Example list.
DTYPES = {"categorical": "string", "numeric": "float32", "time": "int64"}
EXAMPLE_KINDS = {"categorical": "bytes", "numeric": "float", "time": "int"}


def request_features(columns: Mapping[str, Sequence], config: Config) -> dict[str, list]:
    """Every time part of the event's time in the source's local time zone, and hours since the
    previous outcome (NaN when there is none): the on-demand feature view's output for `columns`
    (lists, as Feast's python mode gives them, or a DataFrame). Plain Python per value: one
    request costs microseconds, a training set of 150,000 rows about a second."""
    zone = ZoneInfo(config.source.timezone)
    stamps = [_utc(t) for t in columns[config.source.timestamp]]
    if config.source.minute:
        minutes = columns[config.source.minute]
        stamps = [t + timedelta(minutes=0 if pd.isna(m) else int(m)) for t, m in zip(stamps, minutes, strict=True)]
    local = [t.astimezone(zone) for t in stamps]
    out = {part: [get(t) for t in local] for part, get in TIME_PARTS.items()}
    if PREVIOUS_AT in columns:
        out[HOURS_SINCE_PREVIOUS] = [
            math.nan if pd.isna(p) else (t - _utc(p)).total_seconds() / 3600
            for t, p in zip(stamps, columns[PREVIOUS_AT], strict=True)
        ]
    return out


def _utc(value) -> datetime:
    """A time as an aware UTC datetime; a naive one is UTC already. Feast's feature server hands
    over a JSON request's time as seconds since the epoch (an INT64 where a timestamp is declared)."""
    if isinstance(value, int | float | np.integer | np.floating):
        return datetime.fromtimestamp(value, UTC)
    value = value.to_pydatetime() if isinstance(value, pd.Timestamp) else value
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def families(config: Config) -> dict[str, list[str]]:
    spec = config.features
    return {"categorical": spec.categorical, "numeric": spec.numeric, "time": spec.time}


def make_features(rows: pd.DataFrame, config: Config) -> pd.DataFrame:
    """Model inputs for `rows`: categorical as str, numeric as float32, time parts as int64.
    Column by column in numpy, without pandas' per-column dtype conversions: under a millisecond
    for one request's row."""
    missing = [c for c in config.feature_names if c not in rows.columns]
    if missing:
        raise DataError(f"rows lack column(s) needed for features: {', '.join(missing)}")
    spec = config.features
    out = {c: _text(rows[c]) for c in spec.categorical}
    out |= {c: _number(rows[c]) for c in spec.numeric}
    out |= {c: rows[c].to_numpy(dtype="int64") for c in spec.time}
    return pd.DataFrame(out, index=rows.index)


def _text(column: pd.Series) -> np.ndarray:
    """Values as str, a missing one as "" (the out-of-vocabulary bucket)."""
    values = column.to_numpy(dtype=object)
    return np.where(pd.isna(values), "", values.astype(str)).astype(object)


def _number(column: pd.Series) -> np.ndarray:
    """Values as float32, anything missing or not a number as NaN."""
    if column.dtype.kind not in "fiub":
        column = pd.to_numeric(column, errors="coerce")
    return column.to_numpy(dtype="float32", na_value=np.nan)


def keras_inputs(config: Config) -> dict:
    """One named Keras input per feature, of its family's dtype."""
    import keras

    return {
        name: keras.Input(shape=(), dtype=DTYPES[family], name=name)
        for family, names in families(config).items()
        for name in names
    }


def as_model_inputs(features: pd.DataFrame, config: Config) -> dict[str, np.ndarray]:
    """The DataFrame's feature columns as the arrays the model's inputs take."""
    spec = config.features
    arrays = {c: features[c].to_numpy(dtype=object).astype(str) for c in spec.categorical}
    arrays |= {c: features[c].to_numpy(dtype="float32") for c in spec.numeric}
    arrays |= {c: features[c].to_numpy(dtype="int64") for c in spec.time}
    return arrays


def example_kinds(config: Config) -> dict[str, str]:
    """Each feature's tf.Example list kind ("bytes", "float" or "int"); the label is an int."""
    kinds = {name: EXAMPLE_KINDS[family] for family, names in families(config).items() for name in names}
    return kinds | {config.label.name: "int"}


def load(model_dir: str):
    """The exported model's serving function: dict of named feature tensors -> probabilities."""
    import tensorflow as tf

    return tf.saved_model.load(model_dir).signatures["serving_default"]


def warm_up(serve, config: Config) -> float:
    """Score one blank flight (every value missing) and return the milliseconds it took. A loaded
    model's first call builds its kernels (about 300 ms here, a hundred warm calls): paid at
    load, as TF Serving's SavedModel warmup does, it is never a request's latency, which the
    canary judge compares with production's."""
    blank = {"categorical": np.array([""]), "numeric": np.array([np.nan], "float32"), "time": np.zeros(1, "int64")}
    started = time.perf_counter()
    score(serve, {name: blank[family] for family, names in families(config).items() for name in names})
    return (time.perf_counter() - started) * 1000


def predict(serve, features: pd.DataFrame, config: Config) -> np.ndarray:
    """Late-arrival probabilities for `features` from a loaded serving function."""
    return score(serve, as_model_inputs(features, config))


def score(serve, inputs: dict[str, np.ndarray]) -> np.ndarray:
    """Late-arrival probabilities for model inputs already in their dtypes (`as_model_inputs`)."""
    import tensorflow as tf

    (output,) = serve(**{k: tf.constant(v) for k, v in inputs.items()}).values()
    return output.numpy().reshape(-1)
