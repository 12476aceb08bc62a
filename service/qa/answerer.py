"""`Answerer.ask`: the one Python API from a question to cited answers.

`Query` -> retrieve chunks -> score their sentences -> the reader reads windows around the
best ones -> each span gets a calibrated confidence (`candidates`: the `Shortlist`) ->
abstain below the threshold, group agreeing sources, flag conflicting ones -> `Result`.
HTTP (service/http/schemas.py maps its contract onto these types), the CLI and `eval` all
call `ask`; the reader's calibration fits on what `candidates` returns, so what is fitted
is what is served.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from functools import lru_cache

import numpy as np

from citeqa.index.base import Index, SearchFilters, StoredChunk
from citeqa.index.search import search, term_weights
from citeqa.index.tokens import tokenize_one
from citeqa.ingest.models import DocumentMeta
from citeqa.models.embedder.encoder import Embedder
from citeqa.models.reader.confidence import Confidence
from citeqa.models.reader.spans import Reader
from citeqa.models.runtime.threads import InFlight
from citeqa.service.qa import features, followup
from citeqa.service.qa.answer_types import SpanTyper, expected_kinds
from citeqa.service.qa.consolidation import AnswerGroup, find_conflict, group_candidates
from citeqa.service.qa.query import Query
from citeqa.service.qa.result import Answer, Citation, Quote, Result, Timings
from citeqa.service.qa.sentences import score_sentences, windows
from citeqa.service.qa.types import Candidate, Question, ScoredSentence, Shortlist, Window

RELATED_PASSAGES = 3


@dataclass(frozen=True)
class AnswerSettings:
    """How much `Answerer` reads; `wiring.build_answerer` fills it from `Settings`."""

    retrieve_k: int
    fusion: dict[str, float]  # each retriever's weight, by name (index.fusion)
    read_chunks: int
    read_windows: int
    window_context: int
    no_answer_threshold: float
    question_cache: int  # questions whose vectors are kept, most recent first; 0: none


class Answerer:
    def __init__(
        self,
        index: Index,
        embedder: Embedder,
        reader: Reader,
        confidence: Confidence,
        typer: SpanTyper,
        settings: AnswerSettings,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.reader = reader
        self.confidence = confidence
        self.typer = typer
        self.settings = settings
        # A question asked again (the chat's suggestions, a popular question, a retry) is
        # not embedded again. lru_cache is safe across the server's threads.
        self.question_vector = lru_cache(maxsize=settings.question_cache)(self._embed)
        # A question asked while no other is being answered is read on every core: /ask's
        # reader 27.4 -> 18.3 ms (p50) on 2 cores. Two threads for every question cost 14%
        # of the answers a second under load (bench/README.md, "Performance III").
        self._asking = InFlight()

    def with_settings(self, **changes: float | int) -> Answerer:
        """The same answerer with other settings, e.g. abstaining below another confidence."""
        settings = replace(self.settings, **changes)
        return Answerer(self.index, self.embedder, self.reader, self.confidence, self.typer,
                        settings)  # fmt: skip

    def ask(self, query: Query) -> Result:
        return self.answer(query, self.candidates(query))

    def answer(self, query: Query, shortlist: Shortlist) -> Result:
        """The answers to `query` from its `shortlist` (`candidates`): abstain below the
        threshold, group agreeing sources, flag a conflict, cite."""
        began = time.perf_counter()
        groups = group_candidates(shortlist.candidates)
        confident = [g for g in groups if g.best.score >= self.settings.no_answer_threshold]
        rivals = find_conflict(confident)
        chosen = ([confident[0], *rivals] if rivals else confident)[: query.top_k]
        extraction_ms = shortlist.extraction_ms + 1000 * (time.perf_counter() - began)
        related = [] if chosen else shortlist.sentences[:RELATED_PASSAGES]
        cite = _Citer(self.index, chosen, related)
        resolved = shortlist.question.text
        return Result(
            question=query.question,
            no_answer=not chosen,
            answers=[cite.answer(g) for g in chosen],
            conflict=bool(rivals),
            resolved_question=resolved if resolved != query.question else None,
            related=[cite.sentence(s) for s in related],
            timings=Timings(retrieval_ms=shortlist.retrieval_ms, extraction_ms=extraction_ms),
            took_ms=shortlist.retrieval_ms + extraction_ms,
            retrieved_doc_ids=_unique(c.doc_id for c in shortlist.chunks),
        )

    def candidates(self, query: Query) -> Shortlist:
        """Every candidate answer to `query` with its calibrated score, best first, before
        the no-answer threshold, and what they were found in."""
        with self._asking.entered() as others:
            began = time.perf_counter()
            question = self.analyse(followup.resolve(query.question, query.history))
            chunks, sentences = self.retrieve(question, query.filters)
            retrieved = time.perf_counter()
            read = windows(sentences, self.settings.read_windows, self.settings.window_context)
            found = self.extract(question, read, every_core=not others)
            done = time.perf_counter()
        return Shortlist(question, chunks, sentences, read, found,
                         retrieval_ms=1000 * (retrieved - began),
                         extraction_ms=1000 * (done - retrieved))  # fmt: skip

    def analyse(self, text: str) -> Question:
        tokens = frozenset(tokenize_one(text))
        return Question(text, tokens, term_weights(self.index, tokens), expected_kinds(text))

    def retrieve(
        self, question: Question, filters: SearchFilters | None
    ) -> tuple[list[StoredChunk], list[ScoredSentence]]:
        """The fused chunk ranking, and the sentences of its best chunks scored against the
        question, best first."""
        vector = self.question_vector(question.text)
        k, fusion = self.settings.retrieve_k, self.settings.fusion
        hits = search(self.index, question.text, vector, k, filters, fusion)
        chunks = {c.chunk_id: c for c in self.index.chunks([h.chunk_id for h in hits])}
        ranked = [chunks[h.chunk_id] for h in hits if h.chunk_id in chunks]
        return ranked, score_sentences(question, vector, ranked[: self.settings.read_chunks])

    def _embed(self, text: str) -> np.ndarray:
        vector = self.embedder.encode([text])[0]
        vector.flags.writeable = False  # shared by every ask of this question
        return vector

    def extract(
        self, question: Question, read: list[Window], every_core: bool = False
    ) -> list[Candidate]:
        """The reader's spans in `read`, with their calibrated scores, best first."""
        spans = self.reader.read(question.text, [w.passage for w in read], every_core)
        found = features.from_spans(question, spans, read, self.typer)
        scores = self.confidence.probabilities([c.features for c in found])
        for candidate, score in zip(found, scores, strict=True):
            candidate.score = float(score)
        return sorted(found, key=lambda c: -c.score)


