"""Train: a Keras model over named raw features, exported as a SavedModel with `model.export()`.

All preprocessing lives in the model (vocabularies, imputation, scaling), learned from the
training split, so the exported serving signature takes the features `make_features` produces.
"""

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from components import report
from components.config import Config


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int = 8
    batch_size: int = 512
    learning_rate: float = 0.002
    hidden_units: tuple[int, ...] = (128, 64)
    embedding_dim: int = 8
    dropout: float = 0.1
    validation_fraction: float = 0.1
    seed: int = 13


@dataclass
class TrainResult:
    history: dict[str, list[float]] = field(default_factory=dict)
    rows: int = 0

    @property
    def epochs(self) -> int:
        return len(self.history.get("loss", []))


def _inputs(config: Config):
    import keras

    spec = config.features
    inputs = {c: keras.Input(shape=(), dtype="string", name=c) for c in spec.categorical}
    inputs |= {c: keras.Input(shape=(), dtype="float32", name=c) for c in spec.numeric}
    inputs |= {c: keras.Input(shape=(), dtype="int64", name=c) for c in spec.time}
    return inputs


def build_model(examples: pd.DataFrame, config: Config, hp: Hyperparameters):
    """The model, with vocabularies and numeric statistics taken from `examples`."""
    import keras
    from keras import layers, ops

    spec = config.features
    inputs = _inputs(config)
    parts = []
    for name in [*spec.categorical, *spec.time]:
        values = examples[name]
        vocabulary = sorted(values[values != ""].unique().tolist())
        lookup_cls = layers.StringLookup if name in spec.categorical else layers.IntegerLookup
        index = lookup_cls(vocabulary=vocabulary, name=f"{name}_lookup")(inputs[name])
        embedded = layers.Embedding(len(vocabulary) + 1, hp.embedding_dim, name=f"{name}_embedding")(index)
        parts.append(embedded)
    for name in spec.numeric:
        column = examples[name].astype("float64")
        mean = float(column.mean()) if column.notna().any() else 0.0
        std = float(column.std()) if column.notna().sum() > 1 and column.std() > 0 else 1.0
        x = inputs[name]
        is_missing = ops.isnan(x)
        scaled = ops.where(is_missing, 0.0, (x - mean) / std)
        parts.append(ops.stack([scaled, ops.cast(is_missing, "float32")], axis=-1))
    x = layers.Concatenate()(parts)
    for units in hp.hidden_units:
        x = layers.Dense(units, activation="relu")(x)
        x = layers.Dropout(hp.dropout, seed=hp.seed)(x)
    output = layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = keras.Model(inputs, output)
    model.compile(
        optimizer=keras.optimizers.Adam(hp.learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc")],
    )
    return model


def as_model_inputs(features: pd.DataFrame, config: Config) -> dict[str, np.ndarray]:
    """The DataFrame's feature columns as the arrays the model's inputs take."""
    spec = config.features
    arrays = {c: features[c].to_numpy(dtype=object).astype(str) for c in spec.categorical}
    arrays |= {c: features[c].to_numpy(dtype="float32") for c in spec.numeric}
    arrays |= {c: features[c].to_numpy(dtype="int64") for c in spec.time}
    return arrays


def train(examples: pd.DataFrame, config: Config, hp: Hyperparameters, model_dir: str) -> TrainResult:
    """Fit on `examples` (features + label), keep the best epoch by validation AUC, export."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(hp.seed)
    shuffled = examples.sample(frac=1.0, random_state=hp.seed).reset_index(drop=True)
    n_val = max(1, int(len(shuffled) * hp.validation_fraction))
    fit_rows, val_rows = shuffled.iloc[n_val:], shuffled.iloc[:n_val]

    def dataset(rows: pd.DataFrame) -> tf.data.Dataset:
        labels = rows[config.label.name].to_numpy(dtype="float32")
        return tf.data.Dataset.from_tensor_slices((as_model_inputs(rows, config), labels)).batch(hp.batch_size)

    model = build_model(fit_rows, config, hp)
    history = model.fit(
        dataset(fit_rows).shuffle(64, seed=hp.seed),
        validation_data=dataset(val_rows),
        epochs=hp.epochs,
        verbose=2,
        callbacks=[keras.callbacks.EarlyStopping("val_auc", mode="max", patience=2, restore_best_weights=True)],
    )
    model.export(model_dir, verbose=False)
    return TrainResult(history={k: [float(v) for v in vs] for k, vs in history.history.items()}, rows=len(examples))


def load_serving_fn(model_dir: str):
    """The exported model's serving function: dict of named feature tensors -> probabilities."""
    import tensorflow as tf

    return tf.saved_model.load(model_dir).signatures["serving_default"]


def predict(model_dir: str, features: pd.DataFrame, config: Config) -> np.ndarray:
    """Late-arrival probabilities for `features` from an exported model."""
    import tensorflow as tf

    serve = load_serving_fn(model_dir)
    inputs = {k: tf.constant(v) for k, v in as_model_inputs(features, config).items()}
    (output,) = serve(**inputs).values()
    return output.numpy().reshape(-1)


def curves_html(result: TrainResult) -> str:
    """Loss and AUC per epoch, train against validation."""
    h = result.history
    return report.page(
        "Training curves",
        report.line_chart({"train": h.get("loss", []), "validation": h.get("val_loss", [])}, "loss", "epoch"),
        report.line_chart({"train": h.get("auc", []), "validation": h.get("val_auc", [])}, "AUC", "epoch"),
    )
