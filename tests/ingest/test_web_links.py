"""ingest/web/links.py: the pages feeds and sitemaps list, from bytes; no network."""

from __future__ import annotations

import gzip

import pytest
from web_site import Reply, WebSite

from citeqa.ingest.web.fetch import Fetcher, FetchLimits
from citeqa.ingest.web.links import FeedEntry, feed_links, sitemap_links

SITE = "https://news.example.com"

RSS = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
  <title>Example News</title><link>{SITE}/</link><description>News</description>
  <item><title>Storm reaches the coast</title><link>{SITE}/2026/12/03/storm</link>
    <pubDate>Thu, 03 Dec 2026 09:30:00 GMT</pubDate></item>
  <item><title>Council votes on budget</title><link>/2026/12/02/budget#comments</link>
    <pubDate>Wed, 02 Dec 2026 23:30:00 -0500</pubDate></item>
  <item><title>Undated</title><guid isPermaLink="true">{SITE}/undated</guid></item>
</channel></rss>""".encode()

ATOM = f"""<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Example News</title>
  <id>urn:uuid:1</id><updated>2026-12-03T10:00:00Z</updated>
  <entry><title>First</title><id>urn:uuid:a</id><link href="{SITE}/a"/>
    <published>2026-12-03T08:00:00Z</published><updated>2026-12-03T09:00:00Z</updated></entry>
  <entry><title>Second</title><id>urn:uuid:b</id><link rel="alternate" href="{SITE}/b"/>
    <updated>2026-12-01T12:00:00+02:00</updated></entry>
  <entry><title>Third</title><id>urn:uuid:c</id><link href="{SITE}/c"/>
    <updated>2026-11-30T00:00:00Z</updated></entry>
