"""The confidence model (models/reader/confidence.py) as shipped beside the reader: a logistic
model's logit through Platt scaling. Its scores are probabilities, each feature moves them
the way its fitted coefficient says, the features whose meaning is known move them that
way, and scores keep the order of the logits.

Spans are given as features, as service/qa/features.py makes them; what spaCy and the
reader would give is in tests/qa/test_answer_types.py and tests/models/test_reader.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from citeqa.models.reader.confidence import CONFIDENCE_FILE, Confidence
from citeqa.models.runtime.paths import shipped_reader


@pytest.fixture(scope="module")
def shipped() -> Confidence:
    return Confidence.load(shipped_reader() / CONFIDENCE_FILE)


def scores(model: Confidence, rows: list[dict[str, float]]) -> list[float]:
    return [float(p) for p in model.probabilities(rows)]


def test_the_shipped_model_scores_probabilities(shipped: Confidence) -> None:
    rng = np.random.default_rng(0)
    rows = [dict(zip(shipped.names, rng.normal(scale=5, size=len(shipped.names)), strict=True))
            for _ in range(500)]  # fmt: skip
    found = scores(shipped, rows)
    assert all(0.0 <= p <= 1.0 for p in found)
    assert 0.0 < shipped.threshold < 1.0, "the no-answer threshold is on the same scale"
    # The calibration map is increasing: a higher logit is never a lower probability.
    logits = shipped.logits(rows)
    assert shipped.slope > 0
    assert [found[i] for i in np.argsort(logits)] == sorted(found)


def test_each_feature_moves_the_score_the_way_its_coefficient_says(shipped: Confidence) -> None:
    base = dict.fromkeys(shipped.names, 0.0)  # logit = intercept: far from 0 and from 1
    [before] = scores(shipped, [base])
    for name, coef in zip(shipped.names, shipped.coef, strict=True):
        [raised] = scores(shipped, [{**base, name: 1.0}])
        [lowered] = scores(shipped, [{**base, name: -1.0}])
        direction = np.sign(coef * shipped.slope)
        assert np.sign(raised - before) == direction, name
        assert np.sign(before - lowered) == direction, name


@pytest.mark.parametrize(
    ("feature", "direction"),
    [("type_match", +1), ("type_mismatch", -1), ("in_question", -1), ("share", +1)],
    ids=["answer of the kind asked", "of another kind", "repeats the question",
         "more of the reader's mass"],
)  # fmt: skip
def test_what_the_features_mean_is_what_the_fitted_model_does(
    shipped: Confidence, feature: str, direction: int
) -> None:
    """Features with a known meaning (answer_types.agreement; an answer that repeats the
    question is rarely the answer; a span's share of the reader's softmax) must not have
    been fitted the wrong way round."""
    typical = {name: 0.0 for name in shipped.names} | {"share": 0.5, "sentence_score": 0.3}
    low, high = scores(shipped, [{**typical, feature: 0.0}, {**typical, feature: 1.0}])
    assert np.sign(high - low) == direction


def test_saved_and_loaded_the_model_scores_the_same(shipped: Confidence, tmp_path: Path) -> None:
    shipped.save(tmp_path / CONFIDENCE_FILE)
    again = Confidence.load(tmp_path / CONFIDENCE_FILE)
    rows = [dict.fromkeys(shipped.names, value) for value in (-2.0, -0.5, 0.0, 0.5, 2.0)]
    assert scores(again, rows) == pytest.approx(scores(shipped, rows), abs=1e-5)
