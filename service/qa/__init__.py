"""The answering core: a question in, cited spans out. It knows nothing of HTTP.

`Answerer.ask(Query) -> Result` (answerer.py): resolve a follow-up (followup.py), score the
retrieved chunks' sentences (sentences.py), have the reader read windows around the best
(models/reader/spans.py), describe each span (features.py) for the confidence model
(models/reader/confidence.py), then group agreeing sources and flag conflicting ones
(consolidation.py). The types passed between the steps are in types.py. `service/http`,
the command line and `eval` all call it.
"""
