"""The train component: `loopline.steps.train.train` (Keras)."""

from kfp import dsl
from kfp.dsl import HTML, Dataset, Input, Metrics, Model, Output

from loopline.components.image import IMAGE


@dsl.component(base_image=IMAGE, install_kfp_package=False)
def train_component(
    config: str,
    train_examples: Input[Dataset],
    epochs: int,
    batch_size: int,
    learning_rate: float,
    hidden_units: list,
    ensemble: int,
    model: Output[Model],
    metrics: Output[Metrics],
    curves: Output[HTML],
):
    """Fit the Keras ensemble and export it; each member's curves go to Metrics and an HTML chart."""
    from pathlib import Path

    from loopline import storage
    from loopline.config import load_config
    from loopline.errors import reported
    from loopline.steps.train import Hyperparameters, curves_html, train

    with reported():
        hp = Hyperparameters(
            epochs=epochs,
            batch_size=batch_size,
            learning_rate=learning_rate,
            hidden_units=tuple(int(u) for u in hidden_units),
            ensemble=ensemble,
        )
        result = train(storage.read_frame(train_examples.path), load_config(config), hp, model.path)
    for member, history in enumerate(result.histories, start=1):
        for name, values in history.items():
            for epoch, value in enumerate(values, start=1):
                metrics.log_metric(f"member_{member}_{name}_epoch_{epoch:02d}", value)
    model.metadata.update(framework="keras", rows=result.rows, ensemble=ensemble)
    Path(curves.path).write_text(curves_html(result))
