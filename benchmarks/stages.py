"""Benchmark: stage timings of the training pipeline and model quality against gradient boosting.

Prints two Markdown tables for the README:
  1. each stage's plain function timed in-process on the January-June 2013 window, then the same
     pipeline end to end through kfp.local (the ratio is the orchestration overhead);
  2. AUC on July 2013 after training on January-June: the Keras model against LightGBM on the
     same features, for two feature sets.

    python benchmarks/stages.py [--skip-pipeline]
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

from components import registry, storage
from components.config import load_config
from components.datasets import export_nycflights13
from components.evaluate import evaluate
from components.ingest import ingest
from components.train import Hyperparameters, predict, train
from components.transform import transform
from components.validate import validate

SCHEDULE_ROUTE = {
    "categorical": ["carrier", "origin", "dest"],
    "numeric": ["distance"],
    "time": ["hour", "weekday", "month"],
}


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
    with timed("ingest", times):
        summary = ingest(config, source, "2013-01-01", "2013-07-01", train_raw, eval_raw)
    print(f"  ({summary.train_rows:,} train and {summary.eval_rows:,} eval flights)")
    with timed("validate (TFDV)", times):
        validate(config, train_raw, eval_raw, str(work / "validation"))
    with timed("transform", times):
        train_ex = transform(storage.read_frame(train_raw), config)
        eval_ex = transform(storage.read_frame(eval_raw), config)
    model = str(work / "model")
    with timed("train (3 members, up to 12 epochs)", times):
        train(train_ex, config, Hyperparameters(), model)
    with timed("evaluate (TFMA, first model)", times):
        evaluate(config, eval_ex, model, None, str(work / "eval1"))
    with timed("evaluate (TFMA, against production)", times):
        evaluate(config, eval_ex, model, model, str(work / "eval2"))
    with timed("push", times):
        registry.push(str(work / "registry"), "flights", model, {})
    return times


def pipeline_time(source: str, home: Path) -> tuple[float, float]:
    """Wall time of the whole pipeline through kfp.local: first run, then with a production model."""
    from pipelines.local import run_training

    os.environ["LOOPLINE_HOME"] = str(home)
    results = []
    for _ in range(2):
        start = time.perf_counter()
        summary = run_training(source, "2013-01-01", "2013-07-01")
        assert summary.succeeded, summary.error
        results.append(time.perf_counter() - start)
    return results[0], results[1]


def quality(source: str, work: Path) -> list[tuple[str, float, float, float]]:
    """(feature set, Keras AUC, one-member Keras AUC, LightGBM AUC) on July 2013, trained on January-June."""
    flights = load_config("flights")
    rows = []
    for name, features in (("schedule, carrier, route", SCHEDULE_ROUTE), ("+ origin weather, plane", None)):
        config = flights.model_copy(update={"split": flights.split.model_copy(update={"eval_days": 31})})
        if features:
            config = config.model_copy(update={"features": flights.features.model_copy(update=features)})
        ingest(config, source, "2013-01-01", "2013-08-01", str(work / "q_train.parquet"), str(work / "q_eval.parquet"))
        train_ex = transform(storage.read_frame(str(work / "q_train.parquet")), config)
        eval_ex = transform(storage.read_frame(str(work / "q_eval.parquet")), config)
        aucs = []
        for members in (3, 1):
            model = str(work / f"q_model_{len(rows)}_{members}")
            train(train_ex, config, Hyperparameters(ensemble=members), model)
            aucs.append(roc_auc_score(eval_ex["late"], predict(model, eval_ex, config)))
        gbm_auc = gradient_boosting_auc(train_ex, eval_ex, config.features.categorical)
        print(f"  {name}: keras {aucs[0]:.4f} (one member {aucs[1]:.4f}), lightgbm {gbm_auc:.4f}", flush=True)
        rows.append((name, *aucs, gbm_auc))
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
    parser.add_argument("--skip-pipeline", action="store_true", help="time the stages only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        source = str(work / "source")
        export_nycflights13(source)
        print("stages, in-process:")
        times = stage_timings(source, work)
        print("quality, July 2013:")
        scores = quality(source, work)
        first = second = None
        if not args.skip_pipeline:
            print("whole pipeline through kfp.local:")
            first, second = pipeline_time(source, work / "home")

    staged = sum(v for k, v in times.items() if "against production" not in k)
    print("\n| stage (January-June 2013) | seconds |\n|---|---:|")
    for label, seconds in times.items():
        print(f"| {label} | {seconds:.1f} |")
    print(f"| sum of stages, first run | {staged:.1f} |")
    if first is not None:
        print(f"| whole pipeline via kfp.local, first run | {first:.1f} ({first / staged:.2f}x the sum) |")
        print(f"| whole pipeline via kfp.local, with a production model | {second:.1f} |")
    header = ["features (train Jan-Jun, score July 2013)", "Keras, 3 members", "Keras, 1 member", "LightGBM"]
    print("\n| " + " | ".join([*header, "Keras - LightGBM"]) + " |")
    print("|---|---:|---:|---:|---:|")
    for name, keras_auc, single_auc, gbm_auc in scores:
        print(f"| {name} | {keras_auc:.4f} | {single_auc:.4f} | {gbm_auc:.4f} | {keras_auc - gbm_auc:+.4f} |")


if __name__ == "__main__":
    main()
