"""Ingest split over workers: two `citeqa ingest --shard` processes at once against one
Milvus server (a real `milvus-lite server` on a loopback port), and `index export`."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from support import MilvusServer, ingest_counts, start_citeqa

from citeqa.ingest.loaders import load_folder
from citeqa.ingest.shards import Shard
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import open_index


@pytest.fixture
def milvus_server(tmp_path: Path) -> Iterator[str]:
    """A `milvus-lite server` of this test's own (support.MilvusServer); its URI."""
    with MilvusServer(tmp_path / "milvus") as server:
        yield server.uri


def citeqa(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return start_citeqa(*args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def test_shards_split_the_documents_between_them() -> None:
    doc_ids = [f"article-{n}" for n in range(1000)]
    owners = [[s for s in (Shard(1, 3), Shard(2, 3), Shard(3, 3)) if s.holds(d)] for d in doc_ids]
    assert all(len(o) == 1 for o in owners), "every document in exactly one shard"
    sizes = [sum(o[0].number == n for o in owners) for n in (1, 2, 3)]
    assert min(sizes) > 250, f"shards near even: {sizes}"
    with pytest.raises(ValueError, match="N/COUNT"):
        Shard.parse("2-of-3")
    with pytest.raises(ValueError, match="1 <= N <= COUNT"):
        Shard.parse("4/3")


def test_two_workers_ingest_one_corpus_into_one_milvus(
    milvus_server: str, tmp_path: Path, embedder: Embedder
) -> None:
    env = {"CITEQA_BACKEND": "milvus", "CITEQA_MILVUS_URI": milvus_server,
           "CITEQA_INDEX": str(tmp_path / "unused")}  # fmt: skip
    workers = [citeqa("ingest", str(sample_corpus()), "--shard", f"{n}/2", env=env)
               for n in (1, 2)]  # fmt: skip
    outputs = [w.communicate(timeout=600) for w in workers]
    for worker, (_, err) in zip(workers, outputs, strict=True):
        assert worker.returncode == 0, err
    added = [ingest_counts(out)["added"] for out, _ in outputs]
    assert sorted(added) != [0, 5] and sum(added) == 5, f"both workers took a share: {added}"

    settings = Settings(backend="milvus", milvus_uri=milvus_server, index=tmp_path / "unused")
    index = open_index(settings, embedder)
    expected = {d.doc_id: d.checksum for d in load_folder(sample_corpus()).documents}
    assert index.checksums() == expected
    assert index.stats().chunks == 55

    # A worker's rerun prunes only its own shard: nothing changes.
    rerun = citeqa("ingest", str(sample_corpus()), "--shard", "1/2", env=env)
    out, err = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, err
    counts = ingest_counts(out)
    assert (counts["added"], counts["updated"], counts["removed"]) == (0, 0, 0)
    assert index.checksums() == expected

    asked = citeqa("ask", "Who is the Secretary of State?", "--json", env=env)
    out, err = asked.communicate(timeout=600)
    assert asked.returncode == 0, err
    assert '"text": "Mike Pompeo"' in out


def test_index_export_moves_a_local_index_into_milvus(
    milvus_server: str, tmp_path: Path, embedder: Embedder
) -> None:
    env = {"CITEQA_INDEX": str(tmp_path / "local")}
    ingest = citeqa("ingest", str(sample_corpus()), env=env)
    assert ingest.wait(timeout=600) == 0
    export = citeqa("index", "export", "--to", "milvus", "--milvus-uri", milvus_server, env=env)
    out, err = export.communicate(timeout=600)
    assert export.returncode == 0, err
    assert out.startswith("5 documents copied")
    local = open_index(Settings(index=tmp_path / "local"), embedder)
    milvus = open_index(
        Settings(index=tmp_path / "local", backend="milvus", milvus_uri=milvus_server), embedder
    )
    assert milvus.checksums() == local.checksums()
    assert milvus.stats().sentences == local.stats().sentences


@pytest.mark.slow  # ingests, then loads the models again to answer
def test_a_milvus_lite_file_serves_the_next_process(tmp_path: Path) -> None:
    """Ingest in one process, ask in another: a reopened Lite file is loaded again."""
    env = {"CITEQA_BACKEND": "milvus", "CITEQA_MILVUS_URI": str(tmp_path / "milvus.db"),
           "CITEQA_INDEX": str(tmp_path / "unused")}  # fmt: skip
    ingest = citeqa("ingest", str(sample_corpus()), env=env)
    assert ingest.wait(timeout=600) == 0
    asked = citeqa("ask", "Who is the Secretary of State?", env=env)
    out, err = asked.communicate(timeout=600)
    assert asked.returncode == 0, err
    assert out.startswith("Mike Pompeo")
