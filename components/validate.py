"""The validate component: `loopline.steps.validate.validate` (TFDV)."""

from kfp import dsl
from kfp.dsl import HTML, Artifact, Dataset, Input, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def validate_component(
    config: str,
    train_examples: Input[Dataset],
    eval_examples: Input[Dataset],
    statistics: Output[Artifact],
    schema: Output[Artifact],
    anomalies: Output[Artifact],
    report: Output[HTML],
) -> str:
    """TFDV statistics, the schema used, anomalies and a report; fails on anomalies, keeping the
    report and the anomalies. Returns the schema's hash."""
    import hashlib
    import shutil
    from pathlib import Path

    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.steps.validate import validate

    try:
        with reported():
            validate(load_config(config), train_examples.path, eval_examples.path, statistics.path)
    finally:  # the report and anomalies matter most when validation fails
        for name, artifact in (("schema.pbtxt", schema), ("anomalies.pbtxt", anomalies), ("report.html", report)):
            if Path(statistics.path, name).exists():
                shutil.copyfile(Path(statistics.path, name), artifact.path)
    return hashlib.sha256(Path(schema.path).read_bytes()).hexdigest()[:16]
