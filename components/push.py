"""The push component: `loopline.steps.push.push` into the model registry."""

from kfp import dsl
from kfp.dsl import Input, Metrics, Model

from loopline.components.image import IMAGE


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
    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.steps.push import push

    metadata = {
        "metrics": dict(metrics.metadata),
        "data_window": {"start": start, "end": end},
        "schema_hash": schema_hash,
    }
    with reported():
        version = push(registry, load_config(config).name, model.path, blessed, metadata)
    print(f"push: {version.model} version {version.version} is in production at {version.uri}")
    return version.version
