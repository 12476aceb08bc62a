"""POST /ask: a question in, cited answers out. All answering happens in `Answerer`."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request, Response

from citeqa.service.admission import OverloadedError
from citeqa.service.http.deps import Admitted, AskRate, Current
from citeqa.service.http.middleware.logs import note
from citeqa.service.http.rate import check_rate
from citeqa.service.http.schemas import (
    COMMON_RESPONSES,
    AskRequest,
    AskResponse,
    Problem,
    problem,
    to_query,
    to_response,
)

router = APIRouter()

ASK_RESPONSES = {
    **COMMON_RESPONSES,
    429: problem(
        "Over CITEQA_ASK_PER_MINUTE questions from this client address in the last minute; "
        "retry after Retry-After seconds."
    ),
    503: {
        "model": Problem,
        "content": {"text/plain": {}},
        "description": "Busy: the question could not start within CITEQA_ASK_BUDGET_S (JSON), "
        "or over CITEQA_MAX_CONNECTIONS connections, or CITEQA_MAX_CONNECTIONS_PER_CLIENT "
        "from this client address (plain text, from the server).",
    },
}


# Handlers are plain `def`: FastAPI runs them in its thread pool, so requests are served
# concurrently while the model works.
@router.post("/ask", response_model=AskResponse, responses=ASK_RESPONSES)
def ask(
    body: AskRequest, answerer: Current, admission: Admitted, rate: AskRate, request: Request
) -> Response:
    """Answer a question with verbatim spans from the articles and their citations.
    Bounded per client address (CITEQA_ASK_PER_MINUTE)."""
    # Counted once valid and before the queue: a client over its share waits for nobody.
    check_rate(rate, request, "questions", "ASK_PER_MINUTE")
    try:
        result = admission.run(lambda: answerer.ask(to_query(body)))
    except OverloadedError as error:
        raise HTTPException(
            status_code=503, detail=str(error), headers={"Retry-After": "1"}
        ) from None
    note(request, question=body.question, answers=len(result.answers), no_answer=result.no_answer)
    # Serialised here, once: FastAPI would validate the model again and build the JSON
    # through dicts, ~1.5 ms a question (bench/README.md, "/ask on ONNX Runtime": profile).
    return Response(to_response(result).model_dump_json(), media_type="application/json")
