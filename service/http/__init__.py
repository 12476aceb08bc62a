"""The HTTP API: FastAPI routes over `service.qa`, and the limits around them.

app.py builds the app (`create_app`), deps.py hands routes what they use, routes/ holds one
router per job, middleware/ what wraps every request, schemas.py the HTTP contract and its
mapping to the core's types.
"""
