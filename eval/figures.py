"""citeqa eval's two figures (eval/report.py writes them beside the report), with
matplotlib: the `plots` extra."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never a window, also on machines without a display

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from citeqa.eval.metrics import ReliabilityBin, percentiles  # noqa: E402
from citeqa.eval.report import pct  # noqa: E402
from citeqa.eval.run import QuestionResult  # noqa: E402


def plot_calibration(bins: list[ReliabilityBin], ece: float | None, path: Path) -> None:
    """Accuracy against mean score per bin, beside the diagonal of perfect calibration."""
    filled = [b for b in bins if b.count]
    figure, (top, bottom) = plt.subplots(
        2, 1, figsize=(5, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]}
    )
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", label="perfectly calibrated")
    top.bar(
        [b.low for b in filled],
        [b.accuracy for b in filled],
        width=[b.high - b.low for b in filled],
        align="edge",
        edgecolor="black",
        alpha=0.7,
        label="share right (exact match)",
    )
    top.plot(
        [b.confidence for b in filled],
        [b.accuracy for b in filled],
        "o-",
        color="C1",
        label="at mean score",
    )
    top.set_ylabel("share right")
    top.set_ylim(0, 1)
    top.set_title(f"Calibration of the top answer's score (ECE {pct(ece)}%)")
    top.legend(loc="upper left", fontsize="small")
    bottom.bar(
        [b.low for b in bins],
        [b.count for b in bins],
        width=[b.high - b.low for b in bins],
        align="edge",
        edgecolor="black",
    )
    bottom.set_xlabel("score")
    bottom.set_ylabel("questions")
    bottom.set_xlim(0, 1)
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)


def plot_latency(records: list[QuestionResult], path: Path) -> None:
    """Overlaid histograms on shared bins, with the total's p50 and p95 marked."""
    totals = [r.total_ms for r in records]
    bins = np.linspace(0.0, max(totals, default=1.0), 60)
    figure, axes = plt.subplots(figsize=(6, 4))
    for label, values in (
        ("retrieval", [r.retrieval_ms for r in records]),
        ("extraction", [r.extraction_ms for r in records]),
        ("total", totals),
    ):
        axes.hist(values, bins=bins, alpha=0.5, label=label)
    marks = percentiles(totals)
    for name, value in (("p50", marks.p50), ("p95", marks.p95)):
        if value is not None:
            axes.axvline(value, color="black", linestyle=":", linewidth=1)
            axes.annotate(f"total {name}", (value, 0.95), xycoords=("data", "axes fraction"))
    axes.set_xlabel("ms")
    axes.set_ylabel("questions")
    axes.set_title("Latency per question")
    axes.legend(loc="center right")
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
