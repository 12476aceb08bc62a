"""What the routes take from the app, as FastAPI dependencies.

`create_app` keeps the settings, the live answerer and the admission gate on the app with
`attach`; routes and auth declare what they use as parameters (`answerer: Current`) and
never read `request.app.state` themselves. One module knows where these live, and a
route's signature says what it depends on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, FastAPI, Request

from citeqa.service.admission import Admission
from citeqa.service.feedback.rate import RateLimit
from citeqa.service.feedback.store import FeedbackStore
from citeqa.service.live import LiveAnswerer
from citeqa.service.qa.answerer import Answerer
from citeqa.service.settings import Settings


def attach(
    app: FastAPI,
    settings: Settings,
    live: LiveAnswerer,
    admission: Admission,
    feedback: FeedbackStore,
    feedback_rate: RateLimit,
) -> None:
    app.state.settings = settings
    app.state.live = live
    app.state.admission = admission
    app.state.feedback = feedback
    app.state.feedback_rate = feedback_rate


def _settings(request: Request) -> Settings:
    return request.app.state.settings


def _live(request: Request) -> LiveAnswerer:
    return request.app.state.live


def _admission(request: Request) -> Admission:
    return request.app.state.admission


def _feedback(request: Request) -> FeedbackStore:
    return request.app.state.feedback


def _feedback_rate(request: Request) -> RateLimit:
    return request.app.state.feedback_rate


AppSettings = Annotated[Settings, Depends(_settings)]
Live = Annotated[LiveAnswerer, Depends(_live)]
Admitted = Annotated[Admission, Depends(_admission)]
Feedback = Annotated[FeedbackStore, Depends(_feedback)]
FeedbackRate = Annotated[RateLimit, Depends(_feedback_rate)]


def _answerer(live: Live) -> Answerer:
    """The answerer over the newest index version; a request keeps it to its end."""
    return live.current()


Current = Annotated[Answerer, Depends(_answerer)]
