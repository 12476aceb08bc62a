"""The chat widget end to end: real servers on loopback ports, headless Chromium, the page a
person sees, and the embed on another site.

These tests assert what the interface shows (a bold answer, a highlight equal to the
document slice, an error bubble, ...), never which answer comes back: answer quality is
tested in test_answering.py and measured by `citeqa eval`.

Browser: one `chromium.launch()` per module, which runs on Playwright's default throwaway
profile (a fresh temporary user-data-dir, deleted on close), and a new context per test, so
no storage, cache or cookies carry from one test to the next. Waits are Playwright's
auto-waiting with a generous timeout; nothing here measures time.

The chat for daily use is here too: feedback buttons, a correction selected in the
article panel, a conversation that survives a reload, long passages expanded in place, and
the whole feedback loop through `citeqa feedback export` and `citeqa eval`. And the first
ten minutes: a slow answer that shows the time waited and can be cancelled, copying an
answer, follow-ups that say what they searched for, the text ingest left out shown muted,
an embed the server's CORS refuses, and example questions the shipped reader answers right.

`CITEQA_SCREENSHOTS=1 .venv/bin/pytest tests/http/test_widget.py` also saves the README
screenshots to docs/widget-*.png.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest
from browser import PHONE, open_page, screenshot
from playwright.sync_api import Browser, Locator, Page, expect
from support import ROOT, LiveServer, assert_cited, reserved_port, run_citeqa, write_articles

from citeqa.index.writer import ingest
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.feedback.store import FeedbackStore, Record, feedback_file
from citeqa.service.http.app import create_app
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings
from citeqa.service.wiring import chunker_settings, open_index

pytestmark = pytest.mark.slow  # Chromium, and servers over real indexes


# Generous: an answer takes well under a second here, but a loaded CI machine may not be here.
expect.set_options(timeout=60_000)

# The README's screenshots ask this; the shipped reader answers it right ("about 30", in an
# article whose ads and bylines ingest left out).
QUESTION = "How many rockets were fired at the base in Kirkuk?"
ARTICLE = "000_f154d279849c0383"  # where the answer is, and its "AD" lines
GUARD_S = 60  # how long a test waits on its own threads before it fails, not hangs
PWNED_SCRIPT = "<script>window.__pwned=1</script>"
PWNED_IMG = '<img src=x onerror="window.__pwned=1">'


# -- servers and pages ---------------------------------------------------------------------


class HostSite:
    """A static site on its own loopback port: the other site that embeds the widget."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        handler = partial(_QuietHandler, directory=str(folder))
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.origin = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    def __enter__(self) -> HostSite:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def page(self, name: str, script_from: str, citeqa_url: str) -> str:
        """A news page with the embed snippet, and CSS that would wreck an unisolated widget."""
        (self.folder / name).write_text(
            HOST_PAGE.format(script_from=script_from, citeqa_url=citeqa_url), encoding="utf-8"
        )
        return f"{self.origin}/{name}"


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        pass


HOST_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>The Harbour Times</title>
<style>
  body {{ max-width: 40rem; margin: 2rem auto; padding: 0 1rem; line-height: 1.6; }}
  /* Hostile to anything it can reach: none of this may show inside the widget. */
  * {{ font-family: Georgia, serif !important; }}
  button {{ display: none !important; background: rgb(255, 0, 0) !important; }}
  mark {{ background: rgb(0, 255, 0) !important; }}
  strong {{ color: rgb(255, 0, 0) !important; }}
</style>
</head>
<body>
<h1>The Harbour Times</h1>
<p>A regular page on another site. The citeqa chat floats over it, in the corner.</p>
<script src="{script_from}/widget.js" data-citeqa-url="{citeqa_url}"></script>
</body>
</html>
"""


@pytest.fixture(scope="module")
def host(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HostSite]:
    with HostSite(tmp_path_factory.mktemp("host")) as site:
        yield site


@pytest.fixture(scope="module")
def chat_server(sample_settings: Settings, host: HostSite) -> Iterator[LiveServer]:
    """The sample corpus, with CORS open to the host site (it is off by default)."""
    settings = sample_settings.model_copy(update={"cors_origins": [host.origin]})
    with LiveServer(settings) as live:
        yield live


@pytest.fixture(scope="module")
def closed_server(sample_settings: Settings) -> Iterator[LiveServer]:
    """The sample corpus with CORS off, as a server starts unless told otherwise."""
    settings = sample_settings.model_copy(update={"cors_origins": []})
    with LiveServer(settings) as live:
        yield live


@pytest.fixture(scope="module")
def declining_server(sample_settings: Settings) -> Iterator[LiveServer]:
    """The sample corpus with a no-answer threshold no score reaches: this pins "no answer"
    so the test checks the UI, whatever the shipped threshold is."""
    settings = sample_settings.model_copy(update={"no_answer_threshold": 1.01})
    with LiveServer(settings) as live:
        yield live


@pytest.fixture(scope="module")
def inert_server(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Iterator[LiveServer]:
    """A corpus of its own whose article carries markup that must never run."""
    folder = tmp_path_factory.mktemp("inert") / "articles"
    folder.mkdir()
    (folder / "prize.txt").write_text(
        f"{PWNED_IMG} Harbour poetry prize\n\n"
        "Ada Brightwater won the Quillfeather Prize for harbour poetry with the poem "
        f"{PWNED_SCRIPT} and the essay {PWNED_IMG}, the jury said on Tuesday.\n\n"
        "The jury met in the old lighthouse, as it has every year since 1921.\n",
        encoding="utf-8",
    )
    (folder / "bridge.txt").write_text(
        "Bridge reopens after repairs\n\n"
        "The Kestrel Bridge reopened on Monday after eight months of repairs. "
        "The city engineer, Maria Olsen, said the work cost 12 million dollars.\n",
        encoding="utf-8",
    )
    settings = Settings(index=folder.parent / "index")
    ingest(folder, open_index(settings, embedder), embedder, chunker_settings(settings))
    with LiveServer(settings) as live:
        yield live


# -- helpers -------------------------------------------------------------------------------


def open_chat(page: Page, url: str) -> None:
    page.goto(url)
    # The corpus line fills in from GET /ready, so the page is wired to the server.
    expect(page.locator("citeqa-chat .corpus")).to_contain_text(re.compile(r"\d+ articles?"))


def question_box(page: Page) -> Locator:
    return page.get_by_role("textbox", name="Ask a question")


def ask(page: Page, question: str) -> dict:
    """Type and send `question`; the /ask JSON the widget got back."""
    with page.expect_response(lambda r: r.url.endswith("/ask")) as reply:
        question_box(page).fill(question)
        question_box(page).press("Enter")
    return reply.value.json()


def replies(page: Page) -> Locator:
    """The bot's finished messages (not the typing indicator)."""
    return page.locator("citeqa-chat .msg.bot:not(.typing)")


