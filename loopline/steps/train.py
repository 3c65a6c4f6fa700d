"""Train: a Keras model over named raw features, exported as a SavedModel with `model.export()`.

All preprocessing lives in the model, learned from the training split, so the exported serving
signature takes the features `make_features` produces: vocabularies and embeddings for
categories and for two crosses (hour x origin, carrier x origin), and each number's
piecewise-linear encoding on the split's quantiles with a missing-value indicator.
The exported model averages `ensemble` members trained from different seeds: on July 2013 three
members gain about 0.005 AUC over one (README, Benchmarks).
"""

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from loopline import report
from loopline.config import Config
from loopline.errors import ConfigError
from loopline.model_io import as_model_inputs, keras_inputs


@dataclass(frozen=True)
class Hyperparameters:
    epochs: int = 12
    batch_size: int = 512
    learning_rate: float = 0.002
    hidden_units: tuple[int, ...] = (128, 64)
    embedding_dim: int = 8
    # Chosen on July 2013 (benchmarks/model_variants.py): 16 bins and the crosses took the network
    # from 0.011 behind LightGBM to 0.001.
    numeric_bins: int = 16  # 0: standardized numbers; n: piecewise-linear encoding on n quantile bins
    crosses: bool = True  # embeddings of hour x origin and carrier x origin
    dropout: float = 0.3
    validation_fraction: float = 0.03
    ensemble: int = 3
    seed: int = 13

    def __post_init__(self):
        positive = ("epochs", "batch_size", "learning_rate", "embedding_dim", "ensemble")
        for name in positive:
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive, got {getattr(self, name)}")
        if self.numeric_bins < 0 or self.numeric_bins == 1:
            raise ConfigError(f"numeric_bins must be 0 (standardized) or at least 2, got {self.numeric_bins}")
        if not self.hidden_units or any(u <= 0 for u in self.hidden_units):
            raise ConfigError(f"hidden_units must be positive numbers, got {list(self.hidden_units)}")
        if not (0 <= self.dropout < 1 and 0 < self.validation_fraction < 1):
            raise ConfigError("dropout must be in [0, 1) and validation_fraction in (0, 1)")


@dataclass
class TrainResult:
    histories: list[dict[str, list[float]]] = field(default_factory=list)  # one per ensemble member
    rows: int = 0

    @property
    def epochs(self) -> list[int]:
        return [len(h.get("loss", [])) for h in self.histories]

    @property
    def best_val_auc(self) -> list[float]:
        return [max(h.get("val_auc", [float("nan")])) for h in self.histories]


def build_model(examples: pd.DataFrame, config: Config, hp: Hyperparameters):
    """The model, with vocabularies and numeric statistics taken from `examples`."""
    import keras
    from keras import layers, ops

    spec = config.features
    inputs = keras_inputs(config)
    parts = []
    indices, sizes = {}, {"hour": 24}
    for name in spec.categorical:
        values = examples[name]
        vocabulary = sorted(values[values != ""].unique().tolist())
        indices[name] = layers.StringLookup(vocabulary=vocabulary, name=f"{name}_lookup")(inputs[name])
        sizes[name] = len(vocabulary) + 1
        parts.append(layers.Embedding(sizes[name], hp.embedding_dim, name=f"{name}_embedding")(indices[name]))
    # Time parts are numbers, not categories: a month the training window never saw (July after
    # January-June) is extrapolated rather than sent to an untrained out-of-vocabulary embedding.
    for name in [*spec.numeric, *spec.time]:
        column = examples[name].astype("float64")
        x = ops.cast(inputs[name], "float32")
        is_missing = ops.isnan(x)
        encoded = _encode_number(ops, ops.where(is_missing, 0.0, x), column, hp.numeric_bins)
        parts.append(
            ops.concatenate(
                [ops.where(is_missing[:, None], 0.0, encoded), ops.cast(is_missing, "float32")[:, None]], axis=-1
            )
        )
    if hp.crosses and "hour" in inputs:  # a local hour is never missing: it comes with the request
        indices["hour"] = ops.clip(ops.cast(inputs["hour"], "int64"), 0, 23)
    # Crosses the trees find: each pair of indices as one index of its own embedding (arithmetic
    # on the lookups' indices: no hash collisions, one row per pair seen or not).
    for first, second in (("hour", "origin"), ("carrier", "origin")) if hp.crosses else ():
        if first in indices and second in indices:
            crossed = ops.cast(indices[first], "int64") * sizes[second] + ops.cast(indices[second], "int64")
            embedding = layers.Embedding(sizes[first] * sizes[second], hp.embedding_dim, name=f"{first}_x_{second}")
            parts.append(embedding(crossed))
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


