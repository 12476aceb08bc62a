"""Weighted reciprocal rank fusion of ranked lists.

Plain RRF treats the dense and lexical lists as equals; on news text BM25 is the stronger
ranker, so each list carries a weight (tuned on data, see `service.settings`).
"""

from __future__ import annotations

RRF_K = 60


def weighted_rrf(rankings: list[tuple[list[int], float]], k: int = RRF_K) -> dict[int, float]:
    """`rankings` holds (ids best first, weight) pairs; returns id -> fused score."""
    fused: dict[int, float] = {}
    for ids, weight in rankings:
        for rank, item in enumerate(ids):
            fused[item] = fused.get(item, 0.0) + weight / (k + rank + 1)
    return fused