def ask_and_wait(page: Page, question: str) -> dict:
    """Ask, and wait for the reply; the /ask JSON."""
    count = replies(page).count()
    with page.expect_response(lambda r: r.url.endswith("/ask")) as reply:
        question_box(page).fill(question)
        question_box(page).press("Enter")
    expect(replies(page)).to_have_count(count + 1)
    return reply.value.json()


def document(server: LiveServer, doc_id: str) -> dict:
    return httpx.get(f"{server.url}/documents/{doc_id}", timeout=30).json()


def document_text(server: LiveServer, doc_id: str) -> str:
    return document(server, doc_id)["text"]


def offsets_in_article(page: Page, selector: str) -> list[int]:
    """Where each element of the open article that matches `selector` begins in the
    article's text, in code points (as the API counts)."""
    return page.locator("citeqa-chat dialog.article .article-text").evaluate(
        """(body, selector) => Array.from(body.querySelectorAll(selector), (el) => {
            const before = document.createRange();
            before.setStart(body, 0);
            before.setEndBefore(el);
            return Array.from(before.toString()).length;
        })""",
        selector,
    )


def assert_excluded_muted(page: Page, server: LiveServer, doc_id: str) -> list[dict]:
    """The open article shows each span ingest left out of `doc_id` muted, at its offsets;
    the spans."""
    excluded = document(server, doc_id)["excluded"]
    text = document_text(server, doc_id)
    body = page.locator("citeqa-chat dialog.article .article-text")
    muted = body.locator(".excluded")
    expect(muted).to_have_count(len(excluded))
    assert offsets_in_article(page, ".excluded") == [span["start"] for span in excluded]
    assert muted.all_text_contents() == [text[s["start"] : s["end"]] for s in excluded]
    expect(muted.first).to_have_attribute("title", re.compile(r"^Not part of the article \("))
    colour = "e => getComputedStyle(e).color"
    assert muted.first.evaluate(colour) != body.evaluate(colour), "muted, not as the article"
    assert body.evaluate("b => b.textContent") == text, "the panel still shows the text as is"
    return excluded


def deep_focus(page: Page) -> str:
    """The element that has focus, looking through shadow roots: `tag.class`."""
    return page.evaluate(
        """() => {
            let el = document.activeElement;
            while (el && el.shadowRoot && el.shadowRoot.activeElement) {
                el = el.shadowRoot.activeElement;
            }
            return el ? `${el.localName}.${el.className}` : "";
        }"""
    )


def press_until_focused(page: Page, key: str, target: str, presses: int = 40) -> None:
    for _ in range(presses):
        page.keyboard.press(key)
        if deep_focus(page) == target:
            return
    raise AssertionError(f"{key} never reached {target}; ended on {deep_focus(page)}")


def assert_article_at_passage(page: Page, server: LiveServer, doc_id: str, passage: dict) -> None:
    """The open article is the whole document, with the passage marked at its exact offsets
    (offsets count code points, as Python does)."""
    text = document_text(server, doc_id)
    panel = page.locator("citeqa-chat dialog.article")
    expect(panel).to_be_visible()
    mark = panel.locator("mark.passage")
    expect(mark).to_be_in_viewport()
    assert mark.evaluate("m => m.textContent") == text[passage["start"] : passage["end"]]
    body = panel.locator(".article-text")
    assert body.evaluate("b => b.textContent") == text
    marked_at = body.evaluate(
        """b => {
            const before = document.createRange();
            before.setStart(b, 0);
            before.setEndBefore(b.querySelector("mark.passage"));
            return Array.from(before.toString()).length;
        }"""
    )
    assert marked_at == passage["start"]


# -- the full page -------------------------------------------------------------------------


