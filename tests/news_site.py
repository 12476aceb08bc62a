"""A small news site for the web-ingest tests, served by `web_site.WebSite` on loopback:
article pages as newsrooms publish them (navigation, ads, a cookie banner, JSON-LD,
Open Graph, a canonical link, an AMP copy), an RSS feed, a sitemap and robots.txt.

    with WebSite() as site:
        news = NewsSite(site, articles=3)
        news.publish()          # a 4th article, in the feed and the sitemap
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime

from web_site import Reply, Request, WebSite

HTML = {"Content-Type": "text/html; charset=utf-8"}
RSS = {"Content-Type": "application/rss+xml"}
XML = {"Content-Type": "application/xml"}


@dataclass(frozen=True)
class Article:
    slug: str
    headline: str
    paragraphs: list[str]
    date: str  # YYYY-MM-DD


# Facts no model knows, so an answer can only come from the page.
ARTICLES = [
    Article("ferry-returns", "Ferry service returns to Quillon harbour",
            ["The Quillon ferry resumed service on Monday after a six-week pause.",
             "Harbour master Ansel Varga said the new ferry carries 240 passengers.",
             "Tickets cost 7 euros for adults."], "2026-11-02"),
    Article("bridge-repairs", "Kestrel Bridge repairs finished early",
            ["Repairs to the Kestrel Bridge were finished on Thursday, two weeks early.",
             "The work cost 12 million euros, the council said.",
             "Engineer Maria Olsen led the repair crew of 35 workers."], "2026-11-03"),
    Article("library-opens", "New library opens in Northport",
            ["The Northport library opened its doors on Saturday.",
             "Its collection holds 80,000 books and 2,000 maps.",
             "Librarian Tomas Brandt called the opening a long-awaited day."], "2026-11-04"),
    Article("lighthouse-relit", "Quillon lighthouse relit",
            ["The Quillon lighthouse was relit on Friday by Ansel Varga.",
             "Its new lamp can be seen from 40 kilometres away.",
             "The lighthouse was first lit in 1871."], "2026-11-05"),
]  # fmt: skip


def page(article: Article, canonical: str) -> bytes:
    """An article page with the furniture real news pages carry around the story."""
    ld = {"@context": "https://schema.org", "@type": "NewsArticle", "headline": article.headline,
          "datePublished": f"{article.date}T08:00:00Z",
          "author": {"@type": "Person", "name": "Ada Quill"},
          "publisher": {"@type": "Organization", "name": "The Harbour Times"}}  # fmt: skip
    story = "".join(f"<p>{p}</p>" for p in article.paragraphs)
    return f"""<!doctype html><html lang="en"><head>
<title>{article.headline} | The Harbour Times</title>
<link rel="canonical" href="{canonical}">
<meta property="og:site_name" content="The Harbour Times">
<meta property="og:title" content="{article.headline}">
<script type="application/ld+json">{json.dumps(ld)}</script>
</head><body>
<div class="cookie-banner">We use cookies. <button>Accept all</button></div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/news">News</a></li>
<li><a href="/sport">Sport</a></li><li><a href="/subscribe">Subscribe</a></li></ul></nav></header>
<div class="ad" id="ad-top">Advertisement: Buy the new Harbour phone today!</div>
<main><article><h1>{article.headline}</h1><p class="byline">By Ada Quill</p>
{story}</article></main>
<aside><h2>Most read</h2><ul><li><a href="/a">Storm warning for the coast</a></li></ul></aside>
<footer><p>(c) 2026 The Harbour Times. Privacy policy. Terms of use.</p></footer>
</body></html>""".encode()


class NewsSite:
    """`articles` of ARTICLES published on `site`: pages (with ETags, so refetches are
    304s), their AMP copies, a feed, a sitemap and robots.txt."""

    def __init__(self, site: WebSite, articles: int = 3) -> None:
        self.site = site
        self.published: list[Article] = []
        robots = b"User-agent: *\nDisallow: /private/\n"
        site.routes["/robots.txt"] = Reply(headers={"Content-Type": "text/plain"}, body=robots)
        for article in ARTICLES[:articles]:
            self.publish(article)

    def url(self, article: Article, amp: bool = False) -> str:
        return self.site.url(f"/{'amp/' if amp else ''}news/{article.slug}.html")

    def publish(self, article: Article | None = None) -> Article:
        """Put `article` (the next unpublished one by default) on the site and in its feed."""
        article = article or ARTICLES[len(self.published)]
        self.published.append(article)
        body = page(article, canonical=self.url(article))
        etag = f'"{article.slug}-1"'
        for amp in (False, True):
            self.site.routes[f"/{'amp/' if amp else ''}news/{article.slug}.html"] = _cached(
                body, etag
            )
        self.site.routes["/feed.xml"] = Reply(headers=RSS, body=self.feed())
        self.site.routes["/sitemap.xml"] = Reply(headers=XML, body=self.sitemap())
        return article

    def feed(self) -> bytes:
        items = "".join(
            f"<item><title>{a.headline}</title><link>{self.url(a)}?utm_source=rss</link>"
            f"<pubDate>{_rfc822(a.date)}</pubDate></item>"
            for a in reversed(self.published)
        )
        return (
            '<?xml version="1.0"?><rss version="2.0"><channel><title>The Harbour Times</title>'
            f"<link>{self.site.url('/')}</link>{items}</channel></rss>"
        ).encode()

    def sitemap(self) -> bytes:
        urls = "".join(f"<url><loc>{self.url(a)}</loc></url>" for a in self.published)
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">{urls}</urlset>'
        ).encode()


def _cached(body: bytes, etag: str) -> object:
    """A page that answers 304 to a request that already has it."""

    def reply(request: Request) -> Reply:
        if request.headers.get("if-none-match") == etag:
            return Reply(304, {"ETag": etag})
        return Reply(headers={**HTML, "ETag": etag}, body=body)

    return reply


def _rfc822(day: str) -> str:
    return format_datetime(datetime.fromisoformat(day).replace(tzinfo=UTC))
