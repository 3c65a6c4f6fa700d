"""The feature store's data (feature_repo/): offline tables, the outcome stream, the online store,
and training sets through the config's feature service.

Offline tables, written into `<repo>/data/` (or LOOPLINE_FEATURE_DATA: see `data_location`) from
the source, each row stamped when it became known:
- one per lookup of the config: its keys other than the timestamp are the entity's join keys;
  `event_timestamp` is the lookup's timestamp key plus its `known_after_minutes` (weather: the
  hour's last report, HH:51) or, for a lookup without one (planes), STATIC_SINCE, so that it
  joins every later event;
- one per trailing group of `history`: the group's label rate and event count over the
  `trailing_days` before each day, stamped at midnight UTC (outcomes known before it only);
- `<live key>_schedule.parquet`: events scheduled per place and hour, stamped at the hour;
- the streams, filled only by pushes (`replay`) as the events happen: `outcomes.parquet` (each
  outcome when it becomes known, e.g. an aircraft at the gate) and `departures.parquet` (each
  place's live state).
"""

import functools
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from loopline import storage
from loopline.config import Config, Lookup, in_environment
from loopline.errors import LooplineError
from loopline.events import event_time, read_events, read_table
from loopline.features import loaded
from loopline.features.history import (
    EVENT_TIMESTAMP,
    live_stream,
    outcome_stream,
    schedule,
    time_zones,
    trailing_rates,
)
from loopline.locks import file_lock

STATIC_SINCE = pd.Timestamp("1970-01-01", tz="UTC")
OUTCOMES = "outcomes"  # the push sources' names and their offline tables
DEPARTURES = "departures"
ROW = "_row"  # keeps the events' order through the point-in-time join
DATA_ENV = "LOOPLINE_FEATURE_DATA"


def data_location(repo_path: str | Path) -> str:
    """Where the repository's offline tables live: LOOPLINE_FEATURE_DATA, a folder or a
    gs://bucket/prefix (on a cluster: every pod reads the same tables, no shared volume), else
    `<repo>/data/`. `feast apply` records it in the sources' paths (feature_repo/sources.py)."""
    return os.environ.get(DATA_ENV) or str(Path(repo_path, "data"))


def table_uri(repo_path: str | Path, name: str) -> str:
    return storage.join(data_location(repo_path), f"{name}.parquet")


def read_lookup(config: Config, source: str, lookup: Lookup) -> pd.DataFrame:
    """A lookup table's keys and columns, checked, the columns under their output names."""
    kinds = {key: config.raw_columns[key] for key in lookup.keys} | lookup.columns
    table = read_table(source, lookup.table, kinds)
    return table.rename(columns={c: lookup.output_name(c) for c in lookup.columns})


def zones(config: Config, source: str) -> dict[str, str]:
    """The places' time zones when the config times outcomes by an arrival; else none."""
    return time_zones(config, source) if config.history.arrival else {}


def feature_tables(
    config: Config, source: str, events: pd.DataFrame, places: dict[str, str]
) -> dict[str, pd.DataFrame]:
    """Every batch table: one per lookup of `source`, one per trailing group of `events`
    (`<group>_rates`), with a live key its schedule (`<key>_schedule`), and one per table of
    attributes (their latest values per key, STATIC_SINCE: they join every event)."""
    tables = lookup_tables(config, source)
    for group, keys in config.history.trailing.items():
        tables[f"{group}_rates"] = trailing_rates(config, events, places, group, keys)
    if config.history.live:
        tables[f"{config.history.live.key}_schedule"] = schedule(config, events)
    for table, spec in config.features.attributes.items():
        values = events[[*spec.keys, *spec.columns]].dropna(subset=spec.keys).drop_duplicates(spec.keys, keep="last")
        tables[table] = values.astype({c: "float32" for c in spec.columns}).assign(**{EVENT_TIMESTAMP: STATIC_SINCE})
    return tables