def test_answer_with_highlighted_citation_opens_the_article_there(
    page: Page, chat_server: LiveServer
) -> None:
    open_chat(page, chat_server.url)
    expect(page.locator("citeqa-chat .suggestions button").first).to_be_visible()
    screenshot(page, "widget-empty")

    response = ask(page, QUESTION)

    assert not response["no_answer"], "the sample corpus answers this question"
    best = response["answers"][0]
    card = page.locator("citeqa-chat .answer").first
    expect(card.locator(".short strong")).to_have_text(best["text"])
    quote = card.locator("blockquote")
    assert quote.evaluate("q => q.textContent") == best["passage"]["text"]
    expect(quote.locator("mark.hit")).to_have_text(best["text"])
    expect(page.locator("citeqa-chat .user .text")).to_have_text(QUESTION)
    expect(page.locator("citeqa-chat .suggestions")).to_have_count(0)
    screenshot(page, "widget-answer")

    card.locator("button.source").click()

    assert_article_at_passage(page, chat_server, best["doc_id"], best["passage"])
    hit = page.locator("citeqa-chat dialog.article mark.hit")
    text = document_text(chat_server, best["doc_id"])
    assert hit.evaluate("m => m.textContent") == text[best["start"] : best["end"]]
    assert offsets_in_article(page, "mark.hit") == [best["start"]]

    # What ingest left out ("AD" lines, the masthead's motto, the byline) shows muted, and
    # the answer's highlight still sits at its offsets among them.
    assert best["doc_id"] == ARTICLE, "the screenshot's answer is in the article with ads"
    excluded = assert_excluded_muted(page, chat_server, ARTICLE)
    muted = {text[span["start"] : span["end"]] for span in excluded}
    assert {"Democracy Dies in Darkness", "AD"} <= muted
    assert any(span["end"] <= best["start"] for span in excluded)
    # The next line after the passage is an "AD": in view, for the screenshot.
    after = next(i for i, span in enumerate(excluded) if span["start"] >= best["passage"]["end"])
    expect(page.locator("citeqa-chat dialog.article .excluded").nth(after)).to_be_in_viewport()
    screenshot(page, "widget-article")
    page.keyboard.press("Escape")
    expect(page.locator("citeqa-chat dialog.article")).to_be_hidden()


def test_follow_up_question_is_resolved_against_the_previous_turn(
    page: Page, chat_server: LiveServer
) -> None:
    open_chat(page, chat_server.url)
    first = ask(page, "Who ordered the killing of Qasem Soleimani?")
    expect(replies(page)).to_have_count(1)

    with page.expect_request(lambda r: r.url.endswith("/ask")) as sent:
        followup = ask_and_wait(page, "Where was he killed?")

    history = sent.value.post_data_json["history"]
    assert history == [
        {
            "question": "Who ordered the killing of Qasem Soleimani?",
            "answer": first["answers"][0]["text"] if first["answers"] else None,
        }
    ]
    # "he" became a name: the question as searched, as it is.
    second = replies(page).nth(1).locator(".resolved")
    searched = followup["resolved_question"]
    assert "Soleimani" in searched and " he " not in searched
    expect(second).to_have_text(f"Searched for: {searched}")

    # No name and no pronoun to replace ("it" here is the event): the server adds the
    # conversation's names in parentheses, which the chat says is a guess.
    third = ask_and_wait(page, "When did it happen?")
    about = re.fullmatch(r"When did it happen\? \((.+)\)", third["resolved_question"])
    assert about, third["resolved_question"]
    expect(replies(page).nth(2).locator(".resolved")).to_have_text(
        f"Searched for: When did it happen?, taken to be about {about[1]} "
        "(a guess from the conversation)"
    )
    assert "Soleimani" in about[1]


def test_a_question_that_stands_alone_is_not_shown_as_a_follow_up(
    page: Page, chat_server: LiveServer
) -> None:
    """The issue's case: after two questions about the missile attack, a question with
    nouns of its own and nothing pointing back is searched as asked, and the chat shows
    no "Searched for" (it had said "..., taken to be about Iran (a guess ...)")."""
    open_chat(page, chat_server.url)
    ask_and_wait(page, "How many missiles did Iran fire back?")
    ask_and_wait(page, "Which base did Iran attack in January?")
    with page.expect_request(lambda r: r.url.endswith("/ask")) as sent:
        standalone = ask_and_wait(page, "How much did oil prices rise after the strike?")
    assert len(sent.value.post_data_json["history"]) == 2, "the history was sent all the same"
    assert standalone["resolved_question"] is None
    expect(replies(page).nth(2)).to_be_visible()
    expect(replies(page).nth(2).locator(".resolved")).to_have_count(0)
    # A real follow-up in the same conversation still says what it searched for.
    followup = ask_and_wait(page, "Where is it?")
    assert followup["resolved_question"] not in (None, "Where is it?")
    expect(replies(page).nth(3).locator(".resolved")).to_have_text(
        f"Searched for: {followup['resolved_question']}"
    )


def test_no_answer_is_said_honestly_with_maybe_related_passages(
    page: Page, declining_server: LiveServer
) -> None:
    open_chat(page, declining_server.url)
    response = ask(page, "What is the boiling point of mercury?")

    assert response["no_answer"] and response["related"]
    reply = replies(page).first
    expect(reply.locator(".none")).to_have_text("I couldn’t find that in the articles.")
    expect(reply.locator(".answer")).to_have_count(0)
    expect(reply.locator(".related .label")).to_have_text("Maybe related:")
    expect(reply.locator(".related figure.cite")).to_have_count(len(response["related"]))
    screenshot(page, "widget-no-answer")

    reply.locator(".related button.source").first.click()
    closest = response["related"][0]
    assert_article_at_passage(page, declining_server, closest["doc_id"], closest["passage"])


