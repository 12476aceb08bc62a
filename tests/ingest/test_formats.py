"""Article formats beside .txt and .md: HTML pages read by trafilatura, PDFs by pypdf.

The pages and PDFs are built here: an HTML page with everything a news site puts around
its article, PDFs written by fpdf2. Answers over them quote the article, never the chrome,
and every chunk and answer slices its document, on both backends.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from pathlib import Path

import pypdf
import pytest
from fastapi.testclient import TestClient
from fpdf import FPDF
from support import BACKENDS, assert_cited, ingest_counts, run_citeqa

from citeqa.index.writer import ingest
from citeqa.ingest import pdf, webpage
from citeqa.ingest.chunking import chunk_document
from citeqa.ingest.loaders import load_folder
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.http.app import create_app
from citeqa.service.qa.answerer import Answerer
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings
from citeqa.service.wiring import build_answerer, chunker_settings, open_index

CAPTION = "Ansel Varga on the north pier of Port Quillon, where he worked for three decades."
BODY = [
    "Port Quillon's harbour master, Ansel Varga, retired on Friday after thirty years in "
    "charge of the busiest fishing port on the Bramhold coast.",
    "Varga took the post in 1996, when the harbour still handled timber from the inland "
    "forests. Under his watch the port built a second breakwater, which cost 14 million "
    "crowns and was finished in 2009.",
    "His successor is Lena Strand, who has been deputy harbour master since 2018. She said "
    "the port would now focus on repairing the old lighthouse, dark since a storm in 2024.",
]
# Words of the page around the article: none of them may reach the index.
CHROME = {
    "cookie banner": "We use cookies to improve your experience",
    "navigation": "Weather in Bramhold",
    "ad": "Glimmer boats",
    "script": "tracking pixel",
    "comments": "90 million crowns",
    "related links": "Mayor opens new bridge",
    "footer": "All rights reserved",
}
PAGE = f"""<!DOCTYPE html>
<html lang="en"><head>
<meta charset="utf-8">
<title>Harbour master retires after 30 years | The Quillon Courier</title>
<link rel="canonical" href="https://courier.example/news/harbour-master-retires">
<meta property="og:site_name" content="The Quillon Courier">
<script type="application/ld+json">
{{"@context": "https://schema.org", "@type": "NewsArticle",
 "headline": "Harbour master retires after 30 years",
 "datePublished": "2026-03-14T09:30:00Z",
 "author": {{"@type": "Person", "name": "Mira Osei"}},
 "publisher": {{"@type": "Organization", "name": "The Quillon Courier"}}}}
