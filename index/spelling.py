"""The one rule for spelling variants: two names one letter apart are one name.

News sources spell the same transliterated name differently (Qasem/Qassem,
Kataib/Khataib). Search adds the corpus's own variants of a question's names to its
lexical terms, and answer grouping (`citeqa.service.qa.consolidation`) treats answers that differ
only so as one answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from citeqa.index.tokens import tokenize_one

_ALPHABET = "abcdefghijklmnopqrstuvwxyz"
# Shorter words are too often distinct words one letter apart (cat/car, Iran/Iraq).
MIN_LENGTH = 5


def one_edit(word: str) -> set[str]:
    """Spellings one insertion, deletion or substitution away from `word`."""
    splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
    deletes = {a + b[1:] for a, b in splits if b}
    replaces = {a + c + b[1:] for a, b in splits if b for c in _ALPHABET}
    inserts = {a + c + b for a, b in splits for c in _ALPHABET}
    return (deletes | replaces | inserts) - {word}


def one_edit_apart(a: str, b: str) -> bool:
    """True when `a` and `b`, both long enough, differ by one letter."""
    if min(len(a), len(b)) < MIN_LENGTH or abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) == 1
    short, long_ = sorted((a, b), key=len)
    return any(long_[:i] + long_[i + 1 :] == short for i in range(len(long_)))


def with_variants(question: str, known: Callable[[Collection[str]], set[str]]) -> list[str]:
    """The question's lexical terms, plus the spellings one letter away from its
    capitalised names that `known` (the corpus) holds, which BM25 would otherwise miss."""
    terms = tokenize_one(question)
    names = set(tokenize_one(" ".join(w for w in question.split() if w[:1].isupper())))
    wanted = {
        variant
        for term in terms
        if term in names and len(term) >= MIN_LENGTH
        for variant in one_edit(term)
    } - set(terms)
    return terms + sorted(known(wanted)) if wanted else terms