def test_server_errors_show_as_messages_and_the_chat_carries_on(
    page: Page, chat_server: LiveServer
) -> None:
    open_chat(page, chat_server.url)

    # The server cannot be reached: the request fails in the network layer.
    page.route("**/ask", lambda route: route.abort("connectionrefused"))
    question_box(page).fill("Who is the secretary of state?")
    question_box(page).press("Enter")
    error = page.locator("citeqa-chat .msg.error")
    expect(error).to_contain_text("couldn’t reach the citeqa server")
    expect(question_box(page)).to_be_editable()
    page.unroute("**/ask")
    error.get_by_role("button", name="Try again").click()
    expect(page.locator("citeqa-chat .msg.bot .short strong").first).to_be_visible()
    expect(error).to_have_count(0)

    # Bad input: the real server's 422, its detail shown in words.
    too_long = json.dumps({"question": "x" * 1001})
    page.route("**/ask", lambda route: route.continue_(post_data=too_long))
    ask(page, "Who is the secretary of state?")
    expect(error).to_contain_text("couldn’t accept that question")
    expect(error).to_contain_text("1000 characters")
    page.unroute("**/ask")

    # The box itself stops at the limit and says how close it is.
    question_box(page).fill("y" * 1200)
    assert len(question_box(page).input_value()) == 1000
    expect(page.locator("citeqa-chat .counter")).to_contain_text("1000 / 1000")
    expect(page.locator("citeqa-chat .user")).to_have_count(2)


def test_keyboard_only(page: Page, chat_server: LiveServer) -> None:
    open_chat(page, chat_server.url)
    log = page.get_by_role("log", name="Conversation")
    expect(log).to_have_attribute("aria-live", "polite")

    press_until_focused(page, "Tab", "textarea.")
    page.keyboard.type("Who is the secretary")
    page.keyboard.press("Shift+Enter")
    assert question_box(page).input_value() == "Who is the secretary\n"
    expect(page.locator("citeqa-chat .user")).to_have_count(0)
    page.keyboard.press("Backspace")
    page.keyboard.type(" of state?")
    page.keyboard.press("Enter")
    expect(replies(page)).to_have_count(1)
    expect(page.locator("citeqa-chat .user .text")).to_have_text("Who is the secretary of state?")

    # Back from the input into the conversation, to the answer's citation.
    press_until_focused(page, "Shift+Tab", "button.source")
    page.keyboard.press("Enter")
    panel = page.locator("citeqa-chat dialog.article")
    expect(panel).to_be_visible()
    expect(panel.locator("mark.passage")).to_be_visible()
    assert deep_focus(page).startswith(("button.close", "div.article-text"))

    page.keyboard.press("Escape")
    expect(panel).to_be_hidden()
    assert deep_focus(page) == "button.source"


def test_phone_width_in_dark_mode(browser: Browser, chat_server: LiveServer) -> None:
    with open_page(browser, viewport=PHONE, color_scheme="dark", has_touch=True) as page:
        open_chat(page, chat_server.url)
        ask(page, "Who is the secretary of state?")
        expect(replies(page)).to_have_count(1)

        assert page.evaluate("() => document.documentElement.scrollWidth <= innerWidth")
        background = page.locator("citeqa-chat .chat").evaluate(
            "e => getComputedStyle(e).backgroundColor"
        )
        assert _luminance(background) < 0.1, f"not a dark background: {background}"
        screenshot(page, "widget-dark-phone")

        page.locator("citeqa-chat button.source").first.click()
        panel = page.locator("citeqa-chat dialog.article")
        expect(panel).to_be_visible()
        assert panel.evaluate("d => d.getBoundingClientRect().width") == PHONE["width"]


def _luminance(css_rgb: str) -> float:
    red, green, blue = (int(n) / 255 for n in re.findall(r"\d+", css_rgb)[:3])
    return 0.2126 * red + 0.7152 * green + 0.0722 * blue


def test_markup_in_articles_and_questions_stays_inert(page: Page, inert_server: LiveServer) -> None:
    open_chat(page, inert_server.url)
    ask(page, "Who won the Quillfeather Prize for harbour poetry?")
    expect(replies(page)).to_have_count(1)
    sneaky = f"{PWNED_IMG} What was the poem called?"
    ask(page, sneaky)
    expect(replies(page)).to_have_count(2)
    expect(page.locator("citeqa-chat .user .text").nth(1)).to_have_text(sneaky)

    source = page.locator("citeqa-chat button.source", has_text="Harbour poetry prize").first
    expect(source).to_contain_text(PWNED_IMG)  # the title, shown as the characters it is
    source.click()
    panel = page.locator("citeqa-chat dialog.article")
    expect(panel.locator("h2")).to_have_text(f"{PWNED_IMG} Harbour poetry prize")
    expect(panel.locator(".article-text")).to_contain_text(PWNED_SCRIPT)
    expect(panel.locator(".article-text")).to_contain_text(PWNED_IMG)

    elements = page.evaluate(
        """() => document.querySelector("citeqa-chat").shadowRoot
                .querySelectorAll("script, img").length"""
    )
    assert elements == 0
    assert page.evaluate("() => window.__pwned") is None


# -- the embed on another site -------------------------------------------------------------


