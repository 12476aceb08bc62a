"""The saved versions of a local index: which one is live, and proof that it is whole.

Layout of an index directory:

    CURRENT      the live version's folder name; replaced atomically, fsynced
    v000007/     manifest.json (config, counts, each file's size and hash) and the files
    write.lock   held by the one writer
    .tmp-*       a writer's work in progress

A version is written in full under `.tmp-*`, fsynced, renamed to `vNNNNNN` and only then
named in `CURRENT`. So `CURRENT` always names a whole version, and anything else is a
leftover of a crash, which is removed only while `CURRENT` itself is sound: a damaged
pointer or manifest is reported, never "cleaned up" along with the live index.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Collection
from dataclasses import asdict, dataclass, field
from pathlib import Path

from citeqa.index.base import IndexConfig, IndexDamagedError

# The local index's layout: 3, the manifest fingerprints every file; 4, segments; 5, each
# document's file name and page starts; 6, dense search over sentences (index.dense).
FORMAT_VERSION = 6
CURRENT = "CURRENT"
LOCK = "write.lock"
MANIFEST = "manifest.json"
_VERSION_NAME = re.compile(r"v\d{6}")
# Files up to this size are hashed whole at load (the sample index: ~2 MB, in ~5 ms).
# Larger ones (FAISS at millions of chunks is GBs) are fingerprinted by size plus their
# first and last MiB, which catches truncation and most overwrites for little I/O.
_HASH_WHOLE_BYTES = 64 << 20
_EDGE_BYTES = 1 << 20


@dataclass
class Manifest:
    config: IndexConfig
    files: dict[str, str] = field(default_factory=dict)  # path in the version -> fingerprint
    counts: dict[str, int] = field(default_factory=dict)
    saved_at: str = ""
    segments: list[dict] = field(default_factory=list)  # index.segment.SegmentInfo, oldest first
    deleted: dict[str, list[str]] = field(default_factory=dict)  # segment -> its deleted doc_ids
    next_chunk_id: int = 0
    next_segment: int = 1

    @classmethod
    def read(cls, path: Path) -> Manifest:
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(**{**raw, "config": IndexConfig(**raw["config"])})
        except FileNotFoundError:
            raise damaged(path.parent.parent, path, "is missing") from None
        except (OSError, ValueError, KeyError, TypeError) as error:
            problem = f"cannot be read ({type(error).__name__}: {error})"
            raise damaged(path.parent.parent, path, problem) from None

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=1, sort_keys=True), encoding="utf-8")


def damaged(root: Path, path: Path, problem: str) -> IndexDamagedError:
    """The one wording of index damage: the file, what is wrong, and what to do."""
    return IndexDamagedError(
        f"The index file {path} {problem}. Nothing was deleted. Restore it from a backup, "
        f"or rebuild the index: move {root} away and run `citeqa ingest DIR --index {root}`."
    )


def live_version(root: Path) -> str | None:
    """The live version's folder name; None for an index never saved.

    Raises IndexDamagedError when `CURRENT` is unreadable or names no version folder, and
    when versions exist without a `CURRENT` (it was deleted, or the first save crashed
    between its two steps): either way a person must choose, not this code."""
    pointer = root / CURRENT
    if not pointer.exists():
        orphans = sorted(p.name for p in root.glob("v[0-9]*"))
        if orphans:
            raise damaged(root, pointer, f"is missing, but versions exist ({', '.join(orphans)}); "
                          f"write the newest whole one's name into it to use it")  # fmt: skip
        return None
    try:
        name = pointer.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError) as error:
        raise damaged(root, pointer, f"cannot be read ({error})") from None
    if not _VERSION_NAME.fullmatch(name):
        problem = f"should name a version folder like v000001, not {name[:40]!r}"
        raise damaged(root, pointer, problem)
    if not (root / name).is_dir():
        raise damaged(root, pointer, f"names {name}, which is not there")
    return name


def fingerprint(path: Path) -> str:
    """`size:sha256`, of the whole file or, past _HASH_WHOLE_BYTES, of its two ends."""
    size = path.stat().st_size
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        if size <= _HASH_WHOLE_BYTES:
            digest.update(handle.read())
        else:
            digest.update(handle.read(_EDGE_BYTES))
            handle.seek(size - _EDGE_BYTES)
            digest.update(handle.read(_EDGE_BYTES))
    return f"{size}:{digest.hexdigest()}"


def fingerprints(folder: Path) -> dict[str, str]:
    """Every file of a version but its manifest, by path relative to the version."""
    return {
        p.relative_to(folder).as_posix(): fingerprint(p)
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MANIFEST
    }


def verify(folder: Path, trusted: Collection[str] = ()) -> Manifest:
    """The version's manifest, after checking every file it lists is there and unchanged,
    but those in the `trusted` subfolders (segments already checked and loaded)."""
    manifest = Manifest.read(folder / MANIFEST)
    for name, expected in manifest.files.items():
        if name.split("/")[0] in trusted:
            continue
        path = folder / name
        if not path.is_file():
            raise damaged(folder.parent, path, "is missing")
        found = fingerprint(path)
        if found != expected:
            size = expected.split(":")[0]
            problem = (
                f"has {found.split(':')[0]} bytes, not the {size} it was saved with"
                if found.split(":")[0] != size
                else "does not match the checksum it was saved with"
            )
            raise damaged(folder.parent, path, problem)
    return manifest


def publish(root: Path, work: Path) -> str:
    """Make the finished `work` folder the live version; return its name.

    Data is fsynced before the rename, and the pointer and the folder after, so a power
    cut leaves either the old version or the new one live, whole."""
    number = 1 + max((int(p.name[1:]) for p in root.glob("v[0-9]*")), default=0)
    name = f"v{number:06d}"
    _fsync_tree(work)
    os.rename(work, root / name)
    pointer = root / f".tmp-{uuid.uuid4().hex}-{CURRENT}"
    with open(pointer, "w", encoding="ascii") as handle:
        handle.write(name)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(pointer, root / CURRENT)  # the one atomic step that switches
    _fsync_dir(root)
    return name


def try_lock(root: Path) -> int | None:
    """An exclusive lock on the index's writer lock file, or None if someone holds it."""
    handle = os.open(root / LOCK, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(handle)
        return None
    return handle


def drop_leftovers(root: Path) -> None:
    """Remove what a crashed or finished writer left: work folders, unswapped pointers,
    and versions other than the live one. Skipped while a writer holds the lock (they are
    its own) or when the index cannot be written (it can still be read), and never run on
    a damaged pointer: `live_version` raises first."""
    if not os.access(root, os.W_OK):
        return
    lock = try_lock(root)
    if lock is None:
        return
    try:
        live = live_version(root)
        for path in [*root.glob(".tmp-*"), *root.glob("v[0-9]*")]:
            if path.name == live:
                continue
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
    finally:
        os.close(lock)


def _fsync_tree(folder: Path) -> None:
    for path in folder.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                os.fsync(handle.fileno())
    for path in [folder, *(p for p in folder.rglob("*") if p.is_dir())]:
        _fsync_dir(path)


def _fsync_dir(folder: Path) -> None:
    handle = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(handle)
    finally:
        os.close(handle)
