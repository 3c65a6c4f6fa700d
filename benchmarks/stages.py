"""Benchmark: stage timings of the training pipeline and model quality against gradient boosting.

Prints two Markdown tables for the README:
  1. each stage's plain function timed in-process on the January-June 2013 window, then the same
     pipeline end to end through kfp.local (the ratio is the orchestration overhead);
  2. AUC on August 2013, a month no design choice looked at, after training on February-July:
     the Keras model against LightGBM on the same examples, the feature store's families added
     one by one (schedule, weather, plane, previous leg, trailing rates, airport live state).

    python benchmarks/stages.py [--skip-pipeline | --quality-only | --timings-only]
"""

import argparse
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import lightgbm
import pandas as pd
from sklearn.metrics import roc_auc_score

from loopline import model_io, registry, storage
from loopline.config import HOURS_SINCE_PREVIOUS, LIVE_COLUMNS, SCHEDULED, Config, load_config
from loopline.datasets import export_nycflights13
from loopline.events import parse_date
from loopline.features.store import copy_repo, load
from loopline.steps.evaluate import evaluate
from loopline.steps.ingest import ingest
from loopline.steps.train import Hyperparameters, train
from loopline.steps.transform import transform_splits
from loopline.steps.validate import validate

FEATURE_REPO = Path(__file__).parents[1] / "feature_repo"

FAMILIES = ("categorical", "numeric", "time")


@contextmanager
def timed(label: str, times: dict):
    start = time.perf_counter()
    yield
    times[label] = time.perf_counter() - start
    print(f"  {label}: {times[label]:.1f} s", flush=True)


def stage_timings(source: str, work: Path) -> dict[str, float]:
    config = load_config("flights")
    times: dict[str, float] = {}
    train_raw, eval_raw = str(work / "train.parquet"), str(work / "eval.parquet")
    train_path, eval_path = str(work / "train_ex.parquet"), str(work / "eval_ex.parquet")
    with timed("ingest", times):
        summary = ingest(config, source, "2013-01-01", "2013-07-01", train_raw, eval_raw)
    print(f"  ({summary.train_rows:,} train and {summary.eval_rows:,} eval flights)")
    repo = str(copy_repo(FEATURE_REPO, work / "stages_repo", "loopline_bench_stages"))
    with timed("load features (Feast: tables, stream, online store)", times):
        load(config, source, repo, parse_date("2013-07-01", "end", config.source.timezone))
    with timed("transform (Feast point-in-time join)", times):
        transform_splits(config, repo, [(train_raw, train_path), (eval_raw, eval_path)])
    with timed("validate (TFDV)", times):
        validate(config, train_path, eval_path, str(work / "validation"))
    train_ex, eval_ex = storage.read_frame(train_path), storage.read_frame(eval_path)
    model = str(work / "model")
    with timed("train (3 members, up to 12 epochs)", times):
        train(train_ex, config, Hyperparameters(), model)
    with timed("evaluate (TFMA, first model)", times):
        evaluate(config, eval_ex, model, None, str(work / "eval1"))
    with timed("evaluate (TFMA, against production)", times):
        evaluate(config, eval_ex, model, model, str(work / "eval2"))
    with timed("push", times):
        registry.push(str(work / "registry"), "flights", model, {}, None)
    return times


def pipeline_time(source: str, home: Path, repo: Path) -> tuple[float, float]:
    """Wall time of the whole pipeline through kfp.local: first run, then with a production model."""
    from loopline.local import run_training

    os.environ["LOOPLINE_HOME"] = str(home)
    results = []
    for _ in range(2):
        start = time.perf_counter()
        summary = run_training(source, "2013-01-01", "2013-07-01", feature_repo=str(repo))
        assert summary.succeeded, summary.error
        results.append(time.perf_counter() - start)
    return results[0], results[1]


def feature_families(config: Config) -> list[tuple[str, list[str]]]:
    """The feature store's families, each with the features it adds, in the order they are added."""
    lookups = {lookup.table: [lookup.output_name(c) for c in lookup.columns] for lookup in config.source.lookups}
    trailing = [c for group in config.history.trailing for c in config.trailing_columns(group)]
    return [
        ("schedule: carrier, route, local time", ["carrier", "origin", "dest", "distance", *config.features.time]),
        ("+ origin weather", lookups["weather"]),
        ("+ plane", lookups["planes"]),
        ("+ previous leg", [config.previous_column, HOURS_SINCE_PREVIOUS]),
        ("+ route and carrier history", trailing),
        ("+ airport live state (all features)", [*LIVE_COLUMNS, SCHEDULED]),
    ]


