"""graphql-http's server audit (the npm package, pinned in frontend/package.json) against the
real uvicorn server: the GraphQL-over-HTTP spec's MUSTs all pass, and all 48 of its SHOULDs
and MAYs (docs/api.md, "GraphQL over HTTP", says what each choice is)."""

import json
import subprocess
import sys

import pytest

from tests.support.processes import BASE_DIR, subprocess_env

AUDIT_SCRIPT = BASE_DIR / "tests" / "api" / "graphql_http_audit.mjs"
# The audit's count of SHOULDs and MAYs; the bar is 46, and every one of them passes.
SHOULD_AND_MAY = 48


def run_audit(url: str, token: str) -> list[dict]:
    finished = subprocess.run(
        [sys.executable, "-m", "tools.node", "node", str(AUDIT_SCRIPT), url],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=BASE_DIR,
        env={**subprocess_env(), "GRAPHQL_TOKEN": token},
    )
    assert finished.returncode == 0, finished.stderr
    return [json.loads(line) for line in finished.stdout.splitlines() if line.startswith("{")]


@pytest.mark.django_db(transaction=True)
def test_graphql_http_audit(uvicorn_server, token):
    results = run_audit(f"{uvicorn_server.url}/graphql/", token)
    musts = [result for result in results if result["name"].startswith("MUST")]
    others = [result for result in results if not result["name"].startswith("MUST")]
    assert musts and [result for result in musts if result["status"] != "ok"] == []
    unmet = {result["id"]: result["reason"] for result in others if result["status"] != "ok"}
    assert len(others) == SHOULD_AND_MAY and unmet == {}
