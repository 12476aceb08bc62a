"""Repeatable benchmarks of citeqa's foundation: `python -m bench.latency` (the `/ask`
query path) and `python -m bench.ingest` (building the index), or `make bench`.

Each run also measures a baseline in the same process (the bare embedder call, embedding
the same texts alone) and prints ratios against it: on a shared 2-core machine absolute
times swing with the load, the ratios much less.
"""

# Torch before faiss, whatever order a benchmark's imports are sorted in: embedding sets
# OpenMP's wait policy, which holds only if it is set before the first OpenMP runtime
# loads; with faiss first, every query spins several times longer on 2 cores.
import citeqa.ingest.embedding  # noqa: F401
