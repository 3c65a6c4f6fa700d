"""Benchmark: variants of the Keras model against LightGBM on the same examples, chosen on July
2013 (trained February-June) and reported once on August 2013 (trained February-July).

Each variant changes only how the model represents its inputs (inside the SavedModel, so the
serving contract stays the raw named features); LightGBM (400 trees of 63 leaves) is trained on
the same examples in the same run. Training time and the exported model's per-row call are
measured beside the model before this work (the first variant).

    python benchmarks/model_variants.py [--cache DIR] [--months july august]
"""

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score
from stages import FEATURE_REPO, gradient_boosting_auc

from loopline import model_io, storage
from loopline.config import Config, load_config
from loopline.datasets import export_nycflights13
from loopline.events import parse_date
from loopline.features.store import copy_repo, load
from loopline.steps.ingest import ingest
from loopline.steps.train import Hyperparameters, train
from loopline.steps.transform import transform_splits

BEFORE = Hyperparameters(numeric_bins=0, crosses=False)
VARIANTS = {
    "before: standardized numbers, category embeddings": BEFORE,
    "piecewise-linear encoding (PLE), 16 quantile bins": replace(BEFORE, numeric_bins=16),
    "PLE, 32 quantile bins": replace(BEFORE, numeric_bins=32),
    "PLE 16 bins + crosses hour x origin, carrier x origin (the default)": Hyperparameters(),
}
MONTHS = {"july": ("2013-02-01", "2013-08-01"), "august": ("2013-02-01", "2013-09-01")}


def cached_source(cache: Path | None, prefix: str) -> tuple[Path, str]:
    """The cache folder (a new temporary one if None) and the nycflights13 source in it."""
    cache = cache or Path(tempfile.mkdtemp(prefix=prefix))
    cache.mkdir(parents=True, exist_ok=True)
    source = str(cache / "source")
    if not Path(source, "flights.parquet").exists():
        export_nycflights13(source)
    return cache, source


def examples(
    source: str, cache: Path, name: str, start: str, end: str, eval_days: int = 31
) -> tuple[pd.DataFrame, pd.DataFrame, Config]:
    """(train, eval) examples of [start, end), the last `eval_days` of it the eval split, from a
    feature store loaded up to the end of 2013; cached in `cache` under `name`."""
    flights = load_config("flights")
    config = flights.model_copy(update={"split": flights.split.model_copy(update={"eval_days": eval_days})})
    paths = [cache / f"{name}_{split}_ex.parquet" for split in ("train", "eval")]
    if not all(p.exists() for p in paths):
        raw = [str(cache / f"{name}_{split}.parquet") for split in ("train", "eval")]
        ingest(config, source, start, end, *raw)
        repo = cache / "repo"
        if not (repo / "data" / "online.db").exists():
            copy_repo(FEATURE_REPO, repo, "loopline_bench_variants")
            load(config, source, str(repo), parse_date("2014-01-01", "end", config.source.timezone))
        transform_splits(config, str(repo), list(zip(raw, map(str, paths), strict=True)))
    train_ex, eval_ex = (storage.read_frame(str(p)) for p in paths)
    return train_ex, eval_ex, config


def model_call_ms(folders: list[str], rows: pd.DataFrame, config: Config, repeats: int = 400) -> list[float]:
    """p50 of each exported model's call on one row, as the predictor makes it; the models take
    turns row by row, so a slower minute of the machine weighs on all of them alike."""
    models = [model_io.load(folder) for folder in folders]
    inputs = [rows.iloc[[i % len(rows)]] for i in range(repeats)]
    times = [[] for _ in models]
    for model in models:
        model_io.predict(model, inputs[0], config)  # warm up
    for row in inputs:
        for model, spent in zip(models, times, strict=True):
            start = time.perf_counter()
            model_io.predict(model, row, config)
            spent.append((time.perf_counter() - start) * 1000)
    return [float(np.median(spent)) for spent in times]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="keep the source and examples here between runs")
    parser.add_argument("--months", nargs="+", choices=list(MONTHS), default=["july"])
    parser.add_argument("--variants", nargs="+", type=int, help="only these variants (0-based)")
    args = parser.parse_args()
    cache, source = cached_source(args.cache, "loopline-variants-")
    chosen = [v for i, v in enumerate(VARIANTS.items()) if args.variants is None or i in args.variants]
    rows = []
    for month in args.months:
        train_ex, eval_ex, config = examples(source, cache, month, *MONTHS[month])
        gbm = gradient_boosting_auc(train_ex, eval_ex, config.features.categorical)
        print(f"{month}: {len(train_ex):,} train, {len(eval_ex):,} eval; LightGBM {gbm:.4f}", flush=True)
        trained = []
        for name, hp in chosen:
            folder = str(cache / f"model_{month}_{list(VARIANTS).index(name)}")
            start = time.perf_counter()
            train(train_ex, config, hp, folder)
            seconds = time.perf_counter() - start
            auc = roc_auc_score(eval_ex["late"], model_io.predict(model_io.load(folder), eval_ex, config))
            print(f"  {name}: {auc:.4f} ({auc - gbm:+.4f}), train {seconds:.0f} s", flush=True)
            trained.append((name, folder, auc, seconds))
        calls = model_call_ms([folder for _, folder, _, _ in trained], eval_ex, config)
        rows += [(month, n, auc, gbm, s, c) for (n, _, auc, s), c in zip(trained, calls, strict=True)]
    print("\n| month | variant | Keras | LightGBM | Keras - LightGBM | train s | model call p50 ms |")
    print("|---|---|---:|---:|---:|---:|---:|")
    for month, name, auc, gbm, seconds, call in rows:
        print(f"| {month} | {name} | {auc:.4f} | {gbm:.4f} | {auc - gbm:+.4f} | {seconds:.0f} | {call:.2f} |")


if __name__ == "__main__":
    main()
