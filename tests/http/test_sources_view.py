"""The page's "Sources" view end to end (service/static/sources.js): real servers with a
key on loopback, a news site on loopback (tests/news_site.py), headless Chromium.

The key is asked once and kept for the tab only (sessionStorage); files uploaded with the
file input, a feed added by address, a document deleted, all as the server does them; the
server's refusals shown in its words; and markup in a title shown as text, never run.

Browser: one Chromium per module and a fresh context (no storage, no cookies) per test,
as in test_widget.py. `CITEQA_SCREENSHOTS=1` also saves docs/sources-view.png.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from browser import open_page, screenshot
from news_site import ARTICLES, NewsSite
from playwright.sync_api import Browser, Locator, Page, expect
from support import LiveServer
from web_site import WebSite

from citeqa.models.embedder.encoder import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.settings import Settings

pytestmark = pytest.mark.slow  # Chromium, and servers with the model

KEY = "sources-view-key"
STORED = "citeqa-sources:key"  # sources.js's sessionStorage key
LEDE = "first sentence; the article states no headline"
PWNED_IMG = '<img src=x onerror="window.__pwned=1">'

expect.set_options(timeout=60_000)  # generous: a loaded machine; nothing here measures time

# Two articles to upload: one whose headline carries markup, one with no headline at all.
PRIZE = (
    f"{PWNED_IMG} Harbour poetry prize\n\n"
    "Ada Brightwater won the Quillfeather Prize for harbour poetry, the jury said on Tuesday.\n"
)
FERRY = (
    "The ferry service between Northport and Eastham was suspended because of a storm. "
    "About 400 passengers were stranded overnight.\n"
)
UPLOADS = [
    {"name": "prize.txt", "mimeType": "text/plain", "buffer": PRIZE.encode()},
    {"name": "ferry.md", "mimeType": "text/markdown", "buffer": FERRY.encode()},
]


# -- servers and pages ---------------------------------------------------------------------


@contextmanager
def citeqa_server(root: Path, embedder: Embedder, **settings: object) -> Iterator[LiveServer]:
    """A server over an empty index of its own; with the key unless `api_key=None`."""
    settings = Settings(index=root / "index", refresh_minutes=0, fetch_delay_s=0,
                        **{"api_key": KEY, **settings})  # fmt: skip
    with LiveServer(settings, create_app(settings, embedder)) as live:
        yield live


@pytest.fixture
def server(tmp_path: Path, embedder: Embedder) -> Iterator[LiveServer]:
    """Writes on, and loopback sources allowed (the test's news site is on loopback)."""
    with citeqa_server(tmp_path, embedder, fetch_private=True) as live:
        yield live


@pytest.fixture
def site() -> Iterator[WebSite]:
    with WebSite() as served:
        yield served


# -- helpers -------------------------------------------------------------------------------


def view(page: Page) -> Locator:
    return page.get_by_role("dialog", name="Sources")


def key_box(page: Page) -> Locator:
    return view(page).get_by_label("API key")


def open_sources(page: Page, url: str) -> None:
    """The chat page, then its Sources link."""
    page.goto(url)
    page.get_by_role("link", name="Sources").click()
    expect(view(page)).to_be_visible()


def give_key(page: Page, key: str = KEY) -> None:
    key_box(page).fill(key)
    view(page).get_by_role("button", name="Continue").click()


def documents(page: Page) -> Locator:
    return view(page).get_by_role("list", name="Documents")


def titles(page: Page) -> Locator:
    return documents(page).locator(".item-title")


def sources(page: Page) -> Locator:
    return view(page).get_by_role("list", name="Web sources")


def stored_key(page: Page) -> str | None:
    return page.evaluate(f"() => sessionStorage.getItem({STORED!r})")


def unlocked(page: Page) -> None:
    expect(view(page).get_by_role("heading", name=re.compile("^Documents"))).to_be_visible()
    expect(key_box(page)).to_be_hidden()


# -- tests ---------------------------------------------------------------------------------


def test_the_key_is_asked_once_and_kept_for_the_tab_only(
    browser: Browser, page: Page, server: LiveServer
) -> None:
    open_sources(page, server.url)
    expect(key_box(page)).to_be_focused()

    give_key(page, "not-the-key")
    alert = view(page).get_by_role("alert").filter(has_text="refused the key")
    expect(alert).to_contain_text("A valid API key is needed")
    assert stored_key(page) is None

    give_key(page)
    unlocked(page)
    assert stored_key(page) == KEY
    assert page.evaluate("() => localStorage.length") == 0
    assert page.context.cookies() == []

    # A reload of the tab: back in the view (its address says #sources), not asked again.
    page.reload()
    expect(view(page)).to_be_visible()
    unlocked(page)
    # Closed and opened again from the link: still not asked.
    view(page).get_by_role("button", name="Close sources").click()
    expect(view(page)).to_be_hidden()
    # The address changes after the view hides: Playwright's assertion waits for it.
    expect(page).not_to_have_url(re.compile(r"#sources$"))
    expect(page.get_by_role("link", name="Sources")).to_be_focused()
    page.get_by_role("link", name="Sources").click()
    unlocked(page)

    # Another tab's session (a new context): asked again.
    with open_page(browser) as other:
        other.goto(f"{server.url}/#sources")
        expect(key_box(other)).to_be_visible()
        assert stored_key(other) is None

    # Forgotten: asked again, and gone from the tab's storage.
    view(page).get_by_role("button", name="Forget the key").click()
    expect(key_box(page)).to_be_visible()
    expect(view(page)).to_contain_text("The key is forgotten")
    assert stored_key(page) is None
    page.reload()
    expect(key_box(page)).to_be_visible()


def test_upload_add_a_feed_delete_and_markup_stays_text(
    page: Page, server: LiveServer, site: WebSite
) -> None:
    news = NewsSite(site, articles=3)
    open_sources(page, server.url)
    give_key(page)
    unlocked(page)
    expect(documents(page)).to_be_hidden()  # no items yet
    expect(view(page)).to_contain_text("No documents yet")

    # Two files by the file input.
    with page.expect_response(lambda r: r.url.endswith("/files")) as uploaded:
        view(page).locator("input[type=file]").set_input_files(UPLOADS)
    assert uploaded.value.status == 200
    expect(view(page)).to_contain_text(re.compile("Added “(prize”, “ferry|ferry”, “prize)”."))
    expect(documents(page).get_by_role("listitem")).to_have_count(2)

    # The headline with markup is shown as its characters; nothing of it runs.
    prize = documents(page).get_by_role("listitem").filter(has_text="Harbour poetry prize")
    expect(prize.locator(".item-title")).to_have_text(f"{PWNED_IMG} Harbour poetry prize")
    expect(view(page).locator("img")).to_have_count(0)
    assert page.evaluate("() => window.__pwned") is None
    # The article with no headline is titled by its first sentence, and says so.
    ferry = documents(page).get_by_role("listitem").filter(has_text="ferry service")
    lede = ferry.locator("em.lede")
    expect(lede).to_have_attribute("title", LEDE)
    expect(lede).to_contain_text("The ferry service between Northport and Eastham")

    # A feed by its address: its three articles come in, and the source says how it went.
    feed = site.url("/feed.xml")
    view(page).get_by_label("Address", exact=True).fill(feed)
    view(page).get_by_label("Kind", exact=True).select_option("feed")
    view(page).get_by_role("button", name="Add", exact=True).click()
    for article in ARTICLES[:3]:
        expect(titles(page)).to_contain_text([article.headline])
    expect(documents(page).get_by_role("listitem")).to_have_count(5)
    [source] = sources(page).get_by_role("listitem").all()
    expect(source).to_contain_text(feed)
    expect(source).to_contain_text(re.compile(r"Last fetch .+ · 3 documents"))
    expect(view(page)).to_contain_text(f"Fetched {feed}: 3 documents.")
    assert source.get_by_text("Last error").count() == 0
    link = documents(page).get_by_role("link", name=news.url(ARTICLES[0]))
    expect(link).to_have_attribute("href", news.url(ARTICLES[0]))
    expect(link).to_have_attribute("rel", "noopener noreferrer")
    expect(link).to_have_attribute("target", "_blank")

    view(page).get_by_label(re.compile("^Filter")).fill("bridge")
    expect(documents(page).get_by_role("listitem")).to_have_count(1)
    view(page).get_by_label(re.compile("^Filter")).fill("")

    # Reloaded, the chat behind names the new corpus, and the view comes back as it was.
    page.reload()
    expect(page.locator("citeqa-chat .corpus")).to_contain_text("Searching 5 articles")
    expect(documents(page).get_by_role("listitem")).to_have_count(5)
    expect(sources(page).get_by_role("listitem")).to_have_count(1)
    screenshot(page, "sources-view")

    # Delete, after a confirmation; Cancel keeps it.
    headline = ARTICLES[1].headline
    delete = view(page).get_by_role("button", name=f"Delete {headline}", exact=True)
    delete.click()
    expect(view(page).get_by_text("Delete it from the index?")).to_be_visible()
    view(page).get_by_role("button", name="Cancel").click()
    expect(documents(page).get_by_role("listitem")).to_have_count(5)
    delete.click()
    with page.expect_response(lambda r: r.request.method == "DELETE") as deleted:
        delete.click()  # the same name, now on the confirming button
    assert deleted.value.status == 200
    expect(documents(page).get_by_role("listitem")).to_have_count(4)
    expect(titles(page).filter(has_text=headline)).to_have_count(0)
    expect(view(page).get_by_role("status").filter(has_text="Deleted")).to_contain_text(
        f"Deleted “{headline}”. The index holds 4 documents."
    )
    listed = httpx.get(f"{server.url}/documents", timeout=30).json()
    assert headline not in {d["title"] for d in listed} and len(listed) == 4

    # Closed: the chat behind names the corpus as it is now.
    page.keyboard.press("Escape")
    expect(view(page)).to_be_hidden()
    expect(page.locator("citeqa-chat .corpus")).to_contain_text("Searching 4 articles")


def test_refusals_and_long_writes_are_said_in_words(
    browser: Browser, tmp_path: Path, embedder: Embedder, site: WebSite
) -> None:
    NewsSite(site, articles=1)
    # Writes off: a server without a key.
    with citeqa_server(tmp_path / "off", embedder, api_key=None) as off, open_page(browser) as page:
        open_sources(page, off.url)
        give_key(page)
        expect(view(page).get_by_role("alert")).to_contain_text("Writes are turned off")
        assert stored_key(page) is None

    # Private addresses refused (the default), and every write made a job (202).
    with (
        citeqa_server(tmp_path / "jobs", embedder, write_sync_s=0) as server,
        open_page(browser) as page,
    ):
        open_sources(page, server.url)
        give_key(page)
        unlocked(page)
        address = view(page).get_by_label("Address", exact=True)
        add = view(page).get_by_role("button", name="Add", exact=True)
        address.fill("javascript:alert(1)")
        add.click()
        expect(view(page)).to_contain_text("Only http and https addresses can be fetched.")
        address.fill(site.url("/feed.xml"))
        add.click()
        expect(view(page)).to_contain_text("a private address (127.0.0.1): not fetched")
        expect(view(page)).to_contain_text("Could not fetch")
        assert site.requests == [], "nothing was fetched"

        with page.expect_response(lambda r: "/jobs/" in r.url) as polled:
            with page.expect_response(lambda r: r.url.endswith("/files")) as uploaded:
                view(page).locator("input[type=file]").set_input_files(UPLOADS[1:])
            assert uploaded.value.status == 202
            expect(view(page)).to_contain_text("Working…")
        assert polled.value.status == 200
        expect(view(page)).to_contain_text("Added “ferry”.")
        expect(documents(page).get_by_role("listitem")).to_have_count(1)

        # A file the server cannot read: its reason, in its words.
        view(page).locator("input[type=file]").set_input_files(
            [{"name": "empty.txt", "mimeType": "text/plain", "buffer": b" \n"}]
        )
        unread = view(page).get_by_role("status").filter(has_text="No file could be read")
        expect(unread).to_contain_text("empty.txt")
