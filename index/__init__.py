"""Index: the second step of citeqa's flow.

Stores what `ingest` produces (documents, chunks, sentences, vectors) and answers
`search` with fused dense (FAISS) and lexical (BM25) hits. Two backends: `LocalIndex`
keeps them in immutable segments, so a write costs the size of the change, not of the
corpus; `MilvusIndex` in a Milvus server or Milvus Lite. The service only sees the `Index`
protocol in `base.py`, and `factory.py` is the one place that knows the backends.
"""

import citeqa.models.runtime  # noqa: F401  (first: the process's environment, see there)