class _Citer:
    """Citations of one result, with the metadata of every document they cite read in one
    batch, without the documents' texts."""

    def __init__(
        self, index: Index, groups: list[AnswerGroup], sentences: list[ScoredSentence]
    ) -> None:
        cited = {c.doc_id for g in groups for c in (g.best, *g.others)}
        cited |= {s.chunk.doc_id for s in sentences}
        self.metas = index.metas(cited)

    def answer(self, group: AnswerGroup) -> Answer:
        best = group.best
        meta = self._meta(best.doc_id)
        return Answer(
            text=best.text,
            score=round(best.score, 4),
            doc_id=best.doc_id,
            start=best.span.start,
            end=best.span.end,
            passage=_quote(best),
            title=meta.title,
            source=meta.source,
            date=meta.date,
            url=meta.url,
            page=meta.page_at(best.span.start),
            also_in=[self.citation(c.doc_id, _quote(c)) for c in group.others],
        )

    def sentence(self, scored: ScoredSentence) -> Citation:
        found = scored.sentence
        return self.citation(scored.chunk.doc_id, Quote(found.start, found.end, found.text))

    def citation(self, doc_id: str, quote: Quote) -> Citation:
        meta = self._meta(doc_id)
        return Citation(
            doc_id=doc_id,
            start=quote.start,
            end=quote.end,
            passage=quote,
            title=meta.title,
            source=meta.source,
            date=meta.date,
            url=meta.url,
            page=meta.page_at(quote.start),
        )

    def _meta(self, doc_id: str) -> DocumentMeta:
        meta = self.metas.get(doc_id)
        assert meta is not None, f"index returned a chunk of unknown document {doc_id}"
        return meta


def _quote(candidate: Candidate) -> Quote:
    """The sentences the answer stands in, cut from its window (exact in the document)."""
    inside = candidate.sentences()
    window = candidate.window.passage
    start, end = inside[0].start, inside[-1].end
    return Quote(start, end, window.text[start - window.start : end - window.start])


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
