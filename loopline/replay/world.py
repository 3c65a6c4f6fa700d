"""The world a replay runs in: the source's year as it happened, told to the system only as it
becomes known.

The world holds the whole source: it is the world, and knows the future. The system under test
(the feature store, the server, the pipelines) never reads it; at the replay's clock `now` the
world hands out only what is known then:

- `snapshot(now, folder)`: a source folder as of `now`. Flights scheduled up to a day after
  `now` (schedules are published ahead), each one's departure delay only once it has left and
  its arrival delay only once it is at the gate (NaN before: unknown); weather hours whose last
  report is in; the static tables as they are.
- `timed_tables(now)`: the batch tables of the lookups keyed by a time (the weather's hours), the
  rows known by `now`.
- `streams(now)`: the feature streams' events stamped up to `now` (departures as they leave,
  arrivals as they reach the gate), as the airports' feeds would have sent them.
- `due(start, end)`: the flights scheduled to depart in [start, end): the requests.
- `outcomes(start, end)`: the outcomes that became known in [start, end): at the gate arrival,
  or for a flight that never arrived, `unarrived_hours` after its scheduled arrival.
"""

from pathlib import Path

import numpy as np
import pandas as pd

from loopline.config import Config
from loopline.errors import DataError
from loopline.events import event_time, minutes, read_events
from loopline.features.history import EVENT_TIMESTAMP, known_at
from loopline.features.store import lookup_tables, streams, zones

AHEAD = pd.Timedelta(days=1)  # how far ahead a schedule is known
DEPARTS, KNOWN = "departs", "known"


class World:
    """The source's events on their own clock (see the module's doc)."""

    def __init__(self, config: Config, source: str):
        self.config, self.source = config, source
        self.places = zones(config, source)
        events = read_events(config, source)
        live = config.history.live
        self.events = events.assign(
            **{DEPARTS: event_time(events, config), KNOWN: known_at(events, config, self.places)}
        ).sort_values(DEPARTS, kind="stable", ignore_index=True)
        self.left = self.events[DEPARTS] + minutes(self.events[live.delay])  # NaT: never
        self._streams = streams(config, events, self.places)
        never = self.events[KNOWN].isna()
        expected = self._expected_arrival(self.events[never]) + pd.Timedelta(
            hours=config.monitoring.replay.unarrived_hours
        )
        self.told = self.events[KNOWN].where(~never, expected)  # when each outcome is told (see `outcomes`)
        self._tables: dict[str, pd.DataFrame] = {}  # the lookup tables, read once
        self._timed: dict[str, pd.DataFrame] | None = None  # their batch tables, made once

    def check(self, start: pd.Timestamp, end: pd.Timestamp) -> None:
        """Refuse a source whose flights in [start, end) cannot all be sent as requests (a day
        with a request field missing, the aircraft aside), or with flights of no departure time:
        DataError naming the table, the days, the fields and how many flights."""
        table, zone = self.config.source.table, self.config.source.timezone
        problems = []
        timeless = self.events[DEPARTS].isna()
        if timeless.any():
            problems.append(f"{timeless.sum()} flight(s) have no {self.config.source.timestamp}")
        required = [f for f in self.config.request_fields if f != self.config.history.previous]
        window = self.events[(self.events[DEPARTS] >= start) & (self.events[DEPARTS] < end)]
        missing = window[required].isna()
        bad = window[missing.any(axis=1)]
        for day, flights in bad.groupby(bad[DEPARTS].dt.tz_convert(zone).dt.date):
            fields = [f for f in required if missing.loc[flights.index, f].any()]
            problems.append(f"{day}: {len(flights)} flight(s) without {', '.join(fields)}")
        if problems:
            shown = "; ".join(problems[:5]) + (f"; and {len(problems) - 5} more" if len(problems) > 5 else "")
            raise DataError(f"{self.source}: table '{table}' cannot be replayed: {shown}")

    def snapshot(self, now: pd.Timestamp, folder: str | Path) -> Path:
        """Write the source as known at `now` into `folder` (Parquet, the source's layout)."""
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        spec, live, table = self.config.history.arrival, self.config.history.live, self.config.source.table
        scheduled = self.events[self.events[DEPARTS] < now + AHEAD]
        flights = scheduled.drop(columns=[DEPARTS, KNOWN]).copy()
        flights.loc[~(self.left[scheduled.index] <= now), live.delay] = np.nan
        flights.loc[~(scheduled[KNOWN] <= now), spec.delay] = np.nan
        flights.to_parquet(folder / f"{table}.parquet", index=False)
        self.lookups(now, folder)
        zones_table = spec.zones.table
        pd.read_parquet(Path(self.source, f"{zones_table}.parquet")).to_parquet(folder / f"{zones_table}.parquet")
        return folder

    def lookups(self, now: pd.Timestamp, folder: str | Path) -> Path:
        """Write the lookup tables as known at `now` into `folder`: a timed row (a weather hour)
        once it is complete, the others (planes) as they are."""
        folder = Path(folder)
        for lookup in self.config.source.lookups:
            rows = self._tables.get(lookup.table)
            if rows is None:
                rows = self._tables[lookup.table] = pd.read_parquet(Path(self.source, f"{lookup.table}.parquet"))
            stamps = [k for k in lookup.keys if self.config.raw_columns[k] == "timestamp"]
            if stamps:
                known = pd.to_datetime(rows[stamps[0]], utc=True) + pd.Timedelta(minutes=lookup.known_after_minutes)
                rows = rows[known <= now]
            rows.to_parquet(folder / f"{lookup.table}.parquet", index=False)
        return folder

    def timed_tables(self, now: pd.Timestamp) -> dict[str, pd.DataFrame]:
        """The timed lookups' batch tables (`features.store.lookup_tables`: each row stamped when
        it became known) with the rows known by `now`: what `lookups` then the feature store's
        table writer would give, without a round trip through files every step."""
        if self._timed is None:
            self._timed = lookup_tables(self.config, self.source, timed=True)
        return {name: table[table[EVENT_TIMESTAMP] <= now] for name, table in self._timed.items()}

    def streams(self, now: pd.Timestamp, since: pd.Timestamp | None = None) -> dict[str, pd.DataFrame]:
        """Each feature stream's events stamped up to `now` (and after `since`, if given)."""
        out = {}
        for name, stream in self._streams.items():
            stamps = stream[EVENT_TIMESTAMP]
            out[name] = stream[(stamps <= now) & (stamps > since)] if since is not None else stream[stamps <= now]
        return out

    def due(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The flights scheduled to depart in [start, end), in time order, with their departure."""
        events = self.events
        return events[(events[DEPARTS] >= start) & (events[DEPARTS] < end)]

    def outcomes(self, start: pd.Timestamp, end: pd.Timestamp) -> pd.DataFrame:
        """The flights whose outcome became known in [start, end), with `known` set to when: the
        gate arrival, or `unarrived_hours` (config.monitoring.replay) after the scheduled arrival
        for one that never came."""
        picked = (self.told >= start) & (self.told < end)
        return self.events[picked].assign(**{KNOWN: self.told[picked]}).sort_values(KNOWN, kind="stable")

    def _expected_arrival(self, events: pd.DataFrame) -> pd.Series:
        """The scheduled arrival (UTC) of flights that never arrived: their arrival's schedule
        with no delay."""
        spec = self.config.history.arrival
        on_time = events.assign(**{spec.delay: 0.0})
        return known_at(on_time, self.config, self.places).fillna(events[DEPARTS])