</script>
<script>function track() {{ return "tracking pixel"; }}</script>
<style>.ad {{ color: red }}</style>
</head><body>
<div id="cookie-banner" class="cookie-consent">{CHROME["cookie banner"]}. Accept all.</div>
<header><nav><ul><li><a href="/">Home</a></li><li><a href="/sport">Sport</a></li>
<li><a href="/weather">{CHROME["navigation"]}</a></li></ul></nav></header>
<div class="ad advertisement">Advertisement: {CHROME["ad"]} at half price today.</div>
<main><article>
<h1>Harbour master retires after 30 years</h1>
<p class="byline">By Mira Osei</p>
<figure><img src="varga.jpg"><figcaption>{CAPTION}</figcaption></figure>
<p>{BODY[0]}</p>
<p>{CAPTION}</p>
<p>{BODY[1]}</p>
<p>Advertisement</p>
<p>{CAPTION}</p>
<p>{BODY[2]}</p>
</article></main>
<aside class="related"><h3>Most read</h3><ul>
<li><a href="/a">{CHROME["related links"]} over the Sell river</a></li></ul></aside>
<section id="comments" class="comments"><h3>Comments</h3>
<div class="comment"><p>Gerd: the breakwater cost {CHROME["comments"]}, a scandal!</p></div>
<div class="comment"><p>Ilse: Congratulations Ansel, enjoy the retirement.</p></div>
</section>
<footer><p>© 2026 The Quillon Courier. {CHROME["footer"]}.</p></footer>
</body></html>
"""
LIGHTHOUSE_PAGES = [
    "The lighthouse at Port Quillon was built in 1871 by the engineer Tomas Brell. "
    "It stands forty metres tall on the rocks north of the harbour.",
    "The lamp was electrified in 1932. The keeper's cottage has been a museum since 1990, "
    "open every day but Monday.",
]
FERRY = "The ferry to Eastham sails twice a day. A return ticket costs 18 crowns.\n"
MILL = "# The old mill\n\nThe mill on the Sell river closed in 1988 after ninety years.\n"


def pdf_bytes(pages: list[str], title: str | None = None, author: str | None = None) -> bytes:
    """A PDF with one page per text (an empty text: a page with no text, like a scan)."""
    document = FPDF()
    document.set_font("helvetica", size=12)
    if title:
        document.set_title(title)
    if author:
        document.set_author(author)
    for text in pages:
        document.add_page()
        if text:
            document.multi_cell(0, 8, text)
    return bytes(document.output())


def encrypted(raw: bytes) -> bytes:
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(raw)))
    writer.encrypt(user_password="secret", algorithm="RC4-128")  # RC4: no extra package
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def write_mixed(folder: Path) -> Path:
    """`folder`, made, with one article of each format."""
    folder.mkdir()
    (folder / "harbour.html").write_text(PAGE, encoding="utf-8")
    (folder / "lighthouse.pdf").write_bytes(
        pdf_bytes(LIGHTHOUSE_PAGES, title="The Quillon lighthouse", author="Tomas Brell")
    )
    (folder / "ferry.txt").write_text(FERRY, encoding="utf-8")
    (folder / "mill.md").write_text(MILL, encoding="utf-8")
    return folder


# What GET /documents/{doc_id} gives beyond the listing's metadata.
BODY_FIELDS = {"text", "excluded"}


def write_bad(folder: Path) -> dict[str, str]:
    """Files in `folder` that must be skipped: file name -> words of the reason."""
    (folder / "menu.html").write_text(
        "<html><head><title>Courier</title></head><body>"
        "<div class='cookie-banner'>We use cookies. Accept all.</div><header><nav><ul>"
        "<li><a href='/'>Home</a></li><li><a href='/sport'>Sport</a></li></ul></nav></header>"
        "<footer><p>(c) 2026 The Quillon Courier. Privacy policy.</p></footer></body></html>",
        encoding="utf-8",
    )
    (folder / "image.htm").write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)))
    (folder / "notes.pdf").write_text("Only text, saved as .pdf.\n", encoding="utf-8")
    (folder / "secret.pdf").write_bytes(encrypted(pdf_bytes(["A locked page of text."])))
    (folder / "scan.pdf").write_bytes(pdf_bytes(["", ""]))
    (folder / "endless.pdf").write_bytes(pdf_bytes([""] * pdf.MAX_PAGES + ["One more page."]))
    huge = "<p>The same paragraph again.</p>" * (webpage.MAX_PAGE_BYTES // 30)
    (folder / "huge.html").write_text(f"<html><body>{huge}</body></html>", encoding="utf-8")
    return {
        "huge.html": "over 5,000,000 bytes",
        "menu.html": "no main text",
        "image.htm": "binary data",
        "notes.pdf": "not a PDF",
        "secret.pdf": "encrypted",
        "scan.pdf": "no text in the PDF",
        "endless.pdf": f"over {pdf.MAX_PAGES:,}",
    }


def test_a_pdf_whose_pages_take_too_long_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # No PDF small enough for a fixture reads for 30 s on every machine: the time allowed
    # is cut instead, so that any page is one too slow.
    monkeypatch.setattr(pdf, "MAX_SECONDS", 0.0)
    (tmp_path / "slow.pdf").write_bytes(pdf_bytes(["First page.", "Second page."]))
    (tmp_path / "fine.txt").write_text("The harbour reopened on Monday.\n", encoding="utf-8")
    loaded = load_folder(tmp_path)
    assert [d.doc_id for d in loaded.documents] == ["fine"]
    [error] = loaded.errors
    assert error.path.endswith("slow.pdf") and "took over 0 s" in error.reason


def test_an_html_page_keeps_its_article_and_metadata_and_drops_the_chrome(
    tmp_path: Path,
) -> None:
    (tmp_path / "harbour.html").write_text(PAGE, encoding="utf-8")
    [document] = load_folder(tmp_path).documents
    for paragraph in BODY:
        assert paragraph in document.text
    for where, words in CHROME.items():
        assert words not in document.text, f"the {where} is in the text"
    meta = document.meta
    assert meta.title == "Harbour master retires after 30 years"
    assert (meta.byline, meta.date) == ("Mira Osei", "2026-03-14")  # from the JSON-LD
    assert meta.source == "The Quillon Courier"
    assert meta.url == "https://courier.example/news/harbour-master-retires"
    assert (meta.file, meta.pages) == ("harbour.html", None)


@pytest.mark.slow  # chunks, with spaCy
def test_chrome_inside_the_article_and_a_repeated_caption_are_not_indexed(
    tmp_path: Path,
) -> None:
    """trafilatura keeps what stands inside <article>; ingest's cleaning then excludes an
    advertisement line and every copy of a caption but the first, as for .txt files."""
    (tmp_path / "harbour.html").write_text(PAGE, encoding="utf-8")
    [document] = load_folder(tmp_path).documents
    assert document.text.count(CAPTION) == 2
    reasons = {document.text[s.start : s.end].strip(): s.reason for s in document.excluded}
    assert reasons == {"Advertisement": "chrome", CAPTION: "duplicate"}
    chunks = chunk_document(document, chunker_settings(Settings()))
    assert sum(c.text.count(CAPTION) for c in chunks) == 1
    assert not any("Advertisement" in c.text for c in chunks)


def test_a_pdf_keeps_where_each_page_begins(tmp_path: Path) -> None:
    (tmp_path / "lighthouse.pdf").write_bytes(
        pdf_bytes(LIGHTHOUSE_PAGES, title="The Quillon lighthouse", author="Tomas Brell")
    )
    [document] = load_folder(tmp_path).documents
    meta = document.meta
    assert (meta.title, meta.byline, meta.file) == (
        "The Quillon lighthouse",
        "Tomas Brell",
        "lighthouse.pdf",
    )
    assert meta.pages is not None and len(meta.pages) == 2
    for number, page in enumerate(LIGHTHOUSE_PAGES, start=1):
        first_words = page[:40]
        offset = document.text.index(first_words)
        assert offset == meta.pages[number - 1]
        assert meta.page_at(offset) == meta.page_at(offset + 30) == number
    # fpdf2 wraps lines; pypdf gives the line breaks back as they are drawn.
    assert " ".join(document.text.split()) == " ".join(" ".join(LIGHTHOUSE_PAGES).split())


def test_bad_files_are_reported_with_their_reason_and_the_rest_loads(tmp_path: Path) -> None:
    folder = write_mixed(tmp_path / "articles")
    reasons = write_bad(folder)
    result = load_folder(folder)
    assert sorted(d.doc_id for d in result.documents) == ["ferry", "harbour", "lighthouse", "mill"]
    found = {Path(e.path).name: e.reason for e in result.errors}
    assert found.keys() == reasons.keys()
    for name, words in reasons.items():
        assert words in found[name], (name, found[name])


@pytest.mark.slow  # ingests
def test_citeqa_ingest_prints_each_skipped_file(tmp_path: Path) -> None:
    folder = write_mixed(tmp_path / "articles")
    reasons = write_bad(folder)
    result = run_citeqa("ingest", folder, "--index", tmp_path / "index", home=tmp_path)
    assert result.returncode == 0, result.stderr
    assert ingest_counts(result.stdout)["added"] == 4
    for name, words in reasons.items():
        line = next(x for x in result.stderr.splitlines() if name in x)
        assert line.startswith(f"skipped {folder / name}: ") and words in line


@pytest.fixture(scope="module")
def mixed(
    tmp_path_factory: pytest.TempPathFactory, embedder: Embedder
) -> Callable[[str], Answerer]:
    """`mixed(backend)`: an answerer over the four formats' articles on `backend`."""
    answerers: dict[str, Answerer] = {}

    def build(backend: str) -> Answerer:
        if backend not in answerers:
            root = tmp_path_factory.mktemp(f"mixed-{backend}")
            folder = write_mixed(root / "articles")
            settings = Settings(index=root / "index", backend=backend)
            report = ingest(folder, open_index(settings, embedder), embedder,
                            chunker_settings(settings))  # fmt: skip
            assert not report.errors and len(report.added) == 4
            answerers[backend] = build_answerer(settings, embedder)
        return answerers[backend]

    return build


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_chunk_and_answer_quotes_its_document_in_every_format(
    backend: str, mixed: Callable[[str], Answerer]
) -> None:
    answerer = mixed(backend)
    for documents, chunks in answerer.index.export():
        texts = {d.doc_id: d.text for d in documents}
        for chunk in chunks:
            assert texts[chunk.doc_id][chunk.start : chunk.end] == chunk.text
            for sentence in chunk.sentences:
                assert texts[chunk.doc_id][sentence.start : sentence.end] == sentence.text
            assert not any(words in chunk.text for words in CHROME.values())
    for question in [
        "How much did the breakwater cost?",
        "Who succeeded Ansel Varga as harbour master?",
        "When was the lighthouse lamp electrified?",
        "How much is a return ticket to Eastham?",
        "When did the mill close?",
        "Who won the 1998 football World Cup?",
    ]:
        assert_cited(answerer.ask(Query(question, top_k=5)), answerer.index)


