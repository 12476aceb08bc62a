"""Offline evaluation of citeqa: question sets in, metrics, reports and plots out.

Eval sits beside HTTP and the CLI as a third caller of the one `Answerer` API
(`Answerer.ask`, the code path `/ask` runs), so what it measures is exactly what users
get. `datasets` reads question sets, `corpus` ingests a set's documents into an index,
`metrics` holds the pure scoring functions, `run` asks every question and scores it,
`report` and `summary` write the results. Eval is a leaf: it imports service, and only
the command line (cli/) and the models' training import it.
"""

import citeqa.models.runtime  # noqa: F401  (first: the process's environment, see there)
