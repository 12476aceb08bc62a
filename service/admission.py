"""How many questions the model works on at once, and how long a question may wait.

On 2 cores torch already spreads one forward pass over both, so 32 questions computed at
once take as long in total as 32 in turn, each 32 times slower. And every thread that runs
the model keeps its own malloc arena at its peak size: with questions computed on any of
the server's 40 request threads, memory grew by a third in a 30 s soak. So questions are
computed on a few threads of their own, in arrival order; a question that cannot start
within its time budget gets a 503 with Retry-After rather than an answer too late to use.
A question that has started runs to its end: the request limits bound its cost.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")


class OverloadedError(RuntimeError):
    """The work could not start within its time budget."""


def run_within(pool: ThreadPoolExecutor, work: Callable[[], T], budget_s: float) -> T:
    """`work()` on `pool`, or OverloadedError when it has not started after `budget_s`."""
    future = pool.submit(work)
    try:
        return future.result(timeout=budget_s)
    except TimeoutError:
        if future.cancel():  # still queued: it never runs
            raise OverloadedError(f"Nothing started within {budget_s:g} s.") from None
        return future.result()  # already running: let it finish


class Admission:
    """Questions computed on `slots` threads, each allowed to queue for `budget_s`."""

    def __init__(self, slots: int, budget_s: float) -> None:
        self._pool = ThreadPoolExecutor(slots, thread_name_prefix="citeqa-ask")
        self._budget_s = budget_s

    def run(self, work: Callable[[], T]) -> T:
        try:
            return run_within(self._pool, work, self._budget_s)
        except OverloadedError:
            raise OverloadedError(
                f"The server is busy: the question could not start within "
                f"{self._budget_s:g} s. Retry shortly."
            ) from None