def test_embed_on_another_site(page: Page, host: HostSite, chat_server: LiveServer) -> None:
    page.goto(host.page("news.html", chat_server.url, chat_server.url))
    launcher = page.get_by_role("button", name="Ask the articles")
    expect(launcher).to_be_visible()  # the host's `button { display: none }` does not reach
    assert "255, 0, 0" not in launcher.evaluate("b => getComputedStyle(b).backgroundColor")

    launcher.click()
    expect(launcher).to_have_attribute("aria-expanded", "true")
    expect(question_box(page)).to_be_focused()
    expect(page.locator("citeqa-embed .corpus")).to_contain_text(re.compile(r"\d+ articles"))
    response = ask(page, QUESTION)

    answer = page.locator("citeqa-embed citeqa-chat .answer strong").first
    expect(answer).to_have_text(response["answers"][0]["text"])
    in_shadow = page.evaluate(
        """() => {
            const embed = document.querySelector("citeqa-embed").shadowRoot;
            const chat = embed.querySelector("citeqa-chat").shadowRoot;
            return !!chat.querySelector(".answer strong") && !document.querySelector(".answer");
        }"""
    )
    assert in_shadow
    assert "255, 0, 0" not in answer.evaluate("s => getComputedStyle(s).color")
    assert "Georgia" not in answer.evaluate("s => getComputedStyle(s).fontFamily")
    mark = page.locator("citeqa-embed citeqa-chat mark.hit").first
    assert "0, 255, 0" not in mark.evaluate("m => getComputedStyle(m).backgroundColor")
    screenshot(page, "widget-embed")

    page.keyboard.press("Escape")
    expect(launcher).to_have_attribute("aria-expanded", "false")
    expect(launcher).to_be_focused()
    launcher.click()  # the conversation is still there
    expect(answer).to_be_visible()


def test_embed_pointing_at_a_dead_server_shows_errors(
    page: Page, host: HostSite, chat_server: LiveServer
) -> None:
    with reserved_port() as port:  # held, never listening: nothing can answer there
        dead = f"http://127.0.0.1:{port}"
        page.goto(host.page("dead.html", chat_server.url, dead))
        page.get_by_role("button", name="Ask the articles").click()
        expect(page.locator("citeqa-embed .corpus")).to_contain_text("unavailable")

        for attempt in (1, 2):
            question_box(page).fill("Who is the secretary of state?")
            question_box(page).press("Enter")
            expect(page.locator("citeqa-embed .msg.error")).to_have_count(attempt)
    expect(page.locator("citeqa-embed .msg.error").first).to_contain_text("couldn’t reach")
    expect(question_box(page)).to_be_editable()


def test_embed_on_a_site_the_server_does_not_allow_names_the_setting(
    page: Page, host: HostSite, closed_server: LiveServer
) -> None:
    # The server is up, but its CORS setting does not name the host site: the browser
    # fails the request as if nothing answered. The widget tells the two apart.
    page.goto(host.page("closed.html", closed_server.url, closed_server.url))
    page.get_by_role("button", name="Ask the articles").click()
    question_box(page).fill("Who is the secretary of state?")
    question_box(page).press("Enter")
    error = page.locator("citeqa-embed .msg.error")
    expect(error).to_contain_text(f"The citeqa server at {closed_server.url} is running")
    expect(error).to_contain_text(f"does not allow this site ({host.origin})")
    expect(error).to_contain_text("CITEQA_CORS_ORIGINS")
    expect(error.get_by_role("button", name="Try again")).to_have_count(0)  # it would fail


# -- the first ten minutes: a slow answer, copying one, the example questions ----------------


@contextmanager
def held_server(
    settings: Settings, embedder: Embedder
) -> Iterator[tuple[LiveServer, threading.Event]]:
    """A server whose one question slot is held until the test sets the event yielded: a
    question sent meanwhile waits for it in the app's own admission gate (as
    test_admission.py holds it), however long the test takes, and then is answered."""
    settings = settings.model_copy(update={"ask_slots": 1, "ask_budget_s": 600.0})
    app = create_app(settings, embedder)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        holding.set()
        assert release.wait(600), "the slot was never released"

    with LiveServer(settings, app) as server, ThreadPoolExecutor(1) as pool:
        held = pool.submit(app.state.services.admission.run, hold)
        try:
            assert holding.wait(GUARD_S), "the holding work never started"
            yield server, release
        finally:
            release.set()
            held.result(GUARD_S)


def test_a_slow_answer_shows_the_time_waited_and_can_be_cancelled(
    page: Page, sample_settings: Settings, embedder: Embedder
) -> None:
    first, second = "Who ordered the killing of Qasem Soleimani?", "Who is the secretary of state?"
    with held_server(sample_settings, embedder) as (server, release):
        open_chat(page, server.url)
        question_box(page).fill(first)
        question_box(page).press("Enter")
        waiting = page.locator("citeqa-chat .msg.typing")
        expect(waiting).to_contain_text(re.compile(r"Looking through the articles… [1-9]\d* s"))

        # A second question meanwhile: the chat says why it does not go, and keeps it.
        question_box(page).fill(second)
        question_box(page).press("Enter")
        busy = page.locator("citeqa-chat .busy-note")
        expect(busy).to_have_text(
            "One question is answered at a time: wait for this answer, or cancel it. "
            "Your next question stays in the box until then."
        )
        expect(question_box(page)).to_have_value(second)
        expect(page.locator("citeqa-chat .user")).to_have_count(1)

        # Cancel stops the request itself, and says so.
        with page.expect_event("requestfailed", lambda r: r.url.endswith("/ask")):
            waiting.get_by_role("button", name="Cancel this question").click()
        cancelled = page.locator("citeqa-chat .msg.cancelled")
        expect(cancelled).to_contain_text("Cancelled: this question was not answered.")
        expect(waiting).to_have_count(0)
        expect(busy).to_be_hidden()
        expect(question_box(page)).to_be_focused()
        expect(question_box(page)).to_have_value(second)

        # Once the server is free, the question kept in the box goes as it is, and the
        # cancelled one can be asked again.
        release.set()
        question_box(page).press("Enter")
        expect(page.locator("citeqa-chat .msg.bot .short").first).to_be_visible()
        expect(replies(page)).to_have_count(2)
        cancelled.get_by_role("button", name="Ask again").click()
        expect(cancelled).to_have_count(0)
        expect(page.locator("citeqa-chat .msg.bot .short strong")).to_have_count(2)
        expect(page.locator("citeqa-chat .user .text")).to_have_text([first, second])
        expect(page.locator("citeqa-chat .msg.error")).to_have_count(0)


