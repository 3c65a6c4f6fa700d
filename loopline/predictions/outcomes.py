"""Ground truth as it arrives: outcomes keyed like the predictions they answer."""

import math

import pandas as pd

from loopline.config import PREVIOUS_AT, Config
from loopline.events import event_keys
from loopline.features.history import EVENT_TIMESTAMP
from loopline.serving.request import BadRequest, parse_time


def outcome_fields(config: Config) -> list[str]:
    """What an outcome names: the event's keys as a request gives them, and the label column."""
    keys = [k for k in config.entity_keys if k != config.source.timestamp]
    return [*keys, config.serving.time_field, config.label.column]


def outcome_records(items: list, config: Config) -> list[dict]:
    """Outcome records from objects such as {"carrier": "UA", "flight": 1545, "origin": "EWR",
    "scheduled_departure": "2013-01-31T17:15:00-05:00", "arr_delay": 12} ("tailnum" and
    "arrived_at" may come too, see `arrivals`); a null value is an event that never completed
    (a cancelled flight). A bad item is named."""
    if not isinstance(items, list) or not items:
        raise BadRequest('"outcomes" must be a non-empty list of objects')
    fields, value, time_field = outcome_fields(config), config.label.column, config.serving.time_field
    columns: dict[str, list] = {f: [] for f in fields if f not in (value, time_field)}
    stamps = []
    for i, item in enumerate(items):
        missing = [f for f in fields if f not in item] if isinstance(item, dict) else fields
        if missing:
            raise BadRequest(f"outcomes[{i}] lacks {', '.join(missing)}")
        outcome = item[value]
        if outcome is not None and not (isinstance(outcome, int | float) and math.isfinite(outcome)):
            raise BadRequest(f"outcomes[{i}].{value} must be a finite number or null, got {outcome!r}")
        for name in columns:
            columns[name].append(item[name])
        stamps.append(parse_time(item[time_field], config, f"outcomes[{i}].{time_field}").floor("h"))
    rows = pd.DataFrame(columns).assign(**{config.source.timestamp: stamps})
    return [
        {"flight_key": key, "value": None if item[value] is None else float(item[value])}
        for key, item in zip(event_keys(rows, config), items, strict=True)
    ]


def arrivals(items: list[dict], config: Config, now: pd.Timestamp) -> pd.DataFrame:
    """The outcomes that name the `history.previous` key (the aircraft), as events of the outcome
    stream: what the next departure of that aircraft sees as its previous leg. Each is known at
    its "arrived_at" (ISO 8601) when given, else `now`."""
    key, value = config.history.previous, config.label.column
    known = [item for item in items if item.get(key) and item[value] is not None]
    stamps = [
        parse_time(item["arrived_at"], config, f"outcomes[{i}].arrived_at") if item.get("arrived_at") else now
        for i, item in enumerate(known)
    ]
    return pd.DataFrame(
        {
            key: pd.array([item[key] for item in known], dtype="string"),
            EVENT_TIMESTAMP: pd.DatetimeIndex(stamps).as_unit("us"),
            config.previous_column: pd.array([item[value] for item in known], dtype="float32"),
            PREVIOUS_AT: pd.DatetimeIndex(stamps).as_unit("us"),
        }
    )
