"""The push component: `loopline.steps.push.push` into the model registry."""

from kfp import dsl
from kfp.dsl import Artifact, Dataset, Input, Metrics, Model, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def push_component(
    config: str,
    model: Input[Model],
    train_examples: Input[Dataset],
    registry: str,
    blessed: bool,
    metrics: Input[Metrics],
    schema_hash: str,
    start: str,
    end: str,
    receipt: Output[Artifact],
    push_to: str = "production",
    trigger: str = "",
) -> str:
    """Copy the blessed model into the registry, with a sample of the model inputs it trained on,
    and make it production, if production is still the version evaluate judged it against, or
    (`push_to` canary or shadow) the canary, to be judged on live outcomes. Returns the new
    version, or "" when the pointer moved meanwhile (the run ends cleanly, not pushed);
    `receipt` says which, in its metadata. `trigger`: why the run was started (the retraining
    policy's reasons), kept in the version's metadata."""
    from pathlib import Path

    import pandas as pd

    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.registry import PointerMoved
    from loopline.steps.push import push, reference_sample

    judged = dict(metrics.metadata)
    baseline = f"{int(judged['production_version']):04d}" if "production_version" in judged else None
    metadata = {
        "metrics": judged,
        "data_window": {"start": start, "end": end},
        "schema_hash": schema_hash,
        "trigger": trigger or "by hand",
    }
    with reported():
        spec = load_config(config)
        reference = reference_sample(pd.read_parquet(train_examples.path), spec)
        try:
            pushed = push(registry, spec.name, model.path, blessed, metadata, baseline, reference, push_to)
            where = "in production" if push_to == "production" else "the canary"
            version, message = pushed.version, f"{pushed.model} version {pushed.version} is {where}"
        except PointerMoved as moved:
            version, message = "", f"not pushed: {moved}"
    print(f"push: {message}")
    receipt.metadata.update(version=version, message=message, baseline=baseline or "")
    Path(receipt.path).write_text(message + "\n")
    return version