# What the shipped reader must answer to each of widget.js's SAMPLE_SUGGESTIONS, the examples
# an empty chat offers: one of a set exactly, or an answer with those words in it.
SUGGESTED = {
    "How many rockets were fired at the base in Kirkuk?": {"about 30", "30"},
    "Who ordered the killing of Qasem Soleimani?": "Trump",
    "Who is the secretary of state?": "Pompeo",
    "What time did the missiles hit the vehicles?": {"12:47"},
}


def widget_suggestions() -> list[str]:
    """The SAMPLE_SUGGESTIONS list, read out of widget.js."""
    source = (ROOT / "service" / "static" / "widget.js").read_text(encoding="utf-8")
    listed = re.search(r"const SAMPLE_SUGGESTIONS = \[(.*?)\];", source, re.DOTALL)
    assert listed, "widget.js has no SAMPLE_SUGGESTIONS"
    return [json.loads(q) for q in re.findall(r'"(?:[^"\\]|\\.)*"', listed[1])]


def test_every_example_question_is_answered_right(answerer: Answerer) -> None:
    suggestions = widget_suggestions()
    assert sorted(suggestions) == sorted(SUGGESTED), "each example needs its answer here"
    for question in suggestions:
        result = answerer.ask(Query(question))
        assert result.answers and not result.no_answer, question
        top, right = result.answers[0].text, SUGGESTED[question]
        assert top in right if isinstance(right, set) else right in top, (question, top)
        assert_cited(result, answerer)


# -- the chat for daily use: feedback, reloads, long passages -------------------------------
# A corpus of its own: the two test articles and one whose long sentence makes a long
# passage, with characters outside the Basic Multilingual Plane (🌊, 🐟) before the words a
# correction selects, so code-point offsets and JS's UTF-16 ones differ there; and an ad
# line before them, which ingest leaves out and the article panel shows muted.