</feed>""".encode()


def urlset(*urls: str) -> bytes:
    locs = "".join(f"<url><loc>{url}</loc><lastmod>2026-12-01</lastmod></url>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</urlset>'
    ).encode()


def sitemapindex(*urls: str) -> bytes:
    locs = "".join(f"<sitemap><loc>{url}</loc></sitemap>" for url in urls)
    return (
        '<?xml version="1.0" encoding="UTF-8"?>'
        f'<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{locs}</sitemapindex>'
    ).encode()


# Feeds


def test_rss_entries() -> None:
    found = feed_links(RSS, f"{SITE}/feed.xml", limit=10)
    assert found.entries == [
        FeedEntry(f"{SITE}/2026/12/03/storm", "Storm reaches the coast", "2026-12-03"),
        # relative, made absolute; the #fragment dropped; the date in UTC
        FeedEntry(f"{SITE}/2026/12/02/budget", "Council votes on budget", "2026-12-03"),
        FeedEntry(f"{SITE}/undated", "Undated", None),
    ]
    assert found.dropped == 0


def test_atom_entries() -> None:
    found = feed_links(ATOM, f"{SITE}/atom.xml", limit=10)
    assert [(e.url, e.title, e.published) for e in found.entries] == [
        (f"{SITE}/a", "First", "2026-12-03"),  # published, not updated
        (f"{SITE}/b", "Second", "2026-12-01"),
        (f"{SITE}/c", "Third", "2026-11-30"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        b"just some text, no markup",
        b"",
        b"\x89PNG\r\n\x1a\n\x00\x00",
        b"<html><head><title>A page</title></head><body><a href='/a'>a</a></body></html>",
        b'<?xml version="1.0"?><note><to>you</to></note>',
    ],
)
def test_not_a_feed(body: bytes) -> None:
    with pytest.raises(ValueError, match="not an RSS or Atom feed"):
        feed_links(body, f"{SITE}/feed.xml", limit=10)


def test_an_empty_feed_is_a_feed() -> None:
    empty = b'<rss version="2.0"><channel><title>Quiet</title></channel></rss>'
    assert feed_links(empty, f"{SITE}/feed.xml", limit=10).entries == []


def test_unusable_and_repeated_links_are_skipped() -> None:
    items = "".join(
        f"<item><title>{n}</title><link>{link}</link></item>"
        for n, link in enumerate(
            [f"{SITE}/a", "javascript:alert(1)", "mailto:desk@example.com", f"{SITE}/a#top", ""]
        )
    )
    body = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()
    assert [e.url for e in feed_links(body, f"{SITE}/feed", limit=10).entries] == [f"{SITE}/a"]


def test_a_long_feed_is_capped_in_its_order() -> None:
    items = "".join(
        f"<item><title>Story {n}</title><link>{SITE}/story/{n}</link></item>" for n in range(10_000)
    )
    body = f'<rss version="2.0"><channel><title>T</title>{items}</channel></rss>'.encode()
    found = feed_links(body, f"{SITE}/feed.xml", limit=100)
    assert len(found.entries) == 100 and found.dropped == 9_900
    assert found.entries[0].url == f"{SITE}/story/0" and found.entries[-1].title == "Story 99"


# Sitemaps


def test_urlset_pages() -> None:
    pages = [f"{SITE}/2026/a", f"{SITE}/2026/b", f"{SITE}/2026/c"]
    found = sitemap_links(urlset(*pages), f"{SITE}/sitemap.xml", limit=10)
    assert (found.pages, found.sitemaps, found.dropped) == (pages, [], 0)


def test_sitemapindex_lists_sitemaps_whatever_their_names() -> None:
    nested = [f"{SITE}/sitemap-2026-12.xml", f"{SITE}/sitemap.xml.gz", f"{SITE}/sitemaps?page=2"]
    found = sitemap_links(sitemapindex(*nested), f"{SITE}/sitemap_index.xml", limit=10)
    assert (found.pages, found.sitemaps) == ([], nested)


def test_text_sitemap() -> None:
    body = f"{SITE}/a\n{SITE}/b\r\n\n{SITE}/c\n".encode()
    found = sitemap_links(body, f"{SITE}/sitemap.txt", limit=10)
    assert found.pages == [f"{SITE}/a", f"{SITE}/b", f"{SITE}/c"]


def test_other_sites_links_are_dropped() -> None:
    body = urlset(f"{SITE}/a", "https://www.example.com/b", "https://elsewhere.org/c")
    found = sitemap_links(body, f"{SITE}/sitemap.xml", limit=10)
    assert found.pages == [f"{SITE}/a", "https://www.example.com/b"]  # one site's two hosts


def test_a_site_with_no_domain_name_keeps_its_own_links() -> None:
    # On loopback (tests, an intranet) there is no domain name for trafilatura to compare.
    site = "http://127.0.0.1:8080"
    body = urlset(f"{site}/a", f"{site}/b", "http://127.0.0.2:8080/c", f"{SITE}/d")
    found = sitemap_links(body, f"{site}/sitemap.xml", limit=10)
    assert found.pages == [f"{site}/a", f"{site}/b"]


def test_a_large_sitemap_is_capped() -> None:
    pages = [f"{SITE}/story/{n}" for n in range(500)]
    found = sitemap_links(urlset(*pages), f"{SITE}/sitemap.xml", limit=50)
    assert (found.pages, found.dropped) == (pages[:50], 450)


@pytest.mark.parametrize(
    "body",
    [
        b"<!DOCTYPE html><html><body><a href='https://news.example.com/a'>a</a></body></html>",
        b'<?xml version="1.0"?><rss version="2.0"><channel><link>https://news.example.com/'
        b"</link></channel></rss>",
        b"no links in here at all",
        b"",
    ],
)
def test_not_a_sitemap(body: bytes) -> None:
    with pytest.raises(ValueError, match="not a sitemap"):
        sitemap_links(body, f"{SITE}/sitemap.xml", limit=10)


def test_a_gzipped_sitemap_fetched_and_read() -> None:
    limits = FetchLimits(timeout_s=2, deadline_s=10, per_host_delay_s=0, allow_private=True)
    with WebSite() as site, Fetcher(limits) as fetcher:
        pages = [site.url("/a"), site.url("/b")]
        packed = gzip.compress(urlset(*pages))
        site.routes["/sitemap.xml.gz"] = Reply(
            headers={"Content-Type": "application/x-gzip"}, body=packed
        )
        fetched = fetcher.fetch(site.url("/sitemap.xml.gz"), accept="sitemap")
    assert sitemap_links(fetched.body, fetched.url, limit=10).pages == pages
