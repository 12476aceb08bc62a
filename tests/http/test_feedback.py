"""The feedback loop without the browser: POST /feedback against a real uvicorn server over
an index of its own, the SQLite store beside the index, and `citeqa feedback export` and
`stats` run as a user runs them (the installed script, in a subprocess).

The browser side (buttons, the correction by selection, the whole loop through
`citeqa eval`) is in test_widget.py.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from support import LiveServer, run_citeqa, write_articles

from citeqa.eval.datasets import load_questions
from citeqa.index.writer import ingest
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.feedback.store import FILE_NAME, FeedbackStore, Record, StoredSpan
from citeqa.service.http.schemas import MAX_ANSWER_CHARS, MAX_QUESTION_CHARS
from citeqa.service.settings import Settings
from citeqa.service.wiring import chunker_settings, open_index

KEY = "feedback-test-key"
QUESTION = "How much did the bridge repairs cost?"
ANSWER = "12 million dollars"
FERRY_QUESTION = "Why was the ferry service suspended?"
FERRY_ANSWER = "because of a storm"


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """The two test articles, indexed; writes on, to change an article under feedback."""
    root = tmp_path_factory.mktemp("feedback")
    articles = write_articles(root / "articles")
    settings = Settings(index=root / "index", api_key=KEY)
    ingest(articles, open_index(settings, embedder), embedder, chunker_settings(settings))
    return settings


@pytest.fixture(scope="module")
def http(settings: Settings) -> Iterator[httpx.Client]:
    with LiveServer(settings) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


def text_of(http: httpx.Client, doc_id: str) -> str:
    return http.get(f"/documents/{doc_id}").json()["text"]


def span(http: httpx.Client, doc_id: str, words: str) -> dict:
    """`words` as a span of `doc_id`, offsets in code points."""
    text = text_of(http, doc_id)
    start = text.index(words)
    return {"doc_id": doc_id, "start": start, "end": start + len(words), "text": words}


def shown(http: httpx.Client, question: str) -> dict:
    """The citation of /ask's best answer to `question`, as the chat shows it."""
    best = http.post("/ask", json={"question": question}).json()["answers"][0]
    return {k: best[k] for k in ("doc_id", "start", "end", "text")}


def stored(settings: Settings, feedback_id: str) -> Record:
    records = FeedbackStore(settings.index / FILE_NAME).records()
    return next(r for r in records if r.id == feedback_id)


def test_helpful_is_stored_beside_the_index_with_the_document_checksum(
    http: httpx.Client, settings: Settings
) -> None:
    answer = shown(http, QUESTION)
    body = {"question": QUESTION, "answer": answer, "verdict": "helpful"}

    response = http.post("/feedback", json=body)

    assert response.status_code == 201, response.text
    reply = response.json()
    assert reply["verdict"] == "helpful" and reply["corrected"] is False
    record = stored(settings, reply["id"])
    assert record.verdict == "helpful" and record.question == QUESTION
    assert record.answer == StoredSpan(**answer, checksum=checksums(settings)[answer["doc_id"]])
    assert record.correction is None


def checksums(settings: Settings) -> dict[str, str]:
    return open_index(settings, Embedder(settings.cache)).checksums()


def test_wrong_then_its_correction_amend_one_feedback(
    http: httpx.Client, settings: Settings
) -> None:
    feedback_id = str(uuid.uuid4())
    wrong = {
        "id": feedback_id,
        "question": "And how much?",
        "resolved_question": QUESTION,
        "answer": span(http, "alpha", "eight months"),
        "verdict": "wrong",
    }
    assert http.post("/feedback", json=wrong).status_code == 201
    first = stored(settings, feedback_id)

    corrected = {**wrong, "correction": span(http, "alpha", ANSWER)}
    response = http.post("/feedback", json=corrected)

    assert response.status_code == 201
    assert response.json() == {"id": feedback_id, "verdict": "wrong", "corrected": True}
    record = stored(settings, feedback_id)
    assert record.at == first.at, "an amendment keeps when the feedback was first given"
    assert record.asked == QUESTION
    assert record.correction is not None and record.correction.text == ANSWER
    assert len([r for r in FeedbackStore(settings.index / FILE_NAME).records()
                if r.id == feedback_id]) == 1  # fmt: skip


def test_offsets_that_do_not_slice_the_document_are_refused(http: httpx.Client) -> None:
    correction = span(http, "alpha", ANSWER)
    shifted = {**correction, "start": correction["start"] + 1, "end": correction["end"] + 1}
    body = {"question": QUESTION, "verdict": "wrong", "correction": shifted}

    response = http.post("/feedback", json=body)

    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "correction", "text"]
    assert "document's text from start to end" in error["msg"]


def test_a_span_past_the_end_or_of_an_unknown_document_is_refused(http: httpx.Client) -> None:
    length = len(text_of(http, "beta"))
    past = {"doc_id": "beta", "start": length - 2, "end": length + 3, "text": "storm"}
    unknown = {**span(http, "alpha", ANSWER), "doc_id": "no-such-article"}
    body = {"question": QUESTION, "verdict": "wrong", "answer": past, "correction": unknown}

    response = http.post("/feedback", json=body)

    assert response.status_code == 422
    detail = {tuple(e["loc"]): e["msg"] for e in response.json()["detail"]}
    assert "past the end of the document" in detail[("body", "answer", "end")]
    assert detail[("body", "correction", "doc_id")] == "no document with id 'no-such-article'"


