"""Benchmark: the drift trigger's rule on a replay's served days and on a model's own training days.

Each day's production inputs in a replay folder (`LOOPLINE_HOME/replays/<id>`) are scored once
against its version's training sample with the configured tests (KS, chi-square), every column
but the weather's and the calendar's; from the per-column p-values two rules are counted: the
configured one (`monitoring.drift`: p under its threshold, its ignored columns left out; the
policy's drift share) and the earlier one (p < 0.05 on every scored column, a share of 0.5).
For each it prints the days whose drift share reaches the threshold and the days ending a
streak of `monitoring.policy.drift_windows` such days (what fires the trigger). With
`--season`, the first version's own training days (its run's train examples, in time order)
are scored the same way, every flight and a 10% sample: there nothing drifted, so every firing
is a false alarm. Prints Markdown tables.

    python benchmarks/drift.py LOOPLINE_HOME/replays/<id> [--min-flights 300]
        [--season LOOPLINE_HOME/runs/<first run>/.../transform-component/train_examples]
"""

import argparse
import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
from tqdm import tqdm

from loopline import registry
from loopline.config import Config, load_config
from loopline.monitoring.monitor import drift_report

# a day holds one weekday of one month and one day's weather: ignored by every rule
CALENDAR_AND_WEATHER = ["weekday", "month", "temp", "dewp", "humid", "wind_dir", "wind_speed", "wind_gust"]
CALENDAR_AND_WEATHER += ["precip", "pressure", "visib"]


@dataclass
class Rule:
    name: str
    p_value: float  # a column drifted under this
    share: float  # of the judged columns, for the day to count
    ignore: list[str]


def rules(config: Config) -> list[Rule]:
    drift, policy = config.monitoring.drift, config.monitoring.policy
    return [
        Rule("configured", drift.threshold, policy.drift_share, drift.ignore),
        Rule("earlier (p < 0.05, share 0.5, weather ignored)", 0.05, 0.5, CALENDAR_AND_WEATHER),
    ]


def scoring(config: Config) -> Config:
    """`config` with only the calendar and the weather ignored: every other column is scored."""
    drift = config.monitoring.drift.model_copy(update={"ignore": CALENDAR_AND_WEATHER})
    return config.model_copy(update={"monitoring": config.monitoring.model_copy(update={"drift": drift})})


def p_values(config: Config, inputs: list[dict], reference: pd.DataFrame) -> dict[str, float]:
    """Each scored column's p-value for a day's `inputs` against `reference`."""
    snapshot = drift_report(config, inputs, reference, pd.Timestamp("2013-01-01", tz="UTC"), []).dict()
    return {
        metric["config"]["column"]: float(metric["value"])
        for metric in snapshot["metrics"]
        if metric["config"]["type"].endswith(":ValueDrift")
    }


def shares(days: list[dict[str, float]], rule: Rule) -> list[float]:
    """Each day's drift share under `rule`."""
    out = []
    for day in days:
        judged = [p for column, p in day.items() if column not in rule.ignore]
        out.append(sum(p < rule.p_value for p in judged) / len(judged))
    return out


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


def fired(values: list[float], threshold: float, windows: int) -> tuple[int, int]:
    """Days at or above `threshold`, and days ending a streak of `windows` of them."""
    above = [v >= threshold for v in values]
    return sum(above), sum(all(above[i - windows + 1 : i + 1]) for i in range(windows - 1, len(above)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("replay", type=Path, help="a replay's folder")
    parser.add_argument("--min-flights", type=int, default=300, help="skip a day's version with fewer answers")
    parser.add_argument("--season", type=Path, help="the first version's train examples: its own days scored too")
    args = parser.parse_args()
    config = load_config("flights")
    scored, windows = scoring(config), config.monitoring.policy.drift_windows
    references, days = {}, served_days(args.replay, config.source.timezone, args.min_flights)
    values = []
    for version, inputs in tqdm(days, unit="day"):
        if version not in references:
            references[version] = registry.reference(str(args.replay / "registry"), config.name, version)
        values.append(p_values(scored, inputs, references[version]))
    print(f"\n{len(days)} days of {args.replay.name}, a streak of {windows}\n")
    table(["rule"], [((rule,), shares(values, rule)) for rule in rules(config)], windows)
    if args.season:
        first = registry.reference(str(args.replay / "registry"), config.name, "0001")
        season(args.season, first, config, windows)


def season(examples: Path, reference: pd.DataFrame, config: Config, windows: int) -> None:
    """The first version's training days against its own training sample: false alarms only."""
    days = season_days(examples)
    rows = []
    for label, fraction in (("every flight", 1.0), ("10% sample", 0.1)):
        samples = (day.sample(frac=fraction, random_state=0).to_dict("records") for day in days)
        values = [p_values(scoring(config), inputs, reference) for inputs in tqdm(samples, label, len(days))]
        rows += [((rule, label), shares(values, rule)) for rule in rules(config)]
    print(f"\n{len(days)} training days of version 0001 against its own training sample (nothing drifted)\n")
    table(["rule", "flights"], rows, windows)


def table(labels: list[str], rows: list[tuple[tuple, list[float]]], windows: int) -> None:
    """A Markdown table: each row's labels, mean drift share, days at or above its rule's share,
    days ending a streak."""
    print("| " + " | ".join(labels) + " | mean drift share | days at or above | days ending a streak |")
    print("|" + "---|" * len(labels) + "---:|---:|---:|")
    for (rule, *names), values in rows:
        above, streaks = fired(values, rule.share, windows)
        cells = " | ".join([rule.name, *names])
        print(f"| {cells} | {sum(values) / len(values):.2f} | {above} | {streaks} |")


if __name__ == "__main__":
    main()
