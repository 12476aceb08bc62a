"""Ingest: the first step of citeqa's flow.

files on disk -> `Document` (original text kept byte-for-byte, boilerplate marked as
excluded spans) -> `Chunk`s with exact character offsets, their sentences,
and embeddings. The `index` package stores what this package produces.
"""

import citeqa.models.runtime  # noqa: F401  (first: the process's environment, see there)
