"""A damaged index is reported, file by file, and never deleted; racing writers are refused.

Each test ingests the tiny `articles` corpus with the real model into its own index, then
damages it the way a disk, a person or a crash would.
"""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from support import LiveServer
from typer.testing import CliRunner

from citeqa.cli.service import app as cli
from citeqa.index.base import IndexBusyError, IndexDamagedError
from citeqa.index.local import LocalIndex
from citeqa.index.writer import IngestReport, ingest, upsert_documents
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.ingest.loaders import make_document
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.settings import Settings
from citeqa.service.wiring import open_index


def open_at(root: Path, embedder: Embedder) -> LocalIndex:
    return open_index(Settings(index=root), embedder)


def run_ingest(folder: Path, root: Path, embedder: Embedder) -> IngestReport:
    return ingest(folder, open_at(root, embedder), embedder, ChunkerSettings())


def contents(root: Path) -> dict[str, bytes]:
    """Every file under the index folder, by path: to prove nothing was deleted."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.fixture
def built(articles: Path, tmp_path: Path, embedder: Embedder) -> Path:
    """An index of the two articles, saved twice so that its live version is v000002."""
    root = tmp_path / "index"
    run_ingest(articles, root, embedder)
    (articles / "gamma.txt").write_text("Tolls on the Kestrel Bridge rise in May.\n")
    run_ingest(articles, root, embedder)
    assert (root / "CURRENT").read_text() == "v000002"
    assert sorted(p.name for p in live(root).glob("s*")) == ["s000001", "s000002"]
    return root


def live(root: Path) -> Path:
    return root / (root / "CURRENT").read_text()


def corrupt(path: Path) -> None:
    """Flip bytes in the middle of a file, keeping its size: bit rot, not truncation."""
    data = bytearray(path.read_bytes())
    for i in range(len(data) // 2, min(len(data), len(data) // 2 + 16)):
        data[i] ^= 0xFF
    path.write_bytes(bytes(data))


POINTER_DAMAGE = {
    "empty": lambda root: (root / "CURRENT").write_text(""),
    "dangling": lambda root: (root / "CURRENT").write_text("v000099"),
    "garbage": lambda root: (root / "CURRENT").write_bytes(b"\xff\xfe../../etc"),
    "deleted": lambda root: (root / "CURRENT").unlink(),
}


@pytest.mark.parametrize("damage", POINTER_DAMAGE.values(), ids=POINTER_DAMAGE.keys())
def test_a_damaged_pointer_deletes_nothing_and_says_what_to_do(
    built: Path, embedder: Embedder, damage
) -> None:
    damage(built)
    before = contents(built)
    for _ in range(2):  # opening again, as ask, serve and ingest each would, changes nothing
        with pytest.raises(IndexDamagedError) as caught:
            open_at(built, embedder)
        assert contents(built) == before
    message = str(caught.value)
    assert str(built / "CURRENT") in message and "Nothing was deleted" in message
    assert "citeqa ingest" in message


def newest_segment(root: Path) -> Path:
    return max(live(root).glob("s*"))


# `built` has two segments: s000001 (alpha, beta) and s000002 (gamma).
FILE_DAMAGE = {
    "vectors missing": ("s000001/vectors.npy", lambda p: p.unlink()),
    "vectors garbled": ("s000002/vectors.npy", corrupt),
    "vocabulary missing": ("s000001/vocab.json", lambda p: p.unlink()),
    "term counts garbled": ("s000002/terms.npz", corrupt),
    "ids truncated": ("s000001/ids.npy", lambda p: p.write_bytes(p.read_bytes()[:20])),
    "store emptied": ("s000001/store.sqlite", lambda p: p.write_bytes(b"")),
    "store garbled": ("s000002/store.sqlite", corrupt),
    "segment missing": ("s000002", lambda p: [f.unlink() for f in p.iterdir()] and p.rmdir()),
    "manifest truncated": ("manifest.json", lambda p: p.write_text(p.read_text()[:30])),
    "manifest missing": ("manifest.json", lambda p: p.unlink()),
}


@pytest.mark.parametrize(("name", "damage"), FILE_DAMAGE.values(), ids=FILE_DAMAGE.keys())
def test_a_damaged_file_is_named_not_served(
    built: Path, embedder: Embedder, name: str, damage
) -> None:
    damage(live(built) / name)
    before = contents(built)
    with pytest.raises(IndexDamagedError) as caught:
        open_at(built, embedder)
    assert name in str(caught.value), "the message names the damaged file"
    assert contents(built) == before


def test_the_cli_reports_damage_without_a_traceback(built: Path) -> None:
    (live(built) / "s000001" / "vectors.npy").unlink()
    for args in (["ask", "Who repaired the bridge?"], ["serve"], ["ingest"]):
        result = CliRunner().invoke(cli, [*args, "--index", str(built)])
        assert result.exit_code == 2, result.output
        assert "vectors.npy" in result.output and "Traceback" not in result.output


def test_a_writer_that_lost_a_race_is_told_to_retry(
    built: Path, embedder: Embedder, articles: Path
) -> None:
    slow = open_at(built, embedder)  # opened on v000002...
    delta = make_document("delta", "The ferry to Eastham returns in June.\n")
    upsert_documents([delta], open_at(built, embedder), embedder, ChunkerSettings())
    (articles / "alpha.txt").write_text("The Kestrel Bridge is closed again.\n")
    with pytest.raises(IndexBusyError, match="Run it again"):  # ...which is gone now
        ingest(articles, slow, embedder, ChunkerSettings())
    after = open_at(built, embedder)
    assert set(after.checksums()) == {"alpha", "beta", "gamma", "delta"}
    assert "closed again" not in after.document("alpha").text


def test_a_second_writer_is_refused_while_the_first_writes(built: Path, embedder: Embedder) -> None:
    first, second = open_at(built, embedder), open_at(built, embedder)
    first.delete(["alpha"])  # holds the writer lock until it saves
    with pytest.raises(IndexBusyError, match="Another process is writing"):
        second.delete(["beta"])
    first.save()
    assert set(open_at(built, embedder).checksums()) == {"beta", "gamma"}


def test_ready_is_503_when_the_newest_version_is_damaged(built: Path, embedder: Embedder) -> None:
    settings = Settings(index=built)
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/ready").status_code == 200
        # Another process publishes a version whose vector file then rots.
        document = make_document("delta", "The ferry to Eastham returns in June.\n")
        upsert_documents([document], open_at(built, embedder), embedder, ChunkerSettings())
        damaged = newest_segment(built) / "vectors.npy"  # new: the server has not loaded it
        corrupt(damaged)
        ready = http.get("/ready")
        assert ready.status_code == 503
        assert str(damaged.relative_to(live(built))) in ready.json()["problem"]
        # It keeps answering from the last version that loaded.
        asked = http.post("/ask", json={"question": "When did the bridge reopen?"})
        assert asked.status_code == 200 and asked.json()["answers"]


@pytest.mark.slow  # a server, and the models it loads
def test_an_empty_index_is_not_ready(tmp_path: Path) -> None:
    with LiveServer(Settings(index=tmp_path / "empty")) as server:
        ready = httpx.get(f"{server.url}/ready", timeout=30)
    assert ready.status_code == 503 and ready.json()["ready"] is False
    assert "ingest" in ready.json()["problem"]
