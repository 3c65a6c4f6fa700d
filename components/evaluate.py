"""The evaluate component: `loopline.steps.evaluate.evaluate` (TFMA against production)."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def evaluate_component(
    config: str,
    eval_examples: Input[Dataset],
    model: Input[Model],
    registry: str,
    evaluation: Output[Artifact],
    metrics: Output[Metrics],
    classification: Output[ClassificationMetrics],
    report: Output[HTML],
) -> bool:
    """TFMA against the production model in `registry`; returns whether every threshold passed.
    `metrics` records the production version judged against, which push needs."""
    import tempfile
    from pathlib import Path

    from loopline import registry as models
    from loopline import storage
    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.steps.evaluate import evaluate

    with reported():
        cfg = load_config(config)
        production = models.production(registry, cfg.name)
        with tempfile.TemporaryDirectory() as workdir:
            baseline = str(storage.local_folder(production.uri, workdir)) if production else None
            result = evaluate(cfg, storage.read_frame(eval_examples.path), model.path, baseline, evaluation.path)
    for name, value in result.metrics.items():
        metrics.log_metric(name, value)
    if production:
        metrics.log_metric("production_version", int(production.version))
    fpr, tpr, thresholds = (list(v) for v in zip(*result.roc[::5], strict=True))
    classification.log_roc_curve(fpr, tpr, [min(t, 1.0) for t in thresholds])
    classification.log_confusion_matrix(["on time", "late"], result.confusion)
    Path(report.path).write_text(result.html)
    print("evaluate: " + ("BLESSED" if result.blessed else "not blessed") + "; " + "; ".join(result.reasons))
    return result.blessed
