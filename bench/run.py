"""Every benchmark in order, then the targets table (issues 24 and 11) in bench/README.md.

    python -m bench.run [--quick] [--squad FILE] [--squad2 FILE]

Each step is its own process, as a user would type it (`make bench` is the full run,
`make bench-quick` the quick one); the first that fails stops the run, and the table is
left as it was. Quick mode takes a few minutes (plus ~4 minutes the first time, to build
Haystack's venv): fewer requests, one serving setting, the peer on the sample corpus only,
and 100,000 chunks instead of a million. bench/results/run.json records the mode, the
commands and their times; `python -m bench.targets` rebuilds the table from the results.
"""

from __future__ import annotations

import argparse
import os
import shlex
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import SQUAD, SQUAD2, print_table, utc_now, write_result
from bench.targets import update_readme

REPO = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Step:
    args: list[str]  # after `python -m`
    env: dict[str, str] = field(default_factory=dict)

    @property
    def command(self) -> str:
        assigned = [f"{k}={v}" for k, v in self.env.items()]
        return " ".join([*assigned, shlex.join(["python", "-m", *self.args])])


def steps(quick: bool, squad: Path, squad2: Path) -> list[Step]:
    million = ["bench.million", "--squad", str(squad)]
    if quick:
        return [
            Step(["bench.latency", "--requests", "50"]),
            Step(["bench.serving", "--slots", "2", "--seconds", "10"]),
            Step(["bench.peer"]),
            Step(["bench.backends", "--questions", "30"]),
            Step([*million, "--chunks", "100000", "--queries", "100"]),
        ]
    return [
        Step(["bench.latency"]),
        Step(["bench.ingest"]),
        Step(["bench.serving"]),
        Step(["bench.peer"]),
        Step(["bench.peer", "--squad", str(squad), "--queries", "1000"]),
        Step(["bench.quality", "--squad", str(squad), "--squad2", str(squad2)]),
        Step(["bench.backends"]),
        Step(million),
        Step(["bench.soak", "--clients", "32", "--seconds", "120"]),
        Step(["bench.install"]),
        Step(["pytest", "tests/index/test_kill.py"], {"KILL_TRIALS": "20"}),
    ]


def run(step: Step) -> tuple[int, float]:
    """The step's exit code and wall time in seconds; its output goes straight through."""
    print(f"\n=== {step.command}", flush=True)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", *step.args], cwd=REPO, env={**os.environ, **step.env}
    )
    return done.returncode, time.perf_counter() - began


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="minutes, not an hour")
    parser.add_argument("--squad", type=Path, default=SQUAD, help="SQuAD v1.1 JSON")
    parser.add_argument("--squad2", type=Path, default=SQUAD2, help="SQuAD 2.0 JSON")
    args = parser.parse_args()
    for given in (args.squad, args.squad2):
        if not given.is_file():
            sys.exit(f"bench.run: no SQuAD file at {given}; pass --squad/--squad2 FILE")
    mode = "quick" if args.quick else "full"
    started, began = utc_now(), time.perf_counter()
    done: list[list[object]] = []
    for step in steps(args.quick, args.squad.resolve(), args.squad2.resolve()):
        code, seconds = run(step)
        done.append([step.command, seconds])
        if code != 0:
            print_table(["command", "seconds"], done)
            sys.exit(f"\nbench.run: `{step.command}` failed (exit {code}); later steps not run, "
                     "bench/README.md left as it was")  # fmt: skip
    wall = time.perf_counter() - began
    write_result("run", {
        "mode": mode, "started": started, "seconds": wall,
        "steps": [{"command": c, "seconds": s} for c, s in done],
    })  # fmt: skip
    update_readme()
    print()
    print_table(["command", "seconds"], [*done, [f"all ({mode} mode)", wall]])
    print("\nbench/README.md: targets table updated from bench/results/")


if __name__ == "__main__":
    main()
