"""Hardening, against real uvicorn servers on loopback ports: limits on request bodies and
headers, strict JSON, errors that never echo the input, security headers, the request log
(one JSON line per request; a server error logged once), metrics, documented statuses.

Nothing here measures time. A timeout test sends half a request and asserts on what comes
back (a 408, or the connection closed); the sockets' own timeout, GUARD_S, only stops a
server that never answers from hanging the run (that is how these tests failed before).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import sync_playwright
from pydantic import SecretStr
from support import LiveServer

from citeqa.models.embedder.encoder import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.http.middleware.limits import write_limit
from citeqa.service.settings import Settings

GUARD_S = 30
# The tight server: small limits, so a test sends little; short timeouts, so it waits little.
TIGHT = {
    "max_body_bytes": 4096,
    "max_write_bytes": 16384,
    "header_timeout_s": 2.0,
    "body_timeout_s": 2.0,
}
QUESTION = "Where was Trump when he decided to kill Soleimani?"


@pytest.fixture(scope="module")
def tight(sample_settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    """The sample corpus under TIGHT limits, with one route that has a bug."""
    settings = sample_settings.model_copy(update=TIGHT)
    app = create_app(settings, embedder)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug in a route")

    with LiveServer(settings, app) as live:
        yield live


# -- raw HTTP --------------------------------------------------------------------------------


def exchange(server: LiveServer, *parts: bytes) -> bytes:
    """Send `parts` on a new connection, then read until the server closes it."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=GUARD_S) as sock:
        for part in parts:
            sock.sendall(part)
        received = []
        while chunk := sock.recv(65536):
            received.append(chunk)
    return b"".join(received)


