"""Benchmark: a replay's daily monitoring as its prediction store fills up.

A SQLite prediction store is filled with `--days` of a year's traffic at full rate (production's
answers for every flight, each with its logged model inputs and outcome). At days 30, 90 and
the last, with a new canary that has scored the last `--canary-days` in the shadow, the
replay's daily monitoring is timed: `monitor` on the day (drift and quality, as the replay runs
it) and `canary.verdict` on the canary's evidence since the replay's start. The
baseline in the same run is the read the verdict made before it read from the canary's first
departure only, without inputs: every prediction since the replay's start, inputs decoded.

    python benchmarks/monitoring.py [--days 270] [--canary-days 5]
"""

import argparse
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from loopline import registry
from loopline.config import DEFAULT_CONFIG, load_config
from loopline.model_io import families
from loopline.monitoring import canary
from loopline.monitoring.monitor import monitor
from loopline.predictions.store import PredictionStore, migrate

START = pd.Timestamp("2013-04-01", tz="America/New_York")
FLIGHTS = 890  # a day's, at full traffic (2013: about 890 from April on)


def inputs(config, rng: np.random.Generator, n: int) -> pd.DataFrame:
    """`n` rows of model inputs: a few values per category, numbers around their scale."""
    kinds = families(config)
    frame = {c: rng.choice(["EWR", "JFK", "LGA", "UA", "B6", "DL"], n) for c in kinds["categorical"]}
    frame |= {c: rng.normal(50, 20, n).round(2) for c in kinds["numeric"]}
    frame |= {c: rng.integers(0, 12, n) for c in kinds["time"]}
    return pd.DataFrame(frame)


def fill(store: PredictionStore, config, days: range, production: str, shadow: str | None) -> None:
    """The predictions of `days` (counted from START): production's for every flight and, with
    a `shadow` version, its scores of the same flights; each flight's outcome."""
    rng = np.random.default_rng(days.start)
    flights = FLIGHTS
    for day in tqdm(days, desc=f"days {days.start}-{days.stop}", unit="day", leave=False):
        departs = (
            START
            + pd.Timedelta(days=day)
            + pd.to_timedelta(np.sort(rng.integers(5 * 3600, 23 * 3600, flights)), unit="s")
        )
        rows = inputs(config, rng, flights).to_dict("records")
        late = rng.random(flights) < 0.2
        score = np.clip(0.2 + 0.3 * late + rng.normal(0, 0.2, flights), 0.001, 0.999)
        keys = [f"F{day}-{i}" for i in range(flights)]
        roles = [("production", production)] + ([("shadow", shadow)] if shadow else [])
        store.write_predictions(
            [
                {
                    "answer_id": f"{day}-{i // 100}",
                    "request_id": f"{day}-{i // 100}",
                    "position": i % 100,
                    "role": role,
                    "predicted_at": datetime(2026, 12, 7, tzinfo=UTC),
                    "departs_at": departs[i].to_pydatetime(),
                    "flight_key": keys[i],
                    "model_version": version,
                    "inputs": rows[i],
                    "score": float(score[i]),
                    "latency_ms": 2.0,
                }
                for role, version in roles
                for i in range(flights)
            ]
        )
        arrived = departs + pd.Timedelta(hours=3)
        store.write_outcomes(
            [
                {"flight_key": keys[i], "value": 40.0 if late[i] else 0.0, "known_at": arrived[i].to_pydatetime()}
                for i in range(flights)
            ]
        )


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--days", type=int, default=270)
    parser.add_argument("--canary-days", type=int, default=5)
    args = parser.parse_args()
    config = load_config(DEFAULT_CONFIG)
    folder = Path(tempfile.mkdtemp(prefix="loopline-bench-monitoring-"))
    model = folder / "model"
    model.mkdir()
    (model / "saved_model.pb").write_bytes(b"")
    uri = str(folder / "registry")
    reference = inputs(config, np.random.default_rng(1), 5000)
    url = f"sqlite:///{folder / 'predictions.db'}"
    migrate(url)
    store = PredictionStore(url)
    production = registry.push(uri, config.name, str(model), {}, None, registry.PRODUCTION, reference).version
    rows, filled, contender = [], 0, None
    for day in [d for d in (30, 90, args.days) if d <= args.days]:  # a new canary scores the last days
        contender = registry.push(uri, config.name, str(model), {}, contender, registry.CANARY, reference).version
        fill(store, config, range(filled, day - args.canary_days), production, None)
        fill(store, config, range(day - args.canary_days, day), production, contender)
        filled, end = day, START + pd.Timedelta(days=day)
        if not rows:  # Evidently's first report imports and builds what the later ones reuse
            monitor(config, store, uri, end - pd.Timedelta(days=1), end, end, None)
        monitored = timed(lambda end=end: monitor(config, store, uri, end - pd.Timedelta(days=1), end, end, None))
        judged = timed(lambda end=end: canary.verdict(config, store, uri, START, end, end))
        before = timed(lambda end=end: store.window(START.to_pydatetime(), end.to_pydatetime(), end.to_pydatetime()))
        rows.append((day, monitored, judged, before))
    print("| days in the store | monitor (a day) s | canary verdict s | the verdict's read before s | before / now |")
    print("|---:|---:|---:|---:|---:|")
    for day, monitored, judged, before in rows:
        print(f"| {day} | {monitored:.2f} | {judged:.2f} | {before:.2f} | {before / judged:.1f}x |")


if __name__ == "__main__":
    main()
