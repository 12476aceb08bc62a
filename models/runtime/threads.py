"""ONNX Runtime's threading, for every model session (OpenMP's is set in __init__.py).

The models run in ONNX Runtime, one thread per call: the
server computes questions side by side on its ask slots (service/admission.py) instead of
one question on both cores, which measured no faster under load (bench/README.md, "/ask on
ONNX Runtime": threads); and a write in the server embeds on one core, leaving the others
to questions. A batch ingest from the command line has no question to leave room for: it
embeds on every core (`BATCH_THREADS`), and so does the reader for a question asked
while no other is being answered (`InFlight`, counted by service/qa/answerer.py).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import onnxruntime as ort

# Threads of one model call (bench/README.md, "/ask on ONNX Runtime": threads).
INTRA_OP_THREADS = 1
# Threads of one model call in `citeqa ingest` and `citeqa refresh`: every core this
# process may use. The sample corpus's texts embedded in 5.4 s on one thread and 3.6 s on
# two (2 cores, 3 Dec 2026; bench/ingest.py measures both).
BATCH_THREADS = len(os.sched_getaffinity(0))


def session_options(threads: int = INTRA_OP_THREADS) -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads that wait sleep, as OpenMP's do above: spinning starves the other slots.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options


class InFlight:
    """How many calls are inside `entered` at once, across threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._count = 0

    @contextmanager
    def entered(self) -> Iterator[int]:
        """Inside: yields how many other calls were inside when this one entered."""
        with self._lock:
            others = self._count
            self._count += 1
        try:
            yield others
        finally:
            with self._lock:
                self._count -= 1
