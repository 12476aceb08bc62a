"""What kind of answer a question asks for, and what kind of thing a span is.

A "where" question answered with "decision-maker", or a "when" question with a noun, is
wrong whatever the reader's score. The confidence model (models/reader/confidence.py) gets the
agreement of the two as features: the question's kind from its wh-word, the span's from
spaCy's entities in the span's sentence (the pipeline service/qa/followup.py already loads).
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy loads with the pipeline, not with this module (it imports torch)
    from spacy.language import Language

QUESTION_TYPES = ("who", "when", "where", "how_many", "why", "how", "which", "what", "other")

# The first wh-word decides the type; "how many/much" asks for a quantity, not a manner.
_WH = re.compile(r"\b(how many|how much|whom|whose|who|when|where|why|how|which|what)\b")
_WH_TYPE = {"how many": "how_many", "how much": "how_many", "whom": "who", "whose": "who"}

# "What year ...", "which city ...": a what/which question that names the kind it wants.
_NAMED_KIND = [
    (re.compile(r"\b(what|which) (year|month|day|date|time|century|decade)\b"), {"date"}),
    (re.compile(r"\b(what|which) (city|country|town|state|province|nation)\b"), {"geopolitical"}),
    (re.compile(r"\b(what|which) (place|region|area|building|base|airport)\b"),
     {"place", "geopolitical"}),
    (re.compile(r"\b(how (long|old|far|big|large|high|tall)|what (number|percentage))\b"),
     {"number"}),
]  # fmt: skip
# Kinds a question type asks for; a type not listed asks for no particular kind. A
# country or city ("geopolitical", spaCy's GPE) can be who acts as well as where:
# "Who killed Soleimani?" "The United States."
EXPECTED = {
    "who": frozenset({"person", "organisation", "geopolitical"}),
    "when": frozenset({"date"}),
    "where": frozenset({"geopolitical", "place", "organisation"}),
    "how_many": frozenset({"number"}),
}
# spaCy's (OntoNotes) entity labels as the kinds above; anything else is "other".
SPAN_KINDS = {
    "PERSON": "person",
    "ORG": "organisation",
    "NORP": "organisation",
    "GPE": "geopolitical",
    "LOC": "place",
    "FAC": "place",
    "DATE": "date",
    "TIME": "date",
    "CARDINAL": "number",
    "QUANTITY": "number",
    "MONEY": "number",
    "PERCENT": "number",
    "ORDINAL": "number",
}
# Only the entity recogniser is needed: the others cost time and change no entity. That
# includes the shared tok2vec, which feeds the tagger and parser only (the recogniser has
# its own): the same 618 entities in 200 sample sentences, 6.7 ms a sentence, not 9.2.
_UNUSED = ["tok2vec", "parser", "tagger", "attribute_ruler"]


def question_type(question: str) -> str:
    """The question's wh-word as one of `QUESTION_TYPES`."""
    match = _WH.search(question.lower())
    if match is None:
        return "other"
    return _WH_TYPE.get(match.group(1), match.group(1))


def expected_kinds(question: str) -> frozenset[str]:
    """The kinds of span that can answer `question`; empty when any kind can."""
    lowered = question.lower()
    for pattern, kinds in _NAMED_KIND:
        if pattern.search(lowered):
            return frozenset(kinds)
    return EXPECTED.get(question_type(question), frozenset())


@dataclass(frozen=True)
class Located:
    """A span inside a text (its sentence): what `SpanTyper.kinds` types."""

    text: str
    start: int  # of the span, in `text`
    end: int


class SpanTyper:
    """Each span's kind: the label of the entity covering most of it, in its sentence."""

    def __init__(self, nlp: Language) -> None:
        self.nlp = nlp
        # One spaCy pipeline serves every request; its `pipe` is not documented as safe
        # to call from two threads at once.
        self._lock = threading.Lock()

    def kinds(self, spans: list[Located]) -> list[str]:
        texts = list(dict.fromkeys(s.text for s in spans))
        with self._lock:
            docs = dict(zip(texts, self.nlp.pipe(texts, disable=_UNUSED), strict=True))
        return [_kind(docs[s.text].ents, s.start, s.end) for s in spans]


def _kind(entities, start: int, end: int) -> str:
    """The kind of the entity overlapping most of [start, end), if it covers half of it."""
    best, covered = "other", 0
    for entity in entities:
        overlap = min(end, entity.end_char) - max(start, entity.start_char)
        if overlap > covered:
            best, covered = SPAN_KINDS.get(entity.label_, "other"), overlap
    return best if 2 * covered >= end - start else "other"


def agreement(expected: frozenset[str], kind: str) -> dict[str, float]:
    """The confidence model's two answer-type features."""
    if not expected:
        return {"type_match": 0.0, "type_mismatch": 0.0}
    match = kind in expected
    return {"type_match": float(match), "type_mismatch": float(not match)}
