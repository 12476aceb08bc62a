"""How models run, decided once per process: threads, the offline flags, model paths,
cache folders and ONNX export. torch and transformers' models load only to train or export.

The environment below is set when this package is first imported, and every citeqa
package's `__init__` imports it first, so it is in place before any module of theirs loads
faiss, torch or ONNX Runtime, whatever the order of imports:
- OpenMP reads its environment once, when it loads. faiss and torch each bring one; on 2
  cores OpenMP's default spin-wait collapsed whenever a second thread was busy (one query
  embed under torch: 17 ms -> 540 ms), so its threads wait passively.
- No model hub, ever: every model comes from an installed package or from this repo.
- No bar for loading weights from a local file (transformers draws one, even into a log):
  it takes well under a second, on the first use of a model only.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
