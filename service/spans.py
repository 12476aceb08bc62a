"""What kind of answer a question wants, and the candidate spans that could be it.

`analyse_question` maps the wh-word (and for which/what, the noun after it) to the spaCy
entity labels that fit; `sentence_spans` draws entities and noun chunks from a sentence.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from citeqa.index.base import StoredChunk, StoredSentence
from citeqa.index.tokens import tokenize_one
from citeqa.ingest.models import Entity
from citeqa.ingest.nlp import load_nlp

PERSON_LIKE = frozenset({"PERSON", "ORG", "NORP"})
DATE_LIKE = frozenset({"DATE", "TIME"})
NUMBER_LIKE = frozenset({"CARDINAL", "QUANTITY", "MONEY", "PERCENT"})
PLACE_LIKE = frozenset({"GPE", "LOC", "FAC"})

# The noun after "which"/"what" says what kind of thing is wanted.
_NOUN_KINDS: dict[frozenset[str], frozenset[str]] = {
    DATE_LIKE: frozenset(
        [
            "year",
            "date",
            "day",
            "month",
            "time",
            "century",
            "decade",
            "hour",
            "week",
            "season",
            "era",
            "period",
        ]
    ),
    PLACE_LIKE: frozenset(
        [
            "city",
            "country",
            "place",
            "state",
            "region",
            "town",
            "location",
            "province",
            "area",
            "continent",
            "nation",
            "airport",
            "capital",
            "base",
            "island",
            "river",
            "street",
            "building",
            "site",
        ]
    ),
    PERSON_LIKE: frozenset(
        [
            "person",
            "man",
            "woman",
            "president",
            "leader",
            "general",
            "official",
            "commander",
            "minister",
            "secretary",
            "group",
            "organization",
            "organisation",
            "company",
            "militia",
            "agency",
            "team",
            "party",
            "university",
            "newspaper",
            "king",
            "queen",
            "emperor",
            "author",
            "writer",
            "player",
            "coach",
            "founder",
            "member",
        ]
    ),
    NUMBER_LIKE: frozenset(["number", "percentage", "amount", "price", "cost", "population"]),
}
_HOW_KINDS = {
    "many": NUMBER_LIKE,
    "much": frozenset({"MONEY", "QUANTITY", "PERCENT", "CARDINAL"}),
    "long": frozenset({"DATE", "TIME", "QUANTITY"}),
    "old": frozenset({"DATE", "CARDINAL"}),
    "far": frozenset({"QUANTITY"}),
    "big": frozenset({"QUANTITY", "CARDINAL"}),
    "large": frozenset({"QUANTITY", "CARDINAL"}),
}
WH_WORDS = ("who", "whom", "whose", "when", "where", "why", "how", "which", "what")
SENTENCE = frozenset()  # the answer is a whole sentence (why, how)


@dataclass(frozen=True)
class Question:
    text: str
    tokens: frozenset[str]  # stemmed content tokens, as the index tokenizes
    wh: str  # one of WH_WORDS, or "other"
    expected: frozenset[str]  # entity labels that fit; empty: a sentence or a noun phrase
    focus: str | None = None  # the noun after which/what, lowercased
    wants_sentence: bool = False
    # How telling each token is (IDF over the corpus), so "Kirkuk" outweighs "said".
    weights: dict[str, float] = field(default_factory=dict)


def analyse_question(text: str) -> Question:
    doc = load_nlp()(text)
    words = [t.lower_ for t in doc]
    wh = next((w for w in words if w in WH_WORDS), "other")
    after = words[words.index(wh) + 1] if wh in words[:-1] else ""
    focus = _focus_noun(doc, wh)
    expected, wants_sentence = _expected(wh, after, focus)
    return Question(
        text=text,
        tokens=frozenset(tokenize_one(text)),
        wh=wh,
        expected=expected,
        focus=focus,
        wants_sentence=wants_sentence,
    )


def _focus_noun(doc, wh: str) -> str | None:
    if wh not in {"which", "what", "how"}:
        return None
    seen_wh = False
    for token in doc:
        if token.lower_ == wh:
            seen_wh = True
        elif seen_wh and token.pos_ in {"NOUN", "PROPN"}:
            return token.lower_
        elif seen_wh and token.pos_ in {"VERB", "AUX"}:
            return None
    return None


def _expected(wh: str, after: str, focus: str | None) -> tuple[frozenset[str], bool]:
    if wh in {"who", "whom", "whose"}:
        return PERSON_LIKE, False
    if wh == "when":
        return DATE_LIKE, False
    if wh == "where":
        return PLACE_LIKE, False
    if wh == "why":
        return SENTENCE, True
    if wh == "how":
        return (_HOW_KINDS[after], False) if after in _HOW_KINDS else (SENTENCE, True)
    if wh in {"which", "what"} and focus:
        for labels, nouns in _NOUN_KINDS.items():
            if focus in nouns or focus.rstrip("s") in nouns:
                return labels, False
    return frozenset(), False


def sentence_spans(chunk: StoredChunk, sentence: StoredSentence) -> list[Entity]:
    """Entities and noun chunks lying wholly inside `sentence`, without exact repeats."""
    seen: set[tuple[int, int]] = set()
    spans = []
    for entity in sorted(chunk.entities, key=lambda e: (e.label == "NP", e.start)):
        key = (entity.start, entity.end)
        if sentence.start <= entity.start and entity.end <= sentence.end and key not in seen:
            seen.add(key)
            spans.append(entity)
    return spans
