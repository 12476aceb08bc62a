"""Dense search over one segment's vectors: exact when small, IVF when large.

The choice is made by size when a segment is written and recorded in the manifest
(`DenseSpec`). An IVF segment's `nprobe` is tuned then, on its own vectors, to reach
TARGET_RECALL@10 against exact search; `bench/million.py` checks it with real questions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import faiss
import numpy as np

# Exact search scans every vector: one question over 30,000 rows took 2-5 ms here, over
# 100,000 12-14 ms, over 1,000,000 356 ms, while IVF over 1,000,000 took 0.8 ms at recall@10
# .98 (2 cores, 26 Nov 2026; bench/million.py). Below this size exact search is fast enough,
# costs nothing to build and is exactly right.
ANN_MIN_ROWS = 50_000
TARGET_RECALL = 0.95  # recall@10 against exact search (issue 11)
# A filtered search that allows at most this many rows of an IVF segment scores them all
# exactly: IVF probes only some cells and could miss rows a narrow filter allows.
EXACT_FILTER_ROWS = 20_000
VECTORS_FILE = "vectors.npy"
ANN_FILE = "ann.faiss"
_PROBES = (8, 16, 32, 64, 128, 256)
_TUNING_QUERIES = 200
_SEED = 13


@dataclass(frozen=True)
class DenseSpec:
    """How a segment's vectors are searched; saved in the manifest."""

    kind: str  # "exact" or "ivf"
    nlist: int = 0
    nprobe: int = 0
    recall_at_10: float | None = None  # measured when tuned

    def as_dict(self) -> dict:
        return asdict(self)


class DenseIndex:
    """Inner-product search over unit vectors; ids are the segment's row numbers."""

    def __init__(self, vectors: np.ndarray, spec: DenseSpec, ann: faiss.Index | None) -> None:
        self.spec = spec
        if ann is None:
            ann = faiss.IndexFlatIP(vectors.shape[1])
            ann.add(np.ascontiguousarray(vectors, dtype=np.float32))
            # A view of the flat index's own copy: the vectors are held in memory once.
            if ann.ntotal:
                vectors = faiss.rev_swig_ptr(ann.get_xb(), ann.ntotal * ann.d).reshape(-1, ann.d)
        self._ann = ann
        self.vectors = vectors  # for IVF, memory-mapped: only filtered searches read it

    @classmethod
    def build(cls, vectors: np.ndarray, folder: Path) -> DenseIndex:
        """Write `vectors` (and an IVF index if there are many) into `folder`."""
        np.save(folder / VECTORS_FILE, vectors.astype(np.float32, copy=False))
        if len(vectors) < ANN_MIN_ROWS:
            return cls(vectors, DenseSpec("exact"), None)
        ann, spec = _build_ivf(vectors)
        faiss.write_index(ann, str(folder / ANN_FILE))
        return cls(np.load(folder / VECTORS_FILE, mmap_mode="r"), spec, ann)

    @classmethod
    def load(cls, folder: Path, spec: DenseSpec) -> DenseIndex:
        vectors = np.load(folder / VECTORS_FILE, mmap_mode="r")
        ann = faiss.read_index(str(folder / ANN_FILE)) if spec.kind == "ivf" else None
        return cls(vectors, spec, ann)

    def search(
        self, vector: np.ndarray, k: int, allowed: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """The `k` best rows among `allowed` (a bool mask; None: all), and their scores."""
        rows = len(self.vectors)
        if not rows:
            return np.zeros(0, np.int64), np.zeros(0, np.float32)
        if allowed is not None and self.spec.kind == "ivf":
            chosen = np.flatnonzero(allowed)
            if len(chosen) <= EXACT_FILTER_ROWS:
                return _exact(self.vectors, chosen, vector, k)
        bits = None if allowed is None else np.packbits(allowed, bitorder="little")
        params = _params(self.spec, bits)
        scores, ids = self._ann.search(vector.reshape(1, -1), min(k, rows), params=params)
        found = ids[0] >= 0
        return ids[0][found], scores[0][found]


def _params(spec: DenseSpec, bits: np.ndarray | None) -> faiss.SearchParameters | None:
    # faiss reads the bitmap by pointer during the search: `bits` must outlive it, which
    # it does, held by the caller's frame.
    selector = None if bits is None else faiss.IDSelectorBitmap(len(bits), faiss.swig_ptr(bits))
    if spec.kind == "ivf":
        return faiss.SearchParametersIVF(nprobe=spec.nprobe, sel=selector)
    return None if selector is None else faiss.SearchParameters(sel=selector)


def _exact(
    vectors: np.ndarray, rows: np.ndarray, vector: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    scores = np.asarray(vectors[rows]) @ vector
    top = np.argsort(-scores)[:k]
    return rows[top], scores[top]


def _build_ivf(vectors: np.ndarray) -> tuple[faiss.Index, DenseSpec]:
    """IVF-Flat with faiss's rule of thumb for the cell count (4·√n) and the smallest
    nprobe that reaches TARGET_RECALL@10 on queries near the segment's own vectors."""
    n, dim = vectors.shape
    nlist = int(4 * np.sqrt(n))
    ivf = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
    rng = np.random.default_rng(_SEED)
    # k-means needs ~40 points per cell (faiss warns below 39); more only adds time.
    sample = vectors[np.sort(rng.choice(n, min(n, 64 * nlist), replace=False))]
    ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
    for first in range(0, n, 100_000):  # in slices: a memory-mapped file stays unread
        ivf.add(np.ascontiguousarray(vectors[first : first + 100_000], dtype=np.float32))
    queries = _tuning_queries(vectors, rng)
    exact = _exact_top10(vectors, queries)
    for nprobe in _PROBES:
        ivf.nprobe = nprobe
        _, found = ivf.search(queries, 10)
        recall = float(
            np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)])
        )
        if recall >= TARGET_RECALL:
            break
    return ivf, DenseSpec("ivf", nlist=nlist, nprobe=nprobe, recall_at_10=round(recall, 4))


def _tuning_queries(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stored vectors moved away from themselves (cosine ~0.7), as a question's vector
    sits near, not on, its passage's."""
    picked = np.asarray(vectors[rng.choice(len(vectors), _TUNING_QUERIES, replace=False)])
    noisy = picked + rng.normal(0, 1 / np.sqrt(picked.shape[1]), picked.shape)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def _exact_top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    flat = faiss.IndexFlatIP(vectors.shape[1])
    for first in range(0, len(vectors), 100_000):
        flat.add(np.ascontiguousarray(vectors[first : first + 100_000], dtype=np.float32))
    return flat.search(queries, 10)[1]
