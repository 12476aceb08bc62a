"""A corpus folder is not trusted: links, FIFOs, huge files, odd names and a wrong path.

Every file that cannot or must not be read is reported with its reason and the rest of
the folder still loads; nothing in the folder makes loading hang or read outside it.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from citeqa.cli.service import app
from citeqa.ingest.loaders import (
    MAX_DOCUMENT_BYTES,
    check_text,
    load_folder,
    make_document,
)


def reasons(folder: Path) -> dict[str, str]:
    """File name -> reason, for every file `load_folder` skipped."""
    return {Path(e.path).name: e.reason for e in load_folder(folder).errors}


def doc_ids(folder: Path) -> list[str]:
    return [d.doc_id for d in load_folder(folder).documents]


# -- what is read: regular files, in the folder ------------------------------------------


def test_symbolic_links_are_reported_and_not_followed(articles: Path, tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("The password is swordfish.\n", encoding="utf-8")
    (articles / "leak.txt").symlink_to(secret)  # out of the folder
    (articles / "alias.md").symlink_to(articles / "alpha.txt")  # within it: refused too
    (articles / "dangling.txt").symlink_to(tmp_path / "nowhere.txt")
    loaded = load_folder(articles)
    assert [d.doc_id for d in loaded.documents] == ["alpha", "beta"]
    assert not any("swordfish" in d.text for d in loaded.documents)
    skipped = {Path(e.path).name: e.reason for e in loaded.errors}
    assert set(skipped) == {"leak.txt", "alias.md", "dangling.txt"}
    assert all("symbolic link" in reason for reason in skipped.values())
    assert "outside the folder" in skipped["leak.txt"]


def test_a_fifo_is_reported_not_opened(articles: Path) -> None:
    # Before the fix, reading this FIFO waited for a writer for ever: the test hung.
    os.mkfifo(articles / "pipe.txt")
    assert reasons(articles)["pipe.txt"].startswith("not a regular file")
    assert doc_ids(articles) == ["alpha", "beta"]


def test_folders_and_sockets_named_like_articles_are_reported(articles: Path) -> None:
    (articles / "chapter.md").mkdir()
    with socket.socket(socket.AF_UNIX) as server:
        server.bind(str(articles / "s.txt"))
        skipped = reasons(articles)
    assert set(skipped) == {"chapter.md", "s.txt"}
    assert all(reason.startswith("not a regular file") for reason in skipped.values())


def test_a_file_over_the_limit_is_refused_from_its_size(articles: Path) -> None:
    # Sparse: MAX_DOCUMENT_BYTES + 1 bytes on paper, none on disk, and none of them read.
    with (articles / "huge.txt").open("wb") as huge:
        huge.truncate(MAX_DOCUMENT_BYTES + 1)
    assert reasons(articles) == {"huge.txt": f"larger than {MAX_DOCUMENT_BYTES} bytes"}


# -- which names are articles ---------------------------------------------------------------


def test_hidden_files_and_other_suffixes_are_ignored_silently(articles: Path) -> None:
    (articles / ".alpha.txt.swp").write_bytes(b"\x00\x01vim swap")
    (articles / "._alpha.txt").write_bytes(b"\x00\x05\x16\x07 AppleDouble")  # macOS junk
    (articles / ".#beta.md").symlink_to("user@host.1234")  # an emacs lock: a dangling link
    (articles / "notes.docx").write_bytes(b"PK\x03\x04")
    loaded = load_folder(articles)
    assert [d.doc_id for d in loaded.documents] == ["alpha", "beta"]
    assert loaded.errors == []


def test_two_files_with_one_doc_id_the_second_is_reported(articles: Path) -> None:
    (articles / "alpha.md").write_text("Another alpha, as Markdown.\n", encoding="utf-8")
    assert doc_ids(articles) == ["alpha", "beta"]
    assert "same document id as alpha.md" in reasons(articles)["alpha.txt"]


def test_names_that_cannot_be_a_doc_id_are_reported(articles: Path) -> None:
    # Undecodable bytes would fail the whole ingest in the index; an escape would reach
    # the terminal that prints the report.
    (articles / os.fsdecode(b"caf\xe9.txt")).write_bytes(b"Latin-1 name.\n")
    (articles / "\x1b[2Jclear.txt").write_text("Escape in the name.\n", encoding="utf-8")
    loaded = load_folder(articles)
    assert [d.doc_id for d in loaded.documents] == ["alpha", "beta"]
    assert sorted(e.reason.split(" (")[0] for e in loaded.errors) == [
        "file name is not UTF-8 text", "holds U+001B"]  # fmt: skip


# -- unchanged files are compared by their bytes, never parsed -------------------------------


def test_an_unchanged_file_is_not_parsed(articles: Path) -> None:
    blank = articles / "blank.md"
    blank.write_bytes(b"  \n\t\n")  # parsing it fails: a blank document
    assert "empty" in reasons(articles)["blank.md"]
    known = {"alpha": sha256(articles / "alpha.txt"), "blank": sha256(blank)}
    loaded = load_folder(articles, known)
    # Matched by the hash of its bytes, blank.md is unchanged: it was never decoded or
    # checked, let alone parsed. beta is not known, so it is parsed.
    assert (loaded.unchanged, loaded.errors) == (["alpha", "blank"], [])
    assert [d.doc_id for d in loaded.documents] == ["beta"]


def test_a_changed_file_is_parsed(articles: Path) -> None:
    loaded = load_folder(articles, {"alpha": "0" * 64})
    assert loaded.unchanged == []
    assert [d.doc_id for d in loaded.documents] == ["alpha", "beta"]


def test_a_document_checksum_is_the_hash_of_its_file(articles: Path) -> None:
    """What lets a file be compared with the index before it is decoded."""
    for document in load_folder(articles).documents:
        assert document.checksum == sha256(next(articles.glob(f"{document.doc_id}.*")))


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the rule for any document text, files and API alike -------------------------------------


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        (" \r\n\t\u00a0", "empty"),
        ("\ufeff\u200b\n", "empty"),  # a BOM and a zero-width space show nothing
        ("Half a pair: \ud800.", "lone surrogate (U+D800 at character 13)"),
        ("x" * (MAX_DOCUMENT_BYTES + 1), f"larger than {MAX_DOCUMENT_BYTES} bytes"),
        # Fewer characters than the limit, more bytes: the limit is on UTF-8 bytes.
        ("é" * (MAX_DOCUMENT_BYTES // 2 + 1), f"larger than {MAX_DOCUMENT_BYTES} bytes"),
    ],
    ids=["empty", "whitespace", "invisible", "surrogate", "too long", "too many bytes"],
)
def test_text_that_cannot_be_a_document_is_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=re.escape(reason)):
        check_text(text)
    with pytest.raises(ValueError, match="empty|surrogate|larger"):
        make_document("x", text)


def test_a_document_at_the_limit_is_accepted() -> None:
    check_text("é" * (MAX_DOCUMENT_BYTES // 2))


def test_given_metadata_replaces_the_extracted() -> None:
    text = "The Guardian\n\nFerry suspended\n\nThe ferry was suspended because of a storm.\n"
    extracted = make_document("f", text)
    assert (extracted.meta.title, extracted.meta.source) == ("Ferry suspended", "The Guardian")
    given = make_document(
        "f", text, title="Storm", date="2021-05-02", url="https://example.org/ferry"
    )
    assert (given.meta.title, given.meta.source) == ("Storm", "The Guardian"), "not given: kept"
    assert (given.meta.date, given.meta.url) == ("2021-05-02", "https://example.org/ferry")
    assert given.text == text and given.excluded == extracted.excluded
    assert given.checksum != extracted.checksum, "a new title is a change"


# -- the command ---------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_ingest_of_a_path_that_is_not_a_folder_says_so(
    articles: Path, tmp_path: Path, kind: str
) -> None:
    path = {"missing": tmp_path / "no-such-folder", "file": articles / "alpha.txt"}[kind]
    index = tmp_path / "index"
    result = CliRunner().invoke(
        app, ["ingest", str(path), "--index", str(index)], color=True, env={"NO_COLOR": None}
    )
    assert result.exit_code == 2
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    assert str(path) in result.stderr
    assert ("no such folder" if kind == "missing" else "not a folder") in result.stderr
    assert "\x1b[31m" in result.stderr, "in red"
    assert not index.exists(), "refused before the index is opened"
