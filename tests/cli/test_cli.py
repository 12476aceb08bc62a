"""The `citeqa` command, run as a user runs it: the installed script in a subprocess.

Each command that answers or ingests loads the model (~5 s), so the module makes four
such runs in all: ingest, ask --json, ask, and ask on a mismatched index. The many kinds
of bad input are checked once, over HTTP, in test_api.
"""

from __future__ import annotations

import ast
import json
from dataclasses import replace
from pathlib import Path

import pytest
from support import ROOT, assert_cited, ingest_counts, run_citeqa

from citeqa.index.base import IndexConfig
from citeqa.index.local import LocalIndex
from citeqa.index.versions import FORMAT_VERSION
from citeqa.ingest.loaders import make_document
from citeqa.service.http.schemas import AskResponse

QUESTION = "How much did the bridge repairs cost?"
ALPHA = (
    "The Harbour Times\n\nBridge reopens after repairs\n\n"
    "The Kestrel Bridge reopened on Monday after eight months of repairs. "
    "The city engineer, Maria Olsen, said the work cost 12 million dollars.\n"
)


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("home")


@pytest.fixture(scope="module")
def cli_index(home: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An index made by `citeqa ingest` from a small folder of this module's own."""
    folder = tmp_path_factory.mktemp("articles")
    (folder / "alpha.txt").write_text(ALPHA, encoding="utf-8")
    (folder / "broken.txt").write_bytes(b"\xff\xfe\x00not text")
    index = home / "index"
    result = run_citeqa("ingest", folder, "--index", index, home=home)
    assert result.returncode == 0, result.stderr
    assert ingest_counts(result.stdout)["added"] == 1 and str(index) in result.stdout
    assert "broken.txt" in result.stderr, "the bad file is reported, not fatal"
    return index


def test_help_lists_the_commands(home: Path) -> None:
    result = run_citeqa("--help", home=home)
    assert result.returncode == 0
    for command in ("ingest", "ask", "serve", "eval", "train-reader"):
        assert command in result.stdout


def test_service_never_imports_eval() -> None:
    """Eval calls service, so the `citeqa` app is put together in eval (cli/app.py): no
    service module imports eval, not even inside a function to run eval's commands."""
    for path in (ROOT / "service").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.startswith("citeqa.eval") for n in names), f"{path}: {names}"


@pytest.mark.slow  # ingests and answers
def test_ask_json_is_the_ask_schema(cli_index: Path, home: Path) -> None:
    result = run_citeqa("ask", QUESTION, "--index", cli_index, "--json", "--top-k", "2", home=home)
    assert result.returncode == 0, result.stderr
    body = json.loads(result.stdout)
    response = AskResponse.model_validate(body)
    assert response.question == QUESTION
    assert not response.no_answer and len(response.answers) <= 2
    assert all(answer.doc_id == "alpha" for answer in response.answers)
    assert assert_cited(body, {"alpha": ALPHA}) == len(response.answers)


@pytest.mark.slow  # ingests and answers
def test_ask_prints_a_quoted_passage(cli_index: Path, home: Path) -> None:
    result = run_citeqa("ask", QUESTION, "--index", cli_index, home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    quoted = [line.strip() for line in lines if line.strip().startswith('"')]
    assert quoted and quoted[0].endswith('"')
    assert "12 million dollars" in quoted[0] or "Kestrel Bridge" in quoted[0]
    assert any(line.strip().startswith("-- alpha [") for line in lines), "cites doc and offsets"


def test_empty_question_is_refused_with_a_message(home: Path) -> None:
    # Refused before the model loads. (Blank and overlong questions: see test_api.)
    result = run_citeqa("ask", "", "--index", home / "unused", home=home)
    assert result.returncode != 0
    assert "empty" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow  # loads the embedder before it finds the index built otherwise
def test_ask_on_an_index_built_otherwise_says_what_to_do(home: Path) -> None:
    root = home / "other-index"
    config = IndexConfig(
        "sentence-transformers/all-MiniLM-L6-v2", 384, {"chunk_size": 1000}, FORMAT_VERSION
    )
    index = LocalIndex.open(root, replace(config, chunker={"chunk_size": 400}))
    index.add([make_document("doc", "Some text.\n")], [])
    index.save()
    result = run_citeqa("ask", QUESTION, "--index", root, home=home)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Rebuild it" in result.stderr and f"citeqa ingest DIR --index {root}" in result.stderr


@pytest.mark.slow  # two ingests
def test_ingest_adds_by_default_and_removes_only_with_sync(home: Path, tmp_path: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, name in ((first, "alpha"), (second, "gamma")):
        folder.mkdir()
        (folder / f"{name}.txt").write_text(ALPHA, encoding="utf-8")
    index = tmp_path / "index"
    assert run_citeqa("ingest", first, "--index", index, home=home).returncode == 0
    added = run_citeqa("ingest", second, "--index", index, home=home)
    assert ingest_counts(added.stdout)["added"] == 1
    assert ingest_counts(added.stdout)["removed"] == 0, "alpha, not in `second`, stays"
    synced = run_citeqa("ingest", second, "--index", index, "--sync", home=home)
    assert ingest_counts(synced.stdout)["removed"] == 1
    assert f"removed alpha: not in {second}" in synced.stdout
