"""The per-request time budget: a question that cannot start in time is a 503 with
Retry-After, never a 5xx of another kind, and the questions that run are answered."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import LiveServer

from citeqa.service.settings import Settings

QUESTION = {"question": "Where was Trump when he decided to kill Soleimani?"}


def test_questions_past_their_budget_get_503_with_retry_after(
    sample_settings: Settings,
) -> None:
    # One slot and a budget far shorter than one question: of 8 asked at once, the first
    # runs and the ones queued behind it run out of time.
    settings = sample_settings.model_copy(update={"ask_slots": 1, "ask_budget_s": 0.001})
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as http:

        def ask(_: int) -> httpx.Response:
            return http.post("/ask", json=QUESTION)

        with ThreadPoolExecutor(8) as pool:
            responses = list(pool.map(ask, range(8)))
    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) == {200, 503}, statuses
    busy = next(r for r in responses if r.status_code == 503)
    assert busy.headers["retry-after"] and "busy" in busy.json()["detail"]
    assert all(r.json()["answers"] for r in responses if r.status_code == 200)
