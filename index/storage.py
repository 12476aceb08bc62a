"""Whether an index folder can take a write: room on its disk, and permission to write.

Checked before a write starts embedding, so that a full disk costs a clear refusal at
once, not minutes of model work and then a failure (issue 21's probe: 20 s of embedding,
then `database or disk is full` in the log and a bare 500). A failure the estimate did
not foresee is put in the same words by `storage_error`.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
from pathlib import Path

from citeqa.index.base import IndexFullError, IndexReadOnlyError

# Bytes a version of the index takes per character of text: text, sentence vectors
# (384 floats each), term counts and the SQLite store. The sample corpus's 41,957
# characters made a 501,157-byte version (12 a character, 3 Dec 2026); 16 leaves room.
BYTES_PER_CHAR = 16
# Room kept free beyond the estimate: SQLite's journal, the manifest, a merge of small
# segments, and the feedback store beside the index.
RESERVE_BYTES = 32 * 1024 * 1024


def check_room(root: Path, text_chars: int) -> None:
    """Raise IndexReadOnlyError or IndexFullError when `root` cannot take a write of
    `text_chars` characters of new text (0: any write at all)."""
    folder = root if root.exists() else root.parent
    if not os.access(folder, os.W_OK):
        raise IndexReadOnlyError(
            f"The index folder {root} cannot be written. Nothing changed. Make it writable "
            "(or mount it read-write), then retry."
        )
    free = shutil.disk_usage(folder).free
    needed = text_chars * BYTES_PER_CHAR + RESERVE_BYTES
    if free < needed:
        raise IndexFullError(
            f"No space left for the index at {root}: {_mb(free)} free, and this write "
            f"needs about {_mb(needed)}. Nothing changed. Free disk space, then retry.",
        )


def storage_error(error: OSError | sqlite3.OperationalError) -> RuntimeError | None:
    """`error`, raised while writing an index, in the words of IndexFullError or
    IndexReadOnlyError; None when it is neither."""
    code = getattr(error, "errno", None)
    text = str(error).lower()
    if code in (errno.ENOSPC, errno.EDQUOT) or "disk is full" in text:
        return IndexFullError(
            f"No space left for the index ({error}). The write was rolled back: "
            "nothing changed. Free disk space, then retry.",
        )
    if code in (errno.EROFS, errno.EACCES, errno.EPERM) or "readonly" in text:
        return IndexReadOnlyError(
            f"The index cannot be written ({error}). The write was rolled back: nothing "
            "changed. Make its folder writable, then retry."
        )
    return None


def _mb(size: int) -> str:
    return f"{size / 1024 / 1024:.1f} MB"
