"""From web sources to documents (ingest/web/crawl.py), against a news site on loopback:
feeds and sitemaps, what is new on a refresh, unchanged pages as 304s, canonical URLs,
and every kind of bad page reported by URL and reason while the rest goes on."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from news_site import ARTICLES, HTML, RSS, Article, NewsSite, page
from web_site import Reply, WebSite

from citeqa.ingest.web.crawl import (
    SOURCE_SITEMAP_BYTES,
    SOURCE_SITEMAPS,
    Budget,
    Crawl,
    Crawler,
    doc_id_for,
)
from citeqa.ingest.web.fetch import Fetcher, FetchLimits
from citeqa.ingest.web.sources import SourceKind, SourceStore


@pytest.fixture
def site() -> Iterator[WebSite]:
    with WebSite() as served:
        yield served


@pytest.fixture
def store(tmp_path: Path) -> SourceStore:
    return SourceStore(tmp_path / "sources.sqlite")


def crawler(store: SourceStore, max_entries: int = 50, **limits: float) -> Crawler:
    # Loopback is private: the tests' site is only reachable with allow_private.
    fetcher = Fetcher(FetchLimits(allow_private=True, per_host_delay_s=0, **limits))
    return Crawler(fetcher, store, max_entries)


def recorded(crawl: Crawl, store: SourceStore) -> Crawl:
    """`crawl`, recorded as written (what the caller does once the index has it)."""
    store.record(crawl.pages, crawl.sources)
    return crawl


def test_a_feed_gives_each_article_once_with_its_canonical_url(
    site: WebSite, store: SourceStore
) -> None:
    news = NewsSite(site, articles=3)
    source = store.add(site.url("/feed.xml"), SourceKind.FEED, trusted=True)
    crawl = recorded(crawler(store).source(source), store)
    assert not crawl.errors
    documents = sorted(crawl.documents.values(), key=lambda d: d.meta.date or "")
    assert [d.meta.url for d in documents] == [news.url(a) for a in ARTICLES[:3]]
    first = documents[0]
    assert first.doc_id == doc_id_for(news.url(ARTICLES[0]))
    assert first.meta.title == ARTICLES[0].headline and not first.meta.title_is_lede
    assert first.meta.date == ARTICLES[0].date and first.meta.source == "The Harbour Times"
    assert first.meta.fetched_at is not None
    # The article, not the page's furniture.
    assert "Ansel Varga" in first.text
    for chrome in ("cookies", "Advertisement", "Subscribe", "Most read", "Privacy policy"):
        assert chrome not in first.text
    assert store.get(source.url).documents == 3


def test_a_refresh_fetches_only_what_is_new_and_unchanged_pages_cost_a_304(
    site: WebSite, store: SourceStore
) -> None:
    news = NewsSite(site, articles=3)
    source = store.add(site.url("/feed.xml"), SourceKind.FEED, trusted=True)
    recorded(crawler(store).source(source), store)
    fourth = news.publish()
    crawl = recorded(crawler(store).source(store.get(source.url)), store)
    assert [d.meta.url for d in crawl.documents.values()] == [news.url(fourth)]
    assert crawl.not_modified == 3
    conditional = [r for r in site.requests if "if-none-match" in r.headers]
    assert len(conditional) == 3, "the three known pages were asked for with their ETags"
    assert store.get(source.url).documents == 4


def test_an_amp_copy_and_its_page_are_one_document(site: WebSite, store: SourceStore) -> None:
    news = NewsSite(site, articles=1)
    article = ARTICLES[0]
    crawl = crawler(store).pages([news.url(article), news.url(article, amp=True)])
    assert list(crawl.documents) == [doc_id_for(news.url(article))]


def test_a_canonical_url_on_another_host_is_not_trusted(site: WebSite, store: SourceStore) -> None:
    # Issue 32: a page on one host naming another host's page as its canonical URL
    # replaced that page's document, and answers quoted it under the victim's address.
    news = NewsSite(site, articles=1)
    victim = news.url(ARTICLES[0])
    lies = page(
        Article(
            "fake",
            "Ferry service cancelled for good",
            ["The Quillon ferry will never sail again, the harbour master said."],
            "2026-11-09",
        ),
        canonical=victim,
    )
    with WebSite(host="127.0.0.2") as attacker:  # another loopback address: another host
        attacker.routes["/fake.html"] = Reply(headers=HTML, body=lies)
        crawl = crawler(store).pages([victim, attacker.url("/fake.html")])
    assert not crawl.errors
    by_url = {d.meta.url: d for d in crawl.documents.values()}
    assert set(by_url) == {victim, attacker.url("/fake.html")}
    assert "240 passengers" in by_url[victim].text
    assert by_url[attacker.url("/fake.html")].doc_id == doc_id_for(attacker.url("/fake.html"))


def test_a_canonical_url_on_the_host_after_redirects_is_trusted(
    site: WebSite, store: SourceStore
) -> None:
    # The canonical is checked against where the page came from, after redirects: a
    # short link on another host that redirects to the article still names it.
    news = NewsSite(site, articles=1)
    article = news.url(ARTICLES[0])
    with WebSite(host="127.0.0.2") as shortener:
        shortener.routes["/s/1"] = Reply.redirect(article + "?utm_source=short")
        crawl = crawler(store).pages([shortener.url("/s/1")])
    assert list(crawl.documents) == [doc_id_for(article)]


CAFE = ("<html><head><meta charset='utf-8'><title>Caf\u00e9 reopens</title></head><body>"
        "<article><p>Caf\u00e9 na\u00efve r\u00e9sum\u00e9. The harbour caf\u00e9 reopened on "
        "Monday after the storm, the owner said.</p><p>Its r\u00e9sum\u00e9 of the season was "
        "na\u00efve but honest.</p></article></body></html>")  # fmt: skip


def test_a_page_not_in_the_charset_it_declares_is_read_as_detected_and_said(
    site: WebSite, store: SourceStore, caplog: pytest.LogCaptureFixture
) -> None:
    # Issue 32: Latin-1 bytes under a header and a <meta> that both say UTF-8 were
    # stored as "Cafķ na've rķsumķ".
    site.routes["/cafe.html"] = Reply(headers=HTML, body=CAFE.encode("latin-1"))
    site.routes["/honest.html"] = Reply(headers=HTML, body=CAFE.encode("utf-8"))
    with caplog.at_level(logging.WARNING, logger="citeqa"):
        crawl = crawler(store).pages([site.url("/cafe.html"), site.url("/honest.html")])
    assert not crawl.errors
    for document in crawl.documents.values():
        assert document.text.startswith("Caf\u00e9 na\u00efve r\u00e9sum\u00e9.")
    assert [r.getMessage() for r in caplog.records] == [
        f"{site.url('/cafe.html')}: declares utf-8, but is not: read as cp1252, as detected"
    ]


def test_a_sitemap_lists_the_pages(site: WebSite, store: SourceStore) -> None:
    news = NewsSite(site, articles=2)
    crawl = crawler(store).listing(site.url("/sitemap.xml"), SourceKind.SITEMAP)
    assert sorted(d.meta.url for d in crawl.documents.values()) == sorted(
        news.url(a) for a in ARTICLES[:2]
    )


# A page with nothing but a site's furniture: no article in it.
MENU = (
    b"<html><head><title>Courier</title></head><body>"
    b"<div class='cookie-banner'>We use cookies. Accept all.</div><header><nav><ul>"
    b"<li><a href='/'>Home</a></li><li><a href='/sport'>Sport</a></li></ul></nav></header>"
    b"<footer><p>(c) 2026 The Quillon Courier. Privacy policy.</p></footer></body></html>"
)


def test_bad_pages_are_reported_by_url_and_reason_and_the_rest_is_indexed(
    site: WebSite, store: SourceStore
) -> None:
    news = NewsSite(site, articles=1)
    site.routes.update({
        "/gone.html": Reply(404, HTML, b"gone"),
        "/broken.html": Reply(500, HTML, b"oops"),
        "/menu.html": Reply(headers=HTML, body=MENU),
        "/slow.html": Reply(headers=HTML, body=b"<html></html>", delay_s=3),
        "/huge.html": Reply(headers=HTML, body=b"<p>" + b"x" * 6_000_000 + b"</p>"),
        "/loop.html": Reply.redirect("/loop2.html"),
        "/loop2.html": Reply.redirect("/loop.html"),
        "/private/memo.html": Reply(headers=HTML, body=b"<p>A memo.</p>"),
        "/image.png": Reply(headers={"Content-Type": "image/png"}, body=b"\x89PNG"),
    })  # fmt: skip
    bad = ["/gone.html", "/broken.html", "/menu.html", "/slow.html", "/huge.html",
           "/loop.html", "/private/memo.html", "/image.png"]  # fmt: skip
    urls = [site.url(path) for path in bad] + [news.url(ARTICLES[0])]
    crawl = crawler(store, timeout_s=1).pages(urls)
    assert [d.meta.url for d in crawl.documents.values()] == [news.url(ARTICLES[0])]
    reasons = {e.path.removeprefix(site.origin): e.reason for e in crawl.errors}
    assert set(reasons) == set(bad)
    expected = {"/gone.html": "404", "/broken.html": "500", "/menu.html": "no main text",
                "/slow.html": "timed out", "/huge.html": "5,000,000", "/loop.html": "loop",
                "/private/memo.html": "robots.txt", "/image.png": "not an HTML page"}  # fmt: skip
    for path, words in expected.items():
        assert words in reasons[path], (path, reasons[path])


def test_a_feed_that_is_not_a_feed_or_not_there_is_the_source_s_error(
    site: WebSite, store: SourceStore
) -> None:
    site.routes["/feed.xml"] = Reply(headers=RSS, body=b"<html>not a feed</html>")
    for path in ("/feed.xml", "/missing.xml"):
        source = store.add(site.url(path), SourceKind.FEED, trusted=True)
        crawl = recorded(crawler(store).source(source), store)
        assert not crawl.documents and crawl.errors
        assert store.get(source.url).last_error == crawl.errors[0].reason


def test_a_feed_of_10000_entries_is_capped(site: WebSite, store: SourceStore) -> None:
    items = "".join(f"<item><link>{site.url(f'/n/{i}.html')}</link></item>" for i in range(10_000))
    site.routes["/feed.xml"] = Reply(
        headers=RSS, body=f'<rss version="2.0"><channel>{items}</channel></rss>'.encode()
    )
    crawl = crawler(store, max_entries=5).listing(site.url("/feed.xml"), SourceKind.FEED)
    assert crawl.dropped == 9_995
    assert len([p for p in site.paths() if p.startswith("/n/")]) == 5


def sitemap_index(site: WebSite, name: str, nested: int) -> str:
    """A sitemap index at /`name`.xml listing `nested` sitemap indexes, which list nothing
    fetched (past the depth): each costs a fetch and gives no page. Its URL."""
    xml = {"Content-Type": "application/xml"}

    def index(urls: list[str]) -> bytes:
        locs = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in urls)
        return (
            f'<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
            f'sitemap/0.9">{locs}</sitemapindex>'
        ).encode()

    inner = [site.url(f"/{name}-{i}.xml") for i in range(nested)]
    for i, url in enumerate(inner):
        site.routes[f"/{name}-{i}.xml"] = Reply(headers=xml, body=index([url + ".more.xml"]))
    site.routes[f"/{name}.xml"] = Reply(headers=xml, body=index(inner))
    return site.url(f"/{name}.xml")


def test_a_source_s_sitemap_fetches_are_bounded_and_what_is_left_said(
    site: WebSite, store: SourceStore
) -> None:
    # Issue 32: an index of 300 nested indexes made 201 fetches for one source.
    url = sitemap_index(site, "deep", 300)
    crawl = crawler(store, max_entries=200).listing(url, SourceKind.SITEMAP)
    assert len(site.requests) == 1 + SOURCE_SITEMAPS  # and robots.txt
    [error] = crawl.errors
    assert error.path == url and error.reason == (
        f"191 sitemaps it lists left out: at most {SOURCE_SITEMAPS} fetches and "
        f"{SOURCE_SITEMAP_BYTES:,} bytes of sitemaps a source"
    )


def test_sitemap_fetches_are_bounded_across_a_refresh(site: WebSite, store: SourceStore) -> None:
    shared = Budget(12, 10**9)  # what a refresh's sources share: two sources' worth is 20
    crawlers = [Crawler(crawler(store).fetcher, store, 200, refresh_budget=shared)] * 2
    first = crawlers[0].listing(sitemap_index(site, "one", 30), SourceKind.SITEMAP)
    second = crawlers[1].listing(sitemap_index(site, "two", 30), SourceKind.SITEMAP)
    assert len(site.requests) == 1 + 12
    assert first.errors[0].reason.endswith("bytes of sitemaps a source")
    assert second.errors[0].reason == (
        "29 sitemaps it lists left out: at most 12 fetches and 1,000,000,000 bytes of "
        "sitemaps a refresh"
    )
