"""The chat: its page at /, and /widget.js, which any site embeds with one <script> tag."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from citeqa.service.qa.sureness import BANDS

STATIC = Path(__file__).resolve().parents[2] / "static"
# Where widget.js takes the sureness bands: one source for the chat and `citeqa ask`.
SURENESS_SLOT = "__CITEQA_SURENESS__"

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/widget.js")
def widget() -> Response:
    return Response(widget_script(), media_type="text/javascript")


@cache
def widget_script() -> str:
    """widget.js with the sureness bands of service/qa/sureness.py written in."""
    script = (STATIC / "widget.js").read_text(encoding="utf-8")
    if SURENESS_SLOT not in script:
        raise RuntimeError(f"widget.js has no {SURENESS_SLOT} to fill")
    bands = [{"from": b.floor, "words": b.words, "unsure": b.unsure} for b in BANDS]
    return script.replace(SURENESS_SLOT, json.dumps(bands), 1)


@router.get("/sources.js")
def sources_view() -> FileResponse:
    return FileResponse(STATIC / "sources.js", media_type="text/javascript")
