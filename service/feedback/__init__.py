"""Feedback on answers: the HTTP contract of `POST /feedback` (contract.py) and the SQLite
store it writes and `citeqa feedback` reads (store.py)."""