def lookup_tables(config: Config, source: str, timed: bool = False) -> dict[str, pd.DataFrame]:
    """One batch table per lookup of `source` (with `timed`, only those keyed by a time, such as
    the weather's hours), each row stamped when it became known."""
    tables = {}
    for lookup in config.source.lookups if not timed else timed_lookups(config):
        table = read_lookup(config, source, lookup)
        stamps = [key for key in lookup.keys if config.raw_columns[key] == "timestamp"]
        known = pd.Timedelta(minutes=lookup.known_after_minutes)
        table[EVENT_TIMESTAMP] = table.pop(stamps[0]) + known if stamps else STATIC_SINCE
        for column, kind in lookup.columns.items():
            if kind == "float":
                table[lookup.output_name(column)] = table[lookup.output_name(column)].astype("float32")
        tables[lookup.table] = table
    return tables


def timed_lookups(config: Config) -> list[Lookup]:
    """The lookups keyed by a time: they gain rows as time passes (the others are as they are)."""
    lookups = config.source.lookups
    return [lookup for lookup in lookups if any(config.raw_columns[key] == "timestamp" for key in lookup.keys)]


def stream_names(config: Config) -> list[str]:
    """The streams (push sources) the config's history has."""
    return [name for name, kept in ((OUTCOMES, config.history.previous), (DEPARTURES, config.history.live)) if kept]


def streams(config: Config, events: pd.DataFrame, places: dict[str, str]) -> dict[str, pd.DataFrame]:
    """The config's streams of `events`, each in time order: outcomes as they become known, the
    live state of places as events happen."""
    out = {}
    if config.history.previous:
        out[OUTCOMES] = outcome_stream(config, events, places)
    if config.history.live:
        out[DEPARTURES] = live_stream(config, events)
    return out


def write_feature_tables(
    config: Config, source: str, events: pd.DataFrame, repo_path: str, places: dict[str, str]
) -> dict[str, int]:
    """Write the batch tables where the repository keeps them (`data_location`, replacing them)
    and an empty table for each stream that has none yet (pushes fill it); returns rows per batch
    table."""
    rows = {}
    for table, frame in feature_tables(config, source, events, places).items():
        write_table(frame, table_uri(repo_path, table))
        rows[table] = len(frame)
    for name, empty in streams(config, events.head(0), places).items():
        if not storage.exists(table_uri(repo_path, name)):
            write_table(empty, table_uri(repo_path, name))
    return rows


def write_table(frame: pd.DataFrame, uri: str) -> None:
    """An offline table, replaced atomically: a reader sees the old one or the new one."""
    storage.write_frame(_microseconds(frame), uri)


