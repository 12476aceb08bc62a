"""ONNX Runtime sessions for torch models, exported on first use (torch_export.py) and
cached on disk.

A model's file is named by a hash of its source weights and of the exporter (this code's
EXPORT_VERSION, torch's, onnx's and ONNX Runtime's versions), so new weights or a new
exporter make a new file and never reuse a stale one, and then by the SHA-256 of its own
bytes: a truncated or altered file fails that check, is removed and exported again, never
loaded. Files are written to a temporary name and renamed, so a crash or a second process
exporting at the same time leaves whole files only. ONNX Runtime loads the file from its path:
from bytes in memory, the encoder's session took 210 MB instead of 110.
"""

from __future__ import annotations

import hashlib
import logging
import os
import uuid
from collections.abc import Callable
from functools import lru_cache
from importlib.metadata import version
from pathlib import Path

import onnxruntime as ort

from citeqa.models.runtime.threads import INTRA_OP_THREADS, session_options

# Bump when the export (torch_export.py), or what a model's `export` callback builds,
# changes. Versions come from the installed packages' metadata, so that finding a cached
# file never imports torch (1-2 s).
EXPORT_VERSION = 1
EXPORTER = (
    f"citeqa-export-{EXPORT_VERSION} torch-{version('torch')} onnx-{version('onnx')} "
    f"onnxruntime-{ort.__version__}"
)


def cached_session(
    name: str,
    sources: list[Path],
    export: Callable[[Path], None],
    cache: Path,
    threads: int = INTRA_OP_THREADS,
) -> ort.InferenceSession:
    """The session of model `name`, built from `sources` by `export(path)` (which writes an
    ONNX file at `path`) unless `cache` already holds a good export of these sources; each
    call on `threads` threads."""
    prefix = f"{name}-{_key(sources)}-"
    path = next((p for p in cache.glob(f"{prefix}*.onnx") if _intact(p, prefix)), None)
    if path is None:
        path = _export_to(cache, prefix, export)
    options = session_options(threads)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def quantize_weights(source: Path, target: Path, keep: list[str]) -> None:
    """int8 dynamic quantisation of every matrix product with a stored weight matrix, per
    output channel, but the nodes named in `keep`. Products of two activations (attention's
    scores and mixing) stay fp32: quantising them too cost the reader 1.6 F1 points, weights
    per tensor instead of per channel 4.4 (bench/README.md, "/ask on ONNX Runtime")."""
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    graph = onnx.load(str(source)).graph
    if missing := set(keep) - {n.name for n in graph.node}:
        raise ValueError(f"no node {missing} in {source} to keep in fp32")
    stored = {t.name for t in graph.initializer}
    activations = [
        n.name for n in graph.node if n.op_type == "MatMul" and not stored & set(n.input)
    ]
    # ONNX Runtime advises its pre-processing (quant_pre_process: shape inference and graph
    # optimisation) before quantising, on the root logger, at every first `serve`. It
    # changes the exported graph, and the reader's confidence model is refitted on today's
    # export: it is to be measured together with the new reader in the performance issue.
    # Until then the advice is left out, here where it is emitted, for this call only.
    root = logging.getLogger()
    root.addFilter(_no_preprocessing_advice)
    try:
        quantize_dynamic(
            str(source),
            str(target),
            weight_type=QuantType.QInt8,
            per_channel=True,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=activations + keep,
        )
    finally:
        root.removeFilter(_no_preprocessing_advice)


def _no_preprocessing_advice(record: logging.LogRecord) -> bool:
    return not record.getMessage().startswith("Please consider to run pre-processing")


def _key(sources: list[Path]) -> str:
    digest = hashlib.sha256(EXPORTER.encode())
    for source in sources:
        digest.update(file_sha256(source))
    return digest.hexdigest()[:20]


def file_sha256(path: Path) -> bytes:
    """`path`'s SHA-256, read once per process and version of the file (`_file_digest`)."""
    stat = path.stat()
    return _file_digest(path, stat.st_ino, stat.st_size, stat.st_mtime_ns)


@lru_cache(maxsize=16)
def _file_digest(path: Path, inode: int, size: int, mtime_ns: int) -> bytes:
    """Hashing the base model takes ~0.2 s: once per process and version of the file (new
    weights are written to a new file and renamed: a new inode)."""
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").digest()


def _intact(path: Path, prefix: str) -> bool:
    """Whether the file's bytes hash to the name it was given; a damaged file is removed."""
    if _content_digest(path) == path.name.removeprefix(prefix).removesuffix(".onnx"):
        return True
    path.unlink(missing_ok=True)
    return False


def _content_digest(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()[:32]


def _export_to(cache: Path, prefix: str, export: Callable[[Path], None]) -> Path:
    cache.mkdir(parents=True, exist_ok=True)
    tmp = cache / f".{prefix}{uuid.uuid4().hex}.tmp"
    try:
        export(tmp)
        with tmp.open("rb+") as f:
            os.fsync(f.fileno())
        path = cache / f"{prefix}{_content_digest(tmp)}.onnx"
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
