"""Ingest from the web: the network layer and link discovery, before `ingest.webpage`.

`citeqa ingest URL…`, `--feed URL`, `--sitemap URL` and the refresh of saved sources go:

    a feed or sitemap URL -> `fetch.Fetcher.fetch(accept="feed" | "sitemap")` -> bytes
        -> `links.feed_links` / `links.sitemap_links` -> the pages' URLs
    a page URL -> `Fetcher.fetch(accept="page")` -> bytes -> `ingest.webpage.extract`
        -> `Extracted` -> chunking and the index, as for files on disk.

`fetch` is polite (robots.txt, one request at a time per host with a gap, a clear user
agent, conditional GETs) and safe (no private addresses, bounded size and time, checked
redirects); `links` only parses bytes and never touches the network. Which sources are
saved, when they are refreshed and how deep sitemap indexes are followed is the caller's.
"""