@pytest.mark.parametrize("backend", BACKENDS)
def test_answers_on_an_html_page_cite_its_article(
    backend: str, mixed: Callable[[str], Answerer]
) -> None:
    answerer = mixed(backend)
    response = answerer.ask(Query("How much did the breakwater cost?"))
    best = response.answers[0]
    assert (best.doc_id, best.text, best.page) == ("harbour", "14 million crowns", None)
    assert best.passage.text in BODY[1]
    assert (best.title, best.source, best.date) == (
        "Harbour master retires after 30 years",
        "The Quillon Courier",
        "2026-03-14",
    )


# A known miss of the reader of 2 Dec 2026 (issue 19, still open): it abstains here, and
# its best candidate is "Quillon". Strict, so the day it answers, this says so.
@pytest.mark.xfail(strict=True, reason="the 2 Dec 2026 reader abstains ('Quillon' below 0.21)")
@pytest.mark.parametrize("backend", BACKENDS)
def test_a_successor_named_on_an_html_page_is_found(
    backend: str, mixed: Callable[[str], Answerer]
) -> None:
    response = mixed(backend).ask(Query("Who succeeded Ansel Varga as harbour master?"))
    assert (response.answers[0].doc_id, response.answers[0].text) == ("harbour", "Lena Strand")


