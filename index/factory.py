"""Open the index the settings name: the one place that knows the backends.

`service/`, `eval/` and the CLI call `open_index` and see only the `Index` protocol.
A new backend is a module in `index/` and a branch here.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from citeqa.index import versions
from citeqa.index.base import Index, IndexConfig, IndexUnreachableError

BackendName = Literal["local", "milvus"]
# Milvus Lite's file, inside the index folder, when no server is named.
LITE_FILE = "milvus.db"


@dataclass(frozen=True)
class Backend:
    """Which backend, and where: `path` is the local index's folder (and Milvus Lite's
    default home); `milvus_uri` a Milvus Lite file or a server such as
    http://host:19530, with its `milvus_token`; `collection` the Milvus collections'
    name prefix."""

    name: BackendName = "local"
    path: Path = Path("index")
    milvus_uri: str | None = None
    milvus_token: str | None = None
    collection: str = "citeqa"

    @property
    def uri(self) -> str:
        """Milvus's address: the one given, or Milvus Lite's file in the index folder."""
        return self.milvus_uri or str(self.path / LITE_FILE)

    def describe(self) -> str:
        """Where the index is, as a user would name it."""
        return f"Milvus {self.uri} ({self.collection})" if self.name == "milvus" else str(self.path)


def format_version(backend: Backend) -> int:
    """The layout an index of this backend is written in, for IndexConfig."""
    if backend.name == "milvus":
        return _milvus().FORMAT_VERSION
    return versions.FORMAT_VERSION


def index_config(backend: Backend, model: str, dim: int, chunker: dict) -> IndexConfig:
    return IndexConfig(model, dim, chunker, format_version(backend))


def open_index(backend: Backend, config: IndexConfig, reuse: Index | None = None) -> Index:
    """The index `backend` names, built with `config`; `reuse`, an index open earlier on
    the same backend, lends it what both share (segments, or the connection)."""
    if backend.name == "milvus":
        milvus = _milvus()
        if backend.milvus_uri is None:
            backend.path.mkdir(parents=True, exist_ok=True)
        address = milvus.MilvusAddress(backend.uri, backend.collection, backend.milvus_token)
        shared = reuse if isinstance(reuse, milvus.MilvusIndex) else None
        return milvus.MilvusIndex.open(address, config, shared)
    # Imported here too: its BM25 and FAISS load numpy's kernels and spaCy's stopwords,
    # which commands that open no index (`citeqa --help`) should not wait for.
    from citeqa.index.local import LocalIndex

    return LocalIndex.open(backend.path, config, reuse if isinstance(reuse, LocalIndex) else None)


def _milvus():
    """index/milvus.py, imported only when asked for: pymilvus takes half a second to
    import, and it comes with the `milvus` extra, which a plain install leaves out."""
    try:
        from citeqa.index import milvus
    except ModuleNotFoundError as missing:
        if missing.name not in {"pymilvus", "milvus_lite", "grpc"}:
            raise
        raise IndexUnreachableError(
            "the Milvus backend is not installed: pip install 'citeqa[milvus]'"
        ) from None
    return milvus