def quality(source: str, work: Path) -> list[tuple[str, float, float]]:
    """(feature families, Keras AUC, LightGBM AUC) on August 2013, trained on February-July,
    each family added to the ones before it. No design choice looked at August."""
    flights = load_config("flights")
    config = flights.model_copy(update={"split": flights.split.model_copy(update={"eval_days": 31})})
    raw, examples = (
        [str(work / f"q_{s}.parquet") for s in ("train", "eval")],
        [str(work / f"q_{s}_ex.parquet") for s in ("train", "eval")],
    )
    ingest(config, source, "2013-02-01", "2013-09-01", *raw)
    repo = str(copy_repo(FEATURE_REPO, work / "quality_repo", "loopline_bench_quality"))
    load(config, source, repo, parse_date("2013-09-01", "end", config.source.timezone))
    transform_splits(config, repo, list(zip(raw, examples, strict=True)))
    all_train, all_eval = (storage.read_frame(path) for path in examples)
    rows, chosen = [], []
    for name, added in feature_families(flights):
        chosen += added
        spec = {family: [c for c in getattr(flights.features, family) if c in chosen] for family in FAMILIES}
        config = config.model_copy(update={"features": flights.features.model_copy(update=spec)})
        columns = [*config.feature_names, "late"]
        train_ex, eval_ex = all_train[columns], all_eval[columns]
        model = str(work / f"q_model_{len(rows)}")
        train(train_ex, config, Hyperparameters(), model)
        keras_auc = roc_auc_score(eval_ex["late"], model_io.predict(model_io.load(model), eval_ex, config))
        gbm_auc = gradient_boosting_auc(train_ex, eval_ex, config.features.categorical)
        print(f"  {name}: keras {keras_auc:.4f}, lightgbm {gbm_auc:.4f}", flush=True)
        rows.append((name, keras_auc, gbm_auc))
    return rows


def gradient_boosting_auc(train_ex: pd.DataFrame, eval_ex: pd.DataFrame, categorical: list[str]) -> float:
    x_train, x_eval = train_ex.drop(columns="late"), eval_ex.drop(columns="late")
    for column in categorical:
        dtype = pd.CategoricalDtype(sorted(set(x_train[column])))
        x_train[column], x_eval[column] = x_train[column].astype(dtype), x_eval[column].astype(dtype)
    model = lightgbm.LGBMClassifier(n_estimators=400, learning_rate=0.05, num_leaves=63, verbose=-1)
    model.fit(x_train, train_ex["late"])
    return roc_auc_score(eval_ex["late"], model.predict_proba(x_eval)[:, 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-pipeline", action="store_true", help="no end-to-end pipeline runs")
    parser.add_argument("--quality-only", action="store_true", help="only the model-quality table")
    parser.add_argument("--timings-only", action="store_true", help="only the stage and pipeline timings")
    args = parser.parse_args()
    times: dict[str, float] = {}
    scores: list = []
    first = second = None
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = str(work / "source")
        export_nycflights13(source)
        if not args.quality_only:
            print("stages, in-process:")
            times = stage_timings(source, work)
        if not args.timings_only:
            print("quality, August 2013 (trained February-July):")
            scores = quality(source, work)
        if not (args.skip_pipeline or args.quality_only):
            print("whole pipeline through kfp.local:")
            first, second = pipeline_time(
                source, work / "home", copy_repo(FEATURE_REPO, work / "run_repo", "loopline_bench_runs")
            )
    if times:
        print_stages(times, first, second)
    if not scores:
        return
    header = ["features (train Feb-Jul, score August 2013)", "Keras, 3 members", "LightGBM", "Keras - LightGBM"]
    print("\n| " + " | ".join(header) + " |")
    print("|---|---:|---:|---:|")
    for name, keras_auc, gbm_auc in scores:
        print(f"| {name} | {keras_auc:.4f} | {gbm_auc:.4f} | {keras_auc - gbm_auc:+.4f} |")


def print_stages(times: dict[str, float], first: float | None, second: float | None) -> None:
    staged = sum(v for k, v in times.items() if "against production" not in k)
    print("\n| stage (January-June 2013) | seconds |\n|---|---:|")
    for label, seconds in times.items():
        print(f"| {label} | {seconds:.1f} |")
    print(f"| sum of stages, first run | {staged:.1f} |")
    if first is not None:
        print(f"| whole pipeline via kfp.local, first run | {first:.1f} ({first / staged:.2f}x the sum) |")
        print(f"| whole pipeline via kfp.local, with a production model | {second:.1f} |")


if __name__ == "__main__":
    main()
