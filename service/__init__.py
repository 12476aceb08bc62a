"""Service: the last step of citeqa's flow.

question -> `Answerer` (retrieve from the `Index`, pick sentences, extract and rank spans,
consolidate sources) -> `AskResponse` with verbatim, offset-checked citations. The HTTP
API (`api.py`), the widget (`static/`), the CLI (`cli.py`) and `eval` all call `Answerer`.
"""

import citeqa.ingest.runtime  # noqa: F401  (first: the process's environment, see there)
