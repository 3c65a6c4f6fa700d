"""Feature tables for the Feast repository (feature_repo/): the config's lookups, stamped in time.

Each lookup of the config becomes one offline table `data/<table>.parquet` in the repository:
its keys other than the timestamp are the entity's join keys, and `event_timestamp` is the
lookup's timestamp key (weather: the observation hour) or, for a lookup without one (planes),
STATIC_SINCE, so that it joins every later event.
"""

import os
from pathlib import Path

import pandas as pd

from components.config import Config
from components.errors import LooplineError
from components.ingest import read_lookup

EVENT_TIMESTAMP = "event_timestamp"
STATIC_SINCE = pd.Timestamp("1970-01-01", tz="UTC")


def feature_tables(config: Config, source: str) -> dict[str, pd.DataFrame]:
    """One table per lookup: join keys, EVENT_TIMESTAMP and the lookup's (prefixed) columns."""
    tables = {}
    for lookup in config.source.lookups:
        table = read_lookup(config, source, lookup)
        stamps = [key for key in lookup.keys if config.raw_columns[key] == "timestamp"]
        table[EVENT_TIMESTAMP] = table.pop(stamps[0]) if stamps else STATIC_SINCE
        for column, kind in lookup.columns.items():
            if kind == "float":
                table[lookup.output_name(column)] = table[lookup.output_name(column)].astype("float32")
        tables[lookup.table] = table
    return tables


def write_feature_tables(config: Config, source: str, repo_path: str) -> dict[str, int]:
    """Write the offline tables into `<repo_path>/data/`; returns rows per table."""
    data = Path(repo_path, "data")
    data.mkdir(parents=True, exist_ok=True)
    rows = {}
    for table, frame in feature_tables(config, source).items():
        frame.to_parquet(data / f"{table}.parquet", index=False)
        rows[table] = len(frame)
    return rows


def feature_store(repo_path: str, fs_yaml_file: str | Path | None = None):
    """The Feast store of `repo_path`; `fs_yaml_file`, else FEAST_FS_YAML_FILE_PATH (the setting the
    feast CLI reads too), picks a variant such as feature_store.production.yaml."""
    from feast import FeatureStore

    fs_yaml_file = fs_yaml_file or os.environ.get("FEAST_FS_YAML_FILE_PATH")
    if not Path(fs_yaml_file or Path(repo_path, "feature_store.yaml")).is_file():
        raise LooplineError(f"{repo_path} is not a Feast repository: it has no feature_store.yaml")
    return FeatureStore(repo_path=repo_path, fs_yaml_file=Path(fs_yaml_file) if fs_yaml_file else None)


def materialize(
    repo_path: str, end: pd.Timestamp, start: pd.Timestamp | None = None, fs_yaml_file: str | Path | None = None
) -> dict[str, tuple[str, str]]:
    """Load the online store with every feature view's values up to `end`, incrementally.

    Each view continues from where its last materialization ended; a view never materialized
    starts at STATIC_SINCE (Feast's own incremental start is "now minus the TTL", which misses
    historical data such as 2013). `start` forces a window, e.g. to load again: writing the
    same values twice leaves the online store as it was. Returns each view's window.
    """
    store = feature_store(repo_path, fs_yaml_file)
    views = store.list_feature_views()
    if not views:
        raise LooplineError(f"no feature views are registered for {repo_path}: run `feast apply` there first")
    windows = {}
    for view in views:
        begin = start or (pd.Timestamp(view.most_recent_end_time) if view.most_recent_end_time else STATIC_SINCE)
        if begin < end:
            store.materialize(start_date=begin.to_pydatetime(), end_date=end.to_pydatetime(), feature_views=[view.name])
        windows[view.name] = (begin.isoformat(), end.isoformat())
    return windows


def copy_repo(repo_path: str | Path, dest: str | Path, project: str) -> Path:
    """A copy of the repository's definitions and YAMLs under another Feast project name, so that
    tests and benchmarks share Redis and PostgreSQL without touching the real project."""
    import shutil

    dest = Path(dest)
    shutil.copytree(repo_path, dest, ignore=shutil.ignore_patterns("data", "__pycache__"))
    for yaml in dest.glob("feature_store*.yaml"):
        yaml.write_text(yaml.read_text().replace("project: loopline\n", f"project: {project}\n"))
    return dest
