"""The `citeqa` command: the top of the tree, the one place that imports every package.

`app` puts the commands on one typer app: `service` (ingest, ask, serve, index), `web`
(sources, refresh), `evaluate` (eval), `feedback` (feedback export, stats) and `train`
(train-reader). `common` holds what they share: the settings a command runs with and the
index errors said in words. Flags override `CITEQA_*` settings.
"""

import citeqa.models.runtime  # noqa: F401  (first: the process's environment, see there)
