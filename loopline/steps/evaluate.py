"""Evaluate: TFMA on the eval split, sliced, gated against thresholds and the production model.

A contender is blessed only when thresholds are configured and TFMA's validation passes all of
them on the overall slice: an absolute AUC floor and, when a model is in production, an AUC
change against it (the baseline). No thresholds, no blessing.
"""

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd

from loopline import report
from loopline.config import Config
from loopline.model_io import example_kinds

CANDIDATE, BASELINE = "candidate", "baseline"
PLOT_THRESHOLDS = 100
SUMMARY = "summary.json"


@dataclass
class EvaluationResult:
    blessed: bool
    reasons: list[str]
    metrics: dict[str, float]
    baseline_metrics: dict[str, float]
    slices: list[dict] = field(default_factory=list)
    roc: list[tuple[float, float, float]] = field(default_factory=list)  # (fpr, tpr, threshold)
    confusion: list[list[float]] = field(default_factory=list)  # [[tn, fp], [fn, tp]] at 0.5
    html: str = ""


def write_examples(frame: pd.DataFrame, config: Config, path: str) -> None:
    """The eval split as tf.Examples in a TFRecord file, the input TFMA reads."""
    import tensorflow as tf

    kinds = example_kinds(config)
    with tf.io.TFRecordWriter(path) as writer:
        for row in frame[list(kinds)].itertuples(index=False):
            feature = {}
            for (name, kind), value in zip(kinds.items(), row, strict=True):
                if kind == "bytes":
                    feature[name] = tf.train.Feature(bytes_list=tf.train.BytesList(value=[str(value).encode()]))
                elif kind == "float":
                    feature[name] = tf.train.Feature(float_list=tf.train.FloatList(value=[value]))
                else:
                    feature[name] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)]))
            writer.write(tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString())


def eval_config(config: Config, with_baseline: bool):
    """The TFMA EvalConfig: models, slices, metrics and the blessing thresholds."""
    from tensorflow_model_analysis.proto import config_pb2

    cfg = config_pb2.EvalConfig()
    names = [CANDIDATE, BASELINE] if with_baseline else [CANDIDATE]
    for name in names:
        cfg.model_specs.add(
            name=name, label_key=config.label.name, signature_name="serving_default", is_baseline=name == BASELINE
        )
    cfg.slicing_specs.add()
    for keys in config.evaluation.slices:
        cfg.slicing_specs.add(feature_keys=keys)
    spec = cfg.metrics_specs.add()
    for metric in ("ExampleCount", "BinaryAccuracy", "Precision", "Recall", "MeanLabel", "MeanPrediction"):
        spec.metrics.add(class_name=metric)
    spec.metrics.add(class_name="ConfusionMatrixPlot", config=f'"num_thresholds": {PLOT_THRESHOLDS}')
    auc = spec.metrics.add(class_name="AUC")
    gates = config.evaluation.thresholds
    if gates:
        threshold = auc.per_slice_thresholds.add()
        threshold.slicing_specs.add()
        if gates.auc_min is not None:
            threshold.threshold.value_threshold.lower_bound.value = gates.auc_min
        if gates.auc_max_drop is not None and with_baseline:
            change = threshold.threshold.change_threshold
            change.direction = config_pb2.MetricDirection.HIGHER_IS_BETTER
            change.absolute.value = -gates.auc_max_drop
    return cfg


def _metric_values(metrics: dict) -> dict[str, float]:
    values = metrics[""][""]
    return {k: v["doubleValue"] for k, v in values.items() if "doubleValue" in v}


def run_tfma(config: Config, examples: str, candidate_dir: str, baseline_dir: str | None, out_dir: str):
    import apache_beam as beam
    import tensorflow_model_analysis as tfma

    cfg = eval_config(config, baseline_dir is not None)
    models = [tfma.default_eval_shared_model(candidate_dir, eval_config=cfg, model_name=CANDIDATE)]
    if baseline_dir:
        models.append(tfma.default_eval_shared_model(baseline_dir, eval_config=cfg, model_name=BASELINE))
    options = beam.options.pipeline_options.PipelineOptions(["--runner=FnApiRunner"])
    tfma.run_model_analysis(
        eval_shared_model=models, eval_config=cfg, data_location=examples, output_path=out_dir, pipeline_options=options
    )
    return cfg


