"""Training the reader (`citeqa train-reader`, `make train-reader`): torch, only here.

- `config`: `TrainConfig`, the defaults the command line shows (no torch);
- `data`: question sets into groups of passages (shared normalisation, hard negatives);
- `loop`: tokenised targets, the span loss, batches, the optimiser and checkpoints;
- `distill`: a smaller student from a teacher's logits;
- `calibrate`: the confidence model and threshold, fitted on what `Answerer.candidates`
  serves;
- `run`: the whole run, its held-out scores and progress log.
"""
