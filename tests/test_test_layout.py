"""The suite's own layout (docs/conventions.md): what tests share lives in tests/support/, so
no module of the suite imports a `conftest` or a test module."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def imported_modules(path: Path) -> set[str]:
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def is_test_or_conftest(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module.startswith("tests.") and (last == "conftest" or last.startswith("test_"))


def test_no_module_of_the_suite_imports_a_conftest_or_a_test_module():
    offenders = {
        str(path.relative_to(TESTS)): sorted(filter(is_test_or_conftest, imported_modules(path)))
        for path in TESTS.rglob("*.py")
    }
    assert {path: modules for path, modules in offenders.items() if modules} == {}
