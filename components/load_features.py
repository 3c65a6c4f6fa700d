"""The feature store load component: `loopline.features.store.load`."""

from kfp import dsl
from kfp.dsl import Metrics, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def load_features_component(config: str, source: str, feature_repo: str, end: str, store: Output[Metrics]) -> str:
    """Fill the Feast repository up to `end`: offline tables, `feast apply`, the outcome stream
    pushed in time order, batch views materialized. `store` counts rows per table and pushes;
    returns `end`, the time the store is loaded to."""
    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.events import parse_date
    from loopline.features.store import load

    with reported():
        spec = load_config(config)
        rows = load(spec, source, feature_repo, parse_date(end, "end", spec.source.timezone))
    print("load features: " + ", ".join(f"{name} {count:,}" for name, count in rows.items()))
    for table, count in rows.items():
        store.log_metric(f"{table}_rows", count)
    return end
