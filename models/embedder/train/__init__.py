"""Training the embedder (`citeqa train-embedder`): sentence-transformers' own trainer and
its MultipleNegativesRankingLoss, as the multi-qa MiniLM models were trained, so that a
question lands near the sentence and the paragraph that answer it.

- `pairs`: question sets into (question, positive, hard negative) triplets;
- `run`: the run, and the fine-tuned layers saved beside the data card.
"""
