"""The reader's confidence model: from a span's features to the calibrated probability
that it is exactly right, and the no-answer threshold fitted with it.

The reader's logits rank spans within one window well, but say little about whether a
span is right across windows and questions. A logistic model over the features of
service/qa/features.py (the reader's scores, how well the span's sentence matches the
question) ranks every span of a question, and Platt scaling turns the best one's logit
into how often such an answer is exactly right. Both are fitted on held-out articles by
`citeqa train-reader` (models/reader/train/calibrate.py) and ship as `confidence.json`
beside the reader's weights.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import numpy as np

CONFIDENCE_FILE = "confidence.json"


class Confidence:
    """`score(candidates)`: a logistic model's logit, then Platt scaling of it.

    Platt (a sigmoid of the logit) rather than isotonic steps: the no-answer threshold sits
    on this curve, and a step function puts many questions on the same value, so a small
    change of threshold flips them all at once."""

    def __init__(self, names: list[str], coef: list[float], intercept: float,
                 slope: float, offset: float, threshold: float) -> None:  # fmt: skip
        self.names = names
        self.coef = np.array(coef)
        self.intercept = intercept
        self.slope = slope
        self.offset = offset
        # Below this confidence citeqa says it has no answer: fitted with the model, on
        # held-out data (the best no-answer F1), because it only means something for it.
        self.threshold = threshold

    @classmethod
    def load(cls, path: Path) -> Confidence:
        return cls(**json.loads(path.read_text()))

    def save(self, path: Path) -> None:
        raw = {
            "names": self.names,
            "coef": [round(float(c), 6) for c in self.coef],
            "intercept": round(float(self.intercept), 6),
            "slope": round(float(self.slope), 6),
            "offset": round(float(self.offset), 6),
            "threshold": round(float(self.threshold), 6),
        }
        path.write_text(json.dumps(raw, indent=1) + "\n")

    def logits(self, features: Sequence[dict[str, float]]) -> np.ndarray:
        """The logistic model's logit of each span, from its features."""
        matrix = np.array([[f[n] for n in self.names] for f in features]).reshape(
            -1, len(self.names)
        )
        return matrix @ self.coef + self.intercept

    def probabilities(self, features: Sequence[dict[str, float]]) -> np.ndarray:
        """Each span's calibrated probability of being exactly right."""
        return 1.0 / (1.0 + np.exp(-(self.slope * self.logits(features) + self.offset)))
