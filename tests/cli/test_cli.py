"""The `citeqa` command, run as a user runs it: the installed script in a subprocess.

Each command that answers or ingests here loads the model (~5 s), so the module makes few
such runs: ingest, ask --json, ask (an answer, then none), ask on a mismatched index and
its rebuild, and one `citeqa serve` that later asks go to. The many kinds of bad input to
/ask are checked once, over HTTP, in test_api; here, what the command line says of its own.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from support import ROOT, ServerProcess, assert_cited, ingest_counts, reserved_port, run_citeqa

from citeqa.index.base import IndexConfig
from citeqa.index.local import LocalIndex
from citeqa.index.versions import FORMAT_VERSION
from citeqa.ingest.loaders import make_document
from citeqa.service.http.schemas import AskResponse
from citeqa.service.qa.sureness import BANDS

QUESTION = "How much did the bridge repairs cost?"
UNANSWERED = "Who won the chess tournament in Oslo?"
BAND = re.compile("^  (" + "|".join(re.escape(b.words) for b in BANDS) + r") \(\d+%\)$")
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
    # How sure, in the chat's words, under the answer: "Likely right (82%)", not "(82%)".
    assert BAND.match(lines[1]), lines[:2]
    assert f"answered by this process, over {cli_index}" in result.stderr


@pytest.mark.slow  # answers
def test_no_answer_prints_the_related_passages(cli_index: Path, home: Path) -> None:
    result = run_citeqa("ask", UNANSWERED, "--index", cli_index, home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "No answer in the articles."
    assert lines[1] == "Related passages, which may help:"
    assert lines[2].startswith('  "') and lines[2].endswith('"')
    assert lines[3].startswith("  -- alpha [")


@pytest.fixture(scope="module")
def server(cli_index: Path) -> Iterator[ServerProcess]:
    """`citeqa serve` over the module's index: what `citeqa ask` asks when one runs."""
    with ServerProcess(cli_index) as running:
        yield running


@pytest.mark.slow  # starts a server
def test_ask_goes_to_the_server_named_by_citeqa_url(server: ServerProcess, home: Path) -> None:
    result = run_citeqa("ask", QUESTION, env={"CITEQA_URL": server.url}, home=home)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert BAND.match(lines[1]) and lines[2].startswith('  "'), lines
    assert f"answered by the server at {server.url}" in result.stderr
    unanswered = run_citeqa("ask", UNANSWERED, env={"CITEQA_URL": server.url}, home=home)
    assert "Related passages, which may help:" in unanswered.stdout
    as_json = run_citeqa("ask", QUESTION, "--json", env={"CITEQA_URL": server.url}, home=home)
    assert AskResponse.model_validate_json(as_json.stdout).question == QUESTION


@pytest.mark.slow  # starts a server
def test_ask_finds_a_server_on_the_default_port(server: ServerProcess, home: Path) -> None:
    """No CITEQA_URL, no --index: the server `citeqa serve` would start (here on the port
    CITEQA_PORT names) answers when its /ready says so."""
    port = server.url.rsplit(":", 1)[1]
    result = run_citeqa("ask", QUESTION, env={"CITEQA_PORT": port}, home=home)
    assert result.returncode == 0, result.stderr
    assert f"answered by the server at http://127.0.0.1:{port}" in result.stderr


def test_ask_says_when_the_named_server_is_not_there(home: Path) -> None:
    with reserved_port() as port:  # held, never listening: a connection is refused
        url = f"http://127.0.0.1:{port}"
        result = run_citeqa("ask", QUESTION, env={"CITEQA_URL": url}, home=home)
    assert result.returncode == 2
    assert result.stderr.startswith(f"No citeqa server answered at {url}")
    assert len(result.stderr.splitlines()) == 1 and result.stdout == ""


