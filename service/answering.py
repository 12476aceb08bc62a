"""`Answerer.ask`: the one Python API from a question to cited answers.

retrieve chunks -> score their sentences -> draw candidate spans from the best sentences
-> rank them with the learned `SpanRanker` -> group agreeing sources, flag conflicting
ones -> `AskResponse`. HTTP, the CLI and `eval` all call this.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, replace

from citeqa.index.base import DocumentRecord, Filters, Index, SearchHit, StoredChunk
from citeqa.ingest.embedding import Embedder
from citeqa.service import followup
from citeqa.service.consolidation import AnswerGroup, find_conflict, group_candidates
from citeqa.service.ranking import (
    Candidate,
    ScoredSentence,
    SpanRanker,
    candidates_for,
    score_sentences,
)
from citeqa.service.schemas import Answer, AskRequest, AskResponse, Citation, Passage, Timings
from citeqa.service.schemas import Filters as FilterModel
from citeqa.service.spans import Question, analyse_question, sentence_spans

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
    retrieve_k: int = 30
    read_chunks: int = 8
    span_sentences: int = 6  # sentences whose spans become candidates
    no_answer_threshold: float = 0.18


class Answerer:
    def __init__(
        self, index: Index, embedder: Embedder, ranker: SpanRanker, settings: AnswerSettings
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.ranker = ranker
        self.settings = settings

    def with_threshold(self, no_answer_threshold: float) -> Answerer:
        """The same answerer, abstaining below another confidence."""
        settings = replace(self.settings, no_answer_threshold=no_answer_threshold)
        return Answerer(self.index, self.embedder, self.ranker, settings)

    def ask(self, request: AskRequest) -> AskResponse:
        return self.ask_traced(request).response

    def ask_traced(self, request: AskRequest) -> Traced:
        """`ask`, plus what eval needs to score retrieval: the documents searched, in order."""
        began = time.perf_counter()
        resolved = followup.resolve(request.question, request.history)
        question = self.analyse(resolved)
        hits, sentences = self.retrieve(question, request.filters)
        retrieved = time.perf_counter()
        candidates = self.rank_candidates(question, sentences)
        groups = group_candidates(candidates)
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
        question = analyse_question(text)
        return replace(question, weights=self.index.term_weights(question.tokens))

    def retrieve(
        self, question: Question, filters: FilterModel | None
    ) -> tuple[list[RankedChunk], list[ScoredSentence]]:
        """The fused chunk ranking, and the sentences of its best chunks scored against the
        question, best first."""
        vector = self.embedder.encode([question.text])[0]
        hits = self.index.search(question.text, vector, self.settings.retrieve_k, _filters(filters))
        chunks = {c.chunk_id: c for c in self.index.chunks([h.chunk_id for h in hits])}
        ranked = [RankedChunk(chunks[h.chunk_id], h) for h in hits if h.chunk_id in chunks]
        top = [(r.chunk, r.hit.bm25_rank) for r in ranked[: self.settings.read_chunks]]
        return ranked, score_sentences(question, vector, top)

    def rank_candidates(
        self, question: Question, sentences: list[ScoredSentence]
    ) -> list[Candidate]:
        """All candidate spans from the best sentences, scored, best first."""
        candidates = [
            candidate
            for scored in sentences[: self.settings.span_sentences]
            for candidate in candidates_for(
                question, scored, sentence_spans(scored.chunk, scored.sentence)
            )
        ]
        self.ranker.score(candidates)
        return sorted(candidates, key=lambda c: -c.score)

    def _answer(self, group: AnswerGroup) -> Answer:
        best = group.best
        document = self._document(best.sentence.chunk.doc_id)
        return Answer(
            text=best.text,
            score=round(best.score, 4),
            doc_id=document.doc_id,
            title=document.meta.title,
            source=document.meta.source,
            date=document.meta.date,
            start=best.start,
            end=best.end,
            passage=_passage(best.sentence),
            also_in=[
                _citation(c.sentence, self._document(c.sentence.chunk.doc_id)) for c in group.others
            ],
        )

    def _related(self, sentences: list[ScoredSentence]) -> list[Citation]:
        return [_citation(s, self._document(s.chunk.doc_id)) for s in sentences[:RELATED_PASSAGES]]

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


def _passage(scored: ScoredSentence) -> Passage:
    return Passage(start=scored.sentence.start, end=scored.sentence.end, text=scored.sentence.text)


def _citation(scored: ScoredSentence, document: DocumentRecord) -> Citation:
    passage = _passage(scored)
    return Citation(
        doc_id=document.doc_id,
        start=passage.start,
        end=passage.end,
        passage=passage,
        title=document.meta.title,
        source=document.meta.source,
        date=document.meta.date,
    )


def _unique(items: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(items))
