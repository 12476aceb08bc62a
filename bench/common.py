"""What the benchmarks share: the sample index, percentiles, the printed table and the
JSON written to bench/results/."""

from __future__ import annotations

import json
import os
import platform
import resource
import shlex
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from citeqa.index.factory import BackendName
from citeqa.index.writer import IngestReport, ingest
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.settings import Settings, sample_corpus
from citeqa.service.wiring import chunker_settings, open_index

RESULTS = Path(__file__).parent / "results"
# The eval sets the SQuAD steps read by default, where the Makefile's SQUAD and SQUAD2 point.
SHARED_EVAL = Path(__file__).resolve().parents[2] / "shared" / "eval"
SQUAD = SHARED_EVAL / "squad-dev-v1.1-even.json"
SQUAD2 = SHARED_EVAL / "squad-dev-v2.0-even.json"
# The packages whose versions move the figures most: the models' runtime, the vector
# search, and torch, which exports the models and runs the reader's training.
PACKAGES = ("onnxruntime", "faiss-cpu", "torch")
# The benchmarks cycle fixed sets of questions: the question cache (Settings.question_cache)
# would answer their repeats without the embedder and flatter every figure. Off in every
# benchmark: in process (`bench_settings`) and in the servers they start (bench/soak.py's
# ServerProcess).
NO_QUESTION_CACHE = {"CITEQA_QUESTION_CACHE": "0"}


def bench_settings(**values: object) -> Settings:
    """Settings as a benchmark answers with: the environment's, `values` on top, and the
    question cache off."""
    return Settings(**values, question_cache=0)


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

    def summary(self) -> dict[str, float]:
        return {"p50_ms": self.p50, "p95_ms": self.percentile(95),
                "p99_ms": self.percentile(99), "mean_ms": self.mean}  # fmt: skip


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


def rss_mb(pid: int | str = "self") -> float:
    """A process's resident memory now, from /proc (Linux): this one by default."""
    status = Path(f"/proc/{pid}/status").read_text()
    kib = next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS"))
    return int(kib) / 1024


def cpu_seconds(pid: int) -> float:
    """A process's CPU time so far, user and system, every thread's (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def peak_rss_mb() -> float:
    """This process's peak resident memory so far (Linux reports ru_maxrss in KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def ingest_sample(
    root: Path, embedder: Embedder, backend: BackendName = "local"
) -> tuple[Settings, IngestReport]:
    """Settings for a fresh index at `root`, on `backend`, holding the sample corpus."""
    settings = bench_settings(index=root, backend=backend)
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


def write_result(name: str, figures: dict) -> Path:
    """bench/results/<name>.json: the figures, with the date, the machine and the command
    that made them, so that a table built from the file can say where each figure is from."""
    report = {"date": utc_now(), "machine": machine(), "command": command_line(), **figures}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    return path


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def machine() -> dict:
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "ram_gb": round(_mem_total_kib() / 2**20, 1),
        "python": platform.python_version(),
        "packages": {name: _version(name) for name in PACKAGES},
        # A shared machine: the load when the figures were taken says how far to trust them.
        "load_average": [round(load, 2) for load in os.getloadavg()],
    }


def command_line() -> str:
    """This process's command as typed: `python -m bench.X ...` when run as a module."""
    spec = getattr(sys.modules["__main__"], "__spec__", None)
    argv = ["python", "-m", spec.name, *sys.argv[1:]] if spec else ["python", *sys.argv]
    return shlex.join(argv)


def _mem_total_kib() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1])
    raise RuntimeError("no MemTotal in /proc/meminfo")


def _version(package: str) -> str | None:
    try:
        return version(package)
    except PackageNotFoundError:
        return None