TIDES = (
    "The Harbour Times\n\nSpring tides 🌊 in Port Quillon\n\n"
    "The spring tide that reached Port Quillon on Sunday morning, after a week of strong "
    "winds from the west that had already closed the ferry pier twice and flooded the lower "
    "market square, rose to 4.7 metres above the harbour datum, the highest level the "
    "harbour master, Ansel Varga, said he had recorded in his twenty years at the post, "
    "though the old lighthouse keeper's logbooks mention a higher one in 1921.\n\n"
    "Advertisement\n\n"
    "The market traders 🐟 moved their stalls to the church square, where they will stay "
    "until the council repairs the drains. The repairs will cost about 80,000 euros, the "
    "council said.\n"
)
# A web page, whose canonical address ingest keeps as the document's `url`.
CHOIR_URL = "https://harbour-times.example/2021/choir-wins-eastmere"
CHOIR = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>Harbour choir wins the Eastmere contest</title>
<link rel="canonical" href="{CHOIR_URL}">
<meta property="og:site_name" content="The Harbour Times">
<meta property="article:published_time" content="2021-06-12">
</head><body><article>
<h1>Harbour choir wins the Eastmere contest</h1>
<p>The Port Quillon harbour choir won the regional choir contest in Eastmere on Saturday,
singing three sea shanties and a hymn.</p>
<p>The choir is conducted by Lotte Brandvik, a retired ferry captain who founded it eleven
years ago with six singers.</p>
</article></body></html>
"""
CHOIR_QUESTION = "Who conducts the Port Quillon harbour choir?"
TIDE_QUESTION = "How high did the spring tide rise in Port Quillon?"
STALLS_QUESTION = "Where did the market traders move their stalls?"
COST_QUESTION = "How much will the council's drain repairs cost?"


@pytest.fixture(scope="module")
def tides_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    folder = write_articles(tmp_path_factory.mktemp("tides") / "articles")
    (folder / "tides.txt").write_text(TIDES, encoding="utf-8")
    (folder / "choir.html").write_text(CHOIR, encoding="utf-8")
    settings = Settings(index=folder.parent / "index")
    ingest(folder, open_index(settings, embedder), embedder, chunker_settings(settings))
    return settings


@pytest.fixture(scope="module")
def tides_server(tides_settings: Settings) -> Iterator[LiveServer]:
    with LiveServer(tides_settings) as live:
        yield live


def records(settings: Settings) -> dict[str, Record]:
    """The stored feedback, by question."""
    return {r.question: r for r in FeedbackStore(feedback_file(settings)).records()}


def feedback_bar(page: Page, reply: int):
    return replies(page).nth(reply).get_by_role("group", name="Was this answer right?")


def select_words(page: Page, words: str) -> None:
    """Select `words` in the open article as a script can: a DOM range over them, found in
    the text nodes the panel shows (they may cross the highlight's marks)."""
    page.evaluate(
        """words => {
            const root = document.querySelector("citeqa-chat").shadowRoot;
            const body = root.querySelector(".article-text");
            const at = body.textContent.indexOf(words);
            // The text node and offset of a point: the first node it falls inside, or
            // (for an end) the one it closes.
            const point = (offset, isEnd) => {
                const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
                let seen = 0;
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    const inside = offset - seen;
                    if (inside < node.length || (isEnd && inside === node.length)) {
                        return [node, inside];
                    }
                    seen += node.length;
                }
            };
            const [a, i] = point(at, false);
            const [b, j] = point(at + words.length, true);
            document.getSelection().setBaseAndExtent(a, i, b, j);
        }""",
        words,
    )


def drag_select(page: Page, words: str) -> None:
    """Select `words` in the open article with the mouse, as a person does: press on the
    left half of the first character, drag to the right half of the last."""
    boxes = page.evaluate(
        """words => {
            const root = document.querySelector("citeqa-chat").shadowRoot;
            const body = root.querySelector(".article-text");
            const at = body.textContent.indexOf(words);
            const rectOf = (offset) => {
                const walker = document.createTreeWalker(body, NodeFilter.SHOW_TEXT);
                let seen = 0;
                for (let node = walker.nextNode(); node; node = walker.nextNode()) {
                    if (offset < seen + node.length) {
                        const range = document.createRange();
                        range.setStart(node, offset - seen);
                        range.setEnd(node, offset - seen + 1);
                        const r = range.getBoundingClientRect();
                        return { left: r.left, right: r.right, y: r.top + r.height / 2 };
                    }
                    seen += node.length;
                }
            };
            return [rectOf(at), rectOf(at + words.length - 1)];
        }""",
        words,
    )
    first, last = boxes
    page.mouse.move(first["left"] + 1, first["y"])
    page.mouse.down()
    page.mouse.move(last["right"] - 1, last["y"], steps=8)
    page.mouse.up()


def test_helpful_and_wrong_with_a_correction_selected_in_the_article(
    page: Page, tides_server: LiveServer, tides_settings: Settings
) -> None:
    open_chat(page, tides_server.url)
    first = ask_and_wait(page, TIDE_QUESTION)
    bar = feedback_bar(page, 0)
    helpful = bar.get_by_role("button", name="Helpful")
    helpful.click()
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(bar.get_by_role("status")).to_have_text("Thanks: marked as helpful.")
    stored = records(tides_settings)[TIDE_QUESTION]
    assert stored.verdict == "helpful"
    assert stored.answer is not None and stored.answer.text == first["answers"][0]["text"]

    ask_and_wait(page, STALLS_QUESTION)
    bar = feedback_bar(page, 1)
    bar.get_by_role("button", name="Wrong").click()
    select = bar.get_by_role("button", name="Select the right answer in the article")
    expect(select).to_be_focused()  # on to saying what is right
    assert records(tides_settings)[STALLS_QUESTION].verdict == "wrong"
    screenshot(page, "widget-feedback")

    page.keyboard.press("Enter")
    panel = page.locator("citeqa-chat dialog.article")
    send = panel.get_by_role("button", name="Send the selected words as the answer")
    expect(send).to_be_visible()
    send.click()  # nothing selected yet
    expect(panel.locator(".select-status")).to_contain_text("Select the words")
    # The masthead ("The Harbour Times", an outlet's line) and an ad are shown muted.
    masthead, ad = assert_excluded_muted(page, tides_server, "tides")
    assert masthead["reason"] == "publisher" and masthead["start"] == 0
    assert ad["reason"] == "chrome" and ad["end"] < TIDES.index("the church square")

    select_words(page, "the church square")
    expect(panel.locator(".select-status")).to_have_text("Selected: “the church square”")
    screenshot(page, "widget-correction")
    with page.expect_request(lambda r: r.url.endswith("/feedback")) as sent:
        send.click()
    expect(panel).to_be_hidden()
    status = bar.get_by_role("status")
    expect(status).to_have_text("Thanks: “the church square” is saved as the right answer.")
    expect(status).to_be_focused()
    correction = sent.value.post_data_json["correction"]
    text = document_text(tides_server, "tides")
    assert text[correction["start"] : correction["end"]] == "the church square"
    utf16_start = len(text[: correction["start"]].encode("utf-16-le")) // 2
    assert utf16_start > correction["start"], "emoji come first: code points, not UTF-16 units"
    stored = records(tides_settings)[STALLS_QUESTION]
    assert stored.correction is not None and stored.correction.text == "the church square"
    assert stored.id == sent.value.post_data_json["id"], "the correction amends the 'wrong'"


def test_copy_puts_the_answer_its_passage_and_source_on_the_clipboard(
    browser: Browser, tides_server: LiveServer
) -> None:
    with open_page(browser, locale="en-US") as page:  # the date as it is written here
        page.context.grant_permissions(["clipboard-read", "clipboard-write"])
        open_chat(page, tides_server.url)
        best = ask_and_wait(page, CHOIR_QUESTION)["answers"][0]
        assert best["doc_id"] == "choir", "the web page answers this"
        card = page.locator("citeqa-chat .answer").first
        copy = card.get_by_role("button", name="Copy the answer with its source")
        status = card.get_by_role("status")
        copy.click()
        expect(status).to_have_text("Copied the answer, its passage and source.")
        assert page.evaluate("navigator.clipboard.readText()") == "\n".join(
            [
                best["text"],
                f"“{best['passage']['text']}”",
                f"— {best['title']}, {best['source']}, Jun 12, 2021",
            ]
        ), "no address yet: the widget has not read the article"

        # Once the article has been opened, the widget has its address, and adds it.
        card.locator("button.source").click()
        expect(page.locator("citeqa-chat dialog.article mark.passage")).to_be_visible()
        page.keyboard.press("Escape")
        copy.click()  # clears the status at once, and says it again once copied
        expect(status).to_have_text("Copied the answer, its passage and source.")
        copied = page.evaluate("navigator.clipboard.readText()").split("\n")
        assert copied[:2] == [best["text"], f"“{best['passage']['text']}”"]
        assert copied[-1] == CHOIR_URL


def test_the_articles_do_not_answer_this(
    page: Page, tides_server: LiveServer, tides_settings: Settings
) -> None:
    open_chat(page, tides_server.url)
    question = "Who painted the lighthouse in Port Quillon?"
    ask_and_wait(page, question)
    bar = feedback_bar(page, 0)
    bar.get_by_role("button", name="Wrong").click()
    bar.get_by_role("button", name="The articles don’t answer this").click()
    status = bar.get_by_role("status")
    expect(status).to_have_text("Thanks: noted that the articles don’t answer this.")
    expect(status).to_be_focused()
    assert records(tides_settings)[question].verdict == "unanswerable"


def test_the_conversation_survives_a_reload_and_new_conversation_clears_it(
    page: Page, tides_server: LiveServer
) -> None:
    open_chat(page, tides_server.url)
    first = ask_and_wait(page, TIDE_QUESTION)
    feedback_bar(page, 0).get_by_role("button", name="Helpful").click()
    expect(feedback_bar(page, 0).get_by_role("status")).not_to_be_empty()

    page.reload()

    expect(page.locator("citeqa-chat .user .text")).to_have_text([TIDE_QUESTION])
    best = page.locator("citeqa-chat .answer .short strong").first
    expect(best).to_have_text(first["answers"][0]["text"])
    helpful = feedback_bar(page, 0).get_by_role("button", name="Helpful")
    expect(helpful).to_have_attribute("aria-pressed", "true")
    expect(page.locator("citeqa-chat .welcome")).to_have_count(0)
    with page.expect_request(lambda r: r.url.endswith("/ask")) as sent:
        ask_and_wait(page, "Who is the harbour master there?")
    assert sent.value.post_data_json["history"][0]["question"] == TIDE_QUESTION

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator("citeqa-chat .msg")).to_have_count(0)
    expect(page.locator("citeqa-chat .suggestions")).to_be_visible()
    expect(question_box(page)).to_be_focused()
    page.reload()
    open_chat(page, tides_server.url)
    expect(page.locator("citeqa-chat .msg")).to_have_count(0)
    with page.expect_request(lambda r: r.url.endswith("/ask")) as sent:
        ask_and_wait(page, STALLS_QUESTION)
    assert sent.value.post_data_json["history"] == []


