"""The KFP components: each a thin wrapper that calls one plain step function.

They live apart from the step modules because the KFP executor imports `kfp.dsl` in a runtime
mode without the decorators: a component body imports its step module, which must therefore not
import kfp. Imports stay inside each body, as the container image has the package installed.
"""

from kfp import dsl
from kfp.dsl import HTML, Artifact, ClassificationMetrics, Dataset, Input, Metrics, Model, Output

from components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ingest_component(
    config: str, source: str, start: str, end: str, train_data: Output[Dataset], eval_data: Output[Dataset]
):
    """Read the source's events in [start, end), join lookups, label, split by time."""
    from dataclasses import asdict

    from components.config import load_config
    from components.ingest import ingest

    summary = ingest(load_config(config), source, start, end, train_data.path, eval_data.path)
    print(f"ingest: {summary.train_rows} train rows, {summary.eval_rows} eval rows from {summary.eval_start}")
    train_data.metadata.update(asdict(summary))
    eval_data.metadata.update(asdict(summary))


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate_component(
    config: str,
    train_examples: Input[Dataset],
    eval_examples: Input[Dataset],
    statistics: Output[Artifact],
    schema: Output[Artifact],
    anomalies: Output[Artifact],
    report: Output[HTML],
) -> str:
    """TFDV statistics, the schema used, anomalies and a report; fails on anomalies. Returns the schema hash."""
    import hashlib
    import shutil
    from pathlib import Path

    from components.config import load_config
    from components.validate import validate

    try:
        validate(load_config(config), train_examples.path, eval_examples.path, statistics.path)
    finally:  # the report and anomalies matter most when validation fails
        for name, artifact in (("schema.pbtxt", schema), ("anomalies.pbtxt", anomalies), ("report.html", report)):
            if Path(statistics.path, name).exists():
                shutil.copyfile(Path(statistics.path, name), artifact.path)
    return hashlib.sha256(Path(schema.path).read_bytes()).hexdigest()[:16]


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def transform_component(
    config: str,
    source: str,
    feature_repo: str,
    end: str,
    train_data: Input[Dataset],
    eval_data: Input[Dataset],
    train_examples: Output[Dataset],
    eval_examples: Output[Dataset],
    store: Output[Metrics],
):
    """Load the Feast store up to `end`, then build both splits' examples through its feature service;
    `store` counts the rows written per offline table and the events pushed."""
    from components.config import load_config
    from components.transform import transform_splits

    cfg = load_config(config)
    splits = [(train_data, train_examples), (eval_data, eval_examples)]
    rows = transform_splits(cfg, source, feature_repo, end, [(a.path, b.path) for a, b in splits])
    print("transform: " + ", ".join(f"{name.rsplit('/', 1)[-1]} {count:,}" for name, count in rows.items()))
    for _, examples in splits:
        examples.metadata.update(rows=rows.pop(examples.path), feature_service=cfg.features.service)
    for table, count in rows.items():
        store.log_metric(f"{table}_rows", count)


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train_component(
    config: str,
    train_examples: Input[Dataset],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    hidden_units: list,
    ensemble: int,
    model: Output[Model],
    metrics: Output[Metrics],
    curves: Output[HTML],
):
    """Fit the Keras ensemble and export it; each member's curves go to Metrics and an HTML chart."""
    from pathlib import Path

    from components import storage
    from components.config import load_config
    from components.train import Hyperparameters, curves_html, train

    hp = Hyperparameters(
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        hidden_units=tuple(int(u) for u in hidden_units),
        ensemble=ensemble,
    )
    result = train(storage.read_frame(train_examples.path), load_config(config), hp, model.path)
    for member, history in enumerate(result.histories, start=1):
        for name, values in history.items():
            for epoch, value in enumerate(values, start=1):
                metrics.log_metric(f"member_{member}_{name}_epoch_{epoch:02d}", value)
    model.metadata.update(framework="keras", rows=result.rows, ensemble=ensemble)
    Path(curves.path).write_text(curves_html(result))


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
    """TFMA against the production model in `registry`; returns whether every threshold passed."""
    import tempfile
    from pathlib import Path

    from components import registry as models
    from components import storage
    from components.config import load_config
    from components.evaluate import evaluate

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


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def push_component(
    config: str,
    model: Input[Model],
    registry: str,
    blessed: bool,
    metrics: Input[Metrics],
    schema_hash: str,
    start: str,
    end: str,
) -> str:
    """Copy the blessed model into the registry and make it production; returns the version."""
    from components.config import load_config
    from components.push import push

    metadata = {
        "metrics": dict(metrics.metadata),
        "data_window": {"start": start, "end": end},
        "schema_hash": schema_hash,
    }
    version = push(registry, load_config(config).name, model.path, blessed, metadata)
    print(f"push: {version.model} version {version.version} is in production at {version.uri}")
    return version.version
