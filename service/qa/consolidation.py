"""Merge candidate answers across sources: agreement becomes `also_in`, disagreement
becomes `conflict`.

Two answers agree when their normalised text matches, allowing the corpus's one-letter
spelling variants (Qasem/Qassem). Two passages conflict when the reader reads a different
value (a number, a date, a time) in each, both confidently, about the same thing; they may
stand in different documents or, as with "about 30" and "Thirty-one" rockets, in one.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from citeqa.index.spelling import one_edit_apart
from citeqa.service.qa.types import Candidate

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’—–")
# Passages this similar (cosine of MiniLM sentence vectors) talk about the same event.
SAME_TOPIC = 0.5
# A rival answer counts as a conflict only if it is at least this plausible: half the top
# answer's confidence, and more likely right than wrong (scores are calibrated
# probabilities). At 0.2, a 47% "five" from a sentence about other attacks made "about 30"
# rockets at Kirkuk look disputed; the project set's real conflicts score 0.8 each.
RIVAL_SHARE = 0.5
MIN_CONFLICT_SCORE = 0.5
# Values that another value can contradict, by kind: a date or time against a date or
# time, a quantity against a quantity. (Two people named for a "who" question are usually
# both right.) Month abbreviations count only with their dot ("Jan. 2", not "Mar-a-Lago"),
# and "may" only before a number.
_DATE = re.compile(
    r"\b(january|february|march|april|june|july|august|september|october|november|"
    r"december|monday|tuesday|wednesday|thursday|friday|saturday|sunday|noon|midnight|dawn|"
    r"dusk|morning|evening|night|yesterday|today|tomorrow)\b|\b(jan|feb|mar|apr|aug|sept?|"
    r"oct|nov|dec)\.|\bmay\s+\d|\b(1[5-9]|20)\d\d\b|\d:\d\d|\b[ap]\.m\.",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|fifty|sixty|"
    r"seventy|eighty|ninety|hundreds?|thousands?|millions?|billions?|dozens?)\b",
    re.IGNORECASE,
)
VALUE_WORDS = 6  # a longer answer is a clause that mentions a value, not a value


def normalise(text: str) -> str:
    """SQuAD's answer normalisation: lowercase, no punctuation or articles, one space."""
    text = _ARTICLES.sub(" ", text.lower().translate(_PUNCT))
    return " ".join(text.split())


@dataclass
class AnswerGroup:
    best: Candidate
    key: str  # the normalised answer
    others: list[Candidate] = field(default_factory=list)  # same answer, other documents


def group_candidates(candidates: list[Candidate]) -> list[AnswerGroup]:
    """Candidates (best first) grouped by answer; one citation per extra document."""
    groups: list[AnswerGroup] = []
    for candidate in candidates:
        key = normalise(candidate.text)
        group = next((g for g in groups if _same_answer(g.key, key)), None)
        if group is not None:
            # The same answer in another document, even where a shorter or longer cut of
            # it ranked first there ("Katarina Olsson" before "Mayor Katarina Olsson").
            if candidate.doc_id not in _docs(group):
                group.others.append(candidate)
        elif not any(_overlaps(candidate, g.best) for g in groups):
            groups.append(AnswerGroup(candidate, key))
        # else: a longer or shorter cut of an answer already given
    return groups


def _overlaps(a: Candidate, b: Candidate) -> bool:
    return a.doc_id == b.doc_id and a.span.start < b.span.end and b.span.start < a.span.end


def _docs(group: AnswerGroup) -> set[str]:
    return {c.doc_id for c in [group.best, *group.others]}


def _same_answer(a: str, b: str) -> bool:
    if a == b:
        return True
    words_a, words_b = a.split(), b.split()
    if len(words_a) != len(words_b) or not words_a:
        return False
    return all(x == y or one_edit_apart(x, y) for x, y in zip(words_a, words_b, strict=True))


def value_kind(text: str) -> str | None:
    """ "date", "number", or None when `text` is not a short value."""
    if len(text.split()) > VALUE_WORDS:
        return None
    if _DATE.search(text):
        return "date"
    return "number" if _NUMBER.search(text) else None


def find_conflict(groups: list[AnswerGroup]) -> list[AnswerGroup]:
    """The groups that disagree with the top one, or [] when the sources agree."""
    kind = value_kind(groups[0].best.text) if groups else None
    if len(groups) < 2 or kind is None:
        return []
    top = groups[0].best
    rivals = [
        g
        for g in groups[1:]
        if value_kind(g.best.text) == kind
        # A rival from the same passage is another detail of it, not another account.
        and not set(_starts(g.best)) & set(_starts(top))
        and g.best.score >= max(MIN_CONFLICT_SCORE, RIVAL_SHARE * top.score)
        and _same_topic(g.best, top)
    ]
    return rivals


def _starts(candidate: Candidate) -> list[tuple[str, int]]:
    return [(candidate.doc_id, s.start) for s in candidate.sentences()]


def _same_topic(a: Candidate, b: Candidate) -> bool:
    vectors = [s.vector for c in (a, b) for s in c.sentences()[:1]]
    return float(vectors[0] @ vectors[1]) >= SAME_TOPIC
