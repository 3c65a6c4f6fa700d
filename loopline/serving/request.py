"""Prediction requests: KServe V1 instances or V2 (Open Inference Protocol) tensors, checked field
by field and turned into the event rows the feature store is asked about."""

import math
from datetime import datetime

import pandas as pd

from loopline.config import ColumnKind, Config
from loopline.errors import LooplineError

MAX_INSTANCES = 1000
V2_TYPES = {"string": "BYTES", "int": "INT64", "float": "FP64"}


class BadRequest(LooplineError):
    """A request that cannot be answered; the message names the field."""


def fields(config: Config) -> dict[str, ColumnKind]:
    """Every field of a request instance and its kind; the time field is a string."""
    return config.request_fields | {config.serving.time_field: "string"}


def from_v1(payload, config: Config) -> pd.DataFrame:
    """`{"instances": [{field: value, ...}, ...]}` as event rows."""
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object sent as application/json")
    instances = payload.get("instances")
    if not isinstance(instances, list) or not instances:
        raise BadRequest('"instances" must be a non-empty list of objects')
    _check_count(len(instances))
    columns = {name: [] for name in fields(config)}
    for i, instance in enumerate(instances):
        if not isinstance(instance, dict):
            raise BadRequest(f"instances[{i}] must be an object")
        unknown = sorted(set(instance) - set(columns))
        if unknown:
            raise BadRequest(f"instances[{i}]: unknown field(s) {', '.join(unknown)}; expected {', '.join(columns)}")
        for name in columns:
            if name not in instance:
                raise BadRequest(f"instances[{i}].{name} is missing")
            columns[name].append(instance[name])
    return _rows(columns, config, lambda name, i: f"instances[{i}].{name}")


def from_v2(inputs: list, config: Config) -> pd.DataFrame:
    """Open Inference Protocol inputs (one tensor per field, all of one length) as event rows."""
    expected = fields(config)
    given = {tensor.name: tensor for tensor in inputs}
    unknown = sorted(set(given) - set(expected))
    if unknown:
        raise BadRequest(f"unknown input(s) {', '.join(unknown)}; expected {', '.join(expected)}")
    columns = {}
    for name, kind in expected.items():
        if name not in given:
            raise BadRequest(f"input {name} is missing")
        tensor = given[name]
        if tensor.datatype != V2_TYPES[kind]:
            raise BadRequest(f"input {name} must have datatype {V2_TYPES[kind]}, not {tensor.datatype}")
        data = tensor.data.tolist() if hasattr(tensor.data, "tolist") else list(tensor.data)
        columns[name] = [v.decode() if isinstance(v, bytes) else v for v in data]
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1 or not lengths.pop():
        raise BadRequest("every input must hold the same, non-zero number of values")
    _check_count(len(columns[next(iter(columns))]))
    return _rows(columns, config, lambda name, i: f"input {name}[{i}]")


def _check_count(count: int) -> None:
    if count > MAX_INSTANCES:
        raise BadRequest(f"at most {MAX_INSTANCES} instances per request, got {count}")


def _rows(columns: dict[str, list], config: Config, where) -> pd.DataFrame:
    """Check every value against its field's kind; the time field becomes the event timestamp
    (hour) and its minute."""
    time_field, nullable = config.serving.time_field, config.history.previous
    out = {}
    for name, kind in config.request_fields.items():
        for i, value in enumerate(columns[name]):
            if value is None and name == nullable:
                continue
            if kind == "string" and not (isinstance(value, str) and value.strip()):
                raise BadRequest(f"{where(name, i)} must be a non-empty string, got {value!r}")
            if kind == "int" and not (isinstance(value, int) and not isinstance(value, bool)):
                raise BadRequest(f"{where(name, i)} must be an integer, got {value!r}")
            if kind == "float" and not (isinstance(value, int | float) and math.isfinite(value)):
                raise BadRequest(f"{where(name, i)} must be a finite number, got {value!r}")
        out[name] = columns[name]
    times = [parse_time(value, config, where(time_field, i)) for i, value in enumerate(columns[time_field])]
    stamps = pd.DatetimeIndex(times)
    hours = stamps.floor("h")
    out[config.source.timestamp] = hours
    if config.source.minute:
        out[config.source.minute] = ((stamps - hours).total_seconds() // 60).astype("int64")
    return pd.DataFrame(out)


def parse_time(value, config: Config, where: str) -> pd.Timestamp:
    """An ISO 8601 time as UTC; without an offset it is local time in the source's zone."""
    if not isinstance(value, str):
        raise BadRequest(f"{where} must be an ISO 8601 time such as 2013-08-01T05:15:00-04:00, got {value!r}")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise BadRequest(f"{where} {value!r} is not an ISO 8601 time such as 2013-08-01T05:15:00-04:00") from None
    stamp = pd.Timestamp(parsed)
    stamp = stamp.tz_localize(config.source.timezone) if stamp.tzinfo is None else stamp
    return stamp.tz_convert("UTC")
