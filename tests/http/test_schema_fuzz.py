"""schemathesis against the live OpenAPI: generated requests, valid and invalid, to every
route of a real server with writes on. No response may be a 5xx, and every response must
match the schema: its status documented, its body the documented shape.

The short form here makes over 1,000 requests; `FUZZ_EXAMPLES` raises it. Each case is run
once per module (`fuzz`); the count test runs every case that has not run yet, so it holds
alone or under -k as well as after the others.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from support import LiveServer

from citeqa.index.writer import ingest
from citeqa.ingest.chunking import ChunkerSettings
from citeqa.ingest.loaders import normal_doc_id
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.settings import Settings
from citeqa.service.wiring import open_index

pytestmark = pytest.mark.slow  # a server over a real index

KEY = "fuzz-key"
EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "200"))


@pytest.fixture(scope="module")
def fuzz_server(
    tmp_path_factory: pytest.TempPathFactory, articles_module: Path, embedder: Embedder
) -> Iterator[LiveServer]:
    root = tmp_path_factory.mktemp("fuzz") / "index"
    ingest(articles_module, open_index(Settings(index=root), embedder), embedder,
           ChunkerSettings())  # fmt: skip
    with LiveServer(Settings(index=root, api_key=KEY)) as server:
        yield server


ALPHA = (
    "The Kestrel Bridge reopened on Monday after eight months of repairs. "
    "The city engineer, Maria Olsen, said the work cost 12 million dollars.\n"
)
# Words of the fuzz corpus. A schema cannot say which words a document holds, so a valid
# POST /feedback quotes these wherever the generated body has a span.
QUOTED = {"doc_id": "alpha", "start": ALPHA.index("12 million"), "text": "12 million dollars"}
QUOTED["end"] = QUOTED["start"] + len(QUOTED["text"])


@pytest.fixture(scope="module")
def articles_module(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("articles")
    (folder / "alpha.txt").write_text(ALPHA)
    return folder


@pytest.fixture(scope="module")
def api_schema(fuzz_server: LiveServer) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{fuzz_server.url}/openapi.json")


def operations(api_schema: schemathesis.BaseSchema) -> dict[str, schemathesis.APIOperation]:
    found = [result.ok() for result in api_schema.get_all_operations()]
    return {f"{op.method.upper()} {op.path}": op for op in found}


OPERATIONS = [
    "POST /ask",
    "GET /documents",
    "POST /documents",
    "GET /documents/{doc_id}",
    "DELETE /documents/{doc_id}",
    "POST /feedback",
    "GET /health",
    "GET /ready",
]
MODES = [schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE]

# Invalid input exists only where input is constrained: a body, or the key of a write.
CASES = [(name, mode) for name in OPERATIONS for mode in MODES
         if mode == MODES[0] or name.startswith(("POST", "DELETE"))]  # fmt: skip


# Requests made by each case that has run: (operation, mode) -> count.
RUNS: dict[tuple[str, str], int] = {}


def fuzz(api_schema: schemathesis.BaseSchema, name: str, mode: schemathesis.GenerationMode) -> int:
    """Run one case's generated requests, checking each response; how many were made.
    A case that passed is not run again in this module (a failing one runs, and fails,
    each time it is asked for)."""
    if (name, mode.value) in RUNS:
        return RUNS[name, mode.value]
    operation = operations(api_schema)[name]
    made = 0

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck),
              database=None)  # fmt: skip
    def call(case: schemathesis.Case) -> None:
        nonlocal made
        if mode == schemathesis.GenerationMode.POSITIVE:
            assume(not breaks_a_rule_json_schema_cannot_state(case.body))
            if name == "POST /feedback":
                for field in ("answer", "correction"):
                    if isinstance(case.body.get(field), dict):
                        case.body[field] = dict(QUOTED)
        # Every other request carries the key: writes see both their 401 and their work.
        headers = {"Authorization": f"Bearer {KEY}"} if made % 2 else {}
        made += 1
        case.call_and_validate(headers=headers)

    call()
    RUNS[name, mode.value] = made
    return made


@pytest.mark.parametrize(("name", "mode"), CASES, ids=[f"{n} {m.value}" for n, m in CASES])
def test_no_5xx_and_every_response_matches_the_schema(
    api_schema: schemathesis.BaseSchema, name: str, mode: schemathesis.GenerationMode
) -> None:
    assert fuzz(api_schema, name, mode) >= 1


def breaks_a_rule_json_schema_cannot_state(body: object) -> bool:
    """Rules documented in prose: dates in order, doc_ids unique per write and without
    look-alike letters of several scripts mixed, a correction only with the verdict
    'wrong'."""
    if not isinstance(body, dict):
        return False
    if body.get("correction") is not None and body.get("verdict") != "wrong":
        return True
    filters = body.get("filters") or {}
    dates = filters.get("date_from"), filters.get("date_to")
    if all(isinstance(d, str) for d in dates) and dates[0] > dates[1]:
        return True
    ids = [d.get("doc_id") for d in body.get("documents") or [] if isinstance(d, dict)]
    return len(ids) != len(set(ids)) or not all(map(names_one_document, ids))


def names_one_document(doc_id: object) -> bool:
    try:
        normal_doc_id(str(doc_id))
    except ValueError:
        return False
    return True


def test_the_fuzz_made_enough_requests(api_schema: schemathesis.BaseSchema) -> None:
    made = {f"{name} {mode.value}": fuzz(api_schema, name, mode) for name, mode in CASES}
    assert sum(made.values()) >= 1000, made
