"""ONNX Runtime's threading, for every model session (OpenMP's is set in __init__.py).

The models run in ONNX Runtime, one thread per call: the
server computes questions side by side on its ask slots (service/admission.py) instead of
one question on both cores, which measured no faster under load (bench/README.md, "/ask on
ONNX Runtime": threads).
"""

from __future__ import annotations

import onnxruntime as ort

# Threads of one model call (bench/README.md, "/ask on ONNX Runtime": threads).
INTRA_OP_THREADS = 1


def session_options() -> ort.SessionOptions:
    options = ort.SessionOptions()
    options.intra_op_num_threads = INTRA_OP_THREADS
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    # Threads that wait sleep, as OpenMP's do above: spinning starves the other slots.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return options
