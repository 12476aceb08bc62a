"""Models: what citeqa learned, beside the flow rather than in it.

`ingest/` embeds with the embedder, `service/` reads with the reader and embeds questions;
both import from here, and nothing here imports them at run time. One room per model:

- `runtime/`: what every model shares: the process's environment (set first, see there),
  ONNX Runtime sessions cached by the hash of their weights, threads, paths, spaCy.
- `reader/`: the extractive reader: its tokenizer and weights (`model`), span decoding
  (`spans`), the confidence model over its spans (`confidence`), and `train/`.
- `embedder/`: the sentence embedder (`encoder`).

Weights and data cards live under `data/models/<name>/` (`runtime.paths` finds them).
Only a model's `train/` imports the pipeline (`citeqa.service`) and the question sets
(`citeqa.eval`), to train and calibrate through what serves: it runs from the command line.
"""

from citeqa.models import runtime  # noqa: F401  (first: the process's environment, see there)
