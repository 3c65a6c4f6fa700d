"""The feature pipeline: fill the Feast repository up to `end` (offline tables, `feast apply`,
the outcome stream, the online store). Scheduled on its own clock on a cluster; the training
pipeline runs the same component before it builds a training set."""

from kfp import dsl

from loopline.components.load_features import load_features_component
from loopline.components.window import window_component
from loopline.config import DEFAULT_CONFIG
from loopline.pipelines.platform import on_cluster

PIPELINE_NAME = "loopline-features"


@dsl.pipeline(name=PIPELINE_NAME, description="Load the Feast feature store up to a time.")
def features_pipeline(source: str, feature_repo: str, end: str = "", config: str = DEFAULT_CONFIG) -> str:
    """`end` "" (a recurring run): the minute the run starts."""
    window = on_cluster(window_component(config=config, pipeline="features", start="", end=end), "window")
    loaded = load_features_component(config=config, source=source, feature_repo=feature_repo, end=window.outputs["end"])
    return on_cluster(loaded, "load-features").outputs["Output"]
