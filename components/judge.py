"""The judge component: `loopline.monitoring.canary.judge_window` after the monitor."""

from kfp import dsl

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def judge_component(config: str, store_url: str, registry: str, monitored: str) -> str:
    """Judge the registry's canary on the window the monitor judged (its JSON) and promote or roll
    it back (the store at `store_url`, as for the monitor), recorded in the registry's decisions
    log. Returns the decision: promote, rollback, wait, or none (no canary)."""
    import json

    from loopline import home
    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.monitoring.canary import judge_window
    from loopline.monitoring.monitor import Monitoring
    from loopline.predictions.store import PredictionStore

    with reported():
        window = Monitoring(**{k: v for k, v in json.loads(monitored).items() if k != "groups"})
        judged = judge_window(load_config(config), PredictionStore(store_url or home.store_url()), registry, window)
    decision = judged["verdict"]["decision"] if judged else "none"
    print(f"judge: {decision}" + (f" canary {judged['version']}: {judged['verdict']['reason']}" if judged else ""))
    return decision
