"""Benchmark: how much history a December model needs. The April-December replay's retrainings
learn the 90 days before them (`policy.training_days`) and lost every December week to the
frozen model, trained on January-March; were they short of a winter?

The same Keras model (the pipeline's hyperparameters) is trained on windows that all end on
1 December 2013 (the loop's December window, longer ones, everything since January) and on the
frozen model's January-March, and each is scored on December 2013 (AUC), with the examples of
one feature store. LightGBM on the 90 days and on everything is the check that the trend is the
data's, not the network's. (In the loop a window's last 14 days are its eval split, so its model
learns 76 of the 90 days; here each window is all training data.)

    python benchmarks/training_window.py [--cache DIR]
"""

import argparse
import time
from pathlib import Path

from model_variants import cached_source, examples
from sklearn.metrics import roc_auc_score
from stages import gradient_boosting_auc

from loopline import model_io
from loopline.steps.train import Hyperparameters, train

END = "2014-01-01"  # December is the last 31 days of each window read, its eval split
WINDOWS = {  # name: first day of the training window (it ends on 1 December)
    "90 days (the loop's December window)": "2013-09-02",
    "180 days": "2013-06-04",
    "January-November (334 days)": "2013-01-01",
}
FROZEN = ("2013-01-01", "2013-04-01")  # the frozen model's window (its last day held out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache", type=Path, help="keep the source and examples here between runs")
    args = parser.parse_args()
    cache, source = cached_source(args.cache, "loopline-window-")
    windows = {}
    for i, (name, start) in enumerate(WINDOWS.items()):  # December's examples are the same in each
        windows[name], december, config = examples(source, cache, f"window{i}", start, END)
    windows["January-March (the frozen model)"] = examples(source, cache, "frozen", *FROZEN, eval_days=1)[0]
    rows = []
    for i, (name, train_ex) in enumerate(windows.items()):
        folder = str(cache / f"model_{i}")
        started = time.perf_counter()
        train(train_ex, config, Hyperparameters(), folder)
        seconds = time.perf_counter() - started
        auc = roc_auc_score(december["late"], model_io.predict(model_io.load(folder), december, config))
        gbm = gradient_boosting_auc(train_ex, december, config.features.categorical) if i in (0, 2) else None
        print(f"{name}: {len(train_ex):,} examples, December AUC {auc:.4f}, train {seconds:.0f} s", flush=True)
        rows.append((name, len(train_ex), auc, gbm, seconds))
    print("\n| trained on (ends 1 December unless said) | examples | December AUC, Keras | LightGBM | train s |")
    print("|---|---:|---:|---:|---:|")
    for name, count, auc, gbm, seconds in rows:
        print(f"| {name} | {count:,} | {auc:.4f} | {'-' if gbm is None else f'{gbm:.4f}'} | {seconds:.0f} |")


if __name__ == "__main__":
    main()
