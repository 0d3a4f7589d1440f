"""The suite's own layout (docs/testing.md, "The layers"): what tests share lives in
tests/support/, so no module of the suite imports a `conftest` or a test module, by its
absolute name or relatively (`from . import conftest`, `from ..conftest import x`); and the
test modules live in the layer folders, the top of tests/ keeping only the few checks of the
repository itself."""

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent
ROOT = TESTS.parent
MOST_MODULES_AT_THE_TOP = 12


def module_name(path: Path, root: Path = ROOT) -> str:
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_of(path: Path, root: Path = ROOT) -> str:
    """The package a relative import in `path` starts from: the module's own for a package's
    `__init__.py`, else the one holding it."""
    name = module_name(path, root)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def absolute(node: ast.ImportFrom, package: str) -> str:
    """The module a `from … import` names, a relative one resolved against `package`."""
    if not node.level:
        return node.module
    base = package.split(".")
    if node.level > 1:
        base = base[: -(node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def imported_modules(path: Path, root: Path = ROOT) -> set[str]:
    """Every module `path` imports, and every name it imports from one (it may be a module:
    `from tests import conftest`), relative imports resolved."""
    modules = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            module = absolute(node, package_of(path, root))
            modules.add(module)
            modules.update(f"{module}.{alias.name}" for alias in node.names)
    return modules


def is_test_or_conftest(module: str) -> bool:
    last = module.rsplit(".", 1)[-1]
    return module.startswith("tests.") and (last == "conftest" or last.startswith("test_"))


def offenders(tests: Path = TESTS, root: Path = ROOT) -> dict[str, list[str]]:
    found = {
        str(path.relative_to(tests)): sorted(
            filter(is_test_or_conftest, imported_modules(path, root))
        )
        for path in tests.rglob("*.py")
    }
    return {path: modules for path, modules in found.items() if modules}


def test_no_module_of_the_suite_imports_a_conftest_or_a_test_module():
    assert offenders() == {}


def test_relative_imports_of_a_conftest_or_a_test_module_are_found(tmp_path):
    tests = tmp_path / "tests"
    (tests / "live").mkdir(parents=True)
    for name in ("__init__.py", "conftest.py", "live/__init__.py", "live/test_ok.py"):
        (tests / name).write_text("from tests.support import graphql\nfrom . import support\n")
    (tests / "live" / "test_a.py").write_text("from ..conftest import user\n")
    (tests / "live" / "test_b.py").write_text("from . import conftest, test_ok\n")
    (tests / "live" / "test_c.py").write_text("from .test_ok import helper\n")
    (tests / "live" / "test_d.py").write_text("from .. import conftest\n")
    (tests / "live" / "test_e.py").write_text("import tests.conftest\n")
    assert offenders(tests, tmp_path) == {
        "live/test_a.py": ["tests.conftest"],
        "live/test_b.py": ["tests.live.conftest", "tests.live.test_ok"],
        "live/test_c.py": ["tests.live.test_ok"],
        "live/test_d.py": ["tests.conftest"],
        "live/test_e.py": ["tests.conftest"],
    }


def test_test_modules_live_in_the_layer_folders():
    at_the_top = sorted(path.name for path in TESTS.glob("test_*.py"))
    assert len(at_the_top) <= MOST_MODULES_AT_THE_TOP, at_the_top