def _microseconds(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps in microseconds: DuckDB reads nanosecond UTC timestamps in Parquet as strings."""
    stamps = [c for c in frame.columns if isinstance(frame[c].dtype, pd.DatetimeTZDtype)]
    return frame.astype({c: "datetime64[us, UTC]" for c in stamps})


def _file_registry_serves(record: logging.LogRecord) -> bool:
    """Feast warns that `serve_features_while_materializing` "typically has no effect" on a file
    registry; it has (its registry reads the flag), and the server relies on it: drop the warning."""
    return "`serve_features_while_materializing` is enabled but `registry_type` is 'file'" not in record.getMessage()


def locked(repo_path: str, exclusive: bool = True):
    """The repository's lock: exclusive to write the store (tables, stream, online store), shared
    to read a training set, so that a reader never sees a load half done and two loads never
    interleave. A process that must wait says so; see loopline.locks."""
    return file_lock(Path(repo_path, "data", ".lock"), f"the feature store {repo_path}", exclusive)


def feature_store(repo_path: str, fs_yaml_file: str | Path | None = None):
    """The Feast store of `repo_path`; `fs_yaml_file`, else FEAST_FS_YAML_FILE_PATH (the setting the
    feast CLI reads too), picks a variant such as feature_store.production.yaml."""
    from feast import FeatureStore

    logging.getLogger("feast.repo_config").addFilter(_file_registry_serves)  # once: a filter is added once
    fs_yaml_file = fs_yaml_file or os.environ.get("FEAST_FS_YAML_FILE_PATH")
    if not Path(fs_yaml_file or Path(repo_path, "feature_store.yaml")).is_file():
        raise LooplineError(f"{repo_path} is not a Feast repository: it has no feature_store.yaml")
    store = FeatureStore(repo_path=repo_path, fs_yaml_file=Path(fs_yaml_file) if fs_yaml_file else None)
    if any(storage.is_gcs(getattr(source, "path", None) or "") for source in store.list_data_sources()):
        _duckdb_reads_gcs()  # as the registry says: `feast apply` recorded where the tables are
    return store


@functools.cache
def _duckdb_reads_gcs() -> None:
    """Let DuckDB (Feast's offline store, through ibis's default connection) read gs:// through
    gcsfs: DuckDB's own httpfs extension is downloaded at first use and speaks only GCS's
    S3-compatible API, which needs HMAC keys (and gcp-storage-emulator lacks)."""
    import ibis
    from gcsfs.core import GCSFileSystem  # not gcsfs's experimental subclass, which asks a gRPC API first

    class Tables(GCSFileSystem):
        def _open(self, path, mode="rb", **kwargs):
            # read ahead in the caller's thread: gcsfs's default background prefetcher is left
            # pending when DuckDB drops a file, and asyncio logs an error for each
            return super()._open(path, mode, **({"cache_type": "readahead"} | kwargs))

    anonymous = bool(os.environ.get("STORAGE_EMULATOR_HOST"))  # as loopline.storage talks to it
    ibis.get_backend().con.register_filesystem(Tables(token="anon" if anonymous else None))


def apply(repo_path: str, fs_yaml_file: str | Path | None = None) -> None:
    """Register the repository's definitions: `feast apply` in the repository, as a user runs it."""
    feast = shutil.which("feast", path=Path(sys.executable).parent) or "feast"  # this environment's first
    env = os.environ | ({"FEAST_FS_YAML_FILE_PATH": str(Path(fs_yaml_file).resolve())} if fs_yaml_file else {})
    done = subprocess.run(
        [feast, "apply", *apply_options(repo_path)],
        cwd=repo_path,
        env=env,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-10:])
        raise LooplineError(f"`feast apply` failed in {repo_path}:\n{tail}")


def apply_options(repo_path: str | Path) -> list[str]:
    """`feast apply`'s options for the repository: with the tables on gcp-storage-emulator, no
    source validation, since Feast checks a gs:// path through pyarrow's own GCS client, which
    ignores STORAGE_EMULATOR_HOST and would wait on Google Cloud Storage itself."""
    emulated = storage.is_gcs(data_location(repo_path)) and os.environ.get("STORAGE_EMULATOR_HOST")
    return ["--skip-source-validation"] if emulated else []


def replay(
    pushes: dict[str, pd.DataFrame], repo_path: str, end: pd.Timestamp, fs_yaml_file: str | Path | None = None
) -> dict[str, int]:
    """Push each stream's events stamped up to `end` (inclusive) that the store has not seen yet
    to the online store, in time order, and append them to the stream's offline table in one
    write (what Feast's offline push would do one push at a time, on a local folder only).
    Returns the number of events pushed per stream."""
    store, _ = _stream_views(repo_path, pushes, fs_yaml_file)
    seen, todo = {}, {}
    for name, stream in pushes.items():
        seen[name] = storage.read_frame(table_uri(repo_path, name))
        since = seen[name][EVENT_TIMESTAMP].max() if len(seen[name]) else STATIC_SINCE
        todo[name] = stream[(stream[EVENT_TIMESTAMP] > since) & (stream[EVENT_TIMESTAMP] <= end)]
    pushed = push_online(todo, repo_path, store)
    grown = {name: pd.concat([seen[name], todo[name]]) if len(seen[name]) else todo[name] for name in pushes}
    write_streams({name: events for name, events in grown.items() if len(todo[name])}, repo_path)
    return pushed


