"""Dispatch is explicit and acyclic: tasks import the services they call, services queue a
file through `files_app.dispatch` by the task's name and never import the tasks."""

import subprocess
import sys

from files_app import dispatch
from tests.support.processes import BASE_DIR, subprocess_env


def fresh_interpreter(code: str) -> str:
    """Run `code` after django.setup() in a new interpreter; its standard output."""
    setup = "import django, sys; django.setup()\n"
    done = subprocess.run(
        [sys.executable, "-c", setup + code],
        cwd=BASE_DIR,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_the_services_do_not_import_the_tasks():
    loaded = fresh_interpreter(
        "import files_app.services\n"
        "print('files_app.tasks' in sys.modules, 'files_app.dispatch' in sys.modules)"
    )
    assert loaded.split() == ["False", "True"]


def test_the_tasks_import_first_and_name_the_task_dispatch_sends():
    loaded = fresh_interpreter(
        "import files_app.tasks\n"
        "print(files_app.tasks.process_file.name, 'files_app.services.processing' in sys.modules)"
    )
    assert loaded.split() == [dispatch.PROCESS_FILE, "True"]
