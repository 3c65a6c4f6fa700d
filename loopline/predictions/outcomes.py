"""Ground truth as it arrives: outcomes keyed like the predictions they answer, checked field by
field, and the arrivals they tell the feature store about."""

import math
from dataclasses import dataclass
from datetime import datetime

import pandas as pd

from loopline.config import PREVIOUS_AT, Config
from loopline.errors import BadRequest
from loopline.events import event_keys, parse_time
from loopline.features.history import EVENT_TIMESTAMP
from loopline.values import check_value, shown

ARRIVED_AT, SCHEDULED_ARRIVAL, REPORTED_AT = "arrived_at", "scheduled_arrival", "reported_at"


def outcome_fields(config: Config) -> list[str]:
    """What an outcome names: the event's keys as a request gives them, and the label column."""
    keys = [k for k in config.entity_keys if k != config.source.timestamp]
    return [*keys, config.serving.time_field, config.label.column]


def optional_fields(config: Config) -> list[str]:
    """What an outcome may name besides: the aircraft and when it reached the gate (given, or its
    scheduled arrival plus the delay); for one that never arrived, when that was reported."""
    arrival = [config.history.previous, ARRIVED_AT, SCHEDULED_ARRIVAL] if config.history.previous else []
    return [*arrival, REPORTED_AT]


@dataclass
class Outcomes:
    """Checked outcomes: records for the store and, for those naming the aircraft, arrival events
    for the feature store's outcome stream (keyed by flight, to push only what is new)."""

    records: list[dict]
    arrivals: pd.DataFrame
    arrival_keys: list[str]


def parse_outcomes(items, config: Config) -> Outcomes:
    """Outcomes from objects such as {"carrier": "UA", "flight": 1545, "origin": "EWR",
    "scheduled_departure": "2013-01-31T17:15:00-05:00", "arr_delay": 12}; a null value is an event
    that never completed (a cancelled flight). When it reached the gate ("arrived_at", or
    "scheduled_arrival" plus the delay, each an ISO 8601 time with its offset) is when the outcome
    became known; one that names the aircraft ("tailnum") and has a value must say it. One that
    never arrived is known when it was reported ("reported_at", default: when it is received). A
    bad item is named."""
    if not isinstance(items, list) or not items:
        raise BadRequest('"outcomes" must be a non-empty list of objects')
    fields, value, time_field = outcome_fields(config), config.label.column, config.serving.time_field
    allowed = {*fields, *optional_fields(config)}
    keys = [f for f in fields if f not in (value, time_field)]
    columns: dict[str, list] = {f: [] for f in keys}
    stamps, known, arrivals = [], [], []
    for i, item in enumerate(items):
        missing = [f for f in fields if f not in item] if isinstance(item, dict) else fields
        if missing:
            raise BadRequest(f"outcomes[{i}] lacks {', '.join(missing)}")
        unknown = sorted(set(item) - allowed)
        if unknown:
            names = ", ".join(shown(name) for name in unknown[:5])
            expected = ", ".join([*fields, *optional_fields(config)])
            raise BadRequest(f"outcomes[{i}]: unknown field(s) {names}; expected {expected}")
        for name in keys:
            check_value(item[name], config.request_fields[name], False, f"outcomes[{i}].{name}")
            columns[name].append(item[name])
        outcome = item[value]
        if outcome is not None and not (
            isinstance(outcome, int | float) and not isinstance(outcome, bool) and math.isfinite(outcome)
        ):
            raise BadRequest(f"outcomes[{i}].{value} must be a finite number or null, got {shown(outcome)}")
        departure = parse_time(item[time_field], config, f"outcomes[{i}].{time_field}")
        stamps.append(departure.floor("h"))
        arrival = _arrival(item, i, departure, config)
        known.append(arrival if arrival is not None else _reported(item, i, config))
        aircraft = item.get(config.history.previous) if config.history.previous else None
        if arrival is not None and aircraft is not None:
            arrivals.append((i, aircraft, arrival, float(outcome)))
    rows = pd.DataFrame(columns).assign(**{config.source.timestamp: stamps})
    flight_keys = event_keys(rows, config)
    records = [
        {
            "flight_key": key,
            "value": None if item[value] is None else float(item[value]),
            "known_at": None if arrival is None else arrival.to_pydatetime(),
        }
        for key, item, arrival in zip(flight_keys, items, known, strict=True)
    ]
    return Outcomes(records, _arrival_events(arrivals, config), [flight_keys[i] for i, *_ in arrivals])


def _arrival(item: dict, i: int, departure: pd.Timestamp, config: Config) -> pd.Timestamp | None:
    """When the flight of an outcome reached the gate, from the outcome itself; None when it never
    arrived or does not say (one naming the aircraft must say: its next departure reads it)."""
    aircraft, delay = config.history.previous, item[config.label.column]
    if aircraft and item.get(aircraft) is not None:
        check_value(item[aircraft], "string", False, f"outcomes[{i}].{aircraft}")
    if delay is None:
        return None
    if item.get(ARRIVED_AT) is not None:
        arrival = _zoned_time(item[ARRIVED_AT], config, f"outcomes[{i}].{ARRIVED_AT}")
    elif item.get(SCHEDULED_ARRIVAL) is not None:
        scheduled = _zoned_time(item[SCHEDULED_ARRIVAL], config, f"outcomes[{i}].{SCHEDULED_ARRIVAL}")
        arrival = scheduled + pd.Timedelta(minutes=delay)
    elif aircraft and item.get(aircraft) is not None:
        raise BadRequest(
            f"outcomes[{i}] names {aircraft} {item[aircraft]!r}, so it needs {ARRIVED_AT} or {SCHEDULED_ARRIVAL} "
            "(when it reached the gate, with its offset)"
        )
    else:
        return None
    if arrival <= departure:
        raise BadRequest(f"outcomes[{i}]: the arrival {arrival.isoformat()} is not after the scheduled departure")
    return arrival


def _reported(item: dict, i: int, config: Config) -> pd.Timestamp | None:
    """When an outcome that never arrived was reported, if it says."""
    if item.get(REPORTED_AT) is None:
        return None
    if item[config.label.column] is not None:
        raise BadRequest(f"outcomes[{i}]: {REPORTED_AT} is for a flight that never arrived; give {ARRIVED_AT}")
    return _zoned_time(item[REPORTED_AT], config, f"outcomes[{i}].{REPORTED_AT}")


def _zoned_time(value, config: Config, where: str) -> pd.Timestamp:
    """An ISO 8601 time that carries its offset: an arrival is local to its destination, whose zone
    the server does not know."""
    check_value(value, "string", False, where)
    stamp = parse_time(value, config, where)
    if datetime.fromisoformat(value).tzinfo is None:
        raise BadRequest(f"{where} {value!r} needs its offset, e.g. 2013-01-31T20:10:00-06:00")
    return stamp


def _arrival_events(arrivals: list[tuple], config: Config) -> pd.DataFrame:
    """Arrivals as events of the outcome stream: what the aircraft's next departure sees as its
    previous leg, each known at its arrival."""
    stamps = pd.DatetimeIndex([arrival for _, _, arrival, _ in arrivals], tz="UTC").as_unit("us")
    return pd.DataFrame(
        {
            config.history.previous: pd.array([aircraft for _, aircraft, _, _ in arrivals], dtype="string"),
            EVENT_TIMESTAMP: stamps,
            config.previous_column: pd.array([value for *_, value in arrivals], dtype="float32"),
            PREVIOUS_AT: stamps,
        }
    )
