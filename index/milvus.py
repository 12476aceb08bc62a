"""`MilvusIndex`: the `Index` on Milvus, a cluster or Milvus Lite in a local file.

Three collections, named from one prefix:

    <prefix>_chunks     a chunk per row: its text, its terms (`index.tokens`, space-joined)
                        feeding a BM25 Function into a sparse field, and the document
                        fields filters need
    <prefix>_sentences  a sentence per row: its chunk, its offsets, its vector (HNSW, inner
                        product) and the document fields filters need. Dense search ranks
                        a chunk by its best sentence (index.dense says why); the vectors
                        are also read back with the chunk (the stored contract)
    <prefix>_documents  each document's text in parts (Milvus caps a string at 64 KiB),
                        its metadata and checksum

BM25 indexes citeqa's own terms, not the raw text: the standard analyzer only splits
them on spaces again, so a word is the same token here as in the local index, whose
stemmer Milvus Lite lacks. Every row carries its document's checksum and every id is a
hash of (document, checksum, position): a changed document is written beside the old
one and the old one is deleted after, so a failed write never loses the old version, and
writers on other machines never collide. Milvus has no transactions: between `save`'s
upserts and its deletes a reader may see both versions of a changed document.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable, Collection, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any, TypeVar

import grpc
import numpy as np
from pymilvus import (
    CollectionSchema,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    MilvusException,
)

from citeqa.index.base import (
    DocumentRecord,
    IndexConfig,
    IndexMismatchError,
    IndexStats,
    IndexUnreachableError,
    Ranking,
    Retriever,
    Scored,
    SearchFilters,
    SearchQuery,
    StoredChunk,
    StoredSentence,
)
from citeqa.index.lexical import K1, B
from citeqa.index.tokens import tokenize_one
from citeqa.ingest.models import Chunk, Document, DocumentMeta, ExcludedSpan, Sentence

T = TypeVar("T")
log = logging.getLogger("citeqa")
# pymilvus logs each failed call of a client that was connected, its traceback included,
# on a stderr handler of its own. citeqa turns those failures into its own errors, which
# say what is wrong, so its lines would only repeat them: a traceback per request, outside
# the JSON log, while Milvus is down; one above `citeqa ingest`'s message if it goes down
# during the run.
logging.getLogger("pymilvus").setLevel(logging.CRITICAL)

# The layout of the three collections; another one needs a rebuild (or an export). 2:
# dense search over the sentences, which carry the filter fields; chunks have no vector.
FORMAT_VERSION = 2
CONFIG_PROPERTY = "citeqa.config"
# Milvus caps a VARCHAR at 65,535 bytes, and UTF-8 takes up to 4 bytes a character.
MAX_TEXT_CHARS = 16_000
MAX_VARCHAR = 65_535
ID_BYTES = 1024  # doc_id, source: more than any file name or API id (service.schemas)
BATCH_ROWS = 500  # rows per upsert, and per page of a scan
# Documents per batch of `export`: their parts come back in one query, whose window stops
# at 16,384 rows, so 100 documents of up to 2.6 MB each on average.
EXPORT_DOCUMENTS = 100
KNOWN_ROWS = 100  # chunks read per round of `known`

# The index parameters, all in one place. A Milvus cluster builds them as given; Milvus
# Lite ignores M, efConstruction, ef, bm25_k1 and bm25_b and uses its own defaults
# (docs/operations.md "Milvus"). BM25's k1 and b match the local index's (index.lexical).
DENSE_INDEX = {
    "index_type": "HNSW",
    "metric_type": "IP",
    "params": {"M": 16, "efConstruction": 200},
}
DENSE_SEARCH = {"metric_type": "IP", "params": {"ef": 128}}
BM25_INDEX = {
    "index_type": "SPARSE_INVERTED_INDEX",
    "metric_type": "BM25",
    "params": {"bm25_k1": K1, "bm25_b": B},
}
BM25_SEARCH = {"metric_type": "BM25"}
# Document vectors are never searched (Milvus only wants one per collection): the
# cheapest index.
STORED_INDEX = {"index_type": "FLAT", "metric_type": "IP"}


@dataclass(frozen=True)
class MilvusAddress:
    """Where the collections live: `uri` is a Milvus Lite file (./milvus.db) or a server
    (http://host:19530), with its `token` when it asks for one."""

    uri: str
    collection: str
    token: str | None = None


class MilvusIndex:
    """The `Index` on Milvus. Open with `MilvusIndex.open(address, config)`."""

    def __init__(self, client: MilvusClient, address: MilvusAddress, config: IndexConfig) -> None:
        self.config = config
        self.chunks_name = f"{address.collection}_chunks"
        self.sentences_name = f"{address.collection}_sentences"
        self.documents_name = f"{address.collection}_documents"
        names = (self.documents_name, self.sentences_name, self.chunks_name)
        self.client = _Client(client, address.uri, names)
        self._pending = _Pending()

    @classmethod
    def open(
        cls, address: MilvusAddress, config: IndexConfig, reuse: MilvusIndex | None = None
    ) -> MilvusIndex:
        """Connect (sharing `reuse`'s connection) and create the collections if missing.
        Raises IndexMismatchError when they were built with another model, chunker or
        layout, and IndexUnreachableError when Milvus cannot be reached."""
        try:
            client = (
                reuse.client.raw if reuse else MilvusClient(address.uri, token=address.token or "")
            )
            index = cls(client, address, config)
            index._prepare()
        except MilvusException as error:
            raise IndexUnreachableError(f"Milvus at {address.uri}: {error.message}") from None
        return index

    def _prepare(self) -> None:
        """Create what is missing, then check what was built. Workers starting together
        may race to create a collection: losing that race is fine."""
        dim, config = self.config.dim, {CONFIG_PROPERTY: json.dumps(asdict(self.config))}
        for name, schema in (
            (self.documents_name, _documents_schema(dim)),
            (self.sentences_name, _sentences_schema(dim)),
            (self.chunks_name, _chunks_schema()),
        ):
            if not self.client.has_collection(name):
                try:
                    self._create(name, schema, config)
                except MilvusException:
                    if not self.client.has_collection(name):
                        raise
        properties = self.client.describe_collection(self.chunks_name).get("properties", {})
        built = json.loads(properties.get(CONFIG_PROPERTY, "null"))
        if built != asdict(self.config):
            raise IndexMismatchError(
                f"The Milvus collections {self.chunks_name} and its siblings were built with "
                f"{built}, but this citeqa uses {asdict(self.config)}. Drop them, or use "
                "another CITEQA_MILVUS_COLLECTION, and ingest again."
            )
        # Searchable once loaded: created collections are, reopened ones are not yet.
        for name in (self.documents_name, self.sentences_name, self.chunks_name):
            self.client.load_collection(name)

    def _create(self, name: str, schema: _Schema, properties: dict[str, str]) -> None:
        params = self.client.prepare_index_params()
        for field_name, spec in schema.indexes.items():
            params.add_index(field_name, **spec)
        # Strong: a search sees every write saved before it, as with the local index.
        self.client.create_collection(
            name,
            schema=schema.schema,
            index_params=params,
            consistency_level="Strong",
            properties=properties,
        )

    # -- reading -------------------------------------------------------------------------

    @property
    def retrievers(self) -> tuple[Retriever, ...]:
        return (Ranking("bm25", self._search_bm25), Ranking("dense", self._search_dense))

    def _search_bm25(
        self, query: SearchQuery, k: int, filters: SearchFilters | None
    ) -> list[Scored]:
        """Milvus's BM25 over the chunks' terms. Its scores are Milvus's own (Lite returns
        them negated): only the order counts."""
        if not query.terms:
            return []
        terms = " ".join(query.terms)
        return _search(self, self.chunks_name, terms, "sparse", BM25_SEARCH, k, filters)

    def _search_dense(
        self, query: SearchQuery, k: int, filters: SearchFilters | None
    ) -> list[Scored]:
        """Milvus's HNSW search of the sentence vectors, by inner product, grouped by
        chunk: each chunk once, scored by its best sentence."""
        vector = _floats(query.vector)
        return _search(
            self, self.sentences_name, vector, "vector", DENSE_SEARCH, k, filters,
            group_by_field="chunk_id", group_size=1,
        )  # fmt: skip

    def check_room(self, text_chars: int) -> None:
        """Nothing to check here: the Milvus server keeps the data, and refuses a write
        it has no room for."""

    def is_current(self) -> bool:
        return True  # no versions: every read sees the last save

    def frequencies(self, terms: Collection[str]) -> dict[str, int]:
        return {t: self._count(self.chunks_name, _text_match([t])) for t in terms}

    def known(self, terms: Collection[str]) -> set[str]:
        """Rounds of one BM25 search for all the terms still unseen (8x faster than a
        TEXT_MATCH filter on Lite): each round finds at least one, and most questions
        need one round."""
        unseen, found = set(terms), set()
        while unseen:
            hits = self.client.search(
                self.chunks_name,
                data=[" ".join(sorted(unseen))],
                anns_field="sparse",
                limit=KNOWN_ROWS,
                search_params=BM25_SEARCH,
                output_fields=["terms"],
            )
            seen = {t for hit in hits[0] for t in hit["entity"]["terms"].split()} & unseen
            if not seen:
                break
            found |= seen
            unseen -= seen
        return found

    def chunks(self, chunk_ids: list[int]) -> list[StoredChunk]:
        if not chunk_ids:
            return []
        ids = _in("chunk_id", chunk_ids)
        rows = self.client.query(
            self.chunks_name, filter=ids, output_fields=["doc_id", "start", "end", "text"]
        )
        found = {
            r["chunk_id"]: StoredChunk(r["chunk_id"], r["doc_id"], r["start"], r["end"], r["text"])
            for r in rows
        }
        sentences = self.client.query(
            self.sentences_name, filter=ids, output_fields=["chunk_id", "start", "end", "vector"]
        )
        for row in sorted(sentences, key=lambda r: (r["chunk_id"], r["start"])):
            chunk = found[row["chunk_id"]]
            text = chunk.text[row["start"] - chunk.start : row["end"] - chunk.start]
            vector = np.asarray(row["vector"], dtype=np.float32)
            chunk.sentences.append(StoredSentence(row["start"], row["end"], text, vector))
        return [found[i] for i in chunk_ids if i in found]

    def document(self, doc_id: str) -> DocumentRecord | None:
        documents = self._originals([doc_id])
        return DocumentRecord.of(documents[0]) if documents else None

    def metas(self, doc_ids: Collection[str]) -> dict[str, DocumentMeta]:
        # Part 0 of every document holds its metadata: no text is read. A version being
        # written holds the same metadata as the one it replaces, or its own.
        if not doc_ids:
            return {}
        rows = self.client.query(
            self.documents_name,
            filter=f"part == 0 and {_in('doc_id', sorted(doc_ids))}",
            output_fields=["doc_id", "meta"],
        )
        return {r["doc_id"]: _meta(r["meta"]) for r in rows}

    def documents(self) -> list[DocumentRecord]:
        heads = self._scan(self.documents_name, "part == 0", ["doc_id", "meta", "checksum"])
        records = [DocumentRecord(r["doc_id"], "", _meta(r["meta"]), r["checksum"]) for r in heads]
        return sorted(records, key=lambda r: r.doc_id)

    def checksums(self) -> dict[str, str]:
        heads = self._scan(self.documents_name, "part == 0", ["doc_id", "checksum"])
        return {r["doc_id"]: r["checksum"] for r in heads}

    def stats(self) -> IndexStats:
        return IndexStats(
            documents=self._count(self.documents_name, "part == 0"),
            chunks=self._count(self.chunks_name, ""),
            sentences=self._count(self.sentences_name, ""),
            model=self.config.model,
            version=None,
        )

    def export(self) -> Iterator[tuple[list[Document], list[Chunk]]]:
        doc_ids = sorted(self.checksums())
        for first in range(0, len(doc_ids), EXPORT_DOCUMENTS):
            documents = self._originals(doc_ids[first : first + EXPORT_DOCUMENTS])
            yield documents, self._chunks_of(documents)

    def _originals(self, doc_ids: list[str]) -> list[Document]:
        """The documents, their parts joined; while a write is half done, the version
        whose parts are all there."""
        rows = self.client.query(
            self.documents_name,
            filter=_in("doc_id", doc_ids),
            output_fields=["doc_id", "checksum", "part", "parts", "text", "meta"],
        )
        versions: dict[tuple[str, str], list[dict]] = {}
        for row in rows:
            versions.setdefault((row["doc_id"], row["checksum"]), []).append(row)
        documents = {}
        for (doc_id, checksum), parts in versions.items():
            if len(parts) == parts[0]["parts"]:
                parts.sort(key=lambda r: r["part"])
                meta = parts[0]["meta"]
                excluded = [ExcludedSpan(*span) for span in meta["excluded"]]
                text = "".join(p["text"] for p in parts)
                documents[doc_id] = Document(doc_id, text, checksum, _meta(meta), excluded)
        return [documents[i] for i in doc_ids if i in documents]

    def _chunks_of(self, documents: list[Document]) -> list[Chunk]:
        """The documents' chunks with their sentences, vectors included, read by paging
        (a query's window stops at 16,384 rows)."""
        versions = " or ".join(_version(d.doc_id, d.checksum) for d in documents)
        rows = self._scan(self.chunks_name, versions, ["doc_id", "start", "end", "text"])
        sentences: dict[int, list[Sentence]] = {}
        found = self._scan(self.sentences_name, versions, ["chunk_id", "start", "end", "vector"])
        for row in sorted(found, key=lambda r: r["start"]):
            vector = np.asarray(row["vector"], dtype=np.float32)
            sentence = Sentence(row["start"], row["end"], "", vector)
            sentences.setdefault(row["chunk_id"], []).append(sentence)
        chunks = []
        for row in sorted(rows, key=lambda r: (r["doc_id"], r["start"])):
            own = sentences.get(row["chunk_id"], [])
            for sentence in own:
                sentence.text = row["text"][
                    sentence.start - row["start"] : sentence.end - row["start"]
                ]
            chunks.append(Chunk(row["start"], row["end"], row["doc_id"], row["text"], own))
        return chunks

    def _count(self, collection: str, expression: str) -> int:
        rows = self.client.query(collection, filter=expression, output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _scan(self, collection: str, expression: str, fields: list[str]) -> list[dict]:
        """Every row matching `expression`, read a page at a time; read again from the
        start when the collections had to be loaded again."""

        def scan() -> list[dict]:
            pages = self.client.raw.query_iterator(
                collection, batch_size=BATCH_ROWS, filter=expression, output_fields=fields
            )
            rows: list[dict] = []
            try:
                while page := pages.next():
                    rows += page
            finally:
                pages.close()
            return rows

        return self.client.run(scan)

    # -- writing -------------------------------------------------------------------------

    def add(self, documents: list[Document], chunks: list[Chunk]) -> None:
        """Add documents and their chunks, sentences embedded; held until `save`."""
        by_doc: dict[str, list[Chunk]] = {d.doc_id: [] for d in documents}
        for chunk in chunks:
            by_doc[chunk.doc_id].append(chunk)
        for document in documents:
            self._pending.add(document, by_doc[document.doc_id], self.config.dim)

    def delete(self, doc_ids: list[str]) -> None:
        self._pending.deleted.update(doc_ids)

    def save(self) -> None:
        """Upsert the new rows, documents last (a document is whole once its row is
        there), then delete the old versions and the deleted documents."""
        pending, self._pending = self._pending, _Pending()
        for collection, rows in (
            (self.chunks_name, pending.chunks),
            (self.sentences_name, pending.sentences),
            (self.documents_name, pending.documents),
        ):
            for first in range(0, len(rows), BATCH_ROWS):
                self.client.upsert(collection, rows[first : first + BATCH_ROWS])
        stale = pending.stale()
        if stale:
            for collection in (self.documents_name, self.chunks_name, self.sentences_name):
                self.client.delete(collection, filter=stale)

    def rollback(self) -> None:
        self._pending = _Pending()


class _Client:
    """The MilvusClient (`raw`) of one index, every call of it through `run`: a call fails
    with IndexUnreachableError while Milvus cannot be reached, and when Milvus answers
    that the collections are not loaded, they are loaded and the call runs once more. A
    restarted Milvus holds every collection released: without this a long-running server
    failed every request until it was restarted too."""

    def __init__(self, raw: MilvusClient, uri: str, collections: tuple[str, ...]) -> None:
        self.raw = raw
        self.uri = uri
        self._collections = collections
        self._loading = threading.Lock()
        self._loads = 0  # how many times they were loaded again

    def __getattr__(self, name: str) -> Callable[..., Any]:
        """`self.client.query(...)`: the MilvusClient's method, through `run`."""
        method = getattr(self.raw, name)
        return lambda *args, **kwargs: self.run(lambda: method(*args, **kwargs))

    def run(self, call: Callable[[], T]) -> T:
        """`call`'s result; run again once if the collections had to be loaded."""
        try:
            loads = self._loads
            try:
                return call()
            except MilvusException as error:
                if error.code not in _RELEASED:
                    raise
                self._load(loads)
                return call()
        except (MilvusException, grpc.RpcError) as error:
            if not _unavailable(error):
                raise
            reason = _reason(error)
            raise IndexUnreachableError(f"Milvus at {self.uri} is unavailable: {reason}") from None

    def _load(self, seen: int) -> None:
        """Load the collections (Milvus returns once they are searchable), unless another
        call did since `seen`: the requests that found them released together load them
        once."""
        with self._loading:
            if self._loads != seen:
                return
            log.warning("Milvus at %s had released the collections: loading them", self.uri)
            for name in self._collections:
                self.raw.load_collection(name)
            self._loads += 1


# Milvus's error codes (pkg/util/merr): 101 "collection not loaded" and 103 "not fully
# loaded" are a restarted Milvus's answer; 2 is "service unavailable", and pymilvus's own
# "connect failed". A MilvusException whose code is a gRPC status is pymilvus giving up
# after retrying that status.
_RELEASED = {101, 103}
_UNAVAILABLE_CODES = {2, grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED}


def _unavailable(error: MilvusException | grpc.RpcError) -> bool:
    """Whether `error` says Milvus is down, out of reach or not serving the collections,
    rather than that the request was wrong."""
    if isinstance(error, MilvusException):
        return error.code in _UNAVAILABLE_CODES or error.code in _RELEASED
    code = getattr(error, "code", None)  # a grpc.Call's status
    return callable(code) and code() in _UNAVAILABLE_CODES


def _reason(error: MilvusException | grpc.RpcError) -> str:
    if isinstance(error, MilvusException):
        return error.message
    details = getattr(error, "details", None)  # a grpc.Call's message
    return str(details() if callable(details) else error)


class _Pending:
    """A write's rows, held until `save` sends them."""

    def __init__(self) -> None:
        self.chunks: list[dict] = []
        self.sentences: list[dict] = []
        self.documents: list[dict] = []
        self.added: dict[str, str] = {}  # doc_id -> the checksum written
        self.deleted: set[str] = set()

    def add(self, document: Document, chunks: list[Chunk], dim: int) -> None:
        doc_id, checksum, meta = document.doc_id, document.checksum, document.meta
        owner = {"doc_id": doc_id, "checksum": checksum}
        filtered = {"source": meta.source or "", "date": meta.date or ""}
        for position, chunk in enumerate(chunks):
            chunk_id = _id(doc_id, checksum, "chunk", position)
            self.chunks.append(
                {
                    "chunk_id": chunk_id,
                    **owner,
                    "start": chunk.start,
                    "end": chunk.end,
                    "text": chunk.text,
                    "terms": " ".join(tokenize_one(chunk.text)),
                    **filtered,
                }
            )
            self.sentences += [
                {
                    "sentence_id": _id(doc_id, checksum, f"sentence {position}", n),
                    **owner,
                    "chunk_id": chunk_id,
                    "start": s.start,
                    "end": s.end,
                    "vector": _floats(s.vector),
                    **filtered,
                }
                for n, s in enumerate(chunk.sentences)
            ]
        parts = _parts(document.text)
        stored_meta = {
            **asdict(meta),
            "excluded": [[s.start, s.end, s.reason] for s in document.excluded],
        }
        vector = _mean([s.vector for c in chunks for s in c.sentences], dim)
        self.documents += [
            {
                "part_id": _id(doc_id, checksum, "part", n),
                **owner,
                "part": n,
                "parts": len(parts),
                "text": text,
                "meta": stored_meta,
                "vector": vector,
            }
            for n, text in enumerate(parts)
        ]
        self.added[doc_id] = checksum

    def stale(self) -> str:
        """An expression for the rows this write replaces or deletes."""
        gone = sorted(self.deleted - self.added.keys())
        replaced = [
            f"(doc_id == {_literal(d)} and checksum != {_literal(c)})"
            for d, c in sorted(self.added.items())
        ]
        return " or ".join(([_in("doc_id", gone)] if gone else []) + replaced)


def _search(
    index: MilvusIndex,
    collection: str,
    data: str | list[float],
    field: str,
    params: dict,
    k: int,
    filters: SearchFilters | None,
    **grouping: str | int,
) -> list[Scored]:
    """The `k` best chunks of a search of `collection`'s `field`, `filters` applied in
    the search. `grouping`: Milvus's group_by_field and group_size, for a collection
    with several rows a chunk."""
    found = index.client.search(
        collection,
        data=[data],
        anns_field=field,
        limit=k,
        filter=filter_expression(filters),
        search_params=params,
        # Milvus Lite returns every field unless told: vectors, texts.
        output_fields=["chunk_id"],
        **grouping,
    )
    return [Scored(hit["chunk_id"], float(hit["distance"])) for hit in found[0]]


def filter_expression(filters: SearchFilters | None) -> str:
    """`filters` as a Milvus boolean expression over the fields chunks and sentences
    both carry; Milvus applies it inside the search."""
    if filters is None:
        return ""
    terms = []
    if filters.sources:
        terms.append(_in("source", filters.sources))
    if filters.doc_ids:
        terms.append(_in("doc_id", filters.doc_ids))
    # A document without a date is stored with "" and never passes a date filter.
    if filters.date_from:
        terms.append(f'(date != "" and date >= {_literal(filters.date_from)})')
    if filters.date_to:
        terms.append(f'(date != "" and date <= {_literal(filters.date_to)})')
    return " and ".join(terms)


@dataclass(frozen=True)
class _Schema:
    schema: CollectionSchema
    indexes: dict[str, dict]


def _schema(primary: str, *whole_numbers: str) -> CollectionSchema:
    """A schema with an int64 id, the version of the document each row belongs to, and
    `whole_numbers` as int64 fields."""
    schema = MilvusClient.create_schema(auto_id=False)
    schema.add_field(primary, DataType.INT64, is_primary=True)
    schema.add_field("doc_id", DataType.VARCHAR, max_length=ID_BYTES)
    schema.add_field("checksum", DataType.VARCHAR, max_length=128)
    for name in whole_numbers:
        schema.add_field(name, DataType.INT64)
    return schema


def _chunks_schema() -> _Schema:
    schema = _schema("chunk_id", "start", "end")
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field(
        "terms",
        DataType.VARCHAR,
        max_length=MAX_VARCHAR,
        enable_analyzer=True,
        enable_match=True,
        analyzer_params={"type": "standard"},
    )
    # Milvus wants a vector in every collection: the sparse one BM25 searches will do.
    schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
    _add_filter_fields(schema)
    schema.add_function(
        Function(
            name="bm25",
            function_type=FunctionType.BM25,
            input_field_names=["terms"],
            output_field_names=["sparse"],
        )
    )
    return _Schema(schema, {"sparse": BM25_INDEX})


def _sentences_schema(dim: int) -> _Schema:
    schema = _schema("sentence_id", "chunk_id", "start", "end")
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    _add_filter_fields(schema)
    return _Schema(schema, {"vector": DENSE_INDEX})


def _documents_schema(dim: int) -> _Schema:
    schema = _schema("part_id", "part", "parts")
    schema.add_field("text", DataType.VARCHAR, max_length=MAX_VARCHAR)
    schema.add_field("meta", DataType.JSON)
    # Milvus wants a vector in every collection: the mean of the document's sentence
    # vectors.
    schema.add_field("vector", DataType.FLOAT_VECTOR, dim=dim)
    return _Schema(schema, {"vector": STORED_INDEX})


def _add_filter_fields(schema: CollectionSchema) -> None:
    """The document fields `filter_expression` reads besides doc_id, for the collections
    searched: each search filters inside Milvus, before ranking."""
    schema.add_field("source", DataType.VARCHAR, max_length=ID_BYTES)
    schema.add_field("date", DataType.VARCHAR, max_length=32)


def _id(doc_id: str, checksum: str, kind: str, position: int) -> int:
    """A row id no other document, version or writer produces (63 bits of a hash: two
    ids among ten million collide with odds of about 1 in 200,000)."""
    key = f"{doc_id}\0{checksum}\0{kind}\0{position}".encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "big") >> 1


def _parts(text: str) -> list[str]:
    return [text[i : i + MAX_TEXT_CHARS] for i in range(0, len(text), MAX_TEXT_CHARS)] or [""]


def _mean(vectors: Iterable[np.ndarray | None], dim: int) -> list[float]:
    stacked = [v for v in vectors if v is not None]
    if not stacked:
        return [0.0] * dim
    mean = np.mean(stacked, axis=0)
    return _floats(mean / (np.linalg.norm(mean) or 1.0))


def _floats(vector: np.ndarray | None) -> list[float]:
    assert vector is not None, "sentences are embedded before they are stored"
    return np.asarray(vector, dtype=np.float32).tolist()


def _meta(stored: dict) -> DocumentMeta:
    return DocumentMeta(**{k: v for k, v in stored.items() if k != "excluded"})


def _version(doc_id: str, checksum: str) -> str:
    return f"(doc_id == {_literal(doc_id)} and checksum == {_literal(checksum)})"


def _text_match(terms: list[str]) -> str:
    return f"TEXT_MATCH(terms, {_literal(' '.join(terms))})"


def _in(field: str, values: Sequence[str | int]) -> str:
    return f"{field} in [{', '.join(map(_literal, values))}]"


def _literal(value: str | int) -> str:
    """A Milvus expression literal; strings quoted with the escapes its parser knows."""
    if isinstance(value, int):
        return str(value)
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return '"' + escaped.replace("\n", "\\n").replace("\r", "\\r").replace("\t", "\\t") + '"'
