"""The policy component: `loopline.monitoring.policy.decide` on the window the monitor judged."""

from kfp import dsl

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def policy_component(config: str, registry: str, monitored: str) -> str:
    """Keep the monitored window's figures (its JSON) in the registry and apply the retraining
    policy on its clock. Returns the policy's answer as JSON: whether a retraining is called
    for, every trigger that fired, what holds it, and the training window to use. It claims
    nothing: the run it calls for is started by `loopline monitor --retrain` (locally) or by a
    scheduled training run."""
    import json

    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.monitoring.monitor import Monitoring
    from loopline.monitoring.policy import decide

    with reported():
        window = Monitoring(**json.loads(monitored))
        found = decide(load_config(config), registry, window, claim=False)
    print(f"policy: {'retrain' if found.retrain else 'no retraining'}: {found.reason or found.held or 'no trigger'}")
    return json.dumps(found.as_dict())
