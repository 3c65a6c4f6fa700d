"""Benchmark: the drift trigger's statistics on a replay's served days, tests against distances.

Scores each day's production inputs in a replay folder (`LOOPLINE_HOME/replays/<id>`) against
its version's training sample twice, with the configured tests (KS and chi-square) and with
distances (Wasserstein and Jensen-Shannon at Evidently's 0.1 threshold), and prints per method
the days whose drift share reaches the policy's threshold and the days ending a streak of
`monitoring.policy.drift_windows` such days (what fires the trigger). Prints a Markdown table.

    python benchmarks/drift.py LOOPLINE_HOME/replays/<id> [--min-flights 300]
"""

import argparse
import json
import sqlite3
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from loopline import registry
from loopline.config import Config, load_config
from loopline.monitoring.monitor import _drift, drift_report

DISTANCES = {"num_method": "wasserstein", "cat_method": "jensenshannon"}


def with_drift(config: Config, **methods: str) -> Config:
    drift = config.monitoring.drift.model_copy(update=methods)
    return config.model_copy(update={"monitoring": config.monitoring.model_copy(update={"drift": drift})})


def served_days(folder: Path, zone: str, min_flights: int) -> list[tuple[str, str, list[dict]]]:
    """(day, version, model inputs) of production's scored answers, per local day."""
    with sqlite3.connect(folder / "predictions.db") as db:
        rows = pd.read_sql(
            "select departs_at, model_version, inputs from predictions where role = 'production' and score is not null",
            db,
        )
    rows["day"] = pd.to_datetime(rows["departs_at"], utc=True, format="ISO8601").dt.tz_convert(zone).dt.date
    return [
        (str(day), version, [json.loads(x) for x in group["inputs"]])
        for (day, version), group in rows.groupby(["day", "model_version"])
        if len(group) >= min_flights
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("replay", type=Path, help="a replay's folder")
    parser.add_argument("--min-flights", type=int, default=300, help="skip a day's version with fewer answers")
    args = parser.parse_args()
    config = load_config("flights")
    methods = {
        "tests (KS, chi-square)": config,
        "distances (Wasserstein, Jensen-Shannon)": with_drift(config, **DISTANCES),
    }
    threshold, windows = config.monitoring.policy.drift_share, config.monitoring.policy.drift_windows
    references, shares = {}, {name: [] for name in methods}
    days = served_days(args.replay, config.source.timezone, args.min_flights)
    for day, version, inputs in tqdm(days, unit="day"):
        if version not in references:
            references[version] = registry.reference(str(args.replay / "registry"), config.name, version)
        for name, variant in methods.items():
            report = drift_report(variant, inputs, references[version], pd.Timestamp(day, tz="UTC"), [])
            shares[name].append(_drift(report.dict())[0])
    print(f"\n{len(days)} days of {args.replay.name}, threshold {threshold}, streak of {windows}\n")
    print("| statistic | mean drift share | days at or above | days ending a streak |")
    print("|---|---:|---:|---:|")
    for name, values in shares.items():
        above = [v >= threshold for v in values]
        streaks = sum(all(above[i - windows + 1 : i + 1]) for i in range(windows - 1, len(above)))
        print(f"| {name} | {sum(values) / len(values):.2f} | {sum(above)} | {streaks} |")


if __name__ == "__main__":
    main()
