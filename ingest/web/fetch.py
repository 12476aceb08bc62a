"""Fetching one URL from the web, politely and safely.

`Fetcher.fetch(url, accept=...)` returns the body of a page, a feed or a sitemap, or raises
`FetchError` saying in words why not. On the way it:

- never connects to a private, loopback, link-local, multicast, reserved or unspecified
  address (unless `FetchLimits.allow_private`), on the first request and on every redirect;
- obeys robots.txt for the user agent's product token ("citeqa"): the longest rule wins,
  paths as servers resolve them, Crawl-delay honoured;
- sends at most one request at a time to a host, `per_host_delay_s` apart (or its
  Crawl-delay's);
- bounds each request's time (`timeout_s` to connect and per read), the whole fetch's time
  (`deadline_s`, from connecting to the last byte, so a server trickling its headers or
  its body cannot hold it) and the body's size, as decoded: one layer of gzip or deflate
  is undone here in bounded steps, any other content coding refused;
- follows at most `max_redirects` redirects itself, each one checked as above;
- sends If-None-Match / If-Modified-Since when given, and returns status 304 for "unchanged".

One `Fetcher` is meant to be shared: it is thread-safe (a server may fetch from a
background thread while a request handler fetches too) and keeps the robots.txt cache and
the per-host turns. Close it (or use it as a context manager) when done.
"""

from __future__ import annotations

import contextlib
import gzip
import io
import ipaddress
import itertools
import posixpath
import re
import socket
import ssl
import threading
import time
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Literal, TypeVar, get_args

import httpx
from protego import Protego

from citeqa.ingest.webpage import MAX_PAGE_BYTES

# Names the program, where to read about it and what it does, so a site's operator can
# tell what is fetching and write robots.txt rules for its product token ("citeqa").
USER_AGENT = "citeqa/0.1 (+https://github.com/citeqa; extractive QA over news)"