def _encode_number(ops, x, column: pd.Series, bins: int):
    """`x` (missing values already zeroed) as the model sees it: standardized by the training
    split's mean and deviation (bins 0), or its piecewise-linear encoding on the training split's
    quantiles (Gorishniy et al., NeurIPS 2022): one component per bin, 0 below it, 1 above it,
    the position inside it; the outer bins are left open so a value beyond the training range
    still moves the encoding. A column whose quantiles give fewer than two bins is standardized."""
    present = column.dropna()
    edges = np.unique(np.quantile(present, np.linspace(0, 1, bins + 1))) if bins and len(present) else np.array([])
    if len(edges) < 3:
        mean = float(present.mean()) if len(present) else 0.0
        std = float(present.std()) if len(present) > 1 and present.std() > 0 else 1.0
        return ((x - mean) / std)[:, None]
    low, width = edges[:-1].astype("float32"), np.diff(edges).astype("float32")
    position = (x[:, None] - low) / width
    lower = np.r_[-np.inf, np.zeros(len(low) - 1)].astype("float32")
    upper = np.r_[np.ones(len(low) - 1), np.inf].astype("float32")
    return ops.minimum(ops.maximum(position, lower), upper)


def train(examples: pd.DataFrame, config: Config, hp: Hyperparameters, model_dir: str) -> TrainResult:
    """Fit on time-ordered `examples` (features + label), keep the best epoch by AUC on the most
    recent `validation_fraction` of them, and export the model to `model_dir`."""
    import keras
    import tensorflow as tf

    # Examples come in time order: validating on the most recent ones stops training where it
    # still generalises to the future, which a random holdout overstates. The slice is small
    # because the latest days are also the most useful to learn from: on July 2013, holding out
    # 10% of January-June instead of 3% costs about 0.01 AUC.
    n_val = max(1, int(len(examples) * hp.validation_fraction))
    fit_rows = examples.iloc[:-n_val].sample(frac=1.0, random_state=hp.seed)
    val_rows = examples.iloc[-n_val:]

    def dataset(rows: pd.DataFrame) -> tf.data.Dataset:
        labels = rows[config.label.name].to_numpy(dtype="float32")
        return tf.data.Dataset.from_tensor_slices((as_model_inputs(rows, config), labels)).batch(hp.batch_size)

    members, result = [], TrainResult(rows=len(examples))
    for i in range(hp.ensemble):
        member_hp = replace(hp, seed=hp.seed + i)
        keras.utils.set_random_seed(member_hp.seed)
        print(f"train: ensemble member {i + 1} of {hp.ensemble}", flush=True)
        model = build_model(fit_rows, config, member_hp)
        history = model.fit(
            dataset(fit_rows).shuffle(256, seed=member_hp.seed),
            validation_data=dataset(val_rows),
            epochs=hp.epochs,
            verbose=2,
            shuffle=False,  # the dataset is shuffled itself
            callbacks=[keras.callbacks.EarlyStopping("val_auc", mode="max", patience=2, restore_best_weights=True)],
        )
        members.append(model)
        result.histories.append({k: [float(v) for v in vs] for k, vs in history.history.items()})
    if len(members) > 1:
        inputs = keras_inputs(config)
        model = keras.Model(inputs, keras.layers.Average(name="probability")([m(inputs) for m in members]))
    model.export(model_dir, verbose=False)
    return result


def curves_html(result: TrainResult) -> str:
    """Loss and AUC per epoch of each ensemble member, train against validation."""

    def series(key: str) -> dict[str, list[float]]:
        return {
            f"{split} {i + 1}": h.get(prefix + key, [])
            for i, h in enumerate(result.histories)
            for split, prefix in (("train", ""), ("validation", "val_"))
        }

    summary = report.table(
        ["member", "epochs", "best validation AUC"],
        [[i + 1, e, a] for i, (e, a) in enumerate(zip(result.epochs, result.best_val_auc, strict=True))],
    )
    return report.page(
        "Training curves",
        summary,
        report.line_chart(series("loss"), "loss", "epoch"),
        report.line_chart(series("auc"), "AUC", "epoch"),
    )