def head(method: str, path: str, *headers: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: citeqa.test", *headers, "", ""]
    return "\r\n".join(lines).encode()


def parse(reply: bytes) -> tuple[int, dict[str, str], bytes]:
    """The first response in `reply`: status, headers (lower-case names), body."""
    top, _, rest = reply.partition(b"\r\n\r\n")
    status_line, *lines = top.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, rest[: int(headers.get("content-length", 0))]


def chunk(data: bytes) -> bytes:
    return b"%x\r\n%s\r\n" % (len(data), data)


# -- 1. body size ----------------------------------------------------------------------------


def test_a_declared_body_over_the_limit_is_refused_before_it_is_read(tight: LiveServer) -> None:
    # Only the headers are sent: the server must answer without waiting for 100 MB.
    reply = exchange(
        tight, head("POST", "/ask", "Content-Type: application/json", "Content-Length: 100000000")
    )
    status, headers, body = parse(reply)
    assert status == 413
    assert headers["connection"] == "close"
    assert "4096 bytes" in json.loads(body)["detail"]


def test_a_chunked_body_is_counted_as_it_arrives(tight: LiveServer) -> None:
    # 5 x 1000 bytes and no last chunk: the server answers once it has more than 4096.
    request = head("POST", "/ask", "Content-Type: application/json", "Transfer-Encoding: chunked")
    reply = exchange(tight, request, *[chunk(b" " * 1000)] * 5)
    status, headers, body = parse(reply)
    assert status == 413
    assert "4096 bytes" in json.loads(body)["detail"]


def test_the_default_write_limit_comes_from_the_document_limit() -> None:
    from citeqa.ingest.loaders import MAX_DOCUMENT_BYTES

    assert write_limit(Settings()) > MAX_DOCUMENT_BYTES > Settings().max_body_bytes
    assert write_limit(Settings(max_write_bytes=5000)) == 5000


# -- the key before the body (issue 32) -------------------------------------------------------

KEY = "hardening-key"


@pytest.fixture(scope="module")
def keyed(sample_settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    """The sample corpus with writes on (KEY), the default write limit (about 21 MB) and a
    short body timeout: a refusal that waited for the body would come as its 408."""
    settings = sample_settings.model_copy(update={"api_key": SecretStr(KEY), "body_timeout_s": 2.0})
    with LiveServer(settings, create_app(settings, embedder)) as live:
        yield live


@pytest.mark.parametrize("path", ["/files", "/documents", "/sources"])
@pytest.mark.parametrize("authorization", [None, "Bearer wrong", f"Basic {KEY}"])
def test_a_write_without_the_key_is_401_before_its_body_is_read(
    keyed: LiveServer, path: str, authorization: str | None
) -> None:
    # Only the headers, announcing 20 MB: before issue 32 the server waited for the body
    # (a 408 after the body timeout) and read whole any body that came, then said 401.
    given = [f"Authorization: {authorization}"] if authorization else []
    request = head("POST", path, "Content-Type: application/json", "Content-Length: 20000000",
                   *given)  # fmt: skip
    status, headers, body = parse(exchange(keyed, request))
    assert status == 401 and headers["www-authenticate"] == "Bearer"
    assert "API key" in json.loads(body)["detail"]


def test_a_keyless_write_sent_whole_gets_its_401_and_a_clean_close(keyed: LiveServer) -> None:
    # The body is dropped unread as it comes, and the connection closed once it has all
    # come: closing at once, with data unread, sends a reset that can destroy the 401 (a
    # proxy in front reported a 502 instead).
    with socket.create_connection(("127.0.0.1", keyed.port), timeout=GUARD_S) as sock:
        body = b"x" * 5_000_000
        sock.sendall(head("POST", "/documents", "Content-Type: application/json",
                          f"Content-Length: {len(body)}") + body)  # fmt: skip
        reply = b""
        while data := sock.recv(65536):  # a reset would raise here
            reply += data
    assert parse(reply)[0] == 401


def test_a_chunked_write_without_the_key_is_401_before_its_body_is_read(keyed: LiveServer) -> None:
    request = head("POST", "/documents", "Content-Type: application/json",
                   "Transfer-Encoding: chunked")  # fmt: skip
    status, _, _ = parse(exchange(keyed, request, chunk(b'{"documents": ')))
    assert status == 401


def test_writes_have_their_own_larger_limit(keyed: LiveServer) -> None:
    # Over the limit of /ask (1 MiB), under that of POST /documents: read, and found to be
    # no document (422), not refused by size.
    body = json.dumps({"documents": [{"doc_id": "big", "text": ""}], "pad": "x" * 2**21})
    sent = httpx.post(f"{keyed.url}/documents", content=body, timeout=GUARD_S,
                      headers={"Authorization": f"Bearer {KEY}"})  # fmt: skip
    assert sent.status_code == 422
    request = head("POST", "/documents", "Content-Type: application/json",
                   "Content-Length: 30000000", f"Authorization: Bearer {KEY}")  # fmt: skip
    status, _, body = parse(exchange(keyed, request))
    assert status == 413 and f"{write_limit(Settings())} bytes" in json.loads(body)["detail"]


def test_a_write_with_the_key_is_read_as_before(keyed: LiveServer) -> None:
    # The key lets the body in: one that stops arriving is a 408, not a refusal.
    request = head("POST", "/documents", "Content-Type: application/json",
                   "Content-Length: 100", f"Authorization: Bearer {KEY}")  # fmt: skip
    assert parse(exchange(keyed, request + b'{"documents"'))[0] == 408


def test_writes_turned_off_are_403_before_the_body_is_read(tight: LiveServer) -> None:
    request = head("POST", "/files", "Content-Type: multipart/form-data; boundary=x",
                   "Content-Length: 20000")  # fmt: skip
    status, _, body = parse(exchange(tight, request))
    assert status == 403 and "CITEQA_API_KEY" in json.loads(body)["detail"]


def test_reads_with_a_body_need_no_key(keyed: LiveServer) -> None:
    asked = httpx.post(f"{keyed.url}/ask", json={"question": QUESTION}, timeout=GUARD_S)
    assert asked.status_code == 200


# -- 4. timeouts -----------------------------------------------------------------------------


def test_a_body_that_stops_arriving_gets_408(tight: LiveServer) -> None:
    request = head("POST", "/ask", "Content-Type: application/json", "Content-Length: 100")
    status, headers, body = parse(exchange(tight, request + b'{"question"'))
    assert status == 408
    assert headers["connection"] == "close"
    assert json.loads(body)["detail"]


def test_a_chunked_body_that_stops_arriving_gets_408(tight: LiveServer) -> None:
    request = head("POST", "/ask", "Content-Type: application/json", "Transfer-Encoding: chunked")
    status, _, _ = parse(exchange(tight, request, chunk(b'{"question": ')))
    assert status == 408


def test_half_sent_headers_get_408_and_the_connection_closed(tight: LiveServer) -> None:
    reply = exchange(tight, b"GET /health HTTP/1.1\r\nHost: citeqa.test\r\n")
    assert reply.startswith(b"HTTP/1.1 408 ")


def test_half_a_request_line_gets_408(tight: LiveServer) -> None:
    assert exchange(tight, b"GET /hea").startswith(b"HTTP/1.1 408 ")


def test_a_connection_that_sends_nothing_is_closed(tight: LiveServer) -> None:
    assert exchange(tight) == b""


def test_half_sent_headers_after_a_kept_alive_request_get_408(tight: LiveServer) -> None:
    with socket.create_connection(("127.0.0.1", tight.port), timeout=GUARD_S) as sock:
        sock.sendall(head("GET", "/health"))
        first = b""
        while not first.endswith(b'{"status":"ok"}'):
            first += sock.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(b"GET /health HTTP/1.1\r\nHost: ")
        second = b""
        while data := sock.recv(65536):
            second += data
    assert second.startswith(b"HTTP/1.1 408 ")


@pytest.mark.parametrize("size", [70_000, 20_000])
def test_headers_over_the_limit_get_400_however_they_arrive(tight: LiveServer, size: int) -> None:
    """h11 checks its size limit only while a head is incomplete: a whole head over it in
    one read must be refused too (MAX_HEADER_BYTES, 16 KiB)."""
    request = head("GET", "/health", f"X-Padding: {'a' * size}")
    assert exchange(tight, request).startswith(b"HTTP/1.1 400 ")


def test_headers_under_the_limit_are_served(tight: LiveServer) -> None:
    request = head("GET", "/health", f"X-Padding: {'a' * 12_000}", "Connection: close")
    assert exchange(tight, request).startswith(b"HTTP/1.1 200 ")


# -- per client: connections and questions (issue 21) ----------------------------------------

# Another client on this machine: Linux routes all of 127.0.0.0/8 on the loopback device,
# so a socket bound to this address reaches the server from an address of its own.
OTHER_CLIENT = "127.0.0.2"
ASK_PER_MINUTE = 3


@pytest.fixture
def per_client(sample_settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    """The sample corpus with the default limits on connections (per client and in all),
    ASK_PER_MINUTE questions a minute per client, and a header timeout longer than any
    test here, so that connections a test holds stay open until it closes them. A server
    per test: each starts with no connection or question counted."""
    settings = sample_settings.model_copy(
        update={"ask_per_minute": ASK_PER_MINUTE, "header_timeout_s": 2.0 * GUARD_S}
    )
    with LiveServer(settings, create_app(settings, embedder)) as live:
        yield live


def trickling(server: LiveServer, count: int, source: str = "127.0.0.1") -> list[socket.socket]:
    """`count` connections from `source`, each having sent half a request line, as a
    slowloris does. The server may refuse some at once; they are returned all the same."""
    held = []
    for _ in range(count):
        sock = socket.create_connection(
            ("127.0.0.1", server.port), timeout=GUARD_S, source_address=(source, 0)
        )
        held.append(sock)
        with contextlib.suppress(OSError):  # refused and closed already
            sock.sendall(b"GET /hea")
    return held


def status_once_free(url: str) -> int:
    """GET `url`'s /health until it is not a 503 (the server has seen a client's
    connections close); its status. GUARD_S stops a server that never frees them."""
    deadline = time.monotonic() + GUARD_S
    while (status := httpx.get(f"{url}/health", timeout=GUARD_S).status_code) == 503:
        if time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return status


def other_client_or_skip() -> str:
    try:
        with socket.socket() as sock:
            sock.bind((OTHER_CLIENT, 0))
    except OSError:
        pytest.skip(f"{OTHER_CLIENT} is not a loopback address here (it is on Linux)")
    return OTHER_CLIENT


def test_a_client_past_its_connections_is_refused_at_once(per_client: LiveServer) -> None:
    cap = Settings().max_connections_per_client
    held = trickling(per_client, cap)
    try:
        # A new connection that has sent nothing yet: the 503 comes at once, not after a
        # timeout, and the connection is closed.
        status, headers, body = parse(exchange(per_client))
    finally:
        for sock in held:
            sock.close()
    assert status == 503 and headers["connection"] == "close"
    assert body == b"Too many open connections from this address."
    assert status_once_free(per_client.url) == 200, "its connections closed, it is served"


def test_one_client_holding_connections_does_not_keep_out_another(per_client: LiveServer) -> None:
    """Issue 21's probe: 150 connections trickling headers from one address kept everyone
    else at 503 (all 100 of CITEQA_MAX_CONNECTIONS were its). Now it holds at most
    CITEQA_MAX_CONNECTIONS_PER_CLIENT, and another client is served."""
    other = other_client_or_skip()
    defaults = Settings()
    assert defaults.max_connections_per_client < (defaults.max_connections or 0) < 150
    held = trickling(per_client, 150)
    try:
        transport = httpx.HTTPTransport(local_address=other)
        with httpx.Client(base_url=per_client.url, transport=transport, timeout=GUARD_S) as http:
            health = http.get("/health")
            asked = http.post("/ask", json={"question": QUESTION})
        refused = exchange(per_client)
    finally:
        for sock in held:
            sock.close()
    assert health.status_code == 200 and asked.status_code == 200, asked.text
    assert asked.json()["answers"]
    assert refused.startswith(b"HTTP/1.1 503 "), "the first client is still at its cap"


def test_a_client_past_its_questions_a_minute_gets_429(per_client: LiveServer) -> None:
    with httpx.Client(base_url=per_client.url, timeout=GUARD_S) as http:
        invalid = [http.post("/ask", json={"question": ""}).status_code for _ in range(3)]
        asked = [
            http.post("/ask", json={"question": QUESTION}).status_code
            for _ in range(ASK_PER_MINUTE)
        ]
        refused = http.post("/ask", json={"question": QUESTION})
        # No proxy is trusted unless CITEQA_TRUSTED_PROXIES names it: a client that says
        # it forwards for another is still itself (issue 32: uvicorn trusted 127.0.0.1).
        forged = http.post(
            "/ask", json={"question": QUESTION}, headers={"X-Forwarded-For": "203.0.113.7"}
        )
    assert invalid == [422] * 3, "a request that is not a question is not counted"
    assert asked == [200] * ASK_PER_MINUTE
    assert refused.status_code == 429
    # Retry-After: when the first question leaves the minute's window.
    assert 0 < int(refused.headers["Retry-After"]) <= 60
    assert "CITEQA_ASK_PER_MINUTE" in refused.json()["detail"]
    assert forged.status_code == 429, "X-Forwarded-For from a client no setting names"


def test_behind_a_named_proxy_each_forwarded_client_is_counted(
    sample_settings: Settings, embedder: Embedder
) -> None:
    settings = sample_settings.model_copy(
        update={"ask_per_minute": 1, "trusted_proxies": "127.0.0.1"}
    )
    with (
        LiveServer(settings, create_app(settings, embedder)) as proxied,
        httpx.Client(base_url=proxied.url, timeout=GUARD_S) as http,
    ):
        for client in ("203.0.113.7", "203.0.113.8"):
            forwarded = {"X-Forwarded-For": client}
            assert http.post("/ask", json={"question": QUESTION}, headers=forwarded).is_success
        again = http.post("/ask", json={"question": QUESTION}, headers=forwarded)
    assert again.status_code == 429, "the second client's own minute is used up"


# -- 2. strict JSON, no echo -----------------------------------------------------------------

DEEP = 100_000
BAD_JSON = {
    "NaN": b'{"question": "Who?", "top_k": NaN}',
    "Infinity": b'{"question": "Who?", "top_k": Infinity}',
    "-Infinity in filters": b'{"question": "Who?", "filters": {"doc_ids": [-Infinity]}}',
    "1e999": b'{"question": "Who?", "top_k": 1e999}',
    "a 5000-digit number": b'{"question": "Who?", "top_k": ' + b"9" * 5000 + b"}",
    "lone surrogate": b'{"question": "\\ud800"}',
    "lone surrogate in history": b'{"question": "Who?", "history": [{"question": "\\udfff"}]}',
    "lone surrogate in a key": b'{"question": "Who?", "\\ud800": 1}',
    "surrogate as bytes": b'{"question": "\xed\xa0\x80"}',
    "100,000 [": b"[" * DEEP,
    "100,000 [ closed": b'{"question": "Who?", "history": ' + b"[" * DEEP + b"]" * DEEP + b"}",
}


@pytest.mark.parametrize("content", BAD_JSON.values(), ids=BAD_JSON.keys())
def test_json_that_is_not_strict_json_is_422(client: httpx.Client, content: bytes) -> None:
    response = client.post("/ask", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    [problem] = response.json()["detail"]
    assert set(problem) == {"loc", "msg", "type"}
    assert problem["type"] == "json_invalid" and problem["msg"]
    assert len(response.content) < 500


@pytest.mark.parametrize("field", ["doc_ids", "sources"])
def test_250000_filter_values_are_422(client: httpx.Client, field: str) -> None:
    body = {"question": QUESTION, "filters": {field: ["a"] * 250_000}}
    content = json.dumps(body, separators=(",", ":")).encode()  # ~1 MB, under the limit
    response = client.post("/ask", content=content, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text[:500]
    assert "1000 items" in response.json()["detail"][0]["msg"]


def test_dates_out_of_order_are_422_with_a_message(client: httpx.Client) -> None:
    filters = {"date_from": "2020-01-05", "date_to": "2020-01-01"}
    response = client.post("/ask", json={"question": QUESTION, "filters": filters})
    assert response.status_code == 422
    [problem] = response.json()["detail"]
    assert problem["loc"] == ["body", "filters"]
    assert "date_from must be on or before date_to" in problem["msg"]
    same_day = {"date_from": "2020-01-03", "date_to": "2020-01-03"}
    assert client.post("/ask", json={"question": QUESTION, "filters": same_day}).is_success


LONG = "q" * 50_000
NO_ECHO = {
    "long value": {"question": "Who?", "top_k": LONG},
    "long question": {"question": LONG},
    "long unknown key": {"question": "Who?", LONG: 1},
    "long answer in history": {"question": "Who?", "history": [{"question": "a", "answer": LONG}]},
}


@pytest.mark.parametrize("body", NO_ECHO.values(), ids=NO_ECHO.keys())
def test_422_never_echoes_the_input(client: httpx.Client, body: dict) -> None:
    response = client.post("/ask", json=body)
    assert response.status_code == 422
    assert "q" * 300 not in response.text and len(response.content) < 1000
    for problem in response.json()["detail"]:
        assert set(problem) == {"loc", "msg", "type"} and problem["msg"]


def test_a_body_that_is_not_json_is_422_without_echo(client: httpx.Client) -> None:
    response = client.post("/ask", content=b"q" * 50_000, headers={"Content-Type": "text/plain"})
    assert response.status_code == 422
    assert "q" * 300 not in response.text and len(response.content) < 1000


def test_many_errors_are_reported_as_a_few(client: httpx.Client) -> None:
    response = client.post("/ask", json={"question": "Who?", "filters": {"doc_ids": [1] * 900}})
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert len(detail) == 21 and "880 more errors" in detail[-1]["msg"]


# -- 3. security headers ---------------------------------------------------------------------


def test_the_page_has_a_content_security_policy(client: httpx.Client) -> None:
    response = client.get("/")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
    assert "'unsafe-inline'" not in policy.split("script-src")[1].split(";")[0]
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["referrer-policy"] == "no-referrer"


def test_the_widget_can_be_embedded_on_other_sites(client: httpx.Client) -> None:
    response = client.get("/widget.js")
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("path", ["/health", "/documents", "/documents/nope", "/nowhere"])
def test_api_responses_have_security_headers(client: httpx.Client, path: str) -> None:
    response = client.get(path)
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    policy = response.headers["content-security-policy"]
    assert policy == "default-src 'none'; frame-ancestors 'none'"


def test_refusals_have_security_headers_too(tight: LiveServer) -> None:
    reply = exchange(tight, head("POST", "/ask", "Content-Length: 100000"))
    status, headers, _ = parse(reply)
    assert status == 413 and headers["x-content-type-options"] == "nosniff"


CHROMIUM = "/usr/bin/chromium"


def test_the_page_works_under_its_policy(server: LiveServer) -> None:
    """The chat page in Chromium: it loads, asks, answers, and breaks no rule of its CSP."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            page = browser.new_page()
            console: list[str] = []
            page.on("console", lambda message: console.append(message.text))
            page.add_init_script(
                "window.__violations = [];"
                "document.addEventListener('securitypolicyviolation',"
                " (e) => window.__violations.push(e.violatedDirective), true);"
            )
            page.goto(server.url)
            chat = page.locator("citeqa-chat")
            chat.locator(".corpus").filter(has_text=re.compile(r"\d+ articles?")).wait_for()
            box = page.get_by_role("textbox", name="Ask a question")
            box.fill(QUESTION)
            box.press("Enter")
            chat.locator(".msg.bot .short strong").first.wait_for()
            assert page.evaluate("window.__violations") == []
            assert not [m for m in console if "Content Security Policy" in m]
        finally:
            browser.close()


# -- 5, 6. the request log -------------------------------------------------------------------


@pytest.fixture
def request_log(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch):
    """Every record of the citeqa and uvicorn loggers, whichever configured them before."""
    caplog.set_level(logging.INFO, logger="citeqa")
    for name in ("uvicorn", "uvicorn.error"):
        monkeypatch.setattr(logging.getLogger(name), "propagate", True)
    return caplog


def line_of(caplog: pytest.LogCaptureFixture, request_id: str) -> logging.LogRecord:
    """The request log's record for `request_id`; it is written just after the response."""
    deadline = time.monotonic() + GUARD_S
    while time.monotonic() < deadline:
        for record in caplog.records:
            if getattr(record, "fields", {}).get("request_id") == request_id:
                return record
        time.sleep(0.02)
    raise AssertionError(f"no log line for request {request_id}")


def test_a_server_error_is_logged_once(tight: LiveServer, request_log) -> None:
    with httpx.Client(base_url=tight.url, timeout=GUARD_S) as http:
        response = http.get("/boom", headers={"X-Request-ID": "boom-1"})
        assert response.status_code == 500
        assert response.json() == {"detail": "internal error"}
        assert "a bug in a route" not in response.text
        # A second request on the same connection: by the time its line is written, anything
        # the server logs about the first request has been logged.
        http.get("/health", headers={"X-Request-ID": "after-boom-1"})
    line_of(request_log, "after-boom-1")
    with_traceback = [r for r in request_log.records if r.exc_info]
    assert len(with_traceback) == 1
    [record] = with_traceback
    assert record.name == "citeqa" and record.levelno == logging.ERROR
    assert record.fields["request_id"] == "boom-1" and record.fields["status"] == 500
    assert not [r for r in request_log.records if r.name.startswith("uvicorn")]


def test_each_request_is_one_line_with_its_route_template(tight: LiveServer, request_log) -> None:
    from citeqa.service.http.middleware.logs import JsonFormatter

    response = httpx.get(
        f"{tight.url}/documents/no-such-doc", headers={"X-Request-ID": "doc-1"}, timeout=GUARD_S
    )
    assert response.headers["x-request-id"] == "doc-1"
    record = line_of(request_log, "doc-1")
    assert record.levelno == logging.INFO
    assert {k: record.fields[k] for k in ("method", "route", "status")} == {
        "method": "GET", "route": "/documents/{doc_id}", "status": 404
    }  # fmt: skip
    assert record.fields["latency_ms"] >= 0
    ids = [getattr(r, "fields", {}).get("request_id") for r in request_log.records]
    assert ids.count("doc-1") == 1
    rendered = JsonFormatter().format(record)
    assert "\n" not in rendered
    assert json.loads(rendered)["route"] == "/documents/{doc_id}"


def test_refused_requests_are_logged_with_their_route(tight: LiveServer, request_log) -> None:
    exchange(tight, head("POST", "/ask", "Content-Length: 100000", "X-Request-ID: big-1"))
    record = line_of(request_log, "big-1")
    assert (record.fields["route"], record.fields["status"]) == ("/ask", 413)


@pytest.mark.parametrize("given", ["has space", "x" * 65, "é"])
def test_an_odd_request_id_is_replaced(client: httpx.Client, given: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": given.encode()})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_ask_logs_its_answers_but_not_the_question(tight: LiveServer, request_log) -> None:
    response = httpx.post(
        f"{tight.url}/ask", json={"question": QUESTION}, headers={"X-Request-ID": "ask-1"},
        timeout=GUARD_S,
    )  # fmt: skip
    body = response.json()
    fields = line_of(request_log, "ask-1").fields
    assert fields["route"] == "/ask" and fields["status"] == 200
    assert fields["answers"] == len(body["answers"])
    assert fields["no_answer"] is body["no_answer"]
    assert fields["question_chars"] == len(QUESTION)
    assert "question" not in fields


def test_questions_are_logged_when_the_settings_say_so(
    sample_settings: Settings, embedder: Embedder, request_log
) -> None:
    settings = sample_settings.model_copy(update={"log_questions": True})
    with LiveServer(settings, create_app(settings, embedder)) as live:
        httpx.post(
            f"{live.url}/ask", json={"question": QUESTION}, headers={"X-Request-ID": "ask-2"},
            timeout=GUARD_S,
        )  # fmt: skip
    assert line_of(request_log, "ask-2").fields["question"] == QUESTION


# -- 7. metrics ------------------------------------------------------------------------------


def key(name: str, **labels: str) -> tuple[str, frozenset]:
    return name, frozenset(labels.items())


def samples(client: httpx.Client) -> dict[tuple[str, frozenset], float]:
    from prometheus_client.parser import text_string_to_metric_families

    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    return {
        key(s.name, **s.labels): s.value
        for family in text_string_to_metric_families(response.text)
        for s in family.samples
    }


def test_metrics_count_requests_by_route_and_status(client: httpx.Client) -> None:
    health_ok = key("citeqa_http_requests_total", route="/health", method="GET", status="200")
    before = samples(client).get(health_ok, 0)
    for _ in range(3):
        client.get("/health")
    client.get("/no/such/path/123")
    after = samples(client)
    assert after[health_ok] == before + 3
    assert after[key("citeqa_http_request_duration_seconds_count", route="/health")] >= 3
    routes = {dict(labels).get("route") for _, labels in after}
    assert "unmatched" in routes and not [r for r in routes if r and "123" in r]


def test_metrics_show_the_index(client: httpx.Client) -> None:
    found = samples(client)
    assert found[key("citeqa_index_documents")] == 5
    assert found[key("citeqa_index_chunks")] > 5
    ready = client.get("/ready").json()
    assert found[key("citeqa_index_version")] == int(ready["version"].lstrip("v"))


def test_metrics_count_server_errors(tight: LiveServer) -> None:
    with httpx.Client(base_url=tight.url, timeout=GUARD_S) as http:
        http.get("/boom")
        found = samples(http)
    assert found[key("citeqa_http_server_errors_total", route="/boom")] >= 1


# -- 8. documented statuses ------------------------------------------------------------------


def test_openapi_documents_the_statuses_of_each_route(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    common = {"400", "408", "413", "500", "503"}
    writes = common | {"200", "401", "403", "409", "422", "429", "507"}
    keyed = common | {"200", "401", "403", "422"}
    expected = {
        ("/ask", "post"): common | {"200", "422", "429"},
        ("/documents", "get"): common | {"200"},
        ("/documents", "post"): writes | {"202"},
        ("/files", "post"): writes | {"202"},
        ("/documents/{doc_id}", "get"): common | {"200", "404", "422"},
        ("/documents/{doc_id}", "delete"): writes | {"404"},
        ("/jobs/{job_id}", "get"): keyed | {"404"},
        ("/jobs/{job_id}", "delete"): keyed | {"404"},
        ("/sources", "get"): keyed - {"422"},
        ("/sources", "post"): keyed - {"200"} | {"202"},
        ("/sources", "delete"): keyed | {"404"},
        ("/feedback", "post"): common | {"201", "422", "429"},
        ("/health", "get"): common | {"200"},
        ("/ready", "get"): common | {"200"},
    }
    documented = {(path, method) for path, methods in paths.items() for method in methods}
    assert documented == set(expected), "a route added or gone: say here what it answers"
    for (path, method), statuses in expected.items():
        assert set(paths[path][method]["responses"]) >= statuses, (path, method)
    assert "/metrics" not in paths