BAD = {
    "question too long": {"question": "q" * (MAX_QUESTION_CHARS + 1), "verdict": "unanswerable"},
    "blank question": {"question": " \n", "verdict": "unanswerable"},
    "unknown verdict": {"question": QUESTION, "verdict": "meh"},
    "correction with helpful": {
        "question": QUESTION,
        "verdict": "helpful",
        "correction": {"doc_id": "alpha", "start": 0, "end": 3, "text": "The"},
    },
    "span text too long": {
        "question": QUESTION,
        "verdict": "wrong",
        "correction": {
            "doc_id": "alpha",
            "start": 0,
            "end": MAX_ANSWER_CHARS + 1,
            "text": "x" * (MAX_ANSWER_CHARS + 1),
        },  # fmt: skip
    },
    "offsets and text disagree in length": {
        "question": QUESTION,
        "verdict": "wrong",
        "correction": {"doc_id": "alpha", "start": 0, "end": 9, "text": "The"},
    },
    "not a uuid": {"id": "1; DROP TABLE feedback", "question": QUESTION, "verdict": "wrong"},
    "unknown field": {"question": QUESTION, "verdict": "wrong", "comment": "meh"},
}


@pytest.mark.parametrize("body", BAD.values(), ids=BAD.keys())
def test_bad_bodies_get_a_422_with_a_message(http: httpx.Client, body: dict) -> None:
    response = http.post("/feedback", json=body)
    assert response.status_code == 422, response.text
    assert all(item["msg"] for item in response.json()["detail"])


