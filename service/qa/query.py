"""What the answering core is asked: a question, how many answers, filters, the chat so far.

The limits here bound every way in (HTTP's schemas, the CLI, eval) and live in one place.
A history turn's answer is bounded by HTTP's MAX_ANSWER_CHARS: only clients send them.
"""

from __future__ import annotations

from dataclasses import dataclass

from citeqa.index.base import SearchFilters

MAX_QUESTION_CHARS = 1000
DEFAULT_TOP_K = 3  # answers shown when a caller does not say
MAX_TOP_K = 20
MAX_HISTORY_TURNS = 10


@dataclass(frozen=True)
class Turn:
    """One earlier exchange of a conversation, so a follow-up can be resolved."""

    question: str
    answer: str | None = None


@dataclass(frozen=True)
class Query:
    question: str
    top_k: int = DEFAULT_TOP_K
    filters: SearchFilters | None = None
    history: tuple[Turn, ...] = ()
