"""Collected static files are read by another user than the one who collected them: compose's
nginx (uid 101) serves what `migrate` collected, and the image's `app` reads what root
collected at build time. Uploads are 0640 (FILE_UPLOAD_PERMISSIONS); static files must not be."""

import os
import re
import stat
import subprocess
import sys
from pathlib import Path

from tests.support.deploy import PRODUCTION_ENV
from tests.support.processes import BASE_DIR


def dockerfile() -> str:
    """The Dockerfile, continuation lines joined."""
    return (BASE_DIR / "Dockerfile").read_text().replace("\\\n", " ")


def dockerfile_collectstatic() -> str:
    """The Dockerfile's `RUN … collectstatic …` command."""
    text = dockerfile()
    runs = [line[4:] for line in text.splitlines() if line.startswith("RUN ")]
    [command] = [run for run in runs if "collectstatic" in run]
    return command


def unreadable_by_others(root: Path) -> list[str]:
    bad = []
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        needed = stat.S_IROTH | (stat.S_IXOTH if path.is_dir() else 0)
        if mode & needed != needed:
            bad.append(f"{path.relative_to(root)} {stat.filemode(mode)}")
    return bad


def test_the_images_collected_static_files_are_world_readable(tmp_path):
    """The Dockerfile's own collectstatic (as root, before `USER app`), into a scratch
    STATIC_ROOT: every file, compressed copies included, readable by any user."""
    command = dockerfile_collectstatic()
    assert re.search(r"\bpython manage\.py collectstatic\b", command), command
    assert "USER app" in dockerfile().split(command)[1]
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION_ENV}
    clean = {k: v for k, v in clean.items() if k not in ("DEBUG", "DATABASE_URL", "STATIC_ROOT")}
    static_root = tmp_path / "static"
    env = {
        **clean,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "DJANGO_SETTINGS_MODULE": "project.settings",
        "STATIC_ROOT": str(static_root),
    }
    result = subprocess.run(
        ["sh", "-c", command.replace("/tmp/build.sqlite3", str(tmp_path / "build.sqlite3"))],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    collected = [p for p in static_root.rglob("*") if p.is_file()]
    assert any(p.suffix == ".gz" for p in collected) and any(p.suffix == ".js" for p in collected)
    assert unreadable_by_others(static_root) == []
