"""Split one ingest over workers: each takes the documents of its own shard.

A document's shard is a hash of its doc_id, so every worker, on any machine, agrees on
who owns it without talking to the others, and a worker prunes only its own documents.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_SPEC = re.compile(r"(\d+)/(\d+)")


@dataclass(frozen=True)
class Shard:
    """Shard `number` (1-based) of `count`."""

    number: int = 1
    count: int = 1

    def __post_init__(self) -> None:
        if not 1 <= self.number <= self.count:
            raise ValueError(f"shard {self.number}/{self.count}: want 1 <= N <= COUNT")

    @classmethod
    def parse(cls, spec: str) -> Shard:
        """ "2/4": the second of four."""
        match = _SPEC.fullmatch(spec.strip())
        if not match:
            raise ValueError(f"shard {spec!r}: want N/COUNT, e.g. 1/2")
        return cls(int(match[1]), int(match[2]))

    def holds(self, doc_id: str) -> bool:
        if self.count == 1:
            return True
        digest = hashlib.blake2b(doc_id.encode(), digest_size=8).digest()
        return int.from_bytes(digest, "big") % self.count == self.number - 1


EVERYTHING = Shard()
