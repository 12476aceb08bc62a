"""The `citeqa` command, run as a user runs it: the installed script in a subprocess.

Each command that answers or ingests loads the model (~5 s), so the module makes four
such runs in all: ingest, ask --json, ask, and ask on a mismatched index. The many kinds
of bad input are checked once, over HTTP, in test_api.
"""

from __future__ import annotations

import ast
import json
import os
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from citeqa.index.base import IndexConfig
from citeqa.index.local import LocalIndex
from citeqa.index.versions import FORMAT_VERSION
from citeqa.ingest.loaders import make_document
from citeqa.service.http.schemas import AskResponse

CITEQA = Path(sys.executable).with_name("citeqa")
QUESTION = "How much did the bridge repairs cost?"
ALPHA = (
    "The Harbour Times\n\nBridge reopens after repairs\n\n"
    "The Kestrel Bridge reopened on Monday after eight months of repairs. "
    "The city engineer, Maria Olsen, said the work cost 12 million dollars.\n"
)


def citeqa(*args: str | Path, home: Path) -> subprocess.CompletedProcess[str]:
    """Run the installed `citeqa`; `home` keeps it away from the user's default index."""
    env = {
        **os.environ,
        "HOME": str(home),
        "XDG_DATA_HOME": str(home / "data"),
        "NO_COLOR": "1",
        "COLUMNS": "200",  # one line per message, however wide the terminal is
    }
    env = {k: v for k, v in env.items() if not k.startswith("CITEQA_")}
    return subprocess.run(
        [str(CITEQA), *map(str, args)], capture_output=True, text=True, env=env, timeout=600
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
    result = citeqa("ingest", folder, "--index", index, home=home)
    assert result.returncode == 0, result.stderr
    assert "1 added" in result.stdout and str(index) in result.stdout
    assert "broken.txt" in result.stderr, "the bad file is reported, not fatal"
    return index


def test_help_lists_the_commands(home: Path) -> None:
    result = citeqa("--help", home=home)
    assert result.returncode == 0
    for command in ("ingest", "ask", "serve", "eval", "train-reader"):
        assert command in result.stdout


def test_service_never_imports_eval() -> None:
    """Eval calls service, so the `citeqa` app is put together in eval (eval/main.py): no
    service module imports eval, not even inside a function to run eval's commands."""
    for path in (Path(__file__).resolve().parents[1] / "service").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                names = [node.module or ""]
            else:
                continue
            assert not any(n.startswith("citeqa.eval") for n in names), f"{path.name}: {names}"


def test_ask_json_is_the_ask_schema(cli_index: Path, home: Path) -> None:
    result = citeqa("ask", QUESTION, "--index", cli_index, "--json", "--top-k", "2", home=home)
    assert result.returncode == 0, result.stderr
    response = AskResponse.model_validate(json.loads(result.stdout))
    assert response.question == QUESTION
    assert not response.no_answer and len(response.answers) <= 2
    for answer in response.answers:
        assert answer.doc_id == "alpha"
        assert ALPHA[answer.start : answer.end] == answer.text
        assert ALPHA[answer.passage.start : answer.passage.end] == answer.passage.text
        assert answer.passage.start <= answer.start < answer.end <= answer.passage.end


def test_ask_prints_a_quoted_passage(cli_index: Path, home: Path) -> None:
    result = citeqa("ask", QUESTION, "--index", cli_index, home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    quoted = [line.strip() for line in lines if line.strip().startswith('"')]
    assert quoted and quoted[0].endswith('"')
    assert "12 million dollars" in quoted[0] or "Kestrel Bridge" in quoted[0]
    assert any(line.strip().startswith("-- alpha [") for line in lines), "cites doc and offsets"


def test_empty_question_is_refused_with_a_message(home: Path) -> None:
    # Refused before the model loads. (Blank and overlong questions: see test_api.)
    result = citeqa("ask", "", "--index", home / "unused", home=home)
    assert result.returncode != 0
    assert "empty" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def test_ask_on_an_index_built_otherwise_says_what_to_do(home: Path) -> None:
    root = home / "other-index"
    config = IndexConfig(
        "sentence-transformers/all-MiniLM-L6-v2", 384, {"chunk_size": 1000}, FORMAT_VERSION
    )
    index = LocalIndex.open(root, replace(config, chunker={"chunk_size": 400}))
    index.add([make_document("doc", "Some text.\n")], [])
    index.save()
    result = citeqa("ask", QUESTION, "--index", root, home=home)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr + result.stdout
    assert "Rebuild it" in result.stderr and f"citeqa ingest DIR --index {root}" in result.stderr
