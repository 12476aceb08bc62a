"""The one lexical tokenizer: lowercase words, English stopwords out, Snowball stems.

BM25 indexing, BM25 queries and the service's lexical-overlap features all use it, so a
word always becomes the same token everywhere. It follows bm25s's own tokenizer (same
token pattern, stopwords removed before stemming) but is called per text on hot paths,
where bm25s's per-call setup would dominate.
"""

from __future__ import annotations

import re
from functools import cache

import Stemmer

from citeqa.models.runtime.nlp import stopwords as english_stopwords

_TOKEN = re.compile(r"(?u)\b\w\w+\b")


@cache
def _stemmer() -> Stemmer.Stemmer:
    return Stemmer.Stemmer("english")


def tokenize_one(text: str) -> list[str]:
    # spaCy's stopwords, not bm25s's short Lucene list: questions are full of "where",
    # "how", "many". Loaded on first use: spaCy takes a second to import.
    stopwords = english_stopwords()
    words = [w for w in _TOKEN.findall(text.lower()) if w not in stopwords]
    return _stemmer().stemWords(words)


def tokenize(texts: list[str]) -> list[list[str]]:
    return [tokenize_one(text) for text in texts]