def test_input_is_never_reflected_and_bodies_are_capped(
    http: httpx.Client, settings: Settings
) -> None:
    markup = "<script>alert(1)</script>"
    body = {
        "question": markup,
        "verdict": "wrong",
        "correction": {"doc_id": markup, "start": 0, "end": len(markup), "text": markup},
    }
    response = http.post("/feedback", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/json"  # never text/html
    assert response.json()["detail"][0]["type"] == "unknown_document"

    huge = {"question": QUESTION, "verdict": "wrong", "padding": "x" * settings.max_body_bytes}
    assert http.post("/feedback", json=huge).status_code == 413


def test_export_leaves_out_stale_corrections_and_eval_reads_it(
    http: httpx.Client, settings: Settings, tmp_path: Path
) -> None:
    ferry = {"question": FERRY_QUESTION, "verdict": "wrong",
             "correction": span(http, "beta", FERRY_ANSWER)}  # fmt: skip
    assert http.post("/feedback", json=ferry).status_code == 201
    unanswerable = {"question": "Who designed the Kestrel Bridge?", "verdict": "unanswerable"}
    assert http.post("/feedback", json=unanswerable).status_code == 201
    bridge = {"question": "Who is the city engineer?", "verdict": "wrong",
              "correction": span(http, "alpha", "Maria Olsen")}  # fmt: skip
    assert http.post("/feedback", json=bridge).status_code == 201
    # The bridge article changes after its correction: the offsets may point elsewhere now.
    changed = text_of(http, "alpha").replace("Monday", "Tuesday")
    write = http.post("/documents", json={"documents": [{"doc_id": "alpha", "text": changed}]},
                      headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
    assert write.json()["updated"] == ["alpha"]

    out = tmp_path / "feedback.jsonl"
    result = run_citeqa("feedback", "export", out, "--index", settings.index)

    assert result.returncode == 0, result.stderr
    assert "stale, left out" in result.stderr and "Who is the city engineer?" in result.stderr
    rows = {row["question"]: row for row in map(json.loads, out.read_text().splitlines())}
    ferry_span = ferry["correction"]
    assert rows[FERRY_QUESTION] == {
        "id": rows[FERRY_QUESTION]["id"], "question": FERRY_QUESTION,
        "answers": [FERRY_ANSWER], "doc_ids": ["beta"], "type": "why", "unanswerable": False,
        "spans": [[ferry_span["start"], ferry_span["end"]]],
    }  # fmt: skip
    assert rows["Who designed the Kestrel Bridge?"]["unanswerable"] is True
    assert "Who is the city engineer?" not in rows
    # Every earlier question on the bridge article is stale too, after the change.
    assert QUESTION not in rows
    assert "stale" in result.stdout
    questions = load_questions(out).questions
    assert {q.question for q in questions} == set(rows)
    assert all(q.spans or q.unanswerable for q in questions)


def test_export_of_thousands_of_large_entries_is_complete(
    settings: Settings, tmp_path: Path
) -> None:
    """`citeqa feedback export` streams the store row by row (issue 21: all at once, 2,873
    large entries took hundreds of MB); every question must still be in the file, once,
    with its latest verdict, in the order those were given."""
    sums = checksums(settings)
    span = StoredSpan("beta", 0, 4, "date", sums["beta"])
    old = StoredSpan("beta", 0, 4, "date", "a checksum from before")
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    padding = " " + "x" * (MAX_QUESTION_CHARS - 20)  # large entries, as the probe's were
    start = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    # By n % 5: exported; stale; wrong without a correction; unanswerable; given again.
    kinds = [("wrong", span), ("wrong", old), ("wrong", None), ("unanswerable", None),
             ("wrong", span)]  # fmt: skip
    for n in range(2500):
        verdict, correction = kinds[n % 5]
        asked, at = f"Question {n}?{padding}", datetime.fromtimestamp(start + n, UTC)
        store.put(Record(f"id-{n}", at, asked, None, verdict, span, correction))
        if n % 5 == 4:  # the same question again, after all the others: this verdict stands
            later = datetime.fromtimestamp(start + 10_000 + n, UTC)
            store.put(Record(f"again-{n}", later, asked, None, "unanswerable", None, None))

    out = tmp_path / "exported.jsonl"
    result = run_citeqa("feedback", "export", out, "--index", settings.index,
                        env={"CITEQA_FEEDBACK": str(store.path)})  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("1500 questions (1000 unanswerable)")
    assert "left out: 500 stale, 500 wrong without a correction" in result.stdout
    assert result.stderr.count("stale, left out") == 500
    ids = [json.loads(line)["id"] for line in out.read_text(encoding="utf-8").splitlines()]
    wrong = [f"feedback-id-{n}" for n in range(0, 2500, 5)]
    unanswerable = [f"feedback-id-{n}" for n in range(3, 2500, 5)]
    amended = [f"feedback-again-{n}" for n in range(4, 2500, 5)]  # given last
    assert ids == sorted(wrong + unanswerable, key=lambda i: int(i.rsplit("-")[-1])) + amended


def test_stats_count_verdicts_per_day(tmp_path: Path) -> None:
    store = FeedbackStore(tmp_path / "feedback.sqlite")
    alpha = StoredSpan("alpha", 0, 3, "The", "sum")
    days = [datetime(2026, 11, 26, 9, tzinfo=UTC), datetime(2026, 11, 27, 18, tzinfo=UTC)]
    for n, (day, verdict, correction) in enumerate(
        [(days[0], "helpful", None), (days[0], "wrong", alpha), (days[0], "wrong", None),
         (days[1], "unanswerable", None), (days[1], "helpful", None)]
    ):  # fmt: skip
        store.put(Record(str(n), day, f"q{n}", None, verdict, alpha, correction))

    result = run_citeqa("feedback", "stats", env={"CITEQA_FEEDBACK": str(store.path)})

    assert result.returncode == 0, result.stderr
    lines = [line.split() for line in result.stdout.splitlines()]
    assert lines[0] == ["day", "helpful", "wrong", "corrected", "unanswerable"]
    assert lines[1:] == [
        ["2026-11-26", "1", "2", "1", "0"],
        ["2026-11-27", "1", "0", "0", "1"],
        ["total", "2", "2", "1", "1"],
    ]


def test_no_feedback_yet_is_said(tmp_path: Path) -> None:
    result = run_citeqa("feedback", "stats", "--index", tmp_path / "index")
    assert result.returncode == 2
    assert "No feedback at" in result.stderr and not (tmp_path / "index").exists()


def helpful(http: httpx.Client, feedback_id: str | None = None) -> httpx.Response:
    body = {"id": feedback_id or str(uuid.uuid4()), "question": QUESTION, "verdict": "helpful",
            "answer": span(http, "alpha", ANSWER)}  # fmt: skip
    return http.post("/feedback", json=body)


def test_one_client_cannot_flood_the_feedback(settings: Settings, tmp_path: Path) -> None:
    tight = settings.model_copy(
        update={"feedback": tmp_path / "feedback.sqlite", "feedback_per_minute": 3}
    )
    with LiveServer(tight) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        first = [helpful(http).status_code for _ in range(3)]
        refused = helpful(http)
    assert first == [201, 201, 201]
    # Retry-After: when the first of the three leaves the minute's window.
    assert refused.status_code == 429 and 0 < int(refused.headers["Retry-After"]) <= 60
    assert "CITEQA_FEEDBACK_PER_MINUTE" in refused.json()["detail"]


def test_a_full_feedback_store_refuses_new_entries_and_keeps_amendments(
    settings: Settings, tmp_path: Path
) -> None:
    full = settings.model_copy(
        update={"feedback": tmp_path / "feedback.sqlite", "feedback_max_entries": 2}
    )
    with LiveServer(full) as server, httpx.Client(base_url=server.url, timeout=60) as http:
        kept = str(uuid.uuid4())
        assert [helpful(http, kept).status_code, helpful(http).status_code] == [201, 201]
        refused = helpful(http)
        assert (
            refused.status_code == 503 and "CITEQA_FEEDBACK_MAX_ENTRIES" in refused.json()["detail"]
        )
        assert helpful(http, kept).status_code == 201  # an amendment does not grow the store
    assert len(FeedbackStore(tmp_path / "feedback.sqlite").records()) == 2
