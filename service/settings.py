"""The one settings object. Every field reads `CITEQA_<NAME>` from the environment; CLI
flags override it."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


def _default_index() -> Path:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "citeqa" / "index"


def sample_corpus() -> Path:
    """The five shipped articles, inside the installed package."""
    return Path(str(files("citeqa.data") / "articles"))


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CITEQA_")

    index: Path = Field(default_factory=_default_index)
    host: str = "127.0.0.1"
    port: int = 8000
    # Allowed origins for embedding the widget on other sites; empty means CORS is off.
    cors_origins: list[str] = []

    chunk_size: int = 1000
    retrieve_k: int = 30  # chunks fused from each retriever
    read_chunks: int = 8  # chunks whose sentences are scored
    # The reader reads this many windows: the best sentences, each with `window_context`
    # neighbours on either side. Its cost grows with every token it reads. On the SQuAD
    # calibration articles (26 Nov 2026) 2, 3 and 4 windows gave the same EM (.423) and
    # F1 (.527, .534, .526), and 2 half the latency of 4.
    read_windows: int = 2
    window_context: int = 1
    # Measured with `python -m bench.fusion` (gold-paragraph R@1 on the SQuAD half: BM25
    # alone .739, dense alone .642, 1:1 .764, 1:0.5 .755) and on the project set, where
    # dense weights above 0.5 cost EM: BM25 leads on news.
    fusion_bm25: float = 1.0
    fusion_dense: float = 0.5
    # A folder with the reader's weights and confidence model (`citeqa train-reader`);
    # the default ships in the package, data/models/reader.
    reader: Path | None = None
    # Below this calibrated confidence citeqa says it has no answer. Default: the threshold
    # fitted with the reader's confidence model (data/models/reader/confidence.json).
    no_answer_threshold: float | None = None
