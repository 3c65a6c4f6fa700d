"""History: features made from past events, each stamped when it became known.

- `outcome_stream`: an event's outcome (its label column) once it is known, e.g. a flight's
  arrival delay when it reaches the gate: its scheduled arrival, local to its destination, plus
  the delay. Streamed: the aircraft's previous leg.
- `trailing_rates`: each group's label rate over the days before each midnight, from outcomes
  known before it.
- `live_stream`: a place's events of the last window (how many left, their mean delay), at
  every change (an event happens, or leaves the window) and every hour.
- `schedule`: how many events are scheduled per place and hour, known in advance.
"""

import numpy as np
import pandas as pd

from loopline.config import LIVE_COLUMNS, PREVIOUS_AT, SCHEDULED, Config
from loopline.errors import DataError
from loopline.events import event_time, label, minutes, read_table

EVENT_TIMESTAMP = "event_timestamp"


def time_zones(config: Config, source: str) -> dict[str, str]:
    """Place -> IANA time zone, from the source's zones table and the config's extra zones."""
    spec = config.history.arrival.zones
    table = read_table(source, spec.table, {spec.key: "string", spec.column: "string"}).dropna()
    return dict(zip(table[spec.key], table[spec.column], strict=True)) | spec.extra


def known_at(events: pd.DataFrame, config: Config, zones: dict[str, str]) -> pd.Series:
    """When each event's outcome becomes known (UTC): the first `arrival.scheduled` local time at
    its place after the event, plus `arrival.delay` minutes; NaT when the delay is missing."""
    spec = config.history.arrival
    places = events[spec.place].astype("string")
    known = events[spec.delay].notna() & events[spec.scheduled].notna() & places.notna()
    unknown = sorted(set(places[known].dropna()) - set(zones))
    if unknown:
        raise DataError(f"history.arrival.zones: no time zone for {spec.place} {', '.join(unknown)} (add to extra)")
    departs = event_time(events, config)
    hhmm = events[spec.scheduled].astype("float64")
    after_midnight = minutes((hhmm // 100) * 60 + hhmm % 100)
    delay = minutes(events[spec.delay].astype("float64"))
    out = pd.Series(pd.NaT, index=events.index, dtype="datetime64[ns, UTC]")
    place_zones = places[known].map(zones).astype(object)
    for zone, rows in place_zones.groupby(place_zones).groups.items():  # a few zones, not every place
        local = departs[rows].dt.tz_convert(zone).dt.tz_localize(None)
        scheduled = local.dt.floor("D") + after_midnight[rows]
        scheduled = scheduled.where(scheduled >= local, scheduled + pd.Timedelta(days=1))
        utc = scheduled.dt.tz_localize(zone, ambiguous="NaT", nonexistent="shift_forward").dt.tz_convert("UTC")
        out[rows] = utc + delay[rows]
    return out


def outcome_stream(config: Config, events: pd.DataFrame, zones: dict[str, str]) -> pd.DataFrame:
    """One push event per known outcome, in time order: the `history.previous` key, the outcome
    value as `config.previous_column` and when it became known (also its event timestamp)."""
    key, value = config.history.previous, config.label.column
    stamps = known_at(events, config, zones)
    stream = pd.DataFrame(
        {
            key: events[key].astype("string"),
            EVENT_TIMESTAMP: stamps,
            config.previous_column: events[value].astype("float32"),
            PREVIOUS_AT: stamps,
        }
    )
    stream = stream[stream[[key, EVENT_TIMESTAMP, config.previous_column]].notna().all(axis=1)]
    stream = stream.sort_values(EVENT_TIMESTAMP, kind="stable").drop_duplicates([key, EVENT_TIMESTAMP], keep="last")
    return stream.reset_index(drop=True)


def trailing_rates(
    config: Config, events: pd.DataFrame, zones: dict[str, str], group: str, keys: list[str]
) -> pd.DataFrame:
    """Per `keys` and day: the label rate and count of outcomes known in the `trailing_days` before
    that day's midnight (UTC), which stamps the row. Days without such outcomes have no row. An
    event without an arrival (a cancelled flight, late by the label) counts from the midnight
    after it happened."""
    name = config.label.name
    known = known_at(events, config, zones).fillna(event_time(events, config))
    labelled = label(events, config).assign(day=known.dt.floor("D") + pd.Timedelta(days=1))
    labelled = labelled.dropna(subset=keys)
    daily = labelled.groupby([*keys, "day"])[name].agg(["sum", "count"])
    wide = daily.unstack(keys, fill_value=0)
    days = pd.date_range(wide.index.min(), wide.index.max() + pd.Timedelta(days=config.history.trailing_days - 1))
    window = wide.reindex(days, fill_value=0).rolling(config.history.trailing_days, min_periods=1).sum()
    window.index.name = EVENT_TIMESTAMP
    long = window.stack(list(range(1, len(keys) + 1)), future_stack=True).reset_index()
    long = long[long["count"] > 0]
    rate, count = config.trailing_columns(group)
    return pd.DataFrame(
        {
            **{key: long[key].astype(object) for key in keys},
            EVENT_TIMESTAMP: long[EVENT_TIMESTAMP],
            rate: (long["sum"] / long["count"]).astype("float32"),
            count: long["count"].astype("float32"),
        }
    ).reset_index(drop=True)


def live_stream(config: Config, events: pd.DataFrame) -> pd.DataFrame:
    """Per `live.key`, its state at every change and every hour, in time order: the events that
    happened (event time + `live.delay`) in the window ending then, their count and mean delay
    (NaN for none). Each state counts only events at or before its timestamp."""
    spec = config.history.live
    window = pd.Timedelta(minutes=spec.window_minutes)
    delay = events[spec.delay].astype("float64")
    happened = events[delay.notna() & events[spec.key].notna()]
    at = (event_time(happened, config) + minutes(delay[happened.index])).dt.tz_convert(None)
    frames = [_empty_live(config)]
    for place, rows in happened.groupby(happened[spec.key].astype("string")).groups.items():
        order = np.argsort(at[rows].to_numpy(), kind="stable")
        times = at[rows].to_numpy()[order]
        delays = np.concatenate([[0.0], np.cumsum(delay[rows].to_numpy()[order])])
        first, last = pd.Timestamp(times[0]).floor("h"), pd.Timestamp(times[-1] + window).ceil("h")
        hours = pd.date_range(first, last, freq="h").to_numpy()
        ticks = np.unique(np.concatenate([times, times + window.to_timedelta64(), hours]))
        upto = np.searchsorted(times, ticks, side="right")
        since = np.searchsorted(times, ticks - window.to_timedelta64(), side="right")
        count = upto - since
        total = delays[upto] - delays[since]
        mean = np.divide(total, count, out=np.full(len(ticks), np.nan), where=count > 0)
        frames.append(
            pd.DataFrame(
                {
                    spec.key: pd.array([place] * len(ticks), dtype="string"),
                    EVENT_TIMESTAMP: pd.DatetimeIndex(ticks, tz="UTC"),
                    LIVE_COLUMNS[0]: count.astype("float32"),
                    LIVE_COLUMNS[1]: mean.astype("float32"),
                }
            )
        )
    stream = pd.concat(frames, ignore_index=True)
    return stream.sort_values(EVENT_TIMESTAMP, kind="stable").reset_index(drop=True)


def _empty_live(config: Config) -> pd.DataFrame:
    return pd.DataFrame(
        {
            config.history.live.key: pd.array([], dtype="string"),
            EVENT_TIMESTAMP: pd.DatetimeIndex([], tz="UTC"),
            **{column: pd.array([], dtype="float32") for column in LIVE_COLUMNS},
        }
    )


def schedule(config: Config, events: pd.DataFrame) -> pd.DataFrame:
    """Per `live.key` and hour (`source.timestamp`): how many events are scheduled, stamped at
    the hour's start (a schedule is published in advance). Cancelled events count: they were
    scheduled."""
    key, hour = config.history.live.key, config.source.timestamp
    counts = events.dropna(subset=[key]).groupby([key, hour]).size().rename(SCHEDULED).reset_index()
    return pd.DataFrame(
        {
            key: counts[key].astype(object),
            EVENT_TIMESTAMP: counts[hour],
            SCHEDULED: counts[SCHEDULED].astype("float32"),
        }
    )
