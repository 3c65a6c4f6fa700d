"""The monitor component: `loopline.monitoring.monitor.monitor_window` on the prediction store."""

from kfp import dsl
from kfp.dsl import HTML, Metrics, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def monitor_component(
    config: str,
    store_url: str,
    registry: str,
    start: str,
    end: str,
    as_of: str,
    workspace: str,
    report: Output[HTML],
    metrics: Output[Metrics],
) -> str:
    """Drift and quality of the predictions served for departures in [start, end) (from the store
    at `store_url`, "" for LOOPLINE_STORE_URL or the local default), on outcomes
    known by `as_of` ("" for the end), per version and role; the Evidently reports as the HTML
    artifact, the figures as metrics (`<role>_<version>_<figure>`), snapshots into `workspace`
    ("" for none). Returns the figures as JSON."""
    import json

    from loopline import home
    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.monitoring.monitor import monitor_window
    from loopline.predictions.store import PredictionStore

    with reported():
        result = monitor_window(
            load_config(config),
            PredictionStore(store_url or home.store_url()),
            registry,
            start,
            end,
            as_of,
            report.path,
            workspace or None,
        )
    for group in result.groups:
        for figure in ("predictions", "coverage", "auc", "log_loss", "drift_share"):
            value = getattr(group, figure)
            if value is not None:
                metrics.log_metric(f"{group.role}_{group.version}_{figure}", value)
    print(f"monitor: {len(result.groups)} group(s) for {start} to {end}, report {report.path}")
    return json.dumps(result.as_dict())
