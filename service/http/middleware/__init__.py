"""What wraps every request: body limits, strict JSON, request logs, metrics, security
headers. Each module is one ASGI middleware."""
