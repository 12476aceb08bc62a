"""Weighted reciprocal rank fusion: one ranked list from each retriever's.

Plain RRF treats the dense and lexical lists as equals; on news text BM25 is the stronger
ranker, so each list carries a weight (tuned on data, see `service.settings`). Fusion
works on ranks alone, so it does not care which backend ranked, nor how it scores.
"""

from __future__ import annotations

from collections.abc import Mapping

from citeqa.index.base import Scored, SearchHit

# RRF's constant, from Cormack et al. 2009; Milvus's RRFRanker defaults to it too.
RRF_K = 60


def weighted_rrf(rankings: list[tuple[list[int], float]], k: int = RRF_K) -> dict[int, float]:
    """`rankings` holds (ids best first, weight) pairs; returns id -> fused score."""
    fused: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, item in enumerate(ids):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank + 1)
    return fused


def fuse(rankings: Mapping[str, list[Scored]], weights: Mapping[str, float]) -> list[SearchHit]:
    """One hit per chunk any retriever found, best fused score first; each keeps its rank
    and score from every retriever that found it. A retriever without a weight gets 1."""
    fused = weighted_rrf(
        [([s.chunk_id for s in found], weights.get(name, 1.0)) for name, found in rankings.items()]
    )
    hits = {chunk_id: SearchHit(chunk_id, score) for chunk_id, score in fused.items()}
    for name, found in rankings.items():
        for rank, scored in enumerate(found):
            hits[scored.chunk_id].ranks[name] = rank
            hits[scored.chunk_id].scores[name] = scored.score
    return sorted(hits.values(), key=lambda h: -h.score)
