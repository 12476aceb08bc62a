"""`LiveIndex`: the index as a long-running server sees it: the answerer over its newest
version, and its one writer.

A request takes `current()` once and keeps that answerer to its end, so it reads one
version throughout, even while a write publishes the next. `current()` sees a version
published by anyone, `citeqa ingest` in another process included, by reading the index's
`CURRENT` pointer: one small file read per request. Writes go through `write()`, one at a
time; when it returns, every request that starts sees the change.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

from citeqa.index.base import Index, IndexDamagedError, IndexMismatchError
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.admission import OverloadedError, run_within
from citeqa.service.qa.answerer import Answerer
from citeqa.service.settings import Settings
from citeqa.service.wiring import answerer_over, open_index

T = TypeVar("T")
log = logging.getLogger("citeqa")
# After a failed reload (a damaged new version), wait this long before reading it again,
# so a broken index costs one verification per interval, not one per request.
_RETRY_RELOAD_S = 5.0
_LIBC_PATH = ctypes.util.find_library("c")
_LIBC = ctypes.CDLL(_LIBC_PATH) if _LIBC_PATH else None


class WriterBusyError(RuntimeError):
    """Other writes in this server held the index for longer than `write_wait_s`."""

    @classmethod
    def after(cls, wait_s: float) -> WriterBusyError:
        return cls(f"Other writes have held the index for over {wait_s:g} s. Retry later.")


class LiveIndex:
    """Tracks the index's newest version (`current()`) and runs every write of this server
    on one thread (`write()`)."""

    def __init__(self, settings: Settings, embedder: Embedder) -> None:
        """Open the live version; a damaged index raises here, before serving starts."""
        self._settings = settings
        self.embedder = embedder
        self._answerer = self._open()
        self._reloading = threading.Lock()
        # Writes run one at a time on a thread of their own: serialised, and the memory
        # that embedding a batch takes stays in one malloc arena (see service/admission).
        self._writer = ThreadPoolExecutor(1, thread_name_prefix="citeqa-write")
        self._retry_at = 0.0
        # Why the newest version is not being served, when it is not; /ready reports it.
        self.problem: str | None = None

    def _open(self, reuse: Index | None = None) -> Answerer:
        index = open_index(self._settings, self.embedder, reuse)
        return answerer_over(index, self._settings, self.embedder)

    def current(self) -> Answerer:
        """The answerer over the newest version that loads."""
        answerer = self._answerer
        try:
            if answerer.index.is_current():
                return answerer
        except IndexDamagedError as error:
            self._fail(error)
            return answerer
        return self._reload(answerer)

    def _reload(self, seen: Answerer) -> Answerer:
        with self._reloading:
            if self._answerer is not seen or time.monotonic() < self._retry_at:
                return self._answerer  # another request reloaded, or a reload just failed
            try:
                self._answerer = self._open(reuse=seen.index)
                self.problem = None
            except (IndexDamagedError, IndexMismatchError) as error:
                self._fail(error)
            return self._answerer

    def _fail(self, error: Exception) -> None:
        if self.problem != str(error):
            log.error("serving the previous index version: %s", error)
        self.problem = str(error)
        self._retry_at = time.monotonic() + _RETRY_RELOAD_S

    def submit(self, change: Callable[[Index], T]) -> Future[T]:
        """Queue `change` behind the writes before it, as `write` runs it; don't wait."""
        return self._writer.submit(self._write, change)

    def write(self, change: Callable[[Index], T]) -> T:
        """Run `change` on a writer's own copy of the newest version; it saves or rolls
        back. Raises WriterBusyError when it cannot start within `write_wait_s`, behind
        other writes, and IndexBusyError when another process is writing."""
        try:
            return run_within(self._writer, lambda: self._write(change),
                              self._settings.write_wait_s)  # fmt: skip
        except OverloadedError:
            raise WriterBusyError.after(self._settings.write_wait_s) from None

    def _write(self, change: Callable[[Index], T]) -> T:
        index = open_index(self._settings, self.embedder, reuse=self._answerer.index)
        result = change(index)
        _return_free_memory()
        # The writer's index now reads the version it saved: serve it from now on.
        self._answerer = answerer_over(index, self._settings, self.embedder)
        self.problem = None
        return result


def _return_free_memory() -> None:
    """Give the heap a write freed back to the system. Embedding a batch of documents
    peaks at hundreds of MB, and glibc keeps freed memory in the arena for reuse: without
    this a server's RSS rose with every write (tests/http/test_soak.py)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
