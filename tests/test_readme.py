"""Every example marked runnable in the README and in docs/*.md (a fenced block tagged
`sh example` or `python example`) runs as written, in order, against a real uvicorn server and
Celery worker: the examples can't drift from the code. See docs/testing.md, "Examples that
run"."""

import re
import subprocess
import sys
from pathlib import Path

import pytest

from files_app import services
from tests.support.docs import documents
from tests.support.processes import BASE_DIR, subprocess_env

EXAMPLE = re.compile(r"^```(sh|python) example\n(.*?)^```$", re.MULTILINE | re.DOTALL)
README_ADDRESS = "127.0.0.1:8000"  # where `make run` serves
BLOCK_TIMEOUT_SECONDS = 60
CURL_PROGRESS = "% Total"


def examples() -> list[tuple[str, str, str]]:
    """(document, language, code) of every runnable example: the README's, then the docs'."""
    return [
        (str(path.relative_to(BASE_DIR)), language, code)
        for path in documents()
        for language, code in EXAMPLE.findall(path.read_text())
    ]


def checkout(folder: Path, token: str) -> Path:
    """A folder that looks like a checkout after `make run`: the README, manage.py and .venv
    (links to the real ones), var/demo-credentials.txt with the test user's token."""
    (folder / "README.md").write_bytes((BASE_DIR / "README.md").read_bytes())
    (folder / "manage.py").symlink_to(BASE_DIR / "manage.py")
    (folder / ".venv").symlink_to(Path(sys.executable).parents[1])
    (folder / "var").mkdir()
    (folder / "var" / "demo-credentials.txt").write_text(f"username=demo\ntoken={token}\n")
    return folder


def run_example(document: str, language: str, code: str, *, folder: Path, env: dict) -> str:
    if language == "sh":
        command = ["bash", "-e", "-o", "pipefail", "-c", code]
    else:
        script = folder / "example.py"
        script.write_text(code)
        command = [sys.executable, str(script)]
    done = subprocess.run(
        command, cwd=folder, env=env, capture_output=True, text=True, timeout=BLOCK_TIMEOUT_SECONDS
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, f"{document}: {language} example failed:\n{code}\n---\n{output}"
    assert '"errors"' not in done.stdout and "Traceback" not in output, (
        f"{document}: {language} example answered an error:\n{code}\n--- output:\n{output}"
    )
    # curl's progress meter (shown when its output is not a terminal) mixed with the JSON.
    assert CURL_PROGRESS not in done.stderr, (
        f"{document}: a curl without -s:\n{code}\n---\n{done.stderr}"
    )
    return done.stdout


def test_the_readme_and_the_docs_mark_shell_and_python_examples():
    found = examples()
    languages = {language for _document, language, _code in found}
    assert {"sh", "python"} <= languages, "the examples' marker was lost"
    documents_with_examples = {document for document, _language, _code in found}
    assert "README.md" in documents_with_examples, "the tour's examples are not run"
    assert any(document.startswith("docs/") for document in documents_with_examples)


@pytest.mark.django_db(transaction=True)
def test_every_example_runs_as_written(uvicorn_server, celery_worker, user, tmp_path):
    token = services.api_token_create(user=user)
    folder = checkout(tmp_path, token)
    env = {**subprocess_env(), "TOKEN": token, "VAR_DIR": str(folder / "var")}
    outputs = {"sh": "", "python": ""}
    for document, language, code in examples():
        code = code.replace(README_ADDRESS, f"127.0.0.1:{uvicorn_server.port}")
        outputs[language] += run_example(document, language, code, folder=folder, env=env)
    print(outputs["sh"], outputs["python"])
    # What the examples promise, checked once: the uploads were stored, the download is the
    # uploaded README, and the gql script saw the newest file reach DONE.
    assert '"uploadFile":{' in outputs["sh"] and '"uploadFiles":[' in outputs["sh"]
    assert (folder / "downloaded-README.md").read_bytes() == (folder / "README.md").read_bytes()
    assert "'status': 'DONE'" in outputs["python"]