def test_a_long_passage_expands_in_place_and_the_article_opens_at_the_answer(
    page: Page, tides_server: LiveServer
) -> None:
    open_chat(page, tides_server.url)
    response = ask_and_wait(page, TIDE_QUESTION)
    best = response["answers"][0]
    assert len(best["passage"]["text"]) > 320, "the long sentence is the passage"
    card = page.locator("citeqa-chat .answer").first
    quote = card.locator("blockquote")
    excerpt = quote.evaluate("q => q.textContent")
    assert best["text"] in excerpt and len(excerpt) < len(best["passage"]["text"])
    expect(quote.locator("mark.hit")).to_have_text(best["text"])

    toggle = card.locator("button.expand")
    expect(toggle).to_have_accessible_name("Show the whole passage")
    toggle.press("Enter")
    expect(toggle).to_have_attribute("aria-expanded", "true")
    assert quote.evaluate("q => q.textContent") == best["passage"]["text"]
    expect(quote.locator("mark.hit")).to_have_text(best["text"])
    expect(toggle).to_have_accessible_name("Show less")
    toggle.click()
    expect(toggle).to_have_attribute("aria-expanded", "false")

    card.locator("button.source").click()
    hit = page.locator("citeqa-chat dialog.article mark.hit")
    expect(hit).to_be_in_viewport()
    text = document_text(tides_server, best["doc_id"])
    assert hit.evaluate("m => m.textContent") == text[best["start"] : best["end"]]


def test_the_whole_loop_ask_correct_export_eval(
    page: Page, tides_server: LiveServer, tides_settings: Settings, tmp_path: Path
) -> None:
    open_chat(page, tides_server.url)
    ask_and_wait(page, COST_QUESTION)
    bar = feedback_bar(page, 0)
    bar.get_by_role("button", name="Wrong").click()
    bar.get_by_role("button", name="Select the right answer in the article").click()
    panel = page.locator("citeqa-chat dialog.article")
    expect(panel.locator("mark.passage")).to_be_visible()
    drag_select(page, "about 80,000 euros")
    expect(panel.locator(".select-status")).to_have_text("Selected: “about 80,000 euros”")
    panel.get_by_role("button", name="Send the selected words as the answer").click()
    expect(bar.get_by_role("status")).to_have_text(
        "Thanks: “about 80,000 euros” is saved as the right answer."
    )

    export = tmp_path / "feedback.jsonl"
    exported = run_citeqa("feedback", "export", export, "--index", tides_settings.index)
    assert exported.returncode == 0, exported.stderr
    rows = {row["question"]: row for row in map(json.loads, export.read_text().splitlines())}
    row = rows[COST_QUESTION]
    assert row["answers"] == ["about 80,000 euros"] and row["doc_ids"] == ["tides"]
    [(start, end)] = row["spans"]
    assert document_text(tides_server, "tides")[start:end] == "about 80,000 euros"

    report = tmp_path / "report"
    scored = run_citeqa("eval", export, "--index", tides_settings.index, "--out", report)
    assert scored.returncode == 0, scored.stderr
    summary = json.loads((report / "report.json").read_text())
    assert summary["overall"]["questions"] == len(rows)
    asked = [json.loads(line) for line in (report / "questions.jsonl").read_text().splitlines()]
    assert COST_QUESTION in {q["question"] for q in asked}
