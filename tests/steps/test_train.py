import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from loopline import model_io
from loopline.steps.train import Hyperparameters, TrainResult, _encode_number, curves_html, train

pytestmark = pytest.mark.slow


def test_the_exported_model_serves_raw_named_features(trained_model, examples, flights):
    train, evals = examples
    probabilities = model_io.predict(model_io.load(trained_model), evals, flights)
    assert probabilities.shape == (len(evals),)
    assert ((probabilities > 0) & (probabilities < 1)).all()
    assert roc_auc_score(evals["late"], probabilities) > 0.6


def test_unseen_categories_and_missing_numbers_get_finite_predictions(trained_model, examples, flights):
    rows = examples[1].head(3).copy()
    rows["carrier"] = ["ZZ", "", "UA"]
    rows["dest"] = "XXX"
    rows["temp"] = np.nan
    rows["plane_year"] = pd.Series([np.nan, 1990.0, np.nan], index=rows.index).astype("float32")
    assert np.isfinite(model_io.predict(model_io.load(trained_model), rows, flights)).all()


def test_curves_show_train_and_validation_for_each_member():
    history = {"loss": [0.6, 0.5], "val_loss": [0.62, 0.55], "auc": [0.6, 0.7], "val_auc": [0.58, 0.66]}
    result = TrainResult(histories=[history, history | {"val_auc": [0.6, 0.64, 0.61]}])
    assert result.epochs == [2, 2] and result.best_val_auc == [0.66, 0.64]
    html = curves_html(result)
    assert html.count("<polyline") == 8 and "validation 2" in html


@pytest.mark.parametrize(
    "hp",
    [
        Hyperparameters(numeric_bins=0, crosses=False, ensemble=1, epochs=2),
        Hyperparameters(numeric_bins=8, ensemble=1, epochs=2),
    ],
)
def test_every_input_representation_exports_a_model_on_the_same_raw_features(examples, flights, tmp_path, hp):
    train_ex, evals = examples
    folder = str(tmp_path / "model")
    train(train_ex, flights, hp, folder)
    rows = evals.head(50).copy()
    rows.loc[rows.index[:3], "carrier"] = ["ZZ", "", "UA"]
    rows.loc[rows.index[:3], "previous_arr_delay"] = [np.nan, 5000.0, -100.0]  # beyond the training range
    probabilities = model_io.predict(model_io.load(folder), rows, flights)
    assert probabilities.shape == (50,) and np.isfinite(probabilities).all()
    assert roc_auc_score(evals["late"], model_io.predict(model_io.load(folder), evals, flights)) > 0.6


def test_the_piecewise_linear_encoding_places_a_number_among_the_training_quantiles():
    from keras import ops

    column = pd.Series(np.arange(101, dtype="float64"))  # quantile edges 0, 25, 50, 75, 100 for 4 bins
    x = np.array([-10.0, 0.0, 30.0, 100.0, 150.0], dtype="float32")
    encoded = ops.convert_to_numpy(_encode_number(ops, x, column, 4))
    expected = [[-0.4, 0, 0, 0], [0, 0, 0, 0], [1, 0.2, 0, 0], [1, 1, 1, 1], [1, 1, 1, 3]]
    assert encoded == pytest.approx(np.array(expected, dtype="float32"), abs=1e-6)
    assert ops.convert_to_numpy(_encode_number(ops, x, column, 0))[:, 0] == pytest.approx((x - 50) / column.std())
