"""The transform component: `loopline.steps.transform.transform_splits`."""

from kfp import dsl
from kfp.dsl import Dataset, Input, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def transform_component(
    config: str,
    feature_repo: str,
    train_data: Input[Dataset],
    eval_data: Input[Dataset],
    train_examples: Output[Dataset],
    eval_examples: Output[Dataset],
):
    """Both splits' examples through the Feast feature service, point in time."""
    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.steps.transform import transform_splits

    cfg = load_config(config)
    splits = [(train_data, train_examples), (eval_data, eval_examples)]
    with reported():
        rows = transform_splits(cfg, feature_repo, [(a.path, b.path) for a, b in splits])
    for _, examples in splits:
        examples.metadata.update(rows=rows[examples.path], feature_service=cfg.features.service)
    print(f"transform: {rows[train_examples.path]:,} train and {rows[eval_examples.path]:,} eval examples")