def push_online(pushes: dict[str, pd.DataFrame], repo_path: str, store=None) -> dict[str, int]:
    """Push each stream's `pushes` to the online store alone, as they arrive; their offline copy
    is the caller's to write (`write_streams`, say once a day). A caller that pushes every step
    passes its `store` (see `materialize`). Returns events pushed per stream.

    What Feast's `push` does (write to each view the push source feeds), with the registry read
    once for all the streams: `push` parses every view and feature service at each call, most
    of an hourly replay step's push."""
    store, fed = _stream_views(repo_path, pushes, store=store)
    for name, events in pushes.items():
        if len(events):  # in one write: the online store keeps each key's newest
            for view in fed[name]:
                store.write_to_online_store(view, _microseconds(events.reset_index(drop=True)))
    return {name: len(events) for name, events in pushes.items()}


def write_streams(streams: dict[str, pd.DataFrame], repo_path: str) -> None:
    """Replace each stream's offline table with `streams` (everything it has received): what
    pushing them offline one by one leaves, in one write instead of one rewrite per push."""
    for name, events in streams.items():
        write_table(events, table_uri(repo_path, name))


def _stream_views(
    repo_path: str, pushes: dict[str, pd.DataFrame], fs_yaml_file: str | Path | None = None, store=None
) -> tuple:
    """The store (`store`, else the repository's) and, for each stream of `pushes`, the feature
    views its push source feeds; LooplineError for a stream that feeds none."""
    from feast.data_source import PushSource

    store = store or feature_store(repo_path, fs_yaml_file)
    fed: dict[str, list[str]] = {}
    for view in store.list_feature_views():
        if isinstance(view.stream_source, PushSource):
            fed.setdefault(view.stream_source.name, []).append(view.name)
    for name in pushes:
        if name not in fed:
            raise LooplineError(
                f"push source '{name}' is not registered for {repo_path}: run `feast apply` there first"
            )
    return store, fed


def batch_views(store, views: list | None = None) -> list:
    """The feature views (of `views`, default the registry's) the batch tables feed; the others
    are fed by a push source (a stream)."""
    from feast.data_source import PushSource

    views = store.list_feature_views() if views is None else views
    return [v for v in views if not isinstance(v.stream_source, PushSource)]


def online_horizon(store) -> pd.Timestamp | None:
    """How far the online store is loaded: the earliest materialization end of the batch views
    (None before the first)."""
    ends = [view.most_recent_end_time for view in batch_views(store)]
    if not ends or None in ends:
        return None
    return min(pd.Timestamp(end) for end in ends)  # Feast keeps them in UTC


def missing_online(store, views: list) -> list[str]:
    """The views whose online table does not hold the newest loaded row of their offline table
    (its key looked up: absent or unreadable), e.g. after another repository's `feast apply`
    dropped the tables its registry pointed at."""
    missing = []
    for view in views:
        names = [feature.name for feature in view.features]
        table = storage.read_frame(view.batch_source.path)
        if view.most_recent_end_time is not None:
            table = table[table[EVENT_TIMESTAMP] <= pd.Timestamp(view.most_recent_end_time)]
        table = table.dropna(subset=names, how="all").sort_values(EVENT_TIMESTAMP).tail(1)
        if table.empty:
            continue
        keys = {key: table[key].tolist() for key in view.join_keys}
        try:
            served = store.get_online_features(features=[f"{view.name}:{n}" for n in names], entity_rows=keys).to_dict()
            present = any(values[0] is not None for name, values in served.items() if name in names)
        except Exception:  # no table at all
            present = False
        if not present:
            missing.append(view.name)
    return missing


