"""The answering core: a question in, cited spans out. It knows nothing of HTTP.

`Answerer.ask(Query) -> Result` (answerer.py): resolve a follow-up (followup.py), score the
retrieved chunks' sentences (sentences.py), read windows around the best (reader.py), give
each span a calibrated confidence (confidence.py), then group agreeing sources and flag
conflicting ones (consolidation.py). `service/http`, the CLI and `eval` all call it.
"""
