"""Find boilerplate and metadata in scraped article text without rewriting it.

Boilerplate (site chrome, bylines, datelines, a caption printed twice) becomes
`ExcludedSpan`s over the original text; everything else is content. Offsets never move.

Corpus files are not trusted, so every pattern runs in time linear in the text: one that
backtracks over a long run of spaces, trying each shorter run again, turns a 20 MB file into
hours. That is why space before a choice is matched possessively (`*+`), never given back.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from itertools import islice

from citeqa.ingest.models import DocumentMeta, ExcludedSpan, Span
from citeqa.ingest.whitespace import duplicate_key, strip_span

# Characters with no glyph that editors and scrapers leave behind: control characters (NUL
# and the like), soft hyphens, zero-width spaces, word joiners, a byte-order mark. The patterns
# read them as spaces and metadata drops them. Zero-width (non-)joiners are not among them:
# emoji and several scripts need them.
_INVISIBLE_CHARS = "\x00-\x08\x0e-\x1f\x7f\u00ad\u200b\u2060\ufeff"
_INVISIBLE = re.compile(f"[{_INVISIBLE_CHARS}]")
# Control characters a stored text may not hold (issue 21's probe: NUL bytes in a .txt
# stayed in the text and reached every client): C0 but tab, line feed, vertical tab, form
# feed and carriage return; DEL; C1 but NEL (U+0085, a line break). `blank_controls` makes
# each a space, one character for one, so no offset moves.
_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f\x7f\x80-\x84\x86-\x9f]")
# Python's whitespace (str.isspace), spelled out: `\s` means other things in other regex
# engines (JavaScript's lacks U+0085 and U+001C-U+001F), and this rule is also a pattern.
_SPACE_CHARS = "\t-\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
# An http or https address with a host, and no space or control character anywhere: the
# rule for a document's `url` in ingest and, as a JSON Schema pattern, in the API's schema
# (spelled as ranges, not `\s`, which means other things in other regex engines). Hosts in
# ASCII (an international name in its xn-- form), or an IPv6 literal in brackets
# ("http://[::1]:8000/", RFC 3986 3.2.2), which the fetcher guards as any address.
_AUTHORITY = "[A-Za-z0-9._~%!$&'()*+,;=:@-]"
WEB_ADDRESS = (
    rf"^[Hh][Tt][Tt][Pp][Ss]?://(?:{_AUTHORITY}*\[[0-9A-Fa-f:.]+\](?::[0-9]+)?|{_AUTHORITY}+)"
    r"(?:[/?#][^\x00-\x20\x7f-\x9f]*)?$"
)
_WEB_ADDRESS = re.compile(WEB_ADDRESS)
# One character that shows: the rule for "not blank" in ingest, and, as a JSON Schema
# pattern (a search), in the API's schema.
VISIBLE = f"[^{_SPACE_CHARS}{_INVISIBLE_CHARS}]"
_VISIBLE = re.compile(VISIBLE)
# Lines that are site furniture wherever they stand on a line of their own. Space around a
# line is matched as `[^\S\n]`, not `[ \t]`: files saved with CRLF line ends or no-break
# spaces must not lose their boilerplate detection.
_CHROME_LINE = re.compile(
    r"^[^\S\n]*+(?:AD|Advertisement|ADVERTISEMENT|Loading\.\.\.|Democracy Dies in Darkness|"
    r"Skip to main content|Story continues below advertisement|Continue reading.*|"
    r"Read more:?|Share this article|(?:Want to [^\n]*)?Sign up for [^\n]*|"
    r"[—–-]*+[^\S\n]*+With additional reporting by [^\n]*)[^\S\n]*$",
    re.MULTILINE,
)
# Chrome that scrapers glue onto real text, so it is matched as a token, not a line.
_CHROME_TOKEN = re.compile(r"(?<!\S)Loading\.\.\.(?!\S)")
_DATE_PREFIX = re.compile(r"\A\s*date (\d{4}-\d{2}-\d{2})\s*")
_BYLINE = re.compile(r"^[^\S\n]*+By [^\n.]{3,200}$", re.MULTILINE)
_MONTHS = {
    m: i + 1
    for i, m in enumerate(
        ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
    )
}
_MONTH_WORD = r"(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sept?|Oct|Nov|Dec)[a-z]*\.?"
_DATELINE = re.compile(
    rf"^[^\S\n]*+(?:Updated |Published )?({_MONTH_WORD}) (\d{{1,2}}), (\d{{4}})"
    r"(?: at [^\n]{0,40})?+[^\S\n]*$",
    re.MULTILINE,
)
_PUBLISHER = re.compile(
    r"^[^\S\n]*+(The Washington Post|The New York Times|The Guardian|Reuters|Associated Press|"
    r"The Wall Street Journal|BBC News|CNN|Al Jazeera|The Atlantic|Politico)[^\S\n]*$",
    re.MULTILINE,
)
# An outlet's name on a line of its own near the top, above or under the headline ("The
# Port Quillon Courier"): a few capitalised words ending in a word newspapers and news
# sites are named by. Only the first lines are read (`_OUTLET_LINES`): in the body such a
# line would more likely be a quotation's source or a heading.
_OUTLET_WORDS = (
    "Times|Post|Courier|Herald|Gazette|Journal|News|Tribune|Chronicle|Observer|Guardian|"
    "Telegraph|Independent|Standard|Star|Mail|Express|Review|Press|Record|Bulletin|Sentinel|"
    "Examiner|Dispatch|Inquirer|Mirror|Sun|Beast|Monitor|Register|Reporter|Ledger|Globe|"
    "Echo|Argus|Advertiser|Wire|Today"
)
# A name with "The" may have up to five words before that word, one without up to two: a
# headline in title case ("Markets Rally On Jobs News") is not an outlet.
_NAME_WORD = r"[A-Z][\w'’&.-]*+[^\S\n]++"
_OUTLET = re.compile(
    rf"^[^\S\n]*+((?:The[^\S\n]++(?:{_NAME_WORD}){{0,5}}|(?:{_NAME_WORD}){{0,2}})"
    rf"(?:{_OUTLET_WORDS}))[^\S\n]*$"
)
_OUTLET_LINES = 5
# A sign-off naming the outlet: "(The story was prepared by Peter Baker ... for The New
# York Times)", "(Reporting by Ines Roldan for The Eastham Gazette; editing by ...)".
_SIGN_OFF = re.compile(
    r"^[^\S\n]*+\((?:The story was |This story was |This article was )?(?:prepared|reported|"
    r"written|compiled|[Rr]eporting|Additional reporting)\b[^()\n]{0,400}? for "
    r"([A-Z][^();\n]{1,80}?)[^\S\n]*+(?:;[^()\n]{0,200})?\)[^\S\n]*$",
    re.MULTILINE,
)
# A wire service's dateline: "OSTREVIK, Calvessa, March 14 (Meridian Wire) -".
_WIRE_DATELINE = re.compile(
    r"^[^\S\n]*+[A-Z][A-Z .'-]{1,40},[^()\n]{0,80}\(([A-Z][A-Za-z .&'-]{1,60})\)[^\S\n]*+[-—–]",
    re.MULTILINE,
)
# A city dateline opening a paragraph ("WASHINGTON — President ..."): not the lede's words.
_CITY_DATELINE = re.compile(r"\A[A-Z][A-Z .'-]{1,40}[^\S\n]*+[—–-][^\S\n]*+")
# A photo credit glued to the end of a caption: "...Oct. 23, 2019.Doug Mills/The New York Times"
_CREDIT_SOURCE = re.compile(
    r"[A-Z][a-z]+ [A-Z][a-z]+/(The [A-Z][A-Za-z ]++|Reuters|AP)[^\S\n]*$", re.M
)
_MIN_DUPLICATE_LINE = 40
# A line too short to count as a duplicate is not even looked at: duplicate_key never lengthens.
_LONG_LINE = re.compile(rf"^[^\n]{{{_MIN_DUPLICATE_LINE},}}", re.M)
_TITLE_MAX_CHARS = 160
# A lede stands in for a missing headline (`_lede`): cut to about a long headline's length
# (the sample's headlines run 47-66 characters), and at least a few words, so that a
# stray "Loading..." is not one.
_LEDE_MAX_CHARS = 100
_LEDE_MIN_WORDS = 4
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[\"“‘'(\[]?[A-Z0-9])")
# Markdown a title or byline may carry: a heading's leading #s, and **bold** or __bold__
# (paired, so "2**3" stays). Metadata is one short line: the bounded runs stay linear.
_HEADING_MARK = re.compile(r"\A[^\S\n]*+#{1,6}[^\S\n]++")
_BOLD = re.compile(r"(\*\*|__)(?=\S)([^*_\n]{1,300}?)(?<=\S)\1")
# A value a file states that is longer is not a title, a name or a site's name but the
# file's mistake. 256 characters are at most 1024 bytes of UTF-8, what Milvus's `source`
# holds (index/milvus.py ID_BYTES).
_STATED_MAX_CHARS = 256


# What a terminal acts on rather than shows: every C0 and C1 control (ESC begins an escape
# sequence, U+009B CSI and U+009D OSC are one alone, BEL rings; `citeqa ask` printing a
# title set the terminal's title, issue 32), and the bidirectional overrides and isolates,
# which reorder what follows them.
_CONTROLS_BUT_LINE_FEED = "\x00-\x09\x0b-\x1f\x7f-\x9f"
_BIDI_OVERRIDES = "\u202a-\u202e\u2066-\u2069"
_NOT_PRINTABLE = re.compile(f"[{_CONTROLS_BUT_LINE_FEED}{_BIDI_OVERRIDES}]")
_NOT_ONE_LINE = re.compile(f"[\n{_CONTROLS_BUT_LINE_FEED}{_BIDI_OVERRIDES}]")


def one_line(value: str) -> str | None:
    """Metadata (a title, a source, a byline, an address) as stored and shown: invisible
    characters dropped, each control character and run of spaces one space, trimmed;
    None when nothing is left. The one rule for every way in."""
    return " ".join(_NOT_ONE_LINE.sub(" ", _INVISIBLE.sub("", value)).split()) or None


def printable(text: str) -> str:
    """`text` as a terminal may print it: each control character but the line feed, and
    each bidirectional override, a space (what the CLI prints comes from the web)."""
    return _NOT_PRINTABLE.sub(" ", text)


def blank_controls(text: str) -> str:
    """`text` with each control character (`_CONTROLS`) replaced by a space."""
    return _CONTROLS.sub(" ", text)


def is_blank(text: str) -> bool:
    """True if `text` shows nothing: only whitespace and invisible characters."""
    return _VISIBLE.search(text) is None


def find_excluded(text: str) -> list[ExcludedSpan]:
    """All boilerplate spans in `text`, sorted and non-overlapping."""
    visible = _visible(text)
    lines = _as_lines(visible)
    spans = [
        *_spans(_DATE_PREFIX, visible, "date-prefix"),
        *_spans(_CHROME_LINE, lines, "chrome"),
        *_spans(_CHROME_TOKEN, lines, "chrome"),
        *_spans(_BYLINE, lines, "byline"),
        *_spans(_DATELINE, lines, "dateline"),
        *_spans(_PUBLISHER, lines, "publisher"),
        *_outlet_lines(lines),
        *_repeated_lines(lines),
    ]
    return _merge(spans)


def _visible(text: str) -> str:
    """`text` with its invisible characters as spaces, same length so offsets hold: a
    byte-order mark must not hide the first line from the patterns."""
    return _INVISIBLE.sub(" ", text)


def _as_lines(text: str) -> str:
    """`text` with its date prefix blanked into a line break, same length so offsets hold.

    Scrapers glue the page's first line onto the prefix (" date 2020-01-03 Loading..."),
    and that line is still a line of its own for the line patterns."""
    prefix = _DATE_PREFIX.match(text)
    if not prefix or not prefix.end():
        return text
    return " " * (prefix.end() - 1) + "\n" + text[prefix.end() :]


def content_regions(text: str, excluded: list[ExcludedSpan]) -> Iterator[Span]:
    """The stretches of content between excluded spans, trimmed of surrounding whitespace,
    in order: a title needs only the first few."""
    cursor = 0
    for gap in [*excluded, ExcludedSpan(len(text), len(text), "end")]:
        region = strip_span(text, Span(cursor, gap.start))
        if region.end > region.start:
            yield region
        cursor = max(cursor, gap.end)


def extract_meta(text: str, excluded: list[ExcludedSpan]) -> DocumentMeta:
    """Title, source, date and byline found in `text`, each None when absent, never guessed;
    but a text with no headline is titled by its lede, and says so (`title_is_lede`). They
    are read from the text as shown: no invisible characters (a BOM) in a title."""
    visible = _visible(text)
    lines = _as_lines(visible)
    byline = _BYLINE.search(lines)
    title = _title(text, visible, excluded)
    lede = None if title else _lede(text, visible, excluded)
    return DocumentMeta(
        title=title or lede,
        title_is_lede=lede is not None,
        source=_source(lines),
        date=_date(visible),
        byline=_shown(text[byline.start() : byline.end()]) if byline else None,
    )


def is_web_address(url: str) -> bool:
    """Whether `url` is an http or https address with a host: the only kind a document's
    `url` may hold (a `javascript:` or `data:` one would run or show whatever it says in
    any client that links it)."""
    return _WEB_ADDRESS.match(url) is not None


def stated(value: str | None) -> str | None:
    """Metadata as an HTML page or a PDF states it, as shown; None when it is blank or too
    long to be metadata."""
    shown = _shown(value) if value else None
    return shown if shown and len(shown) <= _STATED_MAX_CHARS else None


def _spans(pattern: re.Pattern[str], text: str, reason: str) -> Iterator[ExcludedSpan]:
    for m in pattern.finditer(text):
        if m.end() > m.start():
            yield ExcludedSpan(m.start(), m.end(), reason)


def _repeated_lines(text: str) -> Iterator[ExcludedSpan]:
    """A line that repeats an earlier line (or extends it, e.g. with a photo credit) is a
    scraper's duplicate, typically a caption printed twice. Lines shorter than
    `_MIN_DUPLICATE_LINE` as a `duplicate_key` are never duplicates nor originals.

    That is: some earlier line is a prefix of it. Sorted, the lines that are prefixes of a
    line come before it and form a chain, which a stack holds with the earliest position in
    the text along it. So it takes one sort, O(n log n) comparisons for n lines, and one
    linear pass, the string work in C. Comparing each line with every earlier one was
    quadratic: 6 s for 1 MB, and 20 MB did not finish."""
    lines = [(duplicate_key(m.group()), m.start(), m.end()) for m in _LONG_LINE.finditer(text)]
    lines = [line for line in lines if len(line[0]) >= _MIN_DUPLICATE_LINE]
    duplicate = [False] * len(lines)
    chain: list[tuple[str, int]] = []  # (line, earliest position of it and its prefixes)
    # A stable sort: equal lines stay in text order, so the first copy is the original.
    for i in sorted(range(len(lines)), key=lambda i: lines[i][0]):
        key = lines[i][0]
        while chain and not key.startswith(chain[-1][0]):
            chain.pop()
        earliest = min(i, chain[-1][1]) if chain else i
        duplicate[i] = earliest < i
        chain.append((key, earliest))
    for (_, start, end), is_duplicate in zip(lines, duplicate, strict=True):
        if is_duplicate:
            yield ExcludedSpan(start, end, "duplicate")


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


def _first_group(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(1).strip() if m else None


def _title(text: str, visible: str, excluded: list[ExcludedSpan]) -> str | None:
    """The first short content line that does not read like a sentence of body text."""
    for region in islice(content_regions(visible, excluded), 3):
        line = _shown(text[region.start : region.end].split("\n", 1)[0])
        if len(line) <= _TITLE_MAX_CHARS and not line.endswith((".", '"')):
            return line
    return None


def _lede(text: str, visible: str, excluded: list[ExcludedSpan]) -> str | None:
    """The first sentence of the first content paragraph, cut at a word to about a
    headline's length: the title of an article whose text states none."""
    for region in islice(content_regions(visible, excluded), 3):
        paragraph = " ".join(_shown(text[region.start : region.end]).split())
        sentence = _SENTENCE_END.split(_CITY_DATELINE.sub("", paragraph), maxsplit=1)[0]
        if len(sentence.split()) >= _LEDE_MIN_WORDS:
            return _cut(sentence, _LEDE_MAX_CHARS)
    return None