Kind = Literal["page", "feed", "sitemap"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

# sitemaps.org/protocol.html: a sitemap is "no larger than 50MB (52,428,800 bytes)"
# uncompressed; 50,000 URLs of about 100 bytes do not fit in a page's 5,000,000.
MAX_SITEMAP_BYTES = 52_428_800
# RFC 9309 2.5: crawlers "MUST parse at least the first 500 kibibytes"; the rest is ignored.
MAX_ROBOTS_BYTES = 500 * 1024
# RFC 9309 2.4 allows caching robots.txt up to 24 hours; a shorter time lets a site's
# edits take effect within a refresh or two.
ROBOTS_TTL_S = 15 * 60
# A robots.txt that failed with 5xx blocks its host; asked again sooner than a good one.
ROBOTS_FAILED_TTL_S = 60
# A robots.txt's Crawl-delay is honoured up to this: a day's delay would hold a source
# for ever; past its CITEQA_SOURCE_DEADLINE_S a source's other pages wait for a refresh.
MAX_CRAWL_DELAY_S = 60.0
# RFC 9309 2.3.1.2: crawlers "SHOULD follow at least five consecutive redirects".
ROBOTS_MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
GZIP_MAGIC = b"\x1f\x8b"  # RFC 1952 2.3.1: ID1, ID2
# The content codings asked for, and zlib's window bits for each (RFC 9110 8.4.1): one
# layer of one of them is undone here; anything else a server names is refused in words.
ACCEPT_ENCODING = "gzip, deflate"
_CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
# RFC 6052 2.1: the well-known NAT64 prefix; the low 32 bits are an IPv4 address.
NAT64 = ipaddress.ip_network("64:ff9b::/96")

_XML = frozenset({"application/xml", "text/xml"})
_ACCEPTED: dict[str, frozenset[str]] = {
    "page": frozenset({"text/html", "application/xhtml+xml"}),
    # Feeds: besides the feed and XML types, text/html and text/plain, because many servers
    # label their feeds so (a static file's default type, a CMS's route); whether the body
    # is a feed is then links.feed_links' decision ("not an RSS or Atom feed").
    "feed": _XML
    | {
        "application/rss+xml",
        "application/atom+xml",
        "application/rdf+xml",
        "text/html",
        "text/plain",
    },
    # Sitemaps: XML, text sitemaps (sitemaps.org: "text file"), and .xml.gz files, which
    # servers label with a gzip type or, lacking one, application/octet-stream.
    "sitemap": _XML
    | {"text/plain", "application/gzip", "application/x-gzip", "application/octet-stream"},
}
_WRONG_TYPE = {"page": "not an HTML page", "feed": "not a feed", "sitemap": "not a sitemap"}
_ACCEPT_HEADER = {
    "page": "text/html, application/xhtml+xml;q=0.9",
    "feed": "application/rss+xml, application/atom+xml, application/rdf+xml;q=0.9, "
    "application/xml;q=0.8, text/xml;q=0.8",
    "sitemap": "application/xml, text/xml;q=0.9, text/plain;q=0.8, application/gzip;q=0.7",
}

T = TypeVar("T")


@dataclass(frozen=True)
class FetchLimits:
    """How a `Fetcher` behaves; every field has a default fit for fetching news."""

    user_agent: str = USER_AGENT
    timeout_s: float = 10.0  # to connect, and between two reads of one response
    deadline_s: float = 30.0  # one fetch in all: robots.txt, redirects, the body
    max_bytes: int = MAX_PAGE_BYTES  # pages and feeds, as received (after Content-Encoding)
    max_sitemap_bytes: int = MAX_SITEMAP_BYTES  # sitemaps, also once gunzipped
    max_redirects: int = 5
    per_host_delay_s: float = 1.0  # from the end of one request to a host to the next's start
    allow_private: bool = False  # True only to fetch from this machine or its network (tests)

    def __post_init__(self) -> None:
        if min(self.timeout_s, self.deadline_s) <= 0 or self.per_host_delay_s < 0:
            raise ValueError("timeouts must be positive and the per-host delay not negative")
        if min(self.max_bytes, self.max_sitemap_bytes) <= 0 or self.max_redirects < 0:
            raise ValueError("size limits must be positive and max_redirects not negative")


@dataclass(frozen=True)
class Fetched:
    """A fetched URL: status 200 with its body, or 304 (unchanged since etag/last_modified)."""

    url: str  # after redirects
    status: int  # 200 or 304
    body: bytes  # empty on 304; a gzipped sitemap comes unpacked
    content_type: str | None  # the media type, lower case, without parameters
    etag: str | None  # to send back as `etag=` next time
    last_modified: str | None  # to send back as `last_modified=` next time
    fetched_at: datetime  # UTC
    charset: str | None = None  # as the Content-Type header names it, if it does


class FetchError(Exception):
    """A URL that could not be fetched; `reason` says why in words, `status` the HTTP status,
    `timed_out` whether it ran out of time (a source that keeps doing so is backed off)."""

    def __init__(
        self, url: str, reason: str, status: int | None = None, timed_out: bool = False
    ) -> None:
        super().__init__(f"could not fetch {url}: {reason}")
        self.url = url
        self.reason = reason
        self.status = status
        self.timed_out = timed_out


class _Failure(Exception):
    """Raised inside this module; `Fetcher.fetch` turns it into a FetchError naming the URL."""

    def __init__(self, reason: str, status: int | None = None, timed_out: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.timed_out = timed_out


def is_blocked(address: IPAddress) -> bool:
    """Whether `address` is not a public internet address: never fetched unless allowed."""
    if isinstance(address, ipaddress.IPv6Address):
        # An IPv4 address inside an IPv6 one reaches that IPv4 address.
        if address in NAT64:
            return is_blocked(ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF))
        teredo = address.teredo or ()
        for inner in (address.ipv4_mapped, address.sixtofour, *teredo):
            if inner is not None and is_blocked(inner):
                return True
    return (
        # is_global also excludes what the flags below miss, e.g. 100.64.0.0/10 (RFC 6598).
        not address.is_global
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_multicast  # some multicast ranges count as global
        or address.is_reserved
        or address.is_unspecified
    )


def resolve(host: str, port: int, *, allow_private: bool) -> list[IPAddress]:
    """The addresses of `host`, each checked; _Failure if one of them is not public.

    Every address is checked, not only the first: a name resolving to a public and a
    private address would otherwise reach the private one whenever it comes first.
    """
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise _Failure(f"could not resolve {host} ({error})") from None
    # An IPv6 link-local address comes with "%scope"; ipaddress does not parse it.
    addresses = list(dict.fromkeys(ipaddress.ip_address(i[4][0].split("%")[0]) for i in infos))
    if not addresses:
        raise _Failure(f"could not resolve {host}")
    if not allow_private:
        for address in addresses:
            if is_blocked(address):
                named = "" if host == str(address) else f"{host} resolves to "
                raise _Failure(f"{named}a private address ({address}): not fetched")
    return addresses


class _Clock:
    """The fetch's deadline; waiting for a host's turn does not count against it."""

    def __init__(self, total_s: float) -> None:
        self.total_s = total_s
        self._end = time.monotonic() + total_s

    def extend(self, seconds: float) -> None:
        self._end += seconds

    def remaining(self) -> float:
        """Seconds left; _Failure once there are none."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise self.overdue()
        return left

    def passed(self) -> bool:
        return time.monotonic() >= self._end

    def overdue(self) -> _Failure:
        return _Failure(f"took longer than {self.total_s:g} s in all", timed_out=True)


class _Watchdog:
    """Cuts a request's connection when its fetch's deadline passes, whatever it is
    waiting for. httpx bounds each read, not a whole response: a server sending its
    status line and headers a byte a second held one fetch for 153 s against a 30 s
    deadline (issue 32). The body is also checked between reads (`_read`); this covers
    the head, and any read in between.

    httpcore's `trace` extension hands over each connection's socket as it is made; at
    the deadline a thread shuts it down (a duplicate of it: shutdown acts on the socket,
    also under TLS), so the blocked read returns at once and fails."""

    def __init__(self, clock: _Clock) -> None:
        self._lock = threading.Lock()
        self._socket: socket.socket | None = None
        self._cut = False
        self._timer = threading.Timer(max(clock.remaining(), 0.0), self.cut)
        self._timer.daemon = True

    def __enter__(self) -> _Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._timer.cancel()
        with self._lock:
            if self._socket is not None:
                self._socket.close()
                self._socket = None

    def trace(self, event: str, info: dict) -> None:
        """httpcore's trace hook: keeps the socket of the connection just made."""
        if event != "connection.connect_tcp.complete":
            return
        made: socket.socket = info["return_value"].get_extra_info("socket")
        with self._lock:
            if self._socket is not None:
                self._socket.close()  # an earlier address's connection, given up
            self._socket = made.dup()
            if self._cut:
                self._shutdown()

    def cut(self) -> None:
        with self._lock:
            self._cut = True
            self._shutdown()

    def _shutdown(self) -> None:
        if self._socket is not None:
            with contextlib.suppress(OSError):  # already closed by the other end
                self._socket.shutdown(socket.SHUT_RDWR)


@dataclass
class _Host:
    lock: threading.Lock
    free_at: float = 0.0  # time.monotonic() from which the next request may start


class _HostGate:
    """At most one request at a time per host, `gap_s` from one's end to the next's start,
    or longer for a host that asks for it (robots.txt's Crawl-delay: `slow_down`).

    One entry per host ever fetched: a few hundred for news sources, never pruned.
    """

    def __init__(self, gap_s: float) -> None:
        self._gap_s = gap_s
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}
        self._gaps: dict[str, float] = {}  # by host, when longer than gap_s

    def slow_down(self, host: str, gap_s: float | None) -> None:
        """Leave `gap_s` between two requests to `host` (None: the usual gap)."""
        with self._lock:
            if gap_s is not None and gap_s > self._gap_s:
                self._gaps[host] = gap_s
            else:
                self._gaps.pop(host, None)

    def gap(self, host: str) -> float:
        with self._lock:
            return self._gaps.get(host, self._gap_s)

    @contextmanager
    def turn(self, host: str) -> Iterator[float]:
        """Hold `host` for one request; yields the seconds spent waiting for it."""
        with self._lock:
            entry = self._hosts.setdefault(host, _Host(threading.Lock()))
        asked = time.monotonic()
        with entry.lock:
            time.sleep(max(0.0, entry.free_at - time.monotonic()))
            try:
                yield time.monotonic() - asked
            finally:
                entry.free_at = time.monotonic() + self.gap(host)


