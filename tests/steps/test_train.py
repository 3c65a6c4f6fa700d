import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from loopline import model_io
from loopline.steps.train import TrainResult, curves_html

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
