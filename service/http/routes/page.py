"""The chat: its page at /, and /widget.js, which any site embeds with one <script> tag."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

STATIC = Path(__file__).resolve().parents[2] / "static"

router = APIRouter(include_in_schema=False)


@router.get("/")
def page() -> FileResponse:
    return FileResponse(STATIC / "index.html")


@router.get("/widget.js")
def widget() -> FileResponse:
    return FileResponse(STATIC / "widget.js", media_type="text/javascript")


@router.get("/sources.js")
def sources_view() -> FileResponse:
    return FileResponse(STATIC / "sources.js", media_type="text/javascript")
