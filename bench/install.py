"""A new user's first minutes: from `git clone` to a served answer, with `make install`'s
plain install (serving alone, no torch), and the size of the venv it builds.

    python -m bench.install [--port 8767]

Clones this repository's last commit into a temporary folder and, there, as `make run`
does: `make install`, `citeqa ingest` (the sample corpus), `citeqa serve`; then one `POST
/ask`. pip installs from this machine's configured indexes and its cache, as it would for
any user of this machine. HOME and the XDG folders point into the temporary folder, so the
index and the model cache start empty: the answer comes from the shipped ONNX files. The
venv is measured after that answer (Python compiles what serving imports on first use).
Writes bench/results/install.json.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import print_table, write_result
from bench.soak import ServerProcess

REPO = Path(__file__).resolve().parents[1]
QUESTION = "How many rockets were fired at the base in Kirkuk?"  # the README's example


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    """`command`'s wall time in seconds; its output is shown only if it fails."""
    began = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"bench.install: {' '.join(command)} failed:\n{done.stdout}{done.stderr}")
    return time.perf_counter() - began


def folder_mb(path: Path) -> float:
    files = (f for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return sum(f.stat().st_size for f in files) / 2**20


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--port", type=int, default=8767)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="citeqa-install-") as tmp:
        home, clone = Path(tmp) / "home", Path(tmp) / "citeqa"
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CITEQA_", "VIRTUAL_ENV"))}
        env |= {"HOME": str(home), "XDG_DATA_HOME": str(home / "data"),
                "XDG_CACHE_HOME": str(home / "cache"), "PIP_CACHE_DIR": pip_cache()}  # fmt: skip
        env["PATH"] = os.pathsep.join(p for p in env["PATH"].split(os.pathsep) if ".venv" not in p)
        began = time.perf_counter()
        times = {"clone_s": timed(["git", "clone", "-q", str(REPO), str(clone)], Path(tmp), env)}
        times["install_s"] = timed(["make", "install"], clone, env)
        citeqa = str(clone / ".venv" / "bin" / "citeqa")
        times["ingest_s"] = timed([citeqa, "ingest"], clone, env)
        index = home / "data" / "citeqa" / "index"
        served = time.perf_counter()
        with ServerProcess(index, args.port, env, [citeqa]) as server:
            answer = httpx.post(f"{server.url}/ask", json={"question": QUESTION}, timeout=120)
            answer.raise_for_status()
            times["serve_to_answer_s"] = time.perf_counter() - served
            total = time.perf_counter() - began
            text = answer.json()["answers"][0]["text"]
        venv = clone / ".venv"
        figures = {
            **times,
            "clone_to_answer_s": total,
            "venv_mb": folder_mb(venv),
            "torch_installed": any((venv / "lib").glob("python3.*/site-packages/torch")),
            "answer": text,
        }
    write_result("install", figures)
    print_table(["step", "value"], [[k, v] for k, v in figures.items()])


def pip_cache() -> str:
    """This machine's pip cache, as a user of it has it (the HOME above is a new one)."""
    return os.environ.get("PIP_CACHE_DIR") or str(Path.home() / ".cache" / "pip")


if __name__ == "__main__":
    main()
