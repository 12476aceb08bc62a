"""Index: the second step of citeqa's flow.

Stores what `ingest` produces (documents, chunks, sentences, vectors) and answers
`search` with fused dense (FAISS) and lexical (BM25) hits. `LocalIndex` keeps them in
immutable segments, so a write costs the size of the change, not of the corpus. The
service only sees the `Index` protocol in `base.py`, so another backend can replace
`LocalIndex` later.
"""

import citeqa.ingest.runtime  # noqa: F401  (first: the process's environment, see there)
