"""`Answerer.ask`: the one Python API from a question to cited answers.

retrieve chunks -> score their sentences -> the reader reads windows around the best ones
-> each span gets a calibrated confidence -> group agreeing sources, flag conflicting ones
-> `AskResponse`. HTTP, the CLI and `eval` all call this.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from citeqa.index.base import DocumentRecord, Filters, Index, SearchHit, StoredChunk
from citeqa.index.search import search, term_weights
from citeqa.index.tokens import tokenize_one
from citeqa.ingest.embedding import Embedder
from citeqa.service.http.schemas import Answer, AskRequest, AskResponse, Citation, Passage, Timings
from citeqa.service.http.schemas import Filters as FilterModel
from citeqa.service.qa import followup
from citeqa.service.qa.answer_types import SpanTyper, expected_kinds
from citeqa.service.qa.confidence import Candidate, Confidence, candidates
from citeqa.service.qa.consolidation import AnswerGroup, find_conflict, group_candidates
from citeqa.service.qa.reader import Reader
from citeqa.service.qa.sentences import Question, ScoredSentence, score_sentences, windows

RELATED_PASSAGES = 3


@dataclass(frozen=True)
class RankedChunk:
    chunk: StoredChunk
    hit: SearchHit

    @property
    def doc_id(self) -> str:
        return self.chunk.doc_id


@dataclass(frozen=True)
class Traced:
    response: AskResponse
    retrieved_doc_ids: list[str]  # best first, each once


@dataclass(frozen=True)
class AnswerSettings:
    """How much `Answerer` reads; `components.build_answerer` fills it from `Settings`."""

    retrieve_k: int
    fusion: dict[str, float]  # each retriever's weight, by name (index.fusion)
    read_chunks: int
    read_windows: int
    window_context: int
    no_answer_threshold: float


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

    def with_settings(self, **changes: float | int) -> Answerer:
        """The same answerer with other settings, e.g. abstaining below another confidence."""
        settings = replace(self.settings, **changes)
        return Answerer(self.index, self.embedder, self.reader, self.confidence, self.typer,
                        settings)  # fmt: skip

    def ask(self, request: AskRequest) -> AskResponse:
        return self.ask_traced(request).response

    def ask_traced(self, request: AskRequest) -> Traced:
        """`ask`, plus what eval needs to score retrieval: the documents searched, in order."""
        began = time.perf_counter()
        resolved = followup.resolve(request.question, request.history)
        question = self.analyse(resolved)
        hits, sentences = self.retrieve(question, request.filters)
        retrieved = time.perf_counter()
        groups = group_candidates(self.read(question, sentences))
        confident = [g for g in groups if g.best.score >= self.settings.no_answer_threshold]
        rivals = find_conflict(confident)
        chosen = ([confident[0], *rivals] if rivals else confident)[: request.top_k]
        done = time.perf_counter()
        response = AskResponse(
            question=request.question,
            no_answer=not chosen,
            answers=[self._answer(g) for g in chosen],
            conflict=bool(rivals),
            resolved_question=resolved if resolved != request.question else None,
            related=[] if chosen else self._related(sentences),
            timings=Timings(
                retrieval_ms=1000 * (retrieved - began), extraction_ms=1000 * (done - retrieved)
            ),
            took_ms=1000 * (done - began),
        )
        return Traced(response, _unique(h.doc_id for h in hits))

    def analyse(self, text: str) -> Question:
        tokens = frozenset(tokenize_one(text))
        return Question(text, tokens, term_weights(self.index, tokens), expected_kinds(text))

    def retrieve(
        self, question: Question, filters: FilterModel | None
    ) -> tuple[list[RankedChunk], list[ScoredSentence]]:
        """The fused chunk ranking, and the sentences of its best chunks scored against the
        question, best first."""
        vector = self.embedder.encode([question.text])[0]
        k, fusion = self.settings.retrieve_k, self.settings.fusion
        hits = search(self.index, question.text, vector, k, _filters(filters), fusion)
        chunks = {c.chunk_id: c for c in self.index.chunks([h.chunk_id for h in hits])}
        ranked = [RankedChunk(chunks[h.chunk_id], h) for h in hits if h.chunk_id in chunks]
        top = [r.chunk for r in ranked[: self.settings.read_chunks]]
        return ranked, score_sentences(question, vector, top)

    def read(self, question: Question, sentences: list[ScoredSentence]) -> list[Candidate]:
        """The reader's spans from windows around the best sentences, scored, best first."""
        read = windows(sentences, self.settings.read_windows, self.settings.window_context)
        spans = self.reader.read(question.text, [w.passage for w in read])
        found = candidates(question, spans, read, self.typer)
        self.confidence.score(found)
        return sorted(found, key=lambda c: -c.score)

    def _answer(self, group: AnswerGroup) -> Answer:
        best = group.best
        document = self._document(best.doc_id)
        return Answer(
            text=best.text,
            score=round(best.score, 4),
            doc_id=document.doc_id,
            title=document.meta.title,
            source=document.meta.source,
            date=document.meta.date,
            start=best.span.start,
            end=best.span.end,
            page=document.meta.page_at(best.span.start),
            passage=_passage(best),
            also_in=[_citation(_passage(c), self._document(c.doc_id)) for c in group.others],
        )

    def _related(self, sentences: list[ScoredSentence]) -> list[Citation]:
        return [
            _citation(_sentence_passage(s), self._document(s.chunk.doc_id))
            for s in sentences[:RELATED_PASSAGES]
        ]

    def _document(self, doc_id: str) -> DocumentRecord:
        document = self.index.document(doc_id)
        assert document is not None, f"index returned a chunk of unknown document {doc_id}"
        return document


def _filters(model: FilterModel | None) -> Filters | None:
    if model is None:
        return None
    return Filters(
        sources=model.sources,
        date_from=model.date_from.isoformat() if model.date_from else None,
        date_to=model.date_to.isoformat() if model.date_to else None,
        doc_ids=model.doc_ids,
    )


def _passage(candidate: Candidate) -> Passage:
    """The sentences the answer stands in, cut from its window (exact in the document)."""
    inside = candidate.sentences()
    window = candidate.window.passage
    start, end = inside[0].start, inside[-1].end
    return Passage(
        start=start, end=end, text=window.text[start - window.start : end - window.start]
    )


def _sentence_passage(scored: ScoredSentence) -> Passage:
    return Passage(start=scored.sentence.start, end=scored.sentence.end, text=scored.sentence.text)


def _citation(passage: Passage, document: DocumentRecord) -> Citation:
    return Citation(
        doc_id=document.doc_id,
        start=passage.start,
        end=passage.end,
        passage=passage,
        title=document.meta.title,
        source=document.meta.source,
        date=document.meta.date,
        page=document.meta.page_at(passage.start),
    )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
