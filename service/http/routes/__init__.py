"""The HTTP routes, one APIRouter per job: ask, documents, feedback, ops."""
