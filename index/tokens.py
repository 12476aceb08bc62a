"""The one lexical tokenizer: lowercase, English stopwords out, Snowball stems.

BM25 indexing, BM25 queries and the service's lexical-overlap features all use it, so a
word always becomes the same token everywhere.
"""

from __future__ import annotations

from functools import cache

import bm25s
import Stemmer
from spacy.lang.en.stop_words import STOP_WORDS

# spaCy's list, not bm25s's short Lucene one: questions are full of "where", "how", "many".
_STOPWORDS = sorted(STOP_WORDS)


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize(texts: list[str]) -> list[list[str]]:
    return bm25s.tokenize(
        texts, stopwords=_STOPWORDS, stemmer=_stemmer(), return_ids=False, show_progress=False
    )


def tokenize_one(text: str) -> list[str]:
    return tokenize([text])[0]
