"""Resolve a follow-up question against the conversation so far.

"Where was he killed?" after "Who ordered the strike on Soleimani?" becomes "Where was
Soleimani killed?": a pronoun takes the most recent fitting name from earlier turns, and a
question with no name of its own borrows the last turn's names for retrieval.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy loads with the pipeline, not with this module (it imports torch)
    from spacy.tokens import Token

from citeqa.models.runtime.nlp import load_nlp
from citeqa.service.qa.query import Turn

_PERSON_PRONOUNS = {"he", "him", "she", "her", "his", "hers", "they", "them", "their"}
_THING_PRONOUNS = {"it", "its"}
_POSSESSIVE = {"his", "hers", "their", "its"}
_NAME_LABELS = {"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "EVENT"}
# "it" as the subject of these verbs is the event just talked about ("When did it happen?"),
# not a name to substitute: "When did Iran happen?" would search for nonsense. (Word forms,
# because the pipeline runs without a lemmatizer.)
_EVENT_VERBS = {
    "happen",
    "happens",
    "happened",
    "occur",
    "occurs",
    "occurred",
    "take",
    "takes",
    "took",
    "begin",
    "begins",
    "began",
    "start",
    "starts",
    "started",
    "end",
    "ends",
    "ended",
    "last",
    "lasts",
    "lasted",
}


def resolve(question: str, history: Sequence[Turn]) -> str:
    """`question` with its pronouns or missing subject filled from `history`."""
    if not history:
        return question
    doc = load_nlp()(question)
    if any(e.label_ in _NAME_LABELS for e in doc.ents):
        return question
    names = _names(history)
    if not names:
        return question
    for token in doc:
        word = token.lower_
        if word in _PERSON_PRONOUNS | _THING_PRONOUNS and not _is_event_it(token):
            name = _pick(names, person=word in _PERSON_PRONOUNS)
            # "her" is possessive when it stands before a noun ("her car").
            possessive = word in _POSSESSIVE or (word == "her" and token.dep_ == "poss")
            replacement = f"{name}'s" if possessive else name
            return question[: token.idx] + replacement + question[token.idx + len(token.text) :]
    return f"{question.rstrip()} ({names[0][0]})"


def _is_event_it(token: Token) -> bool:
    return token.lower_ == "it" and token.dep_ == "nsubj" and token.head.lower_ in _EVENT_VERBS


def _names(history: Sequence[Turn]) -> list[tuple[str, str]]:
    """(name, label) pairs from the latest turns, most recent first, each name once."""
    found: list[tuple[str, str]] = []
    nlp = load_nlp()
    for turn in reversed(history[-3:]):
        for text in (turn.question, turn.answer or ""):
            for ent in nlp(text[:1000]).ents:
                name = ent.text.removesuffix("'s").removesuffix("’s")
                if ent.label_ in _NAME_LABELS and name not in {n for n, _ in found}:
                    found.append((name, ent.label_))
        if found:
            break
    return found


def _pick(names: list[tuple[str, str]], person: bool) -> str:
    wanted = {"PERSON"} if person else _NAME_LABELS - {"PERSON"}
    return next((n for n, label in names if label in wanted), names[0][0])