@pytest.mark.parametrize("backend", BACKENDS)
def test_answers_in_a_pdf_carry_their_page(backend: str, mixed: Callable[[str], Answerer]) -> None:
    answerer = mixed(backend)
    for question, answer, page in [
        ("When was the lighthouse lamp electrified?", "1932", 2),
        ("Who built the lighthouse at Port Quillon?", "Tomas Brell", 1),
    ]:
        best = answerer.ask(Query(question)).answers[0]
        assert (best.doc_id, best.text, best.page) == ("lighthouse", answer, page)
    stored = answerer.index.document("lighthouse").meta
    assert stored.file == "lighthouse.pdf" and stored.pages and len(stored.pages) == 2


def test_documents_route_returns_the_extracted_text_and_metadata(
    tmp_path: Path, embedder: Embedder
) -> None:
    settings = Settings(index=tmp_path / "index")
    folder = write_mixed(tmp_path / "articles")
    ingest(folder, open_index(settings, embedder), embedder, chunker_settings(settings))
    with TestClient(create_app(settings, embedder)) as http:
        page = http.get("/documents/harbour").json()
        pdf = http.get("/documents/lighthouse").json()
        listed = {d["doc_id"]: d for d in http.get("/documents").json()}
    assert BODY[0] in page["text"] and CHROME["comments"] not in page["text"]
    assert page["url"] == "https://courier.example/news/harbour-master-retires"
    assert (page["file"], page["byline"], page["pages"]) == ("harbour.html", "Mira Osei", None)
    assert pdf["file"] == "lighthouse.pdf" and len(pdf["pages"]) == 2
    assert listed["ferry"]["file"] == "ferry.txt"
    assert sorted(listed) == ["ferry", "harbour", "lighthouse", "mill"]
    # The listing gives each document's metadata as its own route does, the text and
    # what ingest excluded from it aside.
    for doc_id, document in (("harbour", page), ("lighthouse", pdf)):
        assert listed[doc_id] == {k: v for k, v in document.items() if k not in BODY_FIELDS}


def test_an_unchanged_page_or_pdf_is_not_parsed_again(tmp_path: Path) -> None:
    folder = write_mixed(tmp_path / "articles")
    first = load_folder(folder)
    known = {d.doc_id: d.checksum for d in first.documents}
    again = load_folder(folder, known)
    assert (again.documents, sorted(again.unchanged)) == (
        [],
        ["ferry", "harbour", "lighthouse", "mill"],
    )
