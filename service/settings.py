"""The one settings object. Every field reads `CITEQA_<NAME>` from the environment; CLI
flags override it."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from citeqa.index.factory import BackendName
from citeqa.models.runtime.paths import default_cache, default_index


def sample_corpus() -> Path:
    """The five shipped articles, inside the installed package."""
    return Path(str(files("citeqa.data") / "articles"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEQA_")

    index: Path = Field(default_factory=default_index)
    # Where chunks are stored and searched (index/factory.py, docs/operations.md "Milvus"):
    # "local", the default, is the folder `index`; "milvus" is a Milvus server or cluster
    # at `milvus_uri` (http://host:19530, with `milvus_token` if it asks), or Milvus Lite
    # in a file (./milvus.db; by default `index`/milvus.db).
    backend: BackendName = "local"
    milvus_uri: str | None = None
    milvus_token: SecretStr | None = None
    milvus_collection: str = Field("citeqa", pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")
    # The SQLite file POST /feedback writes and `citeqa feedback` reads; default
    # `index`/feedback.sqlite, outside the index's versions (service/feedback/store.py).
    feedback: Path | None = None
    # POST /feedback needs no key, so it is bounded: entries kept (an entry is at most about
    # 12 KB, so at most about 250 MB) and entries a client may send a minute.
    feedback_max_entries: int = Field(20_000, gt=0)
    feedback_per_minute: int = Field(30, gt=0)
    # Web sources (service/refresh.py): the feeds, sitemaps and pages kept current, in a
    # SQLite file, by default `index`/sources.sqlite, outside the index's versions.
    sources: Path | None = None
    # `citeqa serve` fetches what is new on every source this often; 0 turns it off.
    refresh_minutes: float = Field(30.0, ge=0)
    # Pages fetched from one feed or sitemap at most, newest first as it lists them.
    feed_max_entries: int = Field(200, gt=0)
    # Seconds between two requests to one host: politeness (ingest/web/fetch.py).
    fetch_delay_s: float = Field(1.0, ge=0)
    # One fetch in all, from connecting to the body's last byte (robots.txt and redirects
    # included); and one source in all on a refresh: its feed or sitemap and its pages.
    # Past a source's deadline the pages left are fetched on the next refresh.
    fetch_deadline_s: float = Field(30.0, gt=0)
    source_deadline_s: float = Field(300.0, gt=0)
    # Hosts a refresh fetches from at once; each host still gets one request at a time.
    refresh_hosts: int = Field(4, ge=1)
    # Sources added over HTTP may not reach private, loopback or link-local addresses
    # (a server fetching its own network on a stranger's behalf); True allows them.
    # Sources added with the command line are the operator's own and may.
    fetch_private: bool = False
    # ONNX exports of model weights that no ONNX file ships with (a reader trained here:
    # models/runtime/onnx.py), made on first use.
    cache: Path = Field(default_factory=default_cache)
    host: str = "127.0.0.1"
    port: int = 8000
    # A running `citeqa serve` for `citeqa ask` to ask instead of loading the models itself
    # (cli/client.py); unset, `ask` asks the one at `host`:`port` if it is ready.
    url: str | None = None
    # Allowed origins for embedding the widget on other sites; empty means CORS is off.
    cors_origins: list[str] = []
    # Bearer key for the write endpoints (POST /documents, DELETE /documents/{id}); unset
    # turns them off. Reads never need it.
    api_key: SecretStr | None = None
    # How long a write waits behind another write in this server before a 429. Writing
    # the 5 sample articles takes ~3 s on 2 cores; a batch of 100 large ones, far longer.
    write_wait_s: float = 30.0
    # A write estimated to embed for longer runs as a job: 202 at once, then GET /jobs/{id}
    # (service/jobs.py). Clients and proxies commonly give up after 30-60 s.
    write_sync_s: float = Field(20.0, ge=0)
    # Questions computed at once (service/admission.py), and how long one may queue for a
    # slot before a 503. See docs/operations.md "Serving" for the measurements behind the default.
    ask_slots: int = Field(2, ge=1)
    ask_budget_s: float = Field(10.0, gt=0)
    # Questions one client address may ask a minute (429 past it; service/http/rate.py). A
    # client asking one question at a time must never get there: sequential /ask ran at
    # about 1,090 a minute (bench/results/latency.json, p50 53 ms), and issue 24 aims at a
    # p50 of 25 ms (2,400). 3,600 is 60 a second: it stops a flood from one address, not
    # anyone who waits for each answer.
    ask_per_minute: int = Field(3600, gt=0)

    # Limits on each request (docs/operations.md "Limits and hardening"): past one, an error status
    # at once, never a stalled server. Bodies: service/http/middleware/limits.py; the rest:
    # uvicorn, as service/http/server.py configures it.
    max_body_bytes: int = Field(1024 * 1024, gt=0)  # 413 above
    # POST /documents; default: ingest's largest document (loaders) plus 1 MiB of JSON.
    max_write_bytes: int | None = Field(None, gt=0)  # 413 above
    body_timeout_s: float = Field(10.0, gt=0)  # longest wait for the next piece of a body: 408
    header_timeout_s: float = Field(10.0, gt=0)  # from connecting to the end of the headers
    keep_alive_timeout_s: int = Field(5, gt=0)  # an idle connection between requests
    max_connections: int | None = Field(100, gt=0)  # 503 above (uvicorn's limit_concurrency)
    # Open connections from one client address; past it a new one gets a 503 and is closed
    # at once (service/http/server.py), so one client trickling headers cannot hold every
    # slot of max_connections (150 such connections kept others at 503, issue 21). 20: a
    # browser opens at most 6 per host, bench/serving.py and the widget tests up to 8; below
    # max_connections. Behind a proxy on this machine every connection is the proxy's:
    # raise it to max_connections there and cap per client in the proxy (docs/nginx.conf).
    max_connections_per_client: int = Field(20, gt=0)
    max_header_bytes: int = Field(16 * 1024, gt=0)  # request line + headers; 400 above
    # The reverse proxies whose X-Forwarded-For and X-Forwarded-Proto are believed, as
    # uvicorn's FORWARDED_ALLOW_IPS takes them ("127.0.0.1,::1", networks too); unset, no
    # forwarding header is, and each client is its connection's address. uvicorn alone
    # trusts 127.0.0.1, so any process on the machine could name itself any client and
    # escape the limits per client (issue 32). Behind docs/nginx.conf: its address.
    trusted_proxies: str | None = None
    # Log each /ask question in the request log; off, only its length and answers are logged.
    log_questions: bool = False

    chunk_size: int = 1000
    retrieve_k: int = 30  # chunks fused from each retriever
    read_chunks: int = 8  # chunks whose sentences are scored
    # The reader reads this many windows: the best sentences, each with `window_context`
    # neighbours on either side. Its cost grows with every token it reads. On the SQuAD
    # calibration articles (26 Nov 2026) 2, 3 and 4 windows gave the same EM (.423) and
    # F1 (.527, .534, .526), and 2 half the latency of 4. Measured again with Reader III
    # stage 2 (5 Dec 2026, `python -m bench.quality`, test parts, confidence fitted on 2):
    # 3 windows hold the answer more often (SQuAD .886 -> .915, natural .812 -> .844,
    # eval/fresh .781 -> .918) but exact match moved -.008 (SQuAD v1.1), -.007 (2.0), 0,
    # +.012, +.012: no better on average, for half as much reading again.
    read_windows: int = 2
    window_context: int = 1
    # Questions whose vectors the server keeps, most recent first (about 3 KB each, with
    # the question's text; 0 keeps none): a question asked again is not embedded again.
    question_cache: int = Field(1024, ge=0)
    # Measured with `python -m bench.fusion` (gold-paragraph R@1 on the SQuAD half: BM25
    # alone .739, dense alone .642, 1:1 .764, 1:0.5 .755) and on the project set, where
    # dense weights above 0.5 cost EM: BM25 leads on news. Since dense search reads
    # sentences (index.dense; 5 Dec 2026): BM25 .741, dense .754, 1:1 .790, 1:0.75 .789,
    # 1:0.5 .785, R@5 .956 / .957 / .954: within half a point, so 0.5 stays.
    fusion_bm25: float = 1.0
    fusion_dense: float = 0.5
    # A folder with the reader's weights and confidence model (`citeqa train-reader`);
    # the default ships in the package, data/models/reader.
    reader: Path | None = None
    # Below this calibrated confidence citeqa says it has no answer. Default: the threshold
    # fitted with the reader's confidence model (data/models/reader/confidence.json).
    no_answer_threshold: float | None = None
