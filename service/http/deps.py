"""What the routes take from the app, as FastAPI dependencies.

`create_app` builds one `Services` and keeps it on the app with `attach`; routes and auth
declare what they use as parameters (`answerer: Current`) and never read
`request.app.state` themselves. One module knows where these live, and a route's
signature says what it depends on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from citeqa.ingest.web.sources import SourceStore
from citeqa.service.admission import Admission
from citeqa.service.feedback.store import FeedbackStore
from citeqa.service.http.rate import RateLimit
from citeqa.service.jobs import Jobs
from citeqa.service.live import LiveIndex
from citeqa.service.qa.answerer import Answerer
from citeqa.service.refresh import Refresher
from citeqa.service.settings import Settings


@dataclass
class Services:
    """Everything a request may use, built once per app."""

    settings: Settings
    live: LiveIndex
    jobs: Jobs
    admission: Admission
    feedback: FeedbackStore
    feedback_rate: RateLimit
    ask_rate: RateLimit
    sources: SourceStore
    refresher: Refresher


def attach(app: FastAPI, services: Services) -> None:
    app.state.services = services


def services(request: Request) -> Services:
    return request.app.state.services


Served = Annotated[Services, Depends(services)]


def _part(name: str) -> Callable[[Services], object]:
    """A dependency giving the app's `Services.<name>`."""

    def part(s: Served) -> object:
        return getattr(s, name)

    return part


AppSettings = Annotated[Settings, Depends(_part("settings"))]
Live = Annotated[LiveIndex, Depends(_part("live"))]
WriteJobs = Annotated[Jobs, Depends(_part("jobs"))]
Admitted = Annotated[Admission, Depends(_part("admission"))]
Feedback = Annotated[FeedbackStore, Depends(_part("feedback"))]
FeedbackRate = Annotated[RateLimit, Depends(_part("feedback_rate"))]
AskRate = Annotated[RateLimit, Depends(_part("ask_rate"))]
Sources = Annotated[SourceStore, Depends(_part("sources"))]
Refreshing = Annotated[Refresher, Depends(_part("refresher"))]


def _answerer(live: Live) -> Answerer:
    """The answerer over the newest index version; a request keeps it to its end."""
    return live.current()


Current = Annotated[Answerer, Depends(_answerer)]