def test_ingest_exits_1_when_every_page_failed(home: Path, tmp_path: Path) -> None:
    with reserved_port() as port:
        urls = [f"http://127.0.0.1:{port}/a.html", f"http://127.0.0.1:{port}/b.html"]
        result = run_citeqa("ingest", *urls, "--index", tmp_path / "index", home=home)
    assert result.returncode == 1
    assert ingest_counts(result.stdout)["skipped"] == 2
    said = result.stderr.splitlines()
    assert [line.split(":", 2)[:2] for line in said[:2]] == [["skipped http", "//127.0.0.1"]] * 2
    assert all("connection refused" in line for line in said[:2])
    assert said[-1] == "Nothing was added: all 2 skipped, as above."
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(
    ("line", "said"),
    [
        ('{"id": "a", "question": "Q?", "answers": "x", "doc_ids": [], "type": "who", '
         '"unanswerable": false}', "line 2: field 'answers': Input should be a valid array"),
        ('{"id": "a", "question": "Q?", "doc_ids": [], "type": "who", "unanswerable": false}',
         "line 2: field 'answers': Field required"),
        ("not json", "line 2: not a JSON object"),
    ],
)  # fmt: skip
def test_eval_names_the_file_line_and_field_of_a_bad_set(
    line: str, said: str, home: Path, tmp_path: Path
) -> None:
    good = (ROOT / "eval" / "questions.jsonl").read_text(encoding="utf-8").splitlines()[0]
    path = tmp_path / "set.jsonl"
    path.write_text(f"{good}\n{line}\n", encoding="utf-8")
    result = run_citeqa("eval", path, home=home)
    assert result.returncode == 2
    assert result.stderr == f"{path}, {said}\n"


def test_a_setting_of_the_wrong_kind_is_said_in_one_line(home: Path) -> None:
    result = run_citeqa("ask", QUESTION, env={"CITEQA_PORT": "eighty"}, home=home)
    assert result.returncode == 2
    assert result.stderr.startswith("CITEQA_PORT: Input should be a valid integer")
    assert len(result.stderr.splitlines()) == 1


def test_empty_question_is_refused_with_a_message(home: Path) -> None:
    # Refused before the model loads. (Blank and overlong questions: see test_api.)
    result = run_citeqa("ask", "", "--index", home / "unused", home=home)
    assert result.returncode != 0
    assert "empty" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


@pytest.mark.slow  # loads the embedder, then rebuilds and asks
def test_an_index_built_otherwise_is_refused_until_rebuilt_from_its_own_documents(
    home: Path, tmp_path: Path
) -> None:
    root = home / "other-index"
    config = IndexConfig(
        "sentence-transformers/all-MiniLM-L6-v2", 384, {"chunk_size": 1000}, FORMAT_VERSION
    )
    index = LocalIndex.open(root, replace(config, chunker={"chunk_size": 400}))
    index.add([make_document("uploaded", ALPHA)], [])  # in no folder: only the index has it
    index.save()
    refused = run_citeqa("ask", QUESTION, "--index", root, home=home)
    assert refused.returncode == 2
    assert "Traceback" not in refused.stderr + refused.stdout
    assert f"`citeqa ingest --rebuild --index {root}`" in refused.stderr

    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "gamma.txt").write_text("Gamma\n\nThe ferry runs twice a day.\n", encoding="utf-8")
    rebuilt = run_citeqa("ingest", folder, "--rebuild", "--index", root, home=home)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "rebuilt" in rebuilt.stdout and "1 documents" in rebuilt.stdout
    assert ingest_counts(rebuilt.stdout)["added"] == 1
    answered = run_citeqa("ask", QUESTION, "--index", root, "--json", "--local", home=home)
    assert answered.returncode == 0, answered.stderr
    body = json.loads(answered.stdout)
    response = AskResponse.model_validate(body)
    assert response.answers and response.answers[0].doc_id == "uploaded", "it is searched again"
    assert assert_cited(body, {"uploaded": ALPHA}) == len(response.answers)


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
