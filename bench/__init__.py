"""Repeatable benchmarks of citeqa: one script per measure (`python -m bench.latency`,
`bench.peer`, ...; bench/README.md lists them), all run by `python -m bench.run`
(`make bench`, or `make bench-quick` for a short form).

Each run also measures a baseline in the same process (the bare embedder call, embedding
the same texts alone) and prints ratios against it: on a shared 2-core machine absolute
times swing with the load, the ratios much less.
"""
