"""The ingest component: `loopline.steps.ingest.ingest`."""

from kfp import dsl
from kfp.dsl import Dataset, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def ingest_component(
    config: str, source: str, start: str, end: str, train_data: Output[Dataset], eval_data: Output[Dataset]
):
    """Read the source's events in [start, end), label them and split them by time."""
    from dataclasses import asdict

    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.steps.ingest import ingest

    with reported():
        summary = ingest(load_config(config), source, start, end, train_data.path, eval_data.path)
    print(f"ingest: {summary.train_rows} train rows, {summary.eval_rows} eval rows from {summary.eval_start}")
    train_data.metadata.update(asdict(summary))
    eval_data.metadata.update(asdict(summary))
