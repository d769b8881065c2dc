"""The one decision rule: Platt sigmoid, thresholds with their cap, labels from scores, uncertainty."""

from __future__ import annotations

import numpy as np
import pytest

from classifier.scoring.decision import (
    THRESHOLD_CAP, as_label_scores, calibrated, decide, effective_threshold, effective_thresholds, is_on,
    labels_from_scores, uncertainty,
)


def test_calibrated_is_the_platt_sigmoid_per_label() -> None:
    scores = np.array([[0.0, 2.0]])
    out = calibrated(scores, np.array([[1.0, 0.0], [2.0, -1.0]]))
    assert out[0, 0] == pytest.approx(0.5) and out[0, 1] == pytest.approx(1 / (1 + np.exp(-3.0)))


def test_thresholds_are_scaled_and_capped_below_one() -> None:
    assert list(effective_thresholds([0.4, 0.8], 2.0)) == [0.8, THRESHOLD_CAP]
    assert effective_threshold(0.9, 10.0) == THRESHOLD_CAP == 0.999
    assert decide(np.array([[0.999, 0.5], [0.2, 0.49]]), [0.9, 0.5], threshold_scale=10.0).tolist() == [[1, 0], [0, 0]]


def test_labels_from_scores_and_the_boundary() -> None:
    assert is_on(0.5, 0.5) and not is_on(0.4999, 0.5)
    labels = ("a", "b", "c")
    assert labels_from_scores(labels, {"a": 0.6, "b": 0.2, "c": 0.5}, {"a": 0.5, "b": 0.1}) == ["a", "b", "c"]


def test_uncertainty_and_score_rows() -> None:
    assert uncertainty({"a": 0.9, "b": 0.45}, {"a": 0.88}) == pytest.approx(0.02)
    assert as_label_scores([0.1, 0.2], ["a", "b"]) == {"a": 0.1, "b": 0.2}


def test_the_estimator_and_the_serving_form_decide_alike() -> None:
    from classifier.model.estimator import MeasureClassifier
    from classifier.scoring.serving import ServingModel

    texts = ["口岸查验旅客证件", "Police patrol the border at night", "会议强调重要性", "边检站查获伪造证件",
             "A patrol boat watched the river", "Officials studied the guidelines"]
    Y = np.array([[1, 0], [0, 1], [0, 0], [1, 0], [0, 1], [0, 0]])
    model = MeasureClassifier(labels=("port", "patrol"), lexicon=(("port/p", ("口岸",)),), inner_folds=3).fit(
        texts, Y, groups=[str(i) for i in range(6)])
    served = ServingModel.from_classifier(model)
    probs = model.predict_proba(texts)
    for scale in (0.5, 1.0, 3.0):
        assert (model.decide(probs, threshold_scale=scale) == decide(probs, model.thresholds_, threshold_scale=scale)).all()
        assert (served.predict(texts, threshold_scale=scale) == model.predict(texts, threshold_scale=scale)).all()