@dataclass(frozen=True)
class _Robots:
    """A host's robots.txt rules, or a refusal of everything with its reason."""

    rules: Protego | None
    refusal: str | None = None  # set when the whole host is refused


class Fetcher:
    """Fetches pages, feeds and sitemaps within `limits`; thread-safe, shared, closed once."""

    def __init__(
        self, limits: FetchLimits | None = None, *, verify: ssl.SSLContext | None = None
    ) -> None:
        """`verify`: the TLS context checking servers' certificates; by default httpx's
        (certifi's CAs). Tests pass one trusting their own certificate."""
        self.limits = limits or FetchLimits()
        # robots.txt matches the product token, the user agent's part before the "/".
        self._agent_token = self.limits.user_agent.split("/")[0].strip()
        self._gate = _HostGate(self.limits.per_host_delay_s)
        self._robots: dict[str, tuple[float, _Robots]] = {}
        self._robots_fetching: dict[str, threading.Lock] = {}
        self._robots_lock = threading.Lock()  # guards the two dicts
        self._client = httpx.Client(
            follow_redirects=False,  # each hop is checked here first
            verify=verify if verify is not None else True,
            # No proxy, .netrc or certificate paths from the environment: a proxy would
            # connect wherever it likes, whatever address this module checked.
            trust_env=False,
            # A connection is opened per request: requests are pinned to an address (see
            # _send) and a pooled TLS connection checked for one name must not serve another.
            limits=httpx.Limits(max_keepalive_connections=0),
            # Nothing is logged in to; a site's cookies are neither kept nor sent back.
            cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])),
            # The codings _Inflater undoes itself, in bounded steps (see _read).
            headers={"User-Agent": self.limits.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
        )

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def close(self) -> None:
        self._client.close()

    def fetch(
        self,
        url: str,
        *,
        accept: Kind,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> Fetched:
        """`url`'s body if it is a page, feed or sitemap (`accept`); FetchError otherwise.

        With `etag` or `last_modified` (from an earlier Fetched) the request is conditional
        and an unchanged resource returns Fetched(status=304, body=b"").
        """
        if accept not in get_args(Kind):
            raise ValueError(f"accept must be one of {get_args(Kind)}, not {accept!r}")
        conditional = {
            name: value
            for name, value in (("If-None-Match", etag), ("If-Modified-Since", last_modified))
            if value
        }
        clock = _Clock(self.limits.deadline_s)

        def step(hop: httpx.URL) -> Fetched | httpx.URL:
            addresses = self._addresses(hop)  # first: a private host gets no robots.txt request
            self._obey_robots(hop, clock)
            headers = {"Accept": _ACCEPT_HEADER[accept], **conditional}
            return self._hop(
                hop,
                addresses,
                headers,
                clock,
                lambda r: self._accept(r, hop, accept, conditional, clock),
            )

        try:
            return self._follow(_web_url(url), self.limits.max_redirects, step)
        except _Failure as failure:
            raise FetchError(url, failure.reason, failure.status, failure.timed_out) from None

    # Redirects, one hop, one request.

    def _follow(
        self, url: httpx.URL, max_redirects: int, step: Callable[[httpx.URL], T | httpx.URL]
    ) -> T:
        """What `step` returns for `url` or the URL it redirects to, hop by hop."""
        seen = {url}
        for _ in range(max_redirects + 1):
            try:
                result = step(url)
            except _Failure as failure:
                if len(seen) > 1:  # name the hop that failed: the caller knows only the first
                    raise _Failure(
                        f"{failure.reason} (at {url}, after a redirect)",
                        failure.status,
                        failure.timed_out,
                    ) from None
                raise
            if not isinstance(result, httpx.URL):
                return result
            if result in seen:
                raise _Failure(f"redirect loop (back to {result})")
            seen.add(result)
            url = _web_url(str(result), redirected=True)
        raise _Failure(f"too many redirects (more than {max_redirects})")

    def _addresses(self, url: httpx.URL) -> list[IPAddress]:
        """The addresses to connect to for `url`, checked."""
        port = url.port or (443 if url.scheme == "https" else 80)
        host = url.raw_host.decode("ascii")
        return resolve(host, port, allow_private=self.limits.allow_private)

    def _hop(
        self,
        url: httpx.URL,
        addresses: list[IPAddress],
        headers: dict[str, str],
        clock: _Clock,
        read: Callable[[httpx.Response], T],
    ) -> T | httpx.URL:
        """One request to `addresses`: the URL a redirect points to, or what `read` makes of
        the response."""
        with self._gate.turn(_host(url)) as waited:
            clock.extend(waited)
            with self._send(url, addresses, headers, clock) as response:
                status = response.status_code
                if status in REDIRECT_STATUSES:
                    location = response.headers.get("location")
                    if not location:
                        raise _Failure(f"HTTP {status} redirect without a Location", status)
                    try:
                        return url.join(location.strip())
                    except httpx.InvalidURL:
                        raise _Failure(f"redirect to an invalid address ({location!r})") from None
                return read(response)

    @contextmanager
    def _send(
        self,
        url: httpx.URL,
        addresses: list[IPAddress],
        headers: dict[str, str],
        clock: _Clock,
    ) -> Iterator[httpx.Response]:
        """The response to GET `url`, connecting only to `addresses` (already checked).

        DNS rebinding: left to itself httpx would resolve the name again, and a hostile DNS
        server can answer a public address to the check and a private one to the connection.
        So the request goes to the checked address itself, with the name in the Host header
        and, for https, as the TLS server name (httpcore's "sni_hostname" extension), which
        the certificate is also verified against. The addresses are tried in order, the next
        one only when connecting to one fails (no IPv6 route, say), not when it times out.
        """
        with _Watchdog(clock) as watchdog:
            response = self._connect(url, addresses, headers, clock, watchdog)
            try:
                yield response
            except httpx.HTTPError as error:  # while reading the body
                raise self._failure(error, clock) from None
            finally:
                response.close()

    def _connect(
        self,
        url: httpx.URL,
        addresses: list[IPAddress],
        headers: dict[str, str],
        clock: _Clock,
        watchdog: _Watchdog,
    ) -> httpx.Response:
        """The response's status and headers from the first of `addresses` that connects."""
        timeout = min(self.limits.timeout_s, clock.remaining())
        extensions: dict[str, object] = {"trace": watchdog.trace}
        if url.scheme == "https":
            extensions["sni_hostname"] = url.raw_host.decode("ascii")
        headers = {**headers, "Host": url.netloc.decode("ascii")}
        failure = _Failure("no address to connect to")
        for address in addresses:
            request = self._client.build_request(
                "GET",
                url.copy_with(host=str(address)),
                headers=headers,
                extensions=extensions,
                timeout=timeout,
            )
            try:
                return self._client.send(request, stream=True)
            except httpx.ConnectError as error:
                failure = self._failure(error, clock)
            except httpx.HTTPError as error:
                raise self._failure(error, clock) from None
        raise failure

    def _failure(self, error: httpx.HTTPError, clock: _Clock) -> _Failure:
        """An httpx error in words."""
        if clock.passed():  # the request's timeout was the deadline's rest, or the watchdog cut
            return clock.overdue()
        if isinstance(error, httpx.TimeoutException):
            return _Failure(f"timed out after {self.limits.timeout_s:g} s", timed_out=True)
        if isinstance(error, httpx.ConnectError):
            if _caused_by(error, ConnectionRefusedError):
                return _Failure("connection refused")
            if _caused_by(error, ssl.SSLError):
                return _Failure(f"TLS failed ({error})")
            return _Failure(f"could not connect ({error})")
        if isinstance(error, httpx.RemoteProtocolError):
            return _Failure(f"not a valid HTTP response ({error})")
        if isinstance(error, httpx.DecodingError):
            return _Failure(f"could not decode the response ({error})")
        if isinstance(error, httpx.NetworkError):
            return _Failure(f"connection lost ({error})")
        return _Failure(f"{type(error).__name__}: {error}")

    # The response.

    def _accept(
        self,
        response: httpx.Response,
        url: httpx.URL,
        kind: str,
        conditional: dict[str, str],
        clock: _Clock,
    ) -> Fetched:
        """The Fetched for a final (non-redirect) response; _Failure if it is not one."""
        status = response.status_code
        if status == 304 and conditional:  # unasked for, a 304 is an error like any other
            return Fetched(
                url=str(url),
                status=304,
                body=b"",
                content_type=_media_type(response),
                # A 304 may carry new validators; without them the old ones still hold.
                etag=response.headers.get("etag") or conditional.get("If-None-Match"),
                last_modified=response.headers.get("last-modified")
                or conditional.get("If-Modified-Since"),
                fetched_at=datetime.now(UTC),
            )
        if status != 200:
            raise _Failure(f"HTTP {status}", status)
        media_type = _media_type(response)
        # No Content-Type at all: left to the parser (extract, feed_links, sitemap_links),
        # as browsers sniff such bodies; a stated wrong type is refused before reading it.
        if media_type is not None and not _accepts(kind, media_type):
            raise _Failure(f"{_WRONG_TYPE[kind]} ({media_type})")
        cap = self.limits.max_sitemap_bytes if kind == "sitemap" else self.limits.max_bytes
        body = _read(response, cap, clock)
        if kind == "sitemap" and body.startswith(GZIP_MAGIC):
            body = _gunzip(body, cap)
        return Fetched(
            url=str(url),
            status=200,
            body=body,
            content_type=media_type,
            etag=response.headers.get("etag"),
            last_modified=response.headers.get("last-modified"),
            fetched_at=datetime.now(UTC),
            charset=response.charset_encoding,
        )

    # robots.txt

    def _obey_robots(self, url: httpx.URL, clock: _Clock) -> None:
        """_Failure unless `url`'s robots.txt lets this user agent fetch it."""
        robots = self._robots_for(url, clock)
        if robots.refusal:
            raise _Failure(robots.refusal)
        if robots.rules is None:
            return
        # Protego (Scrapy's parser), unlike urllib.robotparser: the longest matching rule
        # wins (RFC 9309 2.2.2), with * and $ patterns, and Crawl-delay is read.
        delay = robots.rules.crawl_delay(self._agent_token)
        self._gate.slow_down(_host(url), min(delay, MAX_CRAWL_DELAY_S) if delay else None)
        if not robots.rules.can_fetch(_as_served(url), self._agent_token):
            raise _Failure("robots.txt disallows it")

    def delay_for(self, host: str) -> float:
        """The seconds left between two requests to `host`: CITEQA_FETCH_DELAY_S, or its
        robots.txt's Crawl-delay (at most MAX_CRAWL_DELAY_S) when longer."""
        return self._gate.gap(host.lower())

    def _robots_for(self, url: httpx.URL, clock: _Clock) -> _Robots:
        """The robots.txt rules of `url`'s scheme, host and port (RFC 9309 2.3), cached."""
        origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
        with self._robots_lock:
            fetching = self._robots_fetching.setdefault(origin, threading.Lock())
        # One thread fetches a host's robots.txt; the others wait for its answer.
        with fetching:
            with self._robots_lock:
                expires, robots = self._robots.get(origin, (0.0, None))
            if robots is not None and expires > time.monotonic():
                return robots
            robots, ttl = self._fetch_robots(httpx.URL(f"{origin}/robots.txt"), clock)
            with self._robots_lock:
                self._robots[origin] = (time.monotonic() + ttl, robots)
            return robots

    def _fetch_robots(self, url: httpx.URL, clock: _Clock) -> tuple[_Robots, float]:
        """A host's robots.txt as rules, and for how long to keep them.

        A network failure (refused, timed out) is raised, not cached: it is the page's
        failure too, and the next fetch asks again.
        """

        def step(hop: httpx.URL) -> tuple[int, bytes] | httpx.URL:
            return self._hop(hop, self._addresses(hop), {"Accept": "text/plain"}, clock, read)

        def read(response: httpx.Response) -> tuple[int, bytes]:
            ok = response.status_code == 200
            clipped = _read(response, MAX_ROBOTS_BYTES, clock, clip=True) if ok else b""
            return response.status_code, clipped

        try:
            status, text = self._follow(url, ROBOTS_MAX_REDIRECTS, step)
        except _Failure as failure:
            raise _Failure(
                f"{failure.reason} (fetching robots.txt)", failure.status, failure.timed_out
            ) from None
        if status == 200:
            rules = Protego.parse(text.decode("utf-8", errors="replace"))
            return _Robots(rules), ROBOTS_TTL_S
        if status in (401, 403):
            # urllib.robotparser's rule, kept as the polite reading: RFC 9309 2.3.1.3 would
            # allow everything on any 4xx, but a site that forbids its robots.txt to us is
            # not one to crawl.
            return _Robots(
                None, f"robots.txt is forbidden (HTTP {status}): host not fetched"
            ), ROBOTS_TTL_S
        if status >= 500:
            # RFC 9309 2.3.1.4: robots.txt unreachable for a server error means complete
            # disallow.
            return _Robots(
                None, f"robots.txt failed (HTTP {status}): host not fetched"
            ), ROBOTS_FAILED_TTL_S
        # RFC 9309 2.3.1.3: "unavailable" (404 and other 4xx): everything allowed.
        return _Robots(None), ROBOTS_TTL_S


def _web_url(url: str, *, redirected: bool = False) -> httpx.URL:
    """`url` parsed; _Failure unless it is an absolute http or https address."""
    what = "redirect to" if redirected else "not"
    try:
        parsed = httpx.URL(url.strip())
    except httpx.InvalidURL:
        raise _Failure(f"{what} a valid web address ({url!r})") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise _Failure(f"{what} an http or https address ({url!r})")
    return parsed


def _host(url: httpx.URL) -> str:
    """The host a request goes to, as the per-host turns and delays know it."""
    return url.raw_host.decode("ascii").lower()


def _as_served(url: httpx.URL) -> str:
    """`url` with its path as web servers resolve it, for matching robots.txt: runs of
    slashes one, "." and ".." segments resolved. "Disallow: /private/" did not stop
    "//private/x.html", which servers serve as "/private/x.html" (issue 32)."""
    path, query = url.raw_path.decode("ascii"), ""
    if "?" in path:
        path, query = path.split("?", 1)
        query = "?" + query
    served = posixpath.normpath(re.sub("/{2,}", "/", path))  # normpath keeps a leading "//"
    if path.endswith(("/", "/.", "/..")) and served != "/":
        served += "/"  # "/private/" and "/private" are different rules
    return f"{url.scheme}://{url.netloc.decode('ascii')}{served}{query}"


def _media_type(response: httpx.Response) -> str | None:
    """The response's media type ("text/html"), or None when it states none."""
    stated = response.headers.get("content-type", "").split(";")[0].strip().lower()
    return stated or None


def _accepts(kind: str, media_type: str) -> bool:
    # RFC 6839 3.1: "+xml" types are XML, e.g. application/x-rss+xml from some servers.
    xml_ok = kind != "page" and media_type.endswith("+xml")
    return media_type in _ACCEPTED[kind] or xml_ok


def _read(response: httpx.Response, cap: int, clock: _Clock, *, clip: bool = False) -> bytes:
    """The body, refused when larger than `cap` bytes (or, with `clip`, cut at `cap`).

    The size is checked before reading (Content-Length) and while reading, as decoded.
    The body is read raw and its one content coding undone here, never more than `cap` + 1
    bytes at a step: httpx's decoders would unpack a whole network read at once, and stack
    every coding a server names (a 7 KB "gzip, gzip" page unpacked to 1 GiB, issue 32).
    """
    declared = response.headers.get("content-length", "")
    if not clip and declared.isdigit() and int(declared) > cap:
        raise _Failure(_too_large(cap))
    inflate = _Inflater(_coding(response))
    chunks: list[bytes] = []
    size = 0
    for raw in itertools.chain(response.iter_raw(), [b""]):  # b"": the end, flushed
        chunk = inflate(raw, cap - size + 1)
        chunks.append(chunk)
        size += len(chunk)
        if size > cap:
            if clip:
                return b"".join(chunks)[:cap]
            raise _Failure(_too_large(cap))
        clock.remaining()  # a server sending a byte at a time stops here at the deadline
    return b"".join(chunks)


def _coding(response: httpx.Response) -> str | None:
    """The body's one content coding (gzip or deflate), None for none; _Failure, in words,
    for a coding not asked for (br, zstd, one unknown) or for more than one layer."""
    named = response.headers.get_list("content-encoding", split_commas=True)
    layers = [c.strip().lower() for c in named if c.strip().lower() not in ("", "identity")]
    if not layers:
        return None
    if len(layers) > 1 or layers[0] not in _CODINGS:
        raise _Failure(
            f"Content-Encoding {', '.join(named)!r} not accepted: "
            f"only one layer of gzip or deflate is read"
        )
    return layers[0]


class _Inflater:
    """One content coding undone in bounded steps; the identity when there is none."""

    def __init__(self, coding: str | None) -> None:
        self._coding = coding
        self._zlib = zlib.decompressobj(_CODINGS[coding]) if coding else None
        self._started = False

    def __call__(self, data: bytes, room: int) -> bytes:
        """What `data` unpacks to, at most `room` bytes: more would be over the cap, so
        whatever is left then is never unpacked. b"" at the end flushes."""
        if self._zlib is None:
            return data
        try:
            # flush() at the end: all input was unpacked already (none is held back unless
            # `room` ran out, which fails the read), so it adds a few bytes at most.
            out = self._zlib.decompress(data, room) if data else self._zlib.flush()
        except zlib.error as error:
            if self._coding != "deflate" or self._started:
                raise _Failure(f"could not decode the {self._coding} body ({error})") from None
            # "deflate" is meant to be zlib's format (RFC 9110 8.4.1.2); some servers send
            # the raw stream, as browsers and httpx also accept.
            self._zlib = zlib.decompressobj(-zlib.MAX_WBITS)
            self._started = True
            return self(data, room)
        self._started = self._started or bool(data)
        return out


def _gunzip(body: bytes, cap: int) -> bytes:
    """A gzip file unpacked, refused when it unpacks to more than `cap` bytes (a gzip bomb)."""
    try:
        with gzip.GzipFile(fileobj=io.BytesIO(body)) as unpacking:
            data = unpacking.read(cap + 1)  # reads no more than this, whatever the file says
    except (OSError, EOFError, zlib.error) as error:
        raise _Failure(f"not a valid gzip file ({error})") from None
    if len(data) > cap:
        raise _Failure(f"{_too_large(cap)} once unpacked")
    return data


def _too_large(cap: int) -> str:
    return f"larger than {cap:,} bytes"


def _caused_by(error: BaseException, kind: type[BaseException]) -> bool:
    """Whether `kind` is among the errors that led to `error` (httpx wraps httpcore's)."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, kind):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def check_public(url: str) -> None:
    """FetchError when `url` is not an http(s) address, or its host resolves to a private
    address: checked when a source is added on a stranger's behalf, before anything is
    fetched. A host that does not resolve now passes: each fetch checks again, redirects
    included, and says so then."""
    try:
        parsed = _web_url(url)
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
        try:
            socket.getaddrinfo(parsed.host, port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError):
            return
        resolve(parsed.host, port, allow_private=False)
    except _Failure as error:
        raise FetchError(url, error.reason, error.status) from None
