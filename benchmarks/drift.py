"""Benchmark: the drift trigger's statistics on a replay's served days, tests against distances.

Scores each day's production inputs in a replay folder (`LOOPLINE_HOME/replays/<id>`) against
its version's training sample twice, with the configured tests (KS and chi-square) and with
distances (Wasserstein and Jensen-Shannon at Evidently's 0.1 threshold), and prints per method
the days whose drift share reaches the policy's threshold and the days ending a streak of
`monitoring.policy.drift_windows` such days (what fires the trigger). With `--season`, the
first version's own training days (its run's train examples, in time order) are scored the
same way, every flight and a 10% sample: there nothing drifted, so every firing is a false
alarm. Prints Markdown tables.

    python benchmarks/drift.py LOOPLINE_HOME/replays/<id> [--min-flights 300]
        [--season LOOPLINE_HOME/runs/<first run>/.../transform-component/train_examples]
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


def served_days(folder: Path, zone: str, min_flights: int) -> list[tuple[str, list[dict]]]:
    """(version, model inputs) of production's scored answers, per local day in order."""
    with sqlite3.connect(folder / "predictions.db") as db:
        rows = pd.read_sql(
            "select departs_at, model_version, inputs from predictions where role = 'production' and score is not null",
            db,
        )
    rows["day"] = pd.to_datetime(rows["departs_at"], utc=True, format="ISO8601").dt.tz_convert(zone).dt.date
    return [
        (version, [json.loads(x) for x in group["inputs"]])
        for (_, version), group in rows.groupby(["day", "model_version"])
        if len(group) >= min_flights
    ]


def season_days(examples: Path) -> list[pd.DataFrame]:
    """A training run's examples split into days: they are in time order, so a day ends where
    the weekday changes."""
    frame = pd.read_parquet(examples)
    day = frame["weekday"].ne(frame["weekday"].shift()).cumsum()
    return [rows.astype(object).where(rows.notna(), None) for _, rows in frame.groupby(day)]


def share(config: Config, inputs: list[dict], reference: pd.DataFrame) -> float:
    """A day's drift share under `config`'s statistics."""
    return _drift(drift_report(config, inputs, reference, pd.Timestamp("2013-01-01", tz="UTC"), []).dict())[0]


def fired(shares: list[float], threshold: float, windows: int) -> tuple[int, int]:
    """Days at or above `threshold`, and days ending a streak of `windows` of them."""
    above = [v >= threshold for v in shares]
    return sum(above), sum(all(above[i - windows + 1 : i + 1]) for i in range(windows - 1, len(above)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("replay", type=Path, help="a replay's folder")
    parser.add_argument("--min-flights", type=int, default=300, help="skip a day's version with fewer answers")
    parser.add_argument("--season", type=Path, help="the first version's train examples: its own days scored too")
    args = parser.parse_args()
    config = load_config("flights")
    methods = {
        "tests (KS, chi-square)": config,
        "distances (Wasserstein, Jensen-Shannon)": with_drift(config, **DISTANCES),
    }
    threshold, windows = config.monitoring.policy.drift_share, config.monitoring.policy.drift_windows
    references, shares = {}, {name: [] for name in methods}
    days = served_days(args.replay, config.source.timezone, args.min_flights)
    for version, inputs in tqdm(days, unit="day"):
        if version not in references:
            references[version] = registry.reference(str(args.replay / "registry"), config.name, version)
        for name, variant in methods.items():
            shares[name].append(share(variant, inputs, references[version]))
    print(f"\n{len(days)} days of {args.replay.name}, threshold {threshold}, streak of {windows}\n")
    table(["statistic"], [((name,), values) for name, values in shares.items()], threshold, windows)
    if args.season:
        first = registry.reference(str(args.replay / "registry"), config.name, "0001")
        season(args.season, first, methods, threshold, windows)


def season(examples: Path, reference: pd.DataFrame, methods: dict, threshold: float, windows: int) -> None:
    """The first version's training days against its own training sample: false alarms only."""
    days = season_days(examples)
    rows = []
    for label, fraction in (("every flight", 1.0), ("10% sample", 0.1)):
        for name, variant in methods.items():
            samples = (day.sample(frac=fraction, random_state=0).to_dict("records") for day in days)
            shares = [share(variant, inputs, reference) for inputs in tqdm(samples, f"{name}, {label}", len(days))]
            rows.append(((name, label), shares))
    print(f"\n{len(days)} training days of version 0001 against its own training sample (nothing drifted)\n")
    table(["statistic", "flights"], rows, threshold, windows)


def table(labels: list[str], rows: list[tuple[tuple[str, ...], list[float]]], threshold: float, windows: int) -> None:
    """A Markdown table: each row's labels, mean drift share, days at or above, days ending a streak."""
    print("| " + " | ".join(labels) + " | mean drift share | days at or above | days ending a streak |")
    print("|" + "---|" * len(labels) + "---:|---:|---:|")
    for names, shares in rows:
        above, streaks = fired(shares, threshold, windows)
        print(f"| {' | '.join(names)} | {sum(shares) / len(shares):.2f} | {above} | {streaks} |")


if __name__ == "__main__":
    main()
