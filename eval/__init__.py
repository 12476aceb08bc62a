"""Offline evaluation of citeqa: question sets in, metrics, reports and plots out.

Eval sits beside HTTP and the CLI as a third caller of the one `Answerer` API
(`Answerer.ask_traced`, the same code path `/ask` runs), so what it measures is exactly
what users get. `datasets` reads question sets, `metrics` holds the pure scoring
functions, `run` asks every question and scores it, `report` writes the results.
`cli` holds eval's commands and `main` puts the whole `citeqa` command together: here,
because eval may import service and service never imports eval.
"""

import citeqa.ingest.runtime  # noqa: F401  (first: the process's environment, see there)
