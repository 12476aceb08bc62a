"""Index: the second step of citeqa's flow.

Stores what `ingest` produces (documents, chunks, sentences, vectors) and answers
`search` with fused dense (FAISS) and lexical (bm25s) hits. The service only sees the
`Index` protocol in `base.py`, so another backend can replace `LocalIndex` later.
"""
