"""Development tooling, not shipped code: `make run` (localrun.py, with embedded_redis.py),
the process harness that starts uvicorn, daphne, Celery and beat for `make run`, the tests
and the bench (processes.py), and the protections check (protections/).

The service never depends on it: nothing under project/, files_app/ or schema/ may import it
(import-linter's contract, .importlinter), and the Docker image leaves it out (.dockerignore).
"""
