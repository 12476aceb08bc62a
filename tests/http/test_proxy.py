"""citeqa behind nginx, as docs/nginx.conf runs it: that file itself, its `listen` and
upstream `server` lines pointed at loopback ports, in front of a live citeqa server set as
the file says. Skipped where nginx is not installed (`.ci/ensure-nginx` installs it for
`make test`); a test never installs anything.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from support import ROOT, LiveServer, assert_cited, reserved_port

from citeqa.models.embedder.encoder import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.settings import Settings

NGINX = shutil.which("nginx") or next(
    (path for path in ("/usr/sbin/nginx",) if os.access(path, os.X_OK)), None
)
pytestmark = pytest.mark.skipif(
    NGINX is None, reason="nginx is not installed (.ci/ensure-nginx installs it)"
)

SITE = ROOT / "docs" / "nginx.conf"
GUARD_S = 60  # stops a server that never starts or answers from hanging the run
QUESTION = {"question": "Where was Trump when he decided to kill Soleimani?"}
# Questions a minute per client on the citeqa behind nginx: the questions from 127.0.0.1
# in this module stay under it; another client's fourth is over it.
ASK_PER_MINUTE = 3
OTHER_CLIENT = "127.0.0.2"  # Linux routes all of 127.0.0.0/8 on the loopback device


def site(port: int, citeqa_port: int) -> str:
    """docs/nginx.conf, listening on `port` in front of citeqa on `citeqa_port`."""
    text = SITE.read_text(encoding="utf-8")
    for line, test_line in [
        ("listen 80;", f"listen 127.0.0.1:{port};"),
        ("server 127.0.0.1:8000;", f"server 127.0.0.1:{citeqa_port};"),
    ]:
        assert text.count(line) == 1, f"docs/nginx.conf has no one {line!r} to point here"
        text = text.replace(line, test_line)
    return text


def temp_kinds() -> list[str]:
    """The kinds of temporary file this nginx keeps, as it was built: each gets a folder
    of the test's own, for nginx makes them all at start (its defaults are root's)."""
    built = subprocess.run([NGINX, "-V"], capture_output=True, text=True, check=True).stderr
    optional = [
        k for k in ("fastcgi", "uwsgi", "scgi") if f"--without-http_{k}_module" not in built
    ]
    return ["client_body", "proxy", *optional]


def main_config(folder: Path) -> str:
    """nginx's own configuration: one process in the foreground (as this user: no switch
    to another), every file it writes in `folder`, and the site inside http {}, where
    /etc/nginx/conf.d/*.conf goes."""
    temp = " ".join(f"{kind}_temp_path {folder / kind};" for kind in temp_kinds())
    return (
        f"daemon off; master_process off; pid {folder / 'nginx.pid'};\n"
        f"error_log {folder / 'error.log'};\n"
        "events { worker_connections 512; }\n"
        f"http {{ access_log {folder / 'access.log'}; {temp}\n"
        f"  include {folder / 'citeqa.conf'}; }}\n"
    )


@pytest.fixture(scope="module")
def citeqa(sample_settings: Settings, embedder: Embedder) -> Iterator[LiveServer]:
    """citeqa as docs/nginx.conf says to run it: every connection is nginx's, so the cap
    per client is raised to the cap in all, and nginx's address is the trusted proxy."""
    settings = sample_settings.model_copy(
        update={
            "max_connections_per_client": 100,
            "ask_per_minute": ASK_PER_MINUTE,
            "trusted_proxies": "127.0.0.1",
        }  # fmt: skip
    )
    with LiveServer(settings, create_app(settings, embedder)) as live:
        yield live


@pytest.fixture(scope="module")
def proxy(citeqa: LiveServer, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """nginx with docs/nginx.conf in front of `citeqa`: its URL."""
    folder = tmp_path_factory.mktemp("nginx")
    with reserved_port() as port:
        (folder / "citeqa.conf").write_text(site(port, citeqa.port), encoding="utf-8")
        (folder / "nginx.conf").write_text(main_config(folder), encoding="utf-8")
        command = [NGINX, "-p", f"{folder}/", "-e", str(folder / "error.log"),
                   "-c", str(folder / "nginx.conf")]  # fmt: skip
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            wait_for_listener(process, port, folder / "error.log")
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(timeout=GUARD_S)


def wait_for_listener(process: subprocess.Popen, port: int, error_log: Path) -> None:
    """Return once nginx accepts connections on `port` (refused until it listens: the
    reservation does not); fail with its errors if it stops or never does."""
    deadline = time.monotonic() + GUARD_S
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                log = error_log.read_text() if error_log.exists() else ""
                pytest.fail(f"nginx did not start: {process.communicate()[1]!r} {log}")
            time.sleep(0.05)


def test_questions_are_answered_through_nginx(proxy: str) -> None:
    with httpx.Client(base_url=proxy, timeout=GUARD_S) as http:
        response = http.post("/ask", json=QUESTION)
        assert response.status_code == 200, response.text
        assert response.json()["answers"]
        assert assert_cited(response.json(), http) >= 1  # GET /documents/{id}, through nginx
        assert http.get("/").status_code == 200  # the chat page
    # nginx's request id reached citeqa, which sent it back: one id in both logs.
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers["x-request-id"])


def test_nginx_keeps_citeqas_body_limits(proxy: str) -> None:
    body = b'{"question": "' + b"x" * 2_000_000 + b'"}'  # over 1 MiB, under a write's limit
    headers = {"Content-Type": "application/json"}
    with httpx.Client(base_url=proxy, timeout=GUARD_S) as http:
        refused = http.post("/ask", content=body, headers=headers)
        write = http.post("/documents", content=body, headers=headers)
    assert refused.status_code == 413 and refused.headers["server"].startswith("nginx")
    # Past nginx to citeqa, whose writes are off here (no API key): its refusal, not nginx's.
    assert write.status_code == 403, write.text


def test_citeqa_counts_each_client_behind_nginx_not_nginx(proxy: str, citeqa: LiveServer) -> None:
    try:
        with socket.socket() as sock:
            sock.bind((OTHER_CLIENT, 0))
    except OSError:
        pytest.skip(f"{OTHER_CLIENT} is not a loopback address here (it is on Linux)")
    transport = httpx.HTTPTransport(local_address=OTHER_CLIENT)
    with httpx.Client(base_url=proxy, transport=transport, timeout=GUARD_S) as other:
        asked = [other.post("/ask", json=QUESTION).status_code for _ in range(ASK_PER_MINUTE)]
        refused = other.post("/ask", json=QUESTION)
        # A client cannot pass for another: nginx replaces the X-Forwarded-For it sends.
        forged = other.post("/ask", json=QUESTION, headers={"X-Forwarded-For": "203.0.113.9"})
    # Meanwhile a client at another address (127.0.0.1, directly) is not refused.
    direct = httpx.post(f"{citeqa.url}/ask", json=QUESTION, timeout=GUARD_S)
    assert asked == [200] * ASK_PER_MINUTE
    assert refused.status_code == 429 and "CITEQA_ASK_PER_MINUTE" in refused.json()["detail"]
    assert forged.status_code == 429
    assert direct.status_code == 200
