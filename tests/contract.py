"""The /ask contract clients rely on, as checks that take any httpx client: test_api runs
them against a uvicorn server, test_contract_testclient through FastAPI's TestClient.

Bad input is a 4xx with a message, never a 500; every offset in a response slices the
text `GET /documents/{doc_id}` returns (support.assert_cited, given the client).
"""

from __future__ import annotations

import httpx

ANSWER_FIELDS = {"text", "score", "doc_id", "title", "source", "date", "start", "end", "passage"}

BAD_BODIES = {
    "empty question": {"question": ""},
    "whitespace question": {"question": " \n\t "},
    "1001 chars": {"question": "a" * 1001},
    "top_k 0": {"question": "Who?", "top_k": 0},
    "top_k 21": {"question": "Who?", "top_k": 21},
    "question 123": {"question": 123},
    "top_k three": {"question": "Who?", "top_k": "three"},
    "top_k 2.5": {"question": "Who?", "top_k": 2.5},
    "filters x": {"question": "Who?", "filters": "x"},
    "bad date": {"question": "Who?", "filters": {"date_from": "yesterday"}},
    "unknown filter": {"question": "Who?", "filters": {"author": "Jane"}},
    "unknown field": {"question": "Who?", "verbose": True},
    "no question": {"top_k": 3},
    "a list": [{"question": "Who?"}],
}


def assert_answer_shape(question: str, body: dict) -> None:
    """`body`, the /ask response to `question`, has the contract's fields and types."""
    assert body["question"] == question
    assert isinstance(body["no_answer"], bool)
    assert body["no_answer"] == (not body["answers"])
    assert isinstance(body["took_ms"], float) and body["took_ms"] >= 0
    assert isinstance(body["conflict"], bool)
    for answer in body["answers"]:
        assert set(answer) >= ANSWER_FIELDS
        assert 0.0 <= answer["score"] <= 1.0
        assert isinstance(answer["also_in"], list)


def assert_refused(http: httpx.Client, body: object) -> None:
    """/ask refuses `body` with a 422 whose every error says what is wrong."""
    response = http.post("/ask", json=body)
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail and all(item["msg"] for item in detail)
