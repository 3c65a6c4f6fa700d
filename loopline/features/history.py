"""History: features made from the outcomes of past events, for the feature store.

An event's outcome (its label column) becomes known some time after the event (a flight's
arrival delay once it has landed). `outcome_stream` turns events into the stream of outcomes as
they become known; `trailing_rates` into each group's label rate over the days before each
midnight. Both use only outcomes known before the time they are stamped with.
"""

import pandas as pd

from loopline.config import PREVIOUS_AT, Config
from loopline.events import label

EVENT_TIMESTAMP = "event_timestamp"


def known_at(events: pd.DataFrame, config: Config) -> pd.Series:
    """When each event's outcome becomes known: its timestamp plus `history`'s minutes."""
    spec = config.history
    minutes = sum((events[c].astype("float64").fillna(0) for c in spec.known_after), start=spec.allowance_minutes)
    return events[config.source.timestamp] + pd.to_timedelta(minutes, unit="min")


def outcome_stream(config: Config, events: pd.DataFrame) -> pd.DataFrame:
    """One push event per known outcome, in time order: the `history.previous` key, the outcome
    value as `config.previous_column` and when it became known (also its event timestamp)."""
    key, value = config.history.previous, config.label.column
    complete = events[[key, value, *config.history.known_after]].notna().all(axis=1)
    stamps = known_at(events, config)
    stream = pd.DataFrame(
        {
            key: events[key].astype("string"),
            EVENT_TIMESTAMP: stamps,
            config.previous_column: events[value].astype("float32"),
            PREVIOUS_AT: stamps,
        }
    )[complete]
    stream = stream.sort_values(EVENT_TIMESTAMP, kind="stable").drop_duplicates([key, EVENT_TIMESTAMP], keep="last")
    return stream.reset_index(drop=True)


def trailing_rates(config: Config, events: pd.DataFrame, group: str, keys: list[str]) -> pd.DataFrame:
    """Per `keys` and day: the label rate and count of outcomes known in the `trailing_days` before
    that day's midnight (UTC), which stamps the row. Days without such outcomes have no row."""
    name = config.label.name
    labelled = label(events, config).assign(day=known_at(events, config).dt.floor("D") + pd.Timedelta(days=1))
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
