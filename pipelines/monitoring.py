"""The monitoring pipeline: monitor a window of served predictions, then judge the canary and
apply the retraining policy. Run on a schedule (daily) beside the training pipeline; locally
through kfp.local like the others."""

from kfp import dsl

from loopline.components.judge import judge_component
from loopline.components.monitor import monitor_component
from loopline.components.policy import policy_component
from loopline.components.window import window_component
from loopline.config import DEFAULT_CONFIG
from loopline.pipelines.platform import on_cluster

PIPELINE_NAME = "loopline-monitoring"


@dsl.pipeline(
    name=PIPELINE_NAME,
    description="Evidently drift and quality of served predictions on late ground truth, the canary judge, "
    "the retraining policy.",
)
def monitoring_pipeline(
    registry: str,
    start: str = "",  # "" (a recurring run): the day before the run's day
    end: str = "",
    store_url: str = "",  # "" for LOOPLINE_STORE_URL (the Secret on a cluster)
    as_of: str = "",
    workspace: str = "",
    config: str = DEFAULT_CONFIG,
) -> str:
    window = on_cluster(window_component(config=config, pipeline="monitoring", start=start, end=end), "window")
    days = dict(start=window.outputs["start"], end=window.outputs["end"], as_of=as_of, workspace=workspace)
    monitored = on_cluster(monitor_component(config=config, store_url=store_url, registry=registry, **days), "monitor")
    judged = on_cluster(
        judge_component(config=config, store_url=store_url, registry=registry, monitored=monitored.outputs["Output"]),
        "judge",
    )
    policy = policy_component(config=config, registry=registry, monitored=monitored.outputs["Output"]).after(judged)
    return on_cluster(policy, "policy").output
