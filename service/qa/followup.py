"""Resolve a follow-up question against the conversation so far.

Only a question that needs its history is rewritten: one with a pronoun ("Where was he
killed?"), with no subject of its own ("How many landed inside?"), or that goes on from
the last question ("What about Mughniyeh?", "And when?"). A question that stands alone
("How much did oil prices rise after the strike?") is searched exactly as asked, whatever
was asked before it.

"Where was he killed?" after "Who ordered the strike on Soleimani?" becomes "Where was
Soleimani killed?": a pronoun takes the most recent fitting name from earlier turns; a
question with no name or noun of its own borrows the last turn's names for retrieval, in
parentheses; "What about X?" and "And X?" are the last question asked of X instead.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy loads with the pipeline, not with this module (it imports torch)
    from spacy.tokens import Doc, Span, Token

from citeqa.models.runtime.nlp import load_nlp
from citeqa.service.qa.query import Turn

_PERSON_PRONOUNS = {"he", "him", "she", "her", "his", "hers", "they", "them", "their"}
_THING_PRONOUNS = {"it", "its"}
_POSSESSIVE = {"his", "hers", "their", "its"}
_NAME_LABELS = {"PERSON", "ORG", "NORP", "GPE", "LOC", "FAC", "EVENT"}
# Words that make a noun of their own: a question with none ("How many landed inside?",
# "Why?") leaves its subject to the conversation.
_NOUNS = {"NOUN", "PROPN"}
# A question that goes on from the last one: "What about the base?", "And when?".
_GOES_ON = re.compile(
    r"^\s*(?P<opener>what about|how about|and)\s+(?P<rest>.*?\w.*?)\s*$", re.IGNORECASE
)
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
    """`question` as it is searched: unchanged when it stands alone, else with its
    pronouns, its missing subject or its missing question filled from `history`."""
    if not history:
        return question
    going_on = _GOES_ON.match(question)
    if going_on and not _is_clause(going_on["rest"]):
        return _go_on(going_on["rest"], history)
    if going_on and going_on["opener"].lower() == "and":  # "And who met him?"
        rest = going_on["rest"]
        return resolve(rest[0].upper() + rest[1:], history)
    doc = load_nlp()(question)
    if not _needs_history(doc):
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


def _needs_history(doc: Doc) -> bool:
    """A question with a name of its own stands alone; so does one with nouns of its own
    and nothing that points back (a pronoun, "there")."""
    if any(e.label_ in _NAME_LABELS for e in doc.ents):
        return False
    points_back = any(_points_back(token) for token in doc)
    return points_back or not any(token.pos_ in _NOUNS for token in doc)


def _points_back(token: Token) -> bool:
    word = token.lower_
    # "there" as a place ("wounded there"), not as in "Were there any?" (tagged EX).
    return word in _PERSON_PRONOUNS | _THING_PRONOUNS or (word == "there" and token.tag_ == "RB")


def _is_clause(words: str) -> bool:
    """Whether `words` have a verb: "who met him" is a question, "the base" is not."""
    return any(token.pos_ in {"VERB", "AUX"} for token in load_nlp()(words))


def _go_on(rest: str, history: Sequence[Turn]) -> str:
    """ "What about X?" / "And X?": the last question asked again of X (a name or a noun
    phrase in place of its own), or with X's question word ("And when?")."""
    nlp = load_nlp()
    doc = nlp(rest)
    asked = nlp(history[-1].question)
    x = rest.rstrip(" ?")
    wh = _wh_phrase(asked)
    if len(doc) and doc[0].tag_ in {"WRB", "WP", "WDT"} and wh is not None:  # "And when?"
        return _replace(asked, wh, x[0].upper() + x[1:])
    target = _same_kind(asked, doc) or _last_noun_phrase(asked)
    if target is None:
        return f"{history[-1].question.rstrip()} ({x})"
    return _replace(asked, target, x)


def _wh_phrase(doc: Doc) -> Span | None:
    """The question words a question opens with: "Where", "How many", "Which base"."""
    if not len(doc) or doc[0].tag_ not in {"WRB", "WP", "WDT", "WP$"}:
        return None
    end = 2 if len(doc) > 1 and doc[0].lower_ == "how" and doc[1].tag_ in {"JJ", "RB"} else 1
    return doc[:end]


def _same_kind(asked: Doc, x: Doc) -> Span | None:
    """The name in `asked` of the same kind as X's (a person for a person)."""
    labels = {e.label_ for e in x.ents if e.label_ in _NAME_LABELS}
    return next((e for e in asked.ents if e.label_ in labels), None)


def _last_noun_phrase(asked: Doc) -> Span | None:
    chunks = [c for c in asked.noun_chunks if c.root.pos_ in _NOUNS]
    return chunks[-1] if chunks else None


def _replace(doc: Doc, span: Span, words: str) -> str:
    text = doc.text
    return text[: span.start_char] + words + text[span.end_char :]


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
