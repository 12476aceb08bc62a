"""Search any `Index`: the question's terms, every retriever's ranking, their fusion.

The same steps for every backend, so a question ranks alike on each: the lexical terms
come from `index.tokens` with the corpus's spelling variants (`index.spelling`), each
retriever ranks with the filters applied, and `index.fusion` merges the rankings.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from citeqa.index.base import Index, SearchFilters, SearchHit, SearchQuery
from citeqa.index.fusion import fuse
from citeqa.index.lexical import idf
from citeqa.index.spelling import with_variants


def search(
    index: Index,
    question: str,
    vector: np.ndarray,
    k: int,
    filters: SearchFilters | None = None,
    weights: Mapping[str, float] | None = None,
) -> list[SearchHit]:
    """The `k` best chunks for `question`, fused from every retriever of `index` with
    `weights` by retriever name. SearchFilters restrict each ranking before fusion, so a filter
    never empties the top k."""
    query = SearchQuery(question, with_variants(question, index.known), vector)
    rankings = {r.name: r.search(query, k, filters) for r in index.retrievers}
    return fuse(rankings, weights or {})[:k]


def term_weights(index: Index, terms: Collection[str]) -> dict[str, float]:
    """Each term's IDF over the chunks, as BM25 weighs it; a term the corpus lacks is
    the rarest of all."""
    total = index.stats().chunks
    if not total:
        return dict.fromkeys(terms, 1.0)
    counts = index.frequencies(terms)
    return {t: idf(total, counts.get(t, 0)) for t in terms}