def materialize(
    repo_path: str,
    end: pd.Timestamp,
    start: pd.Timestamp | None = None,
    fs_yaml_file: str | Path | None = None,
    check_lost: bool = True,
    store=None,
) -> dict[str, tuple[str, str]]:
    """Load the online store with every batch view's values up to `end`, incrementally.

    Each view continues from where its last materialization ended; a view never materialized
    starts at STATIC_SINCE (Feast's own incremental start is "now minus the TTL", which misses
    historical data such as 2013). `start` forces a window, e.g. to load again: writing the
    same values twice leaves the online store as it was. Views fed by a push source are left to
    their stream (`replay`). First, any view whose online table lost what was loaded into it
    (`missing_online`) is loaded again from its offline table, streams included (`check_lost`
    False skips that look-up, 0.1 s: for a caller that loads every hour and checked at the
    day's first). A caller that loads every step passes the `store` it keeps, so that Feast's
    registry is read and parsed once, not per call. Returns each view's window.
    """
    store = store or feature_store(repo_path, fs_yaml_file)
    store.refresh_registry()  # a pipeline may have loaded since the caller's last call
    views = store.list_feature_views()  # parsed once, not per use: Feast parses every view each time
    batch = batch_views(store, views)
    if not batch:
        raise LooplineError(f"no feature views are registered for {repo_path}: run `feast apply` there first")
    windows = {}
    fed_by_batch = {view.name for view in batch}
    loaded = [v for v in views if v.most_recent_end_time is not None or v.name not in fed_by_batch]
    lost = missing_online(store, loaded) if check_lost else []
    if lost:
        print(f"loopline: the online store lost {', '.join(lost)}: loading them again", file=sys.stderr)
        store.apply([v for v in loaded if v.name in lost])  # creates a dropped table; `feast apply` sees no change
        store.materialize(start_date=STATIC_SINCE.to_pydatetime(), end_date=end.to_pydatetime(), feature_views=lost)
        windows |= {name: (STATIC_SINCE.isoformat(), end.isoformat()) for name in lost}
        store.refresh_registry()
        batch = batch_views(store)
    due: dict[pd.Timestamp, list[str]] = {}
    recorded = False
    for view in batch:
        begin = start or (pd.Timestamp(view.most_recent_end_time) if view.most_recent_end_time else STATIC_SINCE)
        windows.setdefault(view.name, (begin.isoformat(), end.isoformat()))
        if begin >= end:
            continue
        if start is None and not _stamped_within(view.batch_source, begin, end):
            # nothing new to load: recorded as loaded (as Feast records a window it loaded), no engine run
            window = begin.to_pydatetime(), end.to_pydatetime()
            store.registry.apply_materialization(view, store.project, *window, commit=False)
            recorded = True
        else:
            due.setdefault(begin, []).append(view.name)
    merged = _merge_intervals(store)
    if recorded or merged:  # one registry write for them all
        store.registry.commit()
    for begin, names in due.items():
        store.materialize(start_date=begin.to_pydatetime(), end_date=end.to_pydatetime(), feature_views=names)
    return windows


def _merge_intervals(store) -> bool:
    """Merge each view's touching materialization intervals into one, in the file registry's
    cached copy (the caller commits): Feast appends one per load and parses them all at every
    registry read, so an hourly load slows as they pile up (720 a view after a month). Only the
    latest end is ever read (`most_recent_end_time`). Returns whether anything was merged. A SQL
    registry writes each interval as it comes: left as it is."""
    from feast.infra.registry.registry import Registry

    if type(store.registry) is not Registry:
        return False
    merged_any = False
    for view in store.registry.cached_registry_proto.feature_views:
        if view.spec.project != store.project or len(view.meta.materialization_intervals) < 2:
            continue
        spans = sorted(view.meta.materialization_intervals, key=lambda span: _instant(span.start_time))
        merged = [(spans[0].start_time, spans[0].end_time)]
        for span in spans[1:]:
            start, end = merged[-1]
            if _instant(span.start_time) <= _instant(end):
                merged[-1] = start, max(end, span.end_time, key=_instant)
            else:
                merged.append((span.start_time, span.end_time))
        if len(merged) < len(spans):
            kept = [type(spans[0])(start_time=start, end_time=end) for start, end in merged]
            del view.meta.materialization_intervals[:]
            view.meta.materialization_intervals.extend(kept)
            merged_any = True
    return merged_any


def _instant(stamp) -> tuple[int, int]:
    """A protobuf Timestamp, comparable."""
    return stamp.seconds, stamp.nanos


def _stamped_within(source, begin: pd.Timestamp, end: pd.Timestamp) -> bool:
    """Whether a batch source holds a row stamped in [begin, end]; True when it cannot be told
    (not a local file)."""
    path = Path(getattr(source, "path", "") or "")
    if not path.is_file():
        return True
    stamps = _stamps(str(path), path.stat().st_mtime_ns)
    first = np.searchsorted(stamps, begin.to_datetime64(), side="left")
    return first < len(stamps) and stamps[first] <= end.to_datetime64()


