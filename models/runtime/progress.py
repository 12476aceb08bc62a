"""Progress bars, on a terminal only: in a redirected log a bar is a flood of redrawn
lines (issue 33: `citeqa eval > log` filled it), so there each bar is left out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from tqdm import tqdm

T = TypeVar("T")


def bar(iterable: Iterable[T] | None = None, *, shown: bool = True, **options: Any) -> tqdm:
    """tqdm over `iterable` (or to `update` by hand with `total`), drawn when `shown` and
    stderr is a terminal; tqdm's own `disable=None` is the terminal test."""
    return tqdm(iterable, disable=None if shown else True, **options)
