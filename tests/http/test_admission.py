"""The per-request time budget: a question that cannot start in time is a 503 with
Retry-After, never a 5xx of another kind, and once a slot is free questions are answered.

The only slot is held by work that waits on an event, through the app's own admission
gate, so the 503 and the 200 after it come in that order whatever the machine's speed.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from support import LiveServer

from citeqa.models.embedder.encoder import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.settings import Settings

GUARD_S = 60  # how long the test waits for the holding thread before it fails, not hangs
QUESTION = {"question": "Where was Trump when he decided to kill Soleimani?"}


def test_a_question_past_its_budget_gets_503_with_retry_after_then_runs_once_free(
    sample_settings: Settings, embedder: Embedder
) -> None:
    settings = sample_settings.model_copy(update={"ask_slots": 1, "ask_budget_s": 1.0})
    app = create_app(settings, embedder)
    admission = app.state.services.admission  # the gate /ask runs its questions through
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        assert release.wait(GUARD_S), "the slot was never released"

    with (
        LiveServer(settings, app) as server,
        httpx.Client(base_url=server.url, timeout=60) as http,
        ThreadPoolExecutor(1) as pool,
    ):
        held = pool.submit(admission.run, hold)
        assert holding.wait(GUARD_S), "the holding work never started"
        try:
            busy = http.post("/ask", json=QUESTION)  # queued behind `hold`, past its budget
        finally:
            release.set()
        held.result(GUARD_S)
        answered = http.post("/ask", json=QUESTION)

    assert busy.status_code == 503, busy.text
    assert busy.headers["retry-after"] and "busy" in busy.json()["detail"]
    assert answered.status_code == 200, answered.text
    assert answered.json()["answers"]