@functools.lru_cache(maxsize=16)
def _stamps(path: str, mtime_ns: int) -> np.ndarray:
    """A table's event timestamps, sorted (UTC, naive), read once per version of the file."""
    stamps = pd.read_parquet(path, columns=[EVENT_TIMESTAMP])[EVENT_TIMESTAMP]
    return np.sort(stamps.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy())


def load(
    config: Config, source: str, repo_path: str, end: pd.Timestamp, fs_yaml_file: str | Path | None = None
) -> dict[str, int]:
    """Everything the store needs up to `end`: batch tables written, definitions applied, the
    streams replayed and the batch views materialized. Returns rows per table and pushes per stream.
    A store that already holds this source up to `end` (`loaded`) is only checked for lost
    online tables."""
    store = feature_store(repo_path, fs_yaml_file)  # a repository, before anything is written into it
    digest = loaded.fingerprint(config, source, repo_path, store)
    with locked(repo_path):
        rows = loaded.covered(_marker(repo_path), digest, end)
        if rows is not None:
            materialize(repo_path, end, fs_yaml_file=fs_yaml_file)
            return rows | dict.fromkeys(stream_names(config), 0)  # nothing new pushed
        events = read_events(config, source)
        places = zones(config, source)
        rows = write_feature_tables(config, source, events, repo_path, places)
        apply(repo_path, fs_yaml_file)
        pushed = replay(streams(config, events, places), repo_path, end, fs_yaml_file)
        materialize(repo_path, end, fs_yaml_file=fs_yaml_file)
        loaded.record(_marker(repo_path), digest, end, rows)
    return rows | pushed


def record_loaded(config: Config, source: str, repo_path: str, store, end: pd.Timestamp, rows: dict[str, int]) -> None:
    """Note that the caller loaded `store` (of `repo_path`) with `source` up to `end` (`rows` per
    table), as `load` does: a later `load` of it to `end` or before does nothing. The caller
    holds the lock."""
    loaded.record(_marker(repo_path), loaded.fingerprint(config, source, repo_path, store), end, rows)


def _marker(repo_path: str | Path) -> str:
    return storage.join(data_location(repo_path), loaded.MARKER)


def training_set(
    config: Config, events: pd.DataFrame, repo_path: str, fs_yaml_file: str | Path | None = None
) -> pd.DataFrame:
    """`events` with the feature service's values as of each event's time (point in time), in the
    events' order."""
    store = feature_store(repo_path, fs_yaml_file)
    name = config.features.service
    try:
        service = store.get_feature_service(name)
    except Exception:  # Feast raises its own not-found error per registry type
        raise LooplineError(f"feature service '{name}' is not registered for {repo_path}: run `feast apply`") from None
    entity_df = events.drop(columns=config.served_attributes)  # the store serves them, as it does online
    entity_df = entity_df.assign(**{EVENT_TIMESTAMP: event_time(events, config), ROW: np.arange(len(events))})
    with in_environment(config), locked(repo_path, exclusive=False):
        joined = store.get_historical_features(entity_df=entity_df, features=service).to_df()
    joined = joined.sort_values(ROW).drop(columns=[ROW, EVENT_TIMESTAMP]).reset_index(drop=True)
    return joined[[*events.columns, *[c for c in joined.columns if c not in events.columns]]]


def copy_repo(repo_path: str | Path, dest: str | Path, project: str) -> Path:
    """A copy of the repository's definitions and YAMLs under another Feast project name, so that
    tests and benchmarks share Redis and PostgreSQL without touching the real project."""
    dest = Path(dest)
    shutil.copytree(repo_path, dest, ignore=shutil.ignore_patterns("data", "__pycache__"))
    for yaml in dest.glob("feature_store*.yaml"):
        yaml.write_text(yaml.read_text().replace("project: loopline\n", f"project: {project}\n"))
    return dest
