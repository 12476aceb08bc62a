"""What both benchmarks share: the sample index, percentiles and the printed table."""

from __future__ import annotations

import resource
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from citeqa.ingest.embedding import Embedder
from citeqa.ingest.pipeline import IngestReport, ingest
from citeqa.service.components import chunker_settings, open_index
from citeqa.service.settings import Settings, sample_corpus


@dataclass(frozen=True)
class Timing:
    """Latencies of one measured operation, in milliseconds."""

    name: str
    samples: list[float]

    def percentile(self, p: float) -> float:
        ordered = sorted(self.samples)
        # Nearest rank: with 200 samples p99 is the second slowest, not an interpolation.
        return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]

    @property
    def p50(self) -> float:
        return statistics.median(self.samples)

    @property
    def mean(self) -> float:
        return statistics.fmean(self.samples)


def time_calls(name: str, call: Callable[[int], object], n: int, warmup: int = 5) -> Timing:
    """`call(i)` for i in range(n), each timed alone, after `warmup` untimed calls."""
    for i in range(warmup):
        call(i)
    samples = []
    for i in range(n):
        began = time.perf_counter()
        call(i)
        samples.append(1000 * (time.perf_counter() - began))
    return Timing(name, samples)


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_sample(root: Path, embedder: Embedder) -> tuple[Settings, IngestReport]:
    """Settings for a fresh index at `root` holding the sample corpus."""
    settings = Settings(index=root)
    report = ingest(
        sample_corpus(), open_index(settings, embedder), embedder, chunker_settings(settings)
    )
    return settings, report


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(headers, widths, strict=True))
    )
    print(line)
    print("-" * len(line))
    for row in cells:
        print(
            "  ".join(
                v.ljust(w) if i == 0 else v.rjust(w)
                for i, (v, w) in enumerate(zip(row, widths, strict=True))
            )
        )


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.1f}" if abs(value) >= 10 else f"{value:.2f}"
    return str(value)
