"""How sure an answer is, in words: the bands the chat and `citeqa ask` both show.

An answer's score is a calibrated probability of being exactly right (README, on
`score`). The bands follow the questions' reliability (3 Dec 2026, SQuAD v1.1 and 2.0
test parts, the project and natural sets): answers scored 0.7 or more were right about 9
times in 10, 0.5 to 0.7 about 2 in 3, under 0.5 less than half the time. Read again for
Reader III's first stage (4 Dec 2026, the whole project and natural sets): 0.7 or more
right 91% and 80% of the time, 0.5 to 0.7 69% and 60%, 0.3 to 0.5 39% and 37%; and for
its second stage (5 Dec 2026, the same sets): 90% and 89%, 68% and 66%, 45% and 42%; and
with the fine-tuned embedder and its refitted confidence model (5 Dec 2026): 89% and 91%,
71% and 66%, 53% and 35%. The bands stand.
The chat gets them from here too: service/http/routes/page.py writes them into widget.js.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Band:
    floor: float  # the lowest score in the band
    words: str
    unsure: bool  # shown as a warning: more likely wrong than right


# Highest first: an answer takes the first band whose floor it reaches.
BANDS = (
    Band(0.7, "Likely right", unsure=False),
    Band(0.5, "Maybe right: check the passage", unsure=False),
    Band(0.0, "Unsure: a best guess, check the passage", unsure=True),
)


def band(score: float) -> Band:
    """The band of an answer scored `score`."""
    return next((b for b in BANDS if score >= b.floor), BANDS[-1])
