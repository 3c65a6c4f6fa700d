"""Prediction requests: KServe V1 instances or V2 (Open Inference Protocol) tensors, checked field
by field against what the model contract and the feature store can take, and turned into the
event rows the feature store is asked about. Nothing unchecked gets past here: every bad value
is a BadRequest naming its field."""

import pandas as pd

from loopline.config import ColumnKind, Config
from loopline.errors import BadRequest
from loopline.events import parse_time
from loopline.values import check_value, shown

MAX_INSTANCES = 1000
MAX_REQUEST_ID = 128  # the prediction store's request_id column
V2_TYPES = {"string": "BYTES", "int": "INT64", "float": "FP64"}


def fields(config: Config) -> dict[str, ColumnKind]:
    """Every field of a request instance and its kind; the time field is a string."""
    return config.request_fields | {config.serving.time_field: "string"}


def request_id(value: str, where: str) -> str:
    """A client's request id, as the store can keep it: printable text of at most MAX_REQUEST_ID."""
    if not value or len(value) > MAX_REQUEST_ID or not value.isprintable():
        raise BadRequest(f"{where} must be 1 to {MAX_REQUEST_ID} printable characters, got {shown(value)}")
    return value


def from_v1(payload, config: Config) -> pd.DataFrame:
    """`{"instances": [{field: value, ...}, ...]}` as event rows."""
    if not isinstance(payload, dict):
        raise BadRequest("the body must be a JSON object")
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
            names = ", ".join(shown(name) for name in unknown[:5])
            raise BadRequest(f"instances[{i}]: unknown field(s) {names}; expected {', '.join(columns)}")
        for name in columns:
            if name not in instance:
                raise BadRequest(f"instances[{i}].{name} is missing")
            columns[name].append(instance[name])
    return _rows(columns, config, lambda name, i: f"instances[{i}].{name}")


def from_v2(inputs: list, config: Config) -> pd.DataFrame:
    """Open Inference Protocol inputs (one flat tensor per field, all of one length, each shape
    `[n]` or `[n, 1]` saying so) as event rows."""
    expected = fields(config)
    given = {tensor.name: tensor for tensor in inputs}
    unknown = sorted(set(given) - set(expected))
    if unknown:
        raise BadRequest(f"unknown input(s) {', '.join(shown(n) for n in unknown[:5])}; expected {', '.join(expected)}")
    columns = {}
    for name, kind in expected.items():
        if name not in given:
            raise BadRequest(f"input {name} is missing")
        tensor = given[name]
        if tensor.datatype != V2_TYPES[kind]:
            raise BadRequest(f"input {name} must have datatype {V2_TYPES[kind]}, not {shown(tensor.datatype)}")
        data = tensor.data.tolist() if hasattr(tensor.data, "tolist") else tensor.data
        if not isinstance(data, list):
            raise BadRequest(f"input {name}: data must be a list")
        _check_shape(name, tensor.shape, len(data))
        columns[name] = [_text(v, f"input {name}[{i}]") if isinstance(v, bytes) else v for i, v in enumerate(data)]
    lengths = {len(values) for values in columns.values()}
    if len(lengths) != 1 or not lengths.pop():
        raise BadRequest("every input must hold the same, non-zero number of values")
    _check_count(len(columns[next(iter(columns))]))
    return _rows(columns, config, lambda name, i: f"input {name}[{i}]")


def _check_shape(name: str, shape, count: int) -> None:
    if shape not in ([count], [count, 1]):
        raise BadRequest(f"input {name}: shape {shown(shape)} does not match its {count} values (expected [{count}])")


def _text(value: bytes, where: str) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise BadRequest(f"{where} is not UTF-8 text") from None


def _check_count(count: int) -> None:
    if count > MAX_INSTANCES:
        raise BadRequest(f"at most {MAX_INSTANCES} instances per request, got {count}")


def _rows(columns: dict[str, list], config: Config, where) -> pd.DataFrame:
    """Check every value against its field's kind (only the aircraft may be unknown: null); the
    time field becomes the event timestamp (hour) and its minute."""
    time_field, nullable = config.serving.time_field, config.history.previous
    out = {}
    for name, kind in config.request_fields.items():
        for i, value in enumerate(columns[name]):
            check_value(value, kind, name == nullable, where(name, i))
        out[name] = columns[name]
    for i, value in enumerate(columns[time_field]):
        check_value(value, "string", False, where(time_field, i))
    times = [parse_time(value, config, where(time_field, i)) for i, value in enumerate(columns[time_field])]
    stamps = pd.DatetimeIndex(times)
    hours = stamps.floor("h")
    out[config.source.timestamp] = hours
    if config.source.minute:
        out[config.source.minute] = ((stamps - hours).total_seconds() // 60).astype("int64")
    return pd.DataFrame(out)