def _cut(text: str, limit: int) -> str:
    """`text`, or its words that fit in `limit` characters followed by an ellipsis."""
    if len(text) <= limit:
        return text
    return text[: text.rfind(" ", 0, limit)].rstrip(",;:—-– ") + "…"


def _shown(raw: str) -> str:
    """`raw` as a reader sees it, for metadata: no invisible characters, no outer space,
    and no Markdown markup (a `# ` heading mark, `**bold**`, `__bold__`)."""
    shown = _INVISIBLE.sub("", raw).strip()
    return _BOLD.sub(r"\2", _HEADING_MARK.sub("", shown))


def _source(text: str) -> str | None:
    """The outlet, from the first of: a known publisher's line, an outlet's line at the
    top, a sign-off, a wire service's dateline, a photo credit."""
    outlet = next(_outlet_lines(text), None)
    return (
        _first_group(_PUBLISHER, text)
        or (_shown(text[outlet.start : outlet.end]) if outlet else None)
        or _first_group(_SIGN_OFF, text)
        or _first_group(_WIRE_DATELINE, text)
        or _first_group(_CREDIT_SOURCE, text)
    )


def _outlet_lines(text: str) -> Iterator[ExcludedSpan]:
    """An outlet's line among the first non-blank lines (site furniture, as a publisher's)."""
    cursor, seen = 0, 0
    while seen < _OUTLET_LINES and cursor < len(text):
        end = text.find("\n", cursor)
        end = len(text) if end < 0 else end
        line = text[cursor:end]
        if line.strip():
            seen += 1
            found = _OUTLET.match(line)
            if found:
                yield ExcludedSpan(cursor + found.start(1), cursor + found.end(1), "publisher")
                return
        cursor = end + 1


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
