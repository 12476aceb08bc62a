"""Write an `EvalResult` to a folder, and compare it with an earlier report.

report.json      every metric, overall and by question type, and the reliability bins
summary.md       the headline figures, a table by type, and the kinds of failure
questions.jsonl  one line per question, failures first (most confident first)
calibration.png  reliability diagram of score against correctness, with ECE
latency.png      histogram of retrieval, extraction and total latency

The two figures are drawn by eval/figures.py, with matplotlib: the `plots` extra, which a
plain install leaves out (`FIGURES_NEED` says so).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from citeqa.eval.run import EvalResult, QuestionResult
from citeqa.eval.summary import Scores

FIGURES_NEED = "calibration.png and latency.png need matplotlib: pip install 'citeqa[plots]'"

# (label, what it measures, path into report.json's "overall", scale for display) of the
# headline figures.
HEADLINE: list[tuple[str, str, tuple[str, ...], float]] = [
    ("EM", "exact match, %", ("exact_match",), 100),
    ("F1", "word overlap F1, %", ("f1",), 100),
    ("hit@1", "gold in 1st answer's passage, %", ("hit_at_1",), 100),
    ("hit@k", "gold in any answer's passage, %", ("hit_at_k",), 100),
    ("read", "gold in the windows read, %", ("windows_hold",), 100),
    ("R@5", "gold document in top 5, %", ("recall_at_5",), 100),
    ("MRR", "gold document MRR, %", ("mrr",), 100),
    ("noansF1", "no-answer F1, %", ("no_answer", "f1"), 100),
    ("cite", "exact citations, %", ("citation_validity",), 100),
    ("ECE", "calibration error, points", ("ece",), 100),
    ("p50ms", "median time a question, ms", ("latency", "total_ms", "p50"), 1),
]


@dataclass(frozen=True)
class Delta:
    """One headline figure, and its change when compared with a baseline."""

    label: str
    name: str
    value: float | None
    before: float | None = None
    compared: bool = False

    @property
    def change(self) -> str:
        """The change since the baseline, as shown: "+1.2", or "n/a"."""
        if self.value is None or self.before is None:
            return "n/a"
        return f"{self.value - self.before:+.1f}"

    def __str__(self) -> str:
        shown = f"{self.label} " + ("n/a" if self.value is None else f"{self.value:.1f}")
        if not self.compared:
            return shown
        if self.before is None:
            return f"{shown} (n/a before)"
        if self.value is None:
            return f"{shown} (was {self.before:.1f})"
        return f"{shown} ({self.value - self.before:+.1f})"


def write_report(result: EvalResult, out: Path) -> tuple[Path, bool]:
    """All five files into `out`, the figures only if matplotlib is installed; returns the
    report.json path and whether the figures were drawn."""
    out.mkdir(parents=True, exist_ok=True)
    report = out / "report.json"
    report.write_text(json.dumps(_report(result), indent=1) + "\n")
    (out / "summary.md").write_text(markdown(result))
    _write_questions(result.records, out / "questions.jsonl")
    try:
        from citeqa.eval import figures
    except ModuleNotFoundError as missing:
        if missing.name != "matplotlib":
            raise
        return report, False
    summary = result.summary
    figures.plot_calibration(summary.reliability, summary.overall.ece, out / "calibration.png")
    figures.plot_latency(result.records, out / "latency.png")
    return report, True


def _report(result: EvalResult) -> dict:
    return {
        "name": result.name,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "top_k": result.top_k,
        "no_answer_threshold": result.no_answer_threshold,
        **asdict(result.summary),
    }


def _write_questions(records: list[QuestionResult], path: Path) -> None:
    ordered = sorted(records, key=lambda r: (r.failure is None, -(r.score or 0.0)))
    with path.open("w", encoding="utf-8") as out:
        for record in ordered:
            out.write(json.dumps(asdict(record), ensure_ascii=False) + "\n")


def headline(report: dict) -> list[Delta]:
    """The one-line figures of a report.json (as loaded), scaled for display."""
    return [
        Delta(label, name, _scaled(report, path, scale)) for label, name, path, scale in HEADLINE
    ]


def compare(report: dict, baseline: dict) -> list[Delta]:
    """The one-line figures of `report` with the change since `baseline`."""
    return [
        Delta(label, name, _scaled(report, path, scale), _scaled(baseline, path, scale), True)
        for label, name, path, scale in HEADLINE
    ]


def table(figures: list[Delta]) -> Table:
    """The headline figures as a terminal table: full names, values, and the change since a
    baseline when they were compared with one."""
    compared = any(d.compared for d in figures)
    grid = Table()
    grid.add_column("measure")
    grid.add_column("", style="dim")
    grid.add_column("value", justify="right")
    if compared:
        grid.add_column("vs baseline", justify="right")
    for d in figures:
        value = "n/a" if d.value is None else f"{d.value:.1f}"
        grid.add_row(d.name, d.label, value, *([d.change] if compared else []))
    return grid


def _scaled(report: dict, path: tuple[str, ...], scale: float) -> float | None:
    value = report.get("overall", {})
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return None if value is None else float(value) * scale


def markdown(result: EvalResult) -> str:
    overall = result.summary.overall
    lines = [
        f"# Eval: {result.name}",
        "",
        f"{overall.questions} questions ({overall.answerable} answerable), top_k "
        f"{result.top_k}, no-answer threshold {result.no_answer_threshold}.",
        "",
        "  ".join(str(d) for d in headline({"overall": asdict(overall)})),
        "",
        "| type | n | EM | F1 | hit@1 | hit@k | R@1 | R@5 | R@20 | MRR | no-ans F1 | ECE "
        "| p50 ms |",
        "|---|" + "---:|" * 12,
        _row("all", overall),
        *(_row(name, m) for name, m in result.summary.by_type.items()),
        "",
        f"No answer: precision {pct(overall.no_answer.precision)}, recall "
        f"{pct(overall.no_answer.recall)}, F1 {pct(overall.no_answer.f1)}; best threshold "
        f"{_num(overall.no_answer.best_threshold, 3)} (F1 {pct(overall.no_answer.best_f1)}).",
        "",
        _conflicts(overall),
        "",
        "Latency p50 / p95 / p99 (ms): "
        + "; ".join(
            f"{name} {_num(p.p50)} / {_num(p.p95)} / {_num(p.p99)}"
            for name, p in (
                ("retrieval", overall.latency.retrieval_ms),
                ("extraction", overall.latency.extraction_ms),
                ("total", overall.latency.total_ms),
            )
        ),
        "",
        "## Failures",
        "",
        *(f"- {kind}: {count}" for kind, count in overall.failures.items()),
        "",
    ]
    return "\n".join(lines)


def _conflicts(overall: Scores) -> str:
    conflict = overall.conflict
    if conflict is None:
        return "Conflicts flagged: not measured (no labelled conflicts)."
    return (f"Conflicts flagged: precision {pct(conflict.precision)}, recall "
            f"{pct(conflict.recall)}, F1 {pct(conflict.f1)}.")  # fmt: skip


def _row(name: str, m: Scores) -> str:
    cells = [
        name,
        str(m.questions),
        *(
            pct(x)
            for x in (m.exact_match, m.f1, m.hit_at_1, m.hit_at_k, m.recall_at_1)
            + (m.recall_at_5, m.recall_at_20, m.mrr, m.no_answer.f1, m.ece)
        ),
        _num(m.latency.total_ms.p50),
    ]
    return "| " + " | ".join(cells) + " |"


def pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}"


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"
