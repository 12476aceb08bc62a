"""Dense search over one segment's sentence vectors: exact when small, IVF when large.

A segment's rows for dense search are its chunks' sentences; a chunk scores as its best
sentence (`best_owners`). The embedder was fine-tuned on questions and the sentences
that answer them, and a chunk's own vector ranks it worse: dense recall@5 on SQuAD v1.1's
test questions .881 with chunk vectors, .928 by best sentence (bench/README.md,
"Performance III"). Ingest embeds only sentences.

The choice of exact or IVF is made by size when a segment is written and recorded in the
manifest (`DenseSpec`). An IVF segment keeps its vectors in 8 bits (faiss's scalar
quantiser): a million chunks hold about 4.2 million sentences, 6.4 GB in fp32 against
issue 11's 4 GB of memory. Its `nprobe` is tuned then, on its own vectors, to reach
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
# A chunk holds 4.2 sentences on average (SQuAD v1.1 dev, the default chunker): fetching
# this many sentences per chunk wanted yields enough distinct chunks in one search, most
# of the time; `best_owners` fetches more when it does not.
SENTENCES_PER_CHUNK = 4
VECTORS_FILE = "vectors.npy"
ANN_FILE = "ann.faiss"
# Cells per √rows. faiss's rule of thumb is 4, but k-means on 64 points a cell costs
# cells² and assigning the rows n·cells: at 250,000 chunks (1,000,000 sentences) 4,000
# cells built in 255 s and 2,000 in 144 s, with recall@10 on real questions .950 (nprobe
# 8) and .956 (nprobe 16); each probe scans twice the rows, 0.2 ms a question either way
# (bench/README.md, "Performance III").
CELLS_PER_ROOT = 2
# Real questions sit in denser neighbourhoods than the tuning queries, so a segment
# serves twice the nprobe they need: at 250,000 chunks (1,000,000 sentences, 2,000 cells)
# nprobe 8 reached recall@10 .978 on the tuning queries but .932 on SQuAD questions, and
# 16 reached .956 (bench/million.py's corpus, 5 Dec 2026; 0.19 against 0.21 ms a query).
QUESTION_PROBES = 2
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
    """Inner-product search over unit vectors; ids are the segment's sentence rows."""

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
        """Write `vectors` (and an IVF index if there are many) into `folder`. On disk they
        are fp16 (half the space; cosines move < 1e-3), read only by exact searches."""
        np.save(folder / VECTORS_FILE, vectors.astype(np.float16, copy=False))
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


def best_owners(
    index: DenseIndex, owners: np.ndarray, vector: np.ndarray, k: int, allowed: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """The `k` owners (chunk rows) whose best row (sentence) is nearest `vector`, best
    first, with that row's score; `owners[row]` is each row's owner, `allowed` a bool mask
    over owners (None: all)."""
    rows_allowed = None if allowed is None else allowed[owners]
    fetch = k * SENTENCES_PER_CHUNK
    while True:
        rows, scores = index.search(vector, fetch, rows_allowed)
        found, first = np.unique(owners[rows], return_index=True)
        # Fewer rows than fetched: there are no more to find.
        if len(found) >= k or len(rows) < fetch:
            # Rows come best first, so an owner's first row is its best.
            best = np.argsort(first)[:k]
            return found[best], scores[first[best]]
        fetch *= SENTENCES_PER_CHUNK


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
    """IVF with 8-bit vectors, CELLS_PER_ROOT·√n cells, and QUESTION_PROBES times the
    smallest nprobe that reaches TARGET_RECALL@10 on queries near the segment's own
    vectors."""
    n, dim = vectors.shape
    nlist = int(CELLS_PER_ROOT * np.sqrt(n))
    ivf = faiss.IndexIVFScalarQuantizer(
        faiss.IndexFlatIP(dim), dim, nlist, faiss.ScalarQuantizer.QT_8bit,
        faiss.METRIC_INNER_PRODUCT,
    )  # fmt: skip
    rng = np.random.default_rng(_SEED)
    # k-means needs ~40 points per cell (faiss warns below 39); more only adds time.
    sample = vectors[np.sort(rng.choice(n, min(n, 64 * nlist), replace=False))]
    ivf.train(np.ascontiguousarray(sample, dtype=np.float32))
    for first in range(0, n, 100_000):  # in slices: a memory-mapped file stays unread
        ivf.add(np.ascontiguousarray(vectors[first : first + 100_000], dtype=np.float32))
    queries = _tuning_queries(vectors, rng)
    exact = _exact_top10(vectors, queries)
    tuned = next((p for p in _PROBES if _recall(ivf, p, queries, exact) >= TARGET_RECALL), 0)
    nprobe = min(QUESTION_PROBES * tuned, _PROBES[-1]) if tuned else _PROBES[-1]
    recall = _recall(ivf, nprobe, queries, exact)
    return ivf, DenseSpec("ivf", nlist=nlist, nprobe=nprobe, recall_at_10=round(recall, 4))


def _recall(ivf: faiss.Index, nprobe: int, queries: np.ndarray, exact: np.ndarray) -> float:
    ivf.nprobe = nprobe
    _, found = ivf.search(queries, 10)
    return float(np.mean([len(set(a) & set(b)) / 10 for a, b in zip(found, exact, strict=True)]))


def _tuning_queries(vectors: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Stored vectors moved away from themselves (cosine ~0.7), as a question's vector
    sits near, not on, its passage's."""
    picked = np.asarray(vectors[rng.choice(len(vectors), _TUNING_QUERIES, replace=False)])
    noisy = picked + rng.normal(0, 1 / np.sqrt(picked.shape[1]), picked.shape)
    return (noisy / np.linalg.norm(noisy, axis=1, keepdims=True)).astype(np.float32)


def _exact_top10(vectors: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Each query's 10 nearest rows (in no order), scoring a slice of rows at a time: a
    flat index of every row would hold them all in fp32 (6.4 GB at a million chunks'
    sentences)."""
    best = np.zeros((len(queries), 0), np.int64)
    best_scores = np.zeros((len(queries), 0), np.float32)
    for first in range(0, len(vectors), 100_000):
        scores = queries @ np.asarray(vectors[first : first + 100_000], dtype=np.float32).T
        top = _top10(scores)
        best = np.hstack([best, top + first])
        best_scores = np.hstack([best_scores, np.take_along_axis(scores, top, 1)])
        kept = _top10(best_scores)
        best = np.take_along_axis(best, kept, 1)
        best_scores = np.take_along_axis(best_scores, kept, 1)
    return best


def _top10(scores: np.ndarray) -> np.ndarray:
    """Each row's 10 highest columns (all of them if fewer), in no order."""
    if scores.shape[1] <= 10:
        return np.arange(scores.shape[1])[None].repeat(len(scores), 0)
    return np.argpartition(-scores, 9, axis=1)[:, :10]
