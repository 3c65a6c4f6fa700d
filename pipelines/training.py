"""The training pipeline, defined once: run locally by kfp.local, compiled for Kubeflow.

ingest + load features (Feast, up to `end`) -> transform (point-in-time training set)
       -> validate (TFDV) -> train -> evaluate (TFMA vs production) -> push if blessed
"""

from kfp import dsl

from loopline.components.evaluate import evaluate_component
from loopline.components.ingest import ingest_component
from loopline.components.load_features import load_features_component
from loopline.components.push import push_component
from loopline.components.train import train_component
from loopline.components.transform import transform_component
from loopline.components.validate import validate_component
from loopline.components.window import window_component
from loopline.config import DEFAULT_CONFIG
from loopline.pipelines.platform import on_cluster

PIPELINE_NAME = "loopline-training"


@dsl.pipeline(
    name=PIPELINE_NAME, description="Ingest, transform through Feast, validate, train, evaluate and push a model."
)
def training_pipeline(
    source: str,
    registry: str,
    feature_repo: str,
    start: str = "",  # "" (a recurring run): the policy's training window ending at the run's day
    end: str = "",
    config: str = DEFAULT_CONFIG,
    epochs: int = 12,
    batch_size: int = 512,
    learning_rate: float = 0.002,
    hidden_units: list = [128, 64],  # noqa: B006 (a KFP parameter default, never mutated)
    ensemble: int = 3,
    push_to: str = "production",
    trigger: str = "",
) -> bool:
    window = on_cluster(window_component(config=config, pipeline="training", start=start, end=end), "window")
    start, end = window.outputs["start"], window.outputs["end"]
    data = on_cluster(ingest_component(config=config, source=source, start=start, end=end), "ingest")
    loaded = load_features_component(config=config, source=source, feature_repo=feature_repo, end=end)
    on_cluster(loaded, "load-features")
    examples = transform_component(
        config=config,
        feature_repo=feature_repo,
        train_data=data.outputs["train_data"],
        eval_data=data.outputs["eval_data"],
    ).after(loaded)
    on_cluster(examples, "transform")
    checked = validate_component(
        config=config,
        train_examples=examples.outputs["train_examples"],
        eval_examples=examples.outputs["eval_examples"],
    )
    on_cluster(checked, "validate")
    trained = train_component(
        config=config,
        train_examples=examples.outputs["train_examples"],
        epochs=epochs,
        batch_size=batch_size,
        learning_rate=learning_rate,
        hidden_units=hidden_units,
        ensemble=ensemble,
    ).after(checked)
    on_cluster(trained, "train")
    evaluation = evaluate_component(
        config=config,
        eval_examples=examples.outputs["eval_examples"],
        model=trained.outputs["model"],
        registry=registry,
    )
    on_cluster(evaluation, "evaluate")
    # The return value, not a named output: kfp.local (2.17) resolves only "Output" inside dsl.If.
    with dsl.If(evaluation.outputs["Output"] == True, name="blessed"):  # noqa: E712 (a KFP condition)
        pushed = push_component(
            config=config,
            model=trained.outputs["model"],
            train_examples=examples.outputs["train_examples"],
            registry=registry,
            blessed=evaluation.outputs["Output"],
            metrics=evaluation.outputs["metrics"],
            schema_hash=checked.outputs["Output"],
            start=start,
            end=end,
            push_to=push_to,
            trigger=trigger,
        )
        on_cluster(pushed, "push")
    return evaluation.outputs["Output"]
