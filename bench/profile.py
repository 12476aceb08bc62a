"""Where `/ask` spends its time: pyinstrument over `Answerer.ask` on the sample corpus.

    python -m bench.profile [--requests 200]

The questions of eval/questions.jsonl in a loop, in process (the HTTP layer has its own rows
in bench.latency), after 5 untimed ones. Prints pyinstrument's call tree.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from pyinstrument import Profiler

from bench.common import ingest_sample
from bench.latency import load_questions
from citeqa.models.embedder.encoder import Embedder
from citeqa.service.qa.query import Query
from citeqa.service.settings import Settings
from citeqa.service.wiring import build_answerer

# Samples every 0.5 ms: a question takes tens of ms, and the default 1 ms misses its
# smaller steps.
INTERVAL_S = 0.0005


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    questions = load_questions(50)
    embedder = Embedder(Settings().cache)
    with tempfile.TemporaryDirectory(prefix="citeqa-profile-") as tmp:
        settings, _ = ingest_sample(Path(tmp) / "index", embedder)
        answerer = build_answerer(settings, embedder)
        for question in questions[:5]:
            answerer.ask(Query(question))
        profiler = Profiler(interval=INTERVAL_S)
        with profiler:
            for i in range(args.requests):
                answerer.ask(Query(questions[i % len(questions)]))
    print(profiler.output_text(unicode=False, color=False))


if __name__ == "__main__":
    main()
