"""The extractive reader: a question and excerpts in, answer spans with exact offsets out.

- `model`: the tokenizer's windows, the weights (torch, to train and export) and the ONNX
  Runtime session that serves them;
- `spans`: `Reader.read`, the best spans of every window, one softmax over all of them;
- `confidence`: `Confidence`, the fitted model from a span's features to the probability
  that it is exactly right, with the no-answer threshold;
- `train/`: `citeqa train-reader`: data, losses, the loop, distillation, calibration.

Weights, confidence model and data card: `data/models/reader/` (`runtime.paths.shipped_reader`).
"""
