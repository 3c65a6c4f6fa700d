"""TFDV statistics, schema and anomalies for a train and an eval split, as a standalone script.

Run by the validate component with the interpreter that has TFDV (`.venv-tfdv` locally, the
component's own image on a cluster): it imports nothing from loopline, only TFDV and pandas.

    python tfdv_job.py --train T.parquet --eval E.parquet --out DIR [--schema S.pbtxt] [--drift JSON]

Writes to DIR: train_stats.pbtxt, eval_stats.pbtxt, schema.pbtxt (the one used), anomalies.pbtxt and
summary.json (anomalies, drift and per-feature statistics in plain JSON for the report).
"""

import argparse
import json
import math
from pathlib import Path

import pandas as pd
import tensorflow_data_validation as tfdv
from tensorflow_metadata.proto.v0 import schema_pb2


def _feature_summary(stats) -> dict:
    out = {}
    for feature in stats.datasets[0].features:
        name = feature.path.step[0] if feature.path.step else feature.name
        if feature.HasField("num_stats"):
            s = feature.num_stats
            out[name] = {
                "kind": "numeric",
                "count": s.common_stats.num_non_missing,
                "missing": s.common_stats.num_missing,
                "mean": s.mean,
                "std": s.std_dev,
                "min": s.min,
                "max": s.max,
            }
        else:
            s = feature.string_stats
            top = [[v.value, v.frequency] for v in s.top_values[:5]]
            out[name] = {
                "kind": "categorical",
                "count": s.common_stats.num_non_missing,
                "missing": s.common_stats.num_missing,
                "unique": s.unique,
                "top": top,
            }
    return out


def _set_drift(schema, drift: dict) -> None:
    for name, threshold in drift.items():
        feature = tfdv.get_feature(schema, name)
        if feature.type == schema_pb2.BYTES:
            feature.drift_comparator.infinity_norm.threshold = threshold
        else:
            feature.drift_comparator.jensen_shannon_divergence.threshold = threshold


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", required=True)
    parser.add_argument("--eval", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--schema", help="curated schema (text proto); inferred from train when absent")
    parser.add_argument("--drift", default="{}", help="JSON: feature -> drift threshold")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    train_stats = tfdv.generate_statistics_from_dataframe(pd.read_parquet(args.train))
    eval_stats = tfdv.generate_statistics_from_dataframe(pd.read_parquet(args.eval))
    inferred = not args.schema
    schema = tfdv.infer_schema(train_stats) if inferred else tfdv.load_schema_text(args.schema)
    _set_drift(schema, json.loads(args.drift))

    train_anomalies = tfdv.validate_statistics(train_stats, schema)
    eval_anomalies = tfdv.validate_statistics(eval_stats, schema, previous_statistics=train_stats)
    anomalies = []
    for split, result in (("train", train_anomalies), ("eval", eval_anomalies)):
        for feature, info in sorted(result.anomaly_info.items()):
            anomalies.append(
                {"split": split, "feature": feature, "short": info.short_description, "description": info.description}
            )
    drift = {}
    for skew in eval_anomalies.drift_skew_info:
        for measurement in skew.drift_measurements:
            drift[skew.path.step[0]] = {"value": measurement.value, "threshold": measurement.threshold}

    tfdv.write_stats_text(train_stats, str(out / "train_stats.pbtxt"))
    tfdv.write_stats_text(eval_stats, str(out / "eval_stats.pbtxt"))
    tfdv.write_schema_text(schema, str(out / "schema.pbtxt"))
    tfdv.write_anomalies_text(eval_anomalies, str(out / "anomalies.pbtxt"))
    summary = {
        "schema_inferred": inferred,
        "anomalies": anomalies,
        "drift": drift,
        "train": _feature_summary(train_stats),
        "eval": _feature_summary(eval_stats),
    }
    clean = json.loads(json.dumps(summary, default=float), parse_constant=lambda c: None)
    (out / "summary.json").write_text(json.dumps(clean, indent=1, allow_nan=False, default=_finite))


def _finite(value):
    return value if isinstance(value, float) and math.isfinite(value) else None


if __name__ == "__main__":
    main()
