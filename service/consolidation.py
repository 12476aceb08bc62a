"""Merge candidate answers across sources: agreement becomes `also_in`, disagreement
becomes `conflict`.

Two answers agree when their normalised text matches, allowing the corpus's one-letter
spelling variants (Qasem/Qassem). Two passages conflict when both answer a typed question
(a date, a number, ...) about the same thing with different values; they may stand in
different documents or, as with "about 30" and "Thirty-one" rockets, in one.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass, field

from citeqa.service.ranking import SENTENCE_LABEL, Candidate
from citeqa.service.spans import DATE_LIKE, NUMBER_LIKE

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation + "“”‘’—–")
# Passages this similar (cosine of MiniLM sentence vectors) talk about the same event.
SAME_TOPIC = 0.5
# A rival answer counts as a conflict only if it is at least this plausible.
RIVAL_SHARE = 0.5
MIN_CONFLICT_SCORE = 0.2
VALUE_LABELS = DATE_LIKE | NUMBER_LIKE


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
        if any(_overlaps(candidate, g.best) for g in groups):
            continue  # a longer or shorter cut of an answer already given
        key = normalise(candidate.text)
        group = next((g for g in groups if _same_answer(g.key, key)), None)
        if group is None:
            groups.append(AnswerGroup(candidate, key))
        elif candidate.sentence.chunk.doc_id not in _docs(group):
            group.others.append(candidate)
    return groups


def _overlaps(a: Candidate, b: Candidate) -> bool:
    same_doc = a.sentence.chunk.doc_id == b.sentence.chunk.doc_id
    return same_doc and a.start < b.end and b.start < a.end


def _docs(group: AnswerGroup) -> set[str]:
    return {c.sentence.chunk.doc_id for c in [group.best, *group.others]}


def _same_answer(a: str, b: str) -> bool:
    if a == b:
        return True
    words_a, words_b = a.split(), b.split()
    if len(words_a) != len(words_b) or not words_a:
        return False
    return all(x == y or _one_edit_apart(x, y) for x, y in zip(words_a, words_b, strict=True))


def _one_edit_apart(a: str, b: str) -> bool:
    if min(len(a), len(b)) < 5 or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def find_conflict(groups: list[AnswerGroup]) -> list[AnswerGroup]:
    """The groups that disagree with the top one, or [] when the sources agree."""
    if len(groups) < 2 or groups[0].best.label == SENTENCE_LABEL:
        return []
    top = groups[0].best
    # Only values can contradict each other: two people named for a "who" question are
    # usually both right.
    if top.features["type_match"] < 1 or top.label not in VALUE_LABELS:
        return []
    rivals = [
        g
        for g in groups[1:]
        if g.best.label in VALUE_LABELS
        and g.best.features["type_match"] == 1
        # A rival from the same passage is another detail of it, not another account.
        and g.best.sentence.sentence.start != top.sentence.sentence.start
        and g.best.score >= max(MIN_CONFLICT_SCORE, RIVAL_SHARE * top.score)
        and float(g.best.sentence.sentence.vector @ top.sentence.sentence.vector) >= SAME_TOPIC
    ]
    return rivals[:1] and rivals
