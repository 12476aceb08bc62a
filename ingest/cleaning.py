"""Find boilerplate and metadata in scraped article text without rewriting it.

Boilerplate (site chrome, bylines, datelines, a caption printed twice) becomes
`ExcludedSpan`s over the original text; everything else is content. Offsets never move.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from citeqa.ingest.models import DocumentMeta, ExcludedSpan, Span

# Lines that are site furniture wherever they stand on a line of their own. Space around a
# line is matched as `[^\S\n]`, not `[ \t]`: files saved with CRLF line ends or no-break
# spaces must not lose their boilerplate detection.
_CHROME_LINE = re.compile(
    r"^[^\S\n]*(?:AD|Advertisement|ADVERTISEMENT|Loading\.\.\.|Democracy Dies in Darkness|"
    r"Skip to main content|Story continues below advertisement|Continue reading.*|"
    r"Read more:?|Share this article|(?:Want to [^\n]*)?Sign up for [^\n]*|"
    r"[—–-]*\s*With additional reporting by [^\n]*)[^\S\n]*$",
    re.MULTILINE,
)
# Chrome that scrapers glue onto real text, so it is matched as a token, not a line.
_CHROME_TOKEN = re.compile(r"(?<!\S)Loading\.\.\.(?!\S)")
_DATE_PREFIX = re.compile(r"\A\s*date (\d{4}-\d{2}-\d{2})\s*")
_BYLINE = re.compile(r"^[^\S\n]*By [^\n.]{3,200}$", re.MULTILINE)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_MONTH_WORD = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)[a-z]*\.?"
_DATELINE = re.compile(
    rf"^[^\S\n]*(?:Updated |Published )?({_MONTH_WORD}) (\d{{1,2}}), (\d{{4}})"
    r"(?: at [^\n]{0,40})?[^\S\n]*$",
    re.MULTILINE,
)
_PUBLISHER = re.compile(
    r"^[^\S\n]*(The Washington Post|The New York Times|The Guardian|Reuters|Associated Press|"
    r"The Wall Street Journal|BBC News|CNN|Al Jazeera|The Atlantic|Politico)[^\S\n]*$",
    re.MULTILINE,
)
# A photo credit glued to the end of a caption: "...Oct. 23, 2019.Doug Mills/The New York Times"
_CREDIT_SOURCE = re.compile(
    r"[A-Z][a-z]+ [A-Z][a-z]+/(The [A-Z][A-Za-z ]+|Reuters|AP)[^\S\n]*$", re.M
)
_LINE = re.compile(r"[^\n]+")
_MIN_DUPLICATE_LINE = 40
_TITLE_MAX_CHARS = 160


def find_excluded(text: str) -> list[ExcludedSpan]:
    """All boilerplate spans in `text`, sorted and non-overlapping."""
    lines = _as_lines(text)
    spans = [
        *_spans(_DATE_PREFIX, text, "date-prefix"),
        *_spans(_CHROME_LINE, lines, "chrome"),
        *_spans(_CHROME_TOKEN, lines, "chrome"),
        *_spans(_BYLINE, lines, "byline"),
        *_spans(_DATELINE, lines, "dateline"),
        *_spans(_PUBLISHER, lines, "publisher"),
        *_repeated_lines(lines),
    ]
    return _merge(spans)


def _as_lines(text: str) -> str:
    """`text` with its date prefix blanked into a line break, same length so offsets hold.

    Scrapers glue the page's first line onto the prefix (" date 2020-01-03 Loading..."),
    and that line is still a line of its own for the line patterns."""
    prefix = _DATE_PREFIX.match(text)
    if not prefix or not prefix.end():
        return text
    return " " * (prefix.end() - 1) + "\n" + text[prefix.end() :]


def content_regions(text: str, excluded: list[ExcludedSpan]) -> list[Span]:
    """The stretches of content between excluded spans, trimmed of surrounding whitespace."""
    regions: list[Span] = []
    cursor = 0
    for gap in [*excluded, ExcludedSpan(len(text), len(text), "end")]:
        found = re.search(r"\S(?:.*\S)?", text[cursor : gap.start], re.S)
        if found:
            regions.append(Span(cursor + found.start(), cursor + found.end()))
        cursor = max(cursor, gap.end)
    return regions


def extract_meta(text: str, excluded: list[ExcludedSpan]) -> DocumentMeta:
    lines = _as_lines(text)
    return DocumentMeta(
        title=_title(text, excluded),
        source=_source(lines),
        date=_date(text),
        byline=_first_group(_BYLINE, lines, group=0),
    )


def _spans(pattern: re.Pattern[str], text: str, reason: str) -> Iterator[ExcludedSpan]:
    for m in pattern.finditer(text):
        if m.end() > m.start():
            yield ExcludedSpan(m.start(), m.end(), reason)


def _normalise(line: str) -> str:
    return " ".join(line.split()).lower()


def _repeated_lines(text: str) -> Iterator[ExcludedSpan]:
    """A line that repeats an earlier line (or extends it, e.g. with a photo credit) is a
    scraper's duplicate, typically a caption printed twice."""
    seen: list[str] = []
    for m in _LINE.finditer(text):
        line = _normalise(m.group())
        if len(line) >= _MIN_DUPLICATE_LINE and any(line.startswith(s) for s in seen):
            yield ExcludedSpan(m.start(), m.end(), "duplicate")
        elif len(line) >= _MIN_DUPLICATE_LINE:
            seen.append(line)


def _merge(spans: list[ExcludedSpan]) -> list[ExcludedSpan]:
    merged: list[ExcludedSpan] = []
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        if merged and span.start <= merged[-1].end:
            last = merged[-1]
            if span.end > last.end:
                merged[-1] = ExcludedSpan(last.start, span.end, last.reason)
        else:
            merged.append(span)
    return merged


def _first_group(pattern: re.Pattern[str], text: str, group: int = 1) -> str | None:
    m = pattern.search(text)
    return m.group(group).strip() if m else None


def _title(text: str, excluded: list[ExcludedSpan]) -> str | None:
    """The first short content line that does not read like a sentence of body text."""
    for region in content_regions(text, excluded)[:3]:
        line = text[region.start : region.end].split("\n", 1)[0].strip()
        if len(line) <= _TITLE_MAX_CHARS and not line.endswith((".", '"')):
            return line
    return None


def _source(text: str) -> str | None:
    return _first_group(_PUBLISHER, text) or _first_group(_CREDIT_SOURCE, text)


def _date(text: str) -> str | None:
    prefix = _DATE_PREFIX.search(text)
    if prefix:
        return prefix.group(1)
    m = _DATELINE.search(text)
    if not m:
        return None
    month = _MONTHS[m.group(1)[:3].lower()]
    try:
        return date(int(m.group(3)), month, int(m.group(2))).isoformat()
    except ValueError:
        return None
