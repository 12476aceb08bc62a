"""How models run (models/runtime): what a process imports to answer a question.

Each check runs in a fresh interpreter, since this test process has imported everything.
"""

from __future__ import annotations

import subprocess
import sys

from citeqa.service.qa.answerer import Answerer
from citeqa.service.settings import Settings


def imported_after(code: str, env: dict[str, str] | None = None) -> set[str]:
    """The top-level modules a fresh interpreter holds after running `code`."""
    script = (
        f"{code}\nimport sys\nprint(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300
    )
    assert done.returncode == 0, done.stderr
    return set(done.stdout.split())


def test_the_answering_core_imports_neither_fastapi_nor_torch() -> None:
    modules = imported_after("import citeqa.service.qa.answerer")
    assert not modules & {"fastapi", "torch", "transformers", "spacy"}


def test_a_served_question_imports_no_torch_once_the_exports_are_cached(
    answerer: Answerer, sample_settings: Settings
) -> None:
    # The `answerer` fixture has exported both models into the cache this run shares.
    assert answerer.index.stats().chunks > 0
    code = (
        "from citeqa.service.settings import Settings\n"
        "from citeqa.service.wiring import build_answerer\n"
        "from citeqa.service.qa.query import Query\n"
        f"settings = Settings(index={str(sample_settings.index)!r})\n"
        "result = build_answerer(settings).ask(Query('Who is the secretary of state?'))\n"
        "assert result.answers and 'Pompeo' in result.answers[0].text, result\n"
    )
    modules = imported_after(code)
    assert "spacy" in modules and "onnxruntime" in modules  # it did answer with the models
    assert "torch" not in modules and "transformers" not in modules
