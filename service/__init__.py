"""Service: the last step of citeqa's flow.

`Query` -> `Answerer` (qa/: retrieve from the `Index`, pick sentences, extract and rank
spans, consolidate sources) -> `Result` with verbatim, offset-checked citations. The HTTP
API (http/), the widget (static/), the command line (cli/) and `eval` all call `Answerer`;
wiring.py builds it from the settings, live.py keeps it on the newest index version.
"""

import citeqa.models.runtime  # noqa: F401  (first: the process's environment, see there)