def evaluate(
    config: Config, eval_frame: pd.DataFrame, candidate_dir: str, baseline_dir: str | None, out_dir: str
) -> EvaluationResult:
    """Run TFMA and decide the blessing; TFMA's output and report.html land in `out_dir`."""
    import tensorflow_model_analysis as tfma

    Path(out_dir).mkdir(parents=True, exist_ok=True)
    examples = str(Path(out_dir, "eval.tfrecord"))
    write_examples(eval_frame, config, examples)
    run_tfma(config, examples, candidate_dir, baseline_dir, out_dir)

    # With one model TFMA files its results under no model name.
    candidate = tfma.load_eval_result(out_dir, model_name=CANDIDATE if baseline_dir else None)
    overall = {}
    slices = []
    for key, metrics in candidate.slicing_metrics:
        values = _metric_values(metrics)
        if key == ():
            overall = values
        else:
            slices.append({"slice": ", ".join(f"{k}={v}" for k, v in key), **values})
    baseline = {}
    if baseline_dir:
        for key, metrics in tfma.load_eval_result(out_dir, model_name=BASELINE).slicing_metrics:
            if key == ():
                baseline = _metric_values(metrics)
    roc, confusion = _curves(candidate.plots)
    blessed, reasons = _blessing(config, tfma.load_validation_result(out_dir), overall, baseline)
    result = EvaluationResult(blessed, reasons, overall, baseline, slices, roc, confusion)
    result.html = render(result)
    Path(out_dir, "report.html").write_text(result.html)
    summary = {k: v for k, v in asdict(result).items() if k not in ("html", "roc")}
    Path(out_dir, SUMMARY).write_text(json.dumps(summary, indent=1))
    return result


def _curves(plots) -> tuple[list, list]:
    """ROC points and the confusion matrix at 0.5 from the overall ConfusionMatrixPlot."""
    overall = next(p for key, p in plots if key == ())
    matrices = overall[""][""]["confusionMatrixAtThresholds"]["matrices"]
    roc, confusion = [], []
    for m in matrices:
        tp, fp = m.get("truePositives", 0.0), m.get("falsePositives", 0.0)
        tn, fn = m.get("trueNegatives", 0.0), m.get("falseNegatives", 0.0)
        threshold = m.get("threshold", 0.0)
        roc.append((fp / (fp + tn) if fp + tn else 0.0, tp / (tp + fn) if tp + fn else 0.0, threshold))
        if not confusion and threshold >= 0.5:
            confusion = [[tn, fp], [fn, tp]]
    return roc, confusion


def _blessing(config: Config, validation, overall: dict, baseline: dict) -> tuple[bool, list[str]]:
    gates = config.evaluation.thresholds
    if gates is None or (gates.auc_min is None and gates.auc_max_drop is None):
        return False, ["no thresholds are configured (evaluation.thresholds): nothing can be blessed"]
    reasons = [
        f"{check.metric_key.name}{' change' if check.metric_key.is_diff else ''} "
        f"{check.metric_value.double_value.value:+.4f} fails {_describe(check.metric_threshold)}"
        for failure in validation.metric_validations_per_slice
        for check in failure.failures
    ]
    if validation.validation_ok:
        reasons.append(
            f"auc {overall.get('auc', float('nan')):.4f} passes every threshold"
            + (f" (production: {baseline['auc']:.4f})" if baseline else " (no model in production)")
        )
    return bool(validation.validation_ok), reasons


def _describe(threshold) -> str:
    if threshold.HasField("value_threshold"):
        return f"the floor {threshold.value_threshold.lower_bound.value}"
    return f"the largest drop allowed against production, {threshold.change_threshold.absolute.value}"


def render(result: EvaluationResult) -> str:
    keys = ["auc", "binary_accuracy", "precision", "recall", "example_count", "mean_label", "mean_prediction"]
    overall = [[k, result.metrics.get(k), result.baseline_metrics.get(k)] for k in keys]
    slices = [
        [s["slice"], s.get("example_count"), s.get("auc"), s.get("auc_diff"), s.get("mean_label")]
        for s in sorted(result.slices, key=lambda s: s["slice"])
    ]
    roc = report.xy_chart(
        {"contender": [(f, t) for f, t, _ in result.roc], "chance": [(0, 0), (1, 1)]},
        "ROC curve",
        "false positive rate",
    )
    return report.page(
        "Model evaluation (TFMA)",
        report.verdict(result.blessed, "BLESSED" if result.blessed else "NOT BLESSED"),
        "<ul>" + "".join(f"<li>{r}</li>" for r in result.reasons) + "</ul>",
        "<h2>Overall</h2>",
        report.table(["metric", "contender", "production"], overall),
        roc,
        "<h2>Slices</h2>",
        report.table(["slice", "examples", "auc", "auc vs production", "late rate"], slices),
    )
