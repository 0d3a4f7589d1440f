"""Takes each reliability and security protection (the numbered items of docs/reliability.md)
out in turn and runs the tests meant to catch its absence: every one of them must fail. A test
that still passes without the protection it claims to prove proves nothing.

    make protections                      # all of them (about 30 minutes on 2 cores)
    make protections ONLY=websocket       # those whose name contains "websocket"
    python -m tools.protections --check   # only that each text and test is found (seconds)

Each protection is removed by replacing its source text (which must appear exactly once, so
a refactor that moves it makes this script say so instead of testing nothing). Files are
restored afterwards, also on Ctrl-C. The catalogue is
every module of this package with a `PROTECTIONS` list (one per group of items), gathered
in item order; `paths.py` names the files. Runs against the same database and Redis as `make test`
(DATABASE_URL, REDIS_URL); tests needing the machine's PostgreSQL cluster skip on SQLite
and are reported as such. Not part of `make test`: it runs the slow tests many times over.
"""

import argparse
import ast
import importlib
import pkgutil
import re
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
PYTEST = [sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "--reuse-db"]
TEST_TIMEOUT_SECONDS = 600
NOT_CATALOGUES = {"__main__", "paths", "runner"}


@dataclass
class Protection:
    name: str  # the item of docs/reliability.md it protects, and what is taken out
    edits: list[tuple[str, str, str]]  # (file, text, replacement)
    tests: list[str]


def item_number(protection: Protection) -> int:
    return int(re.match(r"\d+", protection.name).group())


def catalogue() -> list[Protection]:
    """Every catalogue module's protections, in the order of docs/reliability.md's items."""
    package = Path(__file__).resolve().parent
    protections = []
    for module in pkgutil.iter_modules([str(package)]):
        if module.name not in NOT_CATALOGUES:
            protections += importlib.import_module(f"tools.protections.{module.name}").PROTECTIONS
    return sorted(protections, key=item_number)


def say(line: str) -> None:
    print(line, flush=True)  # progress as it happens, also when piped to a file


def run_tests(test: str) -> str:
    """'passed', 'FAILED', 'skipped' or 'error' (collection error, timeout)."""
    try:
        done = subprocess.run(
            [*PYTEST, test], cwd=ROOT, capture_output=True, text=True, timeout=TEST_TIMEOUT_SECONDS
        )
    except subprocess.TimeoutExpired:
        return "error"
    if done.returncode == 1:
        return "FAILED"
    if done.returncode == 0:
        return "skipped" if " skipped" in done.stdout and " passed" not in done.stdout else "passed"
    return "error"


def apply(edits, write: bool = True) -> dict[Path, str]:
    """Edit the files in memory, check every text first, then write: a missing text leaves
    the tree untouched. `write=False` only checks."""
    originals: dict[Path, str] = {}
    edited: dict[Path, str] = {}
    for file, text, replacement in edits:
        path = ROOT / file
        current = edited.get(path) or originals.setdefault(path, path.read_text())
        if current.count(text) != 1:
            raise SystemExit(
                f"{file}: expected the protection text once, found it "
                f"{current.count(text)} times: {text!r}"
            )
        edited[path] = current.replace(text, replacement)
    for path, source in edited.items():
        if write:
            path.write_text(source)
    return originals


def defined_names(path: Path) -> set[str]:
    """The functions and classes a test module defines, at any depth."""
    tree = ast.parse(path.read_text(), str(path))
    kinds = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)
    return {node.name for node in ast.walk(tree) if isinstance(node, kinds)}


def unknown_tests(protection: Protection) -> list[str]:
    """The tests a protection names that do not exist: a module moved or a test renamed would
    otherwise only show at the next full run, as a collection error."""
    unknown = []
    for test in protection.tests:
        file, *names = test.split("::")
        path = ROOT / file
        if not path.is_file():
            unknown.append(f"{test}: no such file")
        elif missing := [n for n in names if n.split("[")[0] not in defined_names(path)]:
            unknown.append(f"{test}: {file} defines no {missing[0].split('[')[0]}")
    return unknown


def check_texts(chosen: list[Protection]) -> int:
    """Each protection's text found exactly once, and each of its tests where it names it, in
    seconds and without running a test: worth running after a refactor or `ruff format` moved
    code around, or a test module moved."""
    missing = 0
    for protection in chosen:
        problems = [f"no test {test}" for test in unknown_tests(protection)]
        try:
            apply(protection.edits, write=False)
        except SystemExit as error:
            problems.append(str(error))
        if problems:
            missing += 1
            say(f"MISSING {protection.name}: {'; '.join(problems)}")
    say(
        f"{len(chosen) - missing} of {len(chosen)} protections found their text once "
        "and their tests"
    )
    return 1 if missing else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", default="", help="protections whose name contains this")
    parser.add_argument("--check", action="store_true", help="only find each text, run no test")
    args = parser.parse_args()
    chosen = [p for p in catalogue() if args.only.lower() in p.name.lower()]
    if args.check:
        return check_texts(chosen)
    for test in sorted({test for protection in chosen for test in protection.tests}):
        if (outcome := run_tests(test)) not in ("passed", "skipped"):
            say(f"baseline: {test} is {outcome} with every protection in place: fix it first")
            return 1
    missed = 0
    for protection in chosen:
        started = time.monotonic()
        originals = apply(protection.edits)
        try:
            outcomes = {test: run_tests(test) for test in protection.tests}
        finally:
            for path, source in originals.items():
                path.write_text(source)
        if all(outcome == "FAILED" for outcome in outcomes.values()):
            verdict = "caught"
        elif "skipped" in outcomes.values() and set(outcomes.values()) <= {"FAILED", "skipped"}:
            verdict = "skipped"  # not proven here (SQLite, say); not a miss either
        else:
            verdict, missed = "MISSED", missed + 1
        say(f"{verdict:7} {protection.name}  ({time.monotonic() - started:.0f} s)")
        for test, outcome in outcomes.items():
            say(f"        {outcome:8} {test}")
    say(f"{missed} of {len(chosen)} protections missed by their tests")
    return 1 if missed else 0
