"""Read a folder of article files into `Document`s, keeping each text exactly as decoded.

A corpus folder is not trusted. A file that cannot or must not be read is reported in
`LoadResult.errors` with the reason and skipped; it never stops the rest of the corpus from
loading, and nothing in the folder can make loading hang (a FIFO), read outside the folder
(a symbolic link) or exhaust memory (a huge or growing file).
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import unicodedata
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from citeqa.ingest import pdf, webpage
from citeqa.ingest.cleaning import (
    blank_controls,
    extract_meta,
    find_excluded,
    is_blank,
    one_line,
)
from citeqa.ingest.models import Document, DocumentMeta, Extracted
from citeqa.ingest.shards import EVERYTHING, Shard
from citeqa.models.runtime.progress import bar

# Scripts whose letters look alike (Latin "a", Cyrillic "а", Greek "α"): see normal_doc_id.
_LOOKALIKE_SCRIPTS = frozenset({"LATIN", "CYRILLIC", "GREEK"})
# Unicode's general categories of characters a doc_id may not hold (see _hidden).
_HIDDEN_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
# Folders and writes of fewer documents finish before a progress bar would say anything.
PROGRESS_FROM_DOCUMENTS = 50

TEXT_SUFFIXES = frozenset({".txt", ".md"})
SUFFIXES = TEXT_SUFFIXES | webpage.SUFFIXES | pdf.SUFFIXES
# The largest document, as UTF-8 bytes: the one limit for files and for text sent to the API.
MAX_DOCUMENT_BYTES = 20_000_000
# Never follow a link, never wait: on a FIFO or a device, open() could block for ever.
_OPEN_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC
# Metadata stated by a file, a page or a caller: one line each, as cleaning.one_line makes
# it, whoever gave it (a control character in a title reached every client, issue 32).
_ONE_LINE_META = frozenset({"title", "source", "byline", "url", "file"})


@dataclass(frozen=True)
class LoadError:
    path: str
    reason: str


@dataclass
class LoadResult:
    documents: list[Document] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)  # doc_ids read but, unchanged, not parsed
    errors: list[LoadError] = field(default_factory=list)


def check_folder(folder: Path) -> None:
    """Raise OSError, saying why, unless `folder` is a folder this process can list."""
    if not folder.exists():
        raise FileNotFoundError(f"no such folder: {folder}")
    if not folder.is_dir():
        raise NotADirectoryError(f"{folder} is a file, not a folder of articles")
    with os.scandir(folder):  # PermissionError when it cannot be listed
        pass


def load_folder(
    folder: Path, known: Mapping[str, str] | None = None, shard: Shard = EVERYTHING
) -> LoadResult:
    """Every article file (SUFFIXES) directly in `folder` whose document is in `shard`,
    sorted by name; a file's doc_id is its name without the suffix. Hidden files (editor
    backups and locks, macOS `._` files) and other suffixes are not articles: ignored, not
    reported.

    A file whose checksum is `known[doc_id]` (the index's checksums) goes to `unchanged`
    without being decoded or parsed: re-reading an unchanged corpus costs a hash per file.
    """
    check_folder(folder)
    known = known or {}
    result = LoadResult()
    claimed: dict[str, str] = {}  # doc_id -> the file name that has it
    paths = sorted(p for p in folder.iterdir() if _is_article(p.name))
    shown = len(paths) >= PROGRESS_FROM_DOCUMENTS
    for path in bar(paths, shown=shown, unit="file", desc="read"):
        try:
            doc_id = _doc_id(path, claimed)
            if not shard.holds(doc_id):
                continue
            raw = read_article(path)
            if known.get(doc_id) == checksum(raw):
                result.unchanged.append(doc_id)
            else:
                result.documents.append(_file_document(doc_id, path.name, raw))
        except (OSError, ValueError) as error:
            result.errors.append(LoadError(str(path), str(error)))
    return result


def _is_article(name: str) -> bool:
    return not name.startswith(".") and Path(name).suffix.lower() in SUFFIXES


# A doc_id is part of a URL (/documents/{doc_id}) and of log lines: a name, not a text.
MAX_DOC_ID_CHARS = 200


def normal_doc_id(doc_id: str) -> str:
    """`doc_id` in Unicode's composed form (NFC), so that "é" typed as one character or as
    "e" and an accent names one document; ValueError, saying why, for an id that cannot
    name one document plainly. The one rule for every way in (a file's name, POST
    /documents, POST /files, a URL): no "/" (it is part of /documents/{doc_id}); not "."
    or "..", which browsers and curl resolve away; not only spaces; no character that
    shows nothing or moves what follows (controls, zero-width and other format
    characters such as U+200B and U+202E, spaces other than " " such as U+00A0); no
    character that stands for another (fullwidth "ａ", mathematical "𝐚": whatever NFKC
    changes); and no letters of look-alike scripts mixed ("аdmin" with a Cyrillic "а"), so
    that two documents cannot pass for one."""
    doc_id = unicodedata.normalize("NFC", doc_id)
    if len(doc_id) > MAX_DOC_ID_CHARS:
        raise ValueError(f"longer than {MAX_DOC_ID_CHARS} characters")
    if doc_id in {".", ".."}:
        raise ValueError("'.' and '..' cannot name a document: URLs resolve them away")
    if "/" in doc_id:
        raise ValueError("holds '/', which is part of a URL's path")
    if not doc_id.strip(" "):
        raise ValueError("only spaces: it shows nothing")
    if hidden := next((c for c in doc_id if _hidden(c)), None):
        name = unicodedata.name(hidden, "a control or unassigned character")
        raise ValueError(f"holds U+{ord(hidden):04X} ({name}), which shows nothing or "
                         "changes what is shown")  # fmt: skip
    if unicodedata.normalize("NFKC", doc_id) != doc_id:
        raise ValueError("holds characters that stand for others (fullwidth or styled letters, "
                         "ligatures): write them plainly")  # fmt: skip
    scripts = {unicodedata.name(c, "").split(" ")[0] for c in doc_id if c.isalpha()}
    if len(mixed := scripts & _LOOKALIKE_SCRIPTS) > 1:
        raise ValueError(f"mixes look-alike letters of {' and '.join(sorted(mixed))}")
    return doc_id


def _hidden(char: str) -> bool:
    """Whether `char` shows nothing or changes how others show: a control, format,
    surrogate, private-use or unassigned character, a line or paragraph separator, or a
    space other than " "."""
    category = unicodedata.category(char)
    return category in _HIDDEN_CATEGORIES or (category == "Zs" and char != " ")


def uploaded_document(name: str, raw: bytes) -> Document:
    """The document in an uploaded file called `name`, with the checks a file in a folder
    gets: an article's suffix, a name that makes a doc_id, the size, the format's reader.
    ValueError, saying why, when it cannot be one."""
    if not _is_article(Path(name).name) or Path(name).name != name:
        suffixes = ", ".join(sorted(SUFFIXES))
        raise ValueError(f"not an article file: a plain name ending in one of {suffixes}")
    _check_size(len(raw))
    return _file_document(_doc_id(Path(name), {}), name, raw)


def _doc_id(path: Path, claimed: dict[str, str]) -> str:
    """`path`'s name without its suffix, if no earlier file has it and it is text that can
    be stored and printed: not undecodable bytes, and a doc_id by `normal_doc_id`."""
    if not is_unicode(path.stem):
        raise ValueError("file name is not UTF-8 text")
    doc_id = normal_doc_id(path.stem)
    if doc_id in claimed:
        raise ValueError(f"same document id as {claimed[doc_id]}: {doc_id!r}")
    claimed[doc_id] = path.name
    return doc_id


def read_article(path: Path) -> bytes:
    """The bytes of `path` if it is a regular file of at most MAX_DOCUMENT_BYTES.

    The entry is checked before it is opened; the open neither follows a link nor waits,
    and the open file is checked again, in case the entry was replaced in between. At most
    one byte over the limit is read, so a file that grows meanwhile cannot exhaust memory.
    """
    _check_entry(os.lstat(path))
    fd = os.open(path, _OPEN_FLAGS)
    with open(fd, "rb") as file:
        _check_entry(os.fstat(fd))
        raw = file.read(MAX_DOCUMENT_BYTES + 1)
    _check_size(len(raw))
    return raw


def _check_entry(info: os.stat_result) -> None:
    """Every symbolic link is refused, also one to another article in the folder: it would
    index one text under two ids, and only a link's target decides where it reads."""
    if stat.S_ISLNK(info.st_mode):
        raise ValueError("symbolic link, not followed: it may point outside the folder")
    if not stat.S_ISREG(info.st_mode):
        raise ValueError("not a regular file (a folder, FIFO, socket or device)")
    _check_size(info.st_size)


def _check_size(size: int) -> None:
    if size > MAX_DOCUMENT_BYTES:
        raise ValueError(f"larger than {MAX_DOCUMENT_BYTES} bytes")


def _file_document(doc_id: str, name: str, raw: bytes) -> Document:
    """The document in the file `name`, read as its suffix says. What the file states
    (an HTML page's or a PDF's metadata) wins over what is guessed from the text. The
    checksum is the file's bytes', so an unchanged file is known before it is parsed."""
    suffix = Path(name).suffix.lower()
    if suffix in webpage.SUFFIXES:
        found = webpage.extract(raw, where=name)
    elif suffix in pdf.SUFFIXES:
        found = pdf.extract(raw)
    else:
        found = Extracted(_decode(raw), DocumentMeta())
    check_text(found.text)
    given = {k: v for k, v in asdict(found.meta).items() if v not in (None, False)}
    return _document(doc_id, found.text, checksum(raw), {**given, "file": name})


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise ValueError(f"not UTF-8 text ({error.reason} at byte {error.start})") from None


def is_unicode(text: str) -> bool:
    """False if `text` holds a lone surrogate, which no UTF-8 file or index can hold."""
    if text.isascii():
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def checksum(data: bytes) -> str:
    """A document's checksum: sha256 of its UTF-8 bytes, so a file is compared with the
    index before it is decoded."""
    return hashlib.sha256(data).hexdigest()


def check_text(text: str) -> None:
    """Raise ValueError, saying why, when `text` cannot be a document: one that shows
    nothing, that UTF-8 cannot encode, or over MAX_DOCUMENT_BYTES. The one rule for files
    and for text sent to the API."""
    if is_blank(text):
        raise ValueError("empty: no text" if not text else "empty: only blank characters")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError as error:
        raise ValueError(
            f"contains a lone surrogate (U+{ord(text[error.start]):04X} at character "
            f"{error.start}), which is not valid Unicode text"
        ) from None
    _check_size(size)


def make_document(
    doc_id: str,
    text: str,
    *,
    title: str | None = None,
    source: str | None = None,
    date: str | None = None,
    url: str | None = None,
    byline: str | None = None,
    fetched_at: str | None = None,
) -> Document:
    """A `Document` of `text`: a file's, a web page's, a SQuAD paragraph, or one sent to
    POST /documents.

    Metadata given here replaces what would be extracted from the text, and counts in the
    checksum: a new title is a change. `fetched_at` does not: a page fetched again
    unchanged is the same document. Raises ValueError if `check_text` refuses the text.
    """
    check_text(text)
    given = dict(title=title, source=source, date=date, url=url, byline=byline)
    given = {k: v for k, v in given.items() if v is not None}
    content = text if not given else text + "\0" + json.dumps(given, sort_keys=True)
    if fetched_at is not None:
        given["fetched_at"] = fetched_at
    return _document(doc_id, text, checksum(content.encode("utf-8")), given)


def _document(doc_id: str, text: str, digest: str, given: dict[str, object]) -> Document:
    """A document of the checked `text`, its boilerplate found and its metadata read from
    the text but where `given` (DocumentMeta's fields) says otherwise."""
    text = blank_controls(text)
    excluded = find_excluded(text)
    given = {k: one_line(v) if k in _ONE_LINE_META and isinstance(v, str) else v
             for k, v in given.items()}  # fmt: skip
    meta = replace(extract_meta(text, excluded), **given)
    if "title" in given:  # a title stated by the page, the PDF or the caller is no lede
        meta.title_is_lede = False
    return Document(doc_id=doc_id, text=text, checksum=digest, meta=meta, excluded=excluded)
