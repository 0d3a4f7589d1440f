"""docs/settings.md, generated from `.env.example`: the one place each setting is described.

`.env.example` lists every environment variable the service reads, by topic (a `# --- Topic ---`
line starts one), each right under the comment that says what it does and ends with
`Default: …`; a comment followed by a blank line is a note on its topic. This tool writes
docs/settings.md from it, with where each variable is read found in the code (not written by
hand), so the description, the default and the readers can't drift apart. `--check` lists what
disagrees:
- a variable the code reads that `.env.example` does not describe, or one it describes that
  nothing reads;
- a described default that is not the code's (where the code's is a plain value);
- a docs/settings.md that is not what this tool writes.

    .venv/bin/python -m tools.settings_doc           # write docs/settings.md (make settings-doc)
    .venv/bin/python -m tools.settings_doc --check   # exit 1, saying what disagrees
"""

import argparse
import ast
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
ENV_EXAMPLE = BASE_DIR / ".env.example"
SETTINGS_DOC = BASE_DIR / "docs" / "settings.md"
SETTINGS_PACKAGE = BASE_DIR / "project" / "settings"
COMPOSE_FILE = BASE_DIR / "docker-compose.yml"
# The Python that reads the environment: the service, and `make run`.
CODE_PATTERNS = ("project/**/*.py", "files_app/**/*.py", "schema/**/*.py", "tools/localrun.py")
# Read by a program of its own, not by our code or docker-compose.yml.
READ_ELSEWHERE = {"FORWARDED_ALLOW_IPS": "uvicorn (`--proxy-headers`)"}

TOPIC = re.compile(r"^# --- (?P<title>.+?) -*$")
VARIABLE = re.compile(r"^(?P<name>[A-Z][A-Z0-9_]*)=(?P<value>.*)$")
DEFAULT = re.compile(r"(?:^|(?<=[.;:)] ))Default: ")
ENV_HELPERS = {"env_bool", "env_int", "env_float", "env_list"}
SIZES = {"KIB": 1024, "MIB": 1024**2, "GIB": 1024**3}
UNKNOWN = object()  # a default that is not a plain value (another setting, a path, …)


@dataclass
class Setting:
    name: str
    description: str
    default: str
    line: int


@dataclass
class Topic:
    title: str
    notes: list[str] = field(default_factory=list)
    settings: list[Setting] = field(default_factory=list)


@dataclass(frozen=True)
class Read:
    """One place the code reads a variable, with the default it falls back to there."""

    path: str
    default: object  # UNKNOWN, None (no default), or a bool, number or string


class SourceError(ValueError):
    """`.env.example` is not in the shape this tool reads."""


def parse_env_example(text: str) -> list[Topic]:
    topics: list[Topic] = []
    comment: list[str] = []
    for number, line in enumerate(text.splitlines(), 1):
        line = line.rstrip()
        if heading := TOPIC.match(line):
            topics.append(Topic(heading["title"].strip()))
            comment = []
        elif line.startswith("#"):
            comment.append(line[1:].strip())
        elif variable := VARIABLE.match(line):
            if not topics:
                raise SourceError(f".env.example:{number}: {variable['name']} is under no topic")
            topics[-1].settings.append(setting_from(variable["name"], comment, number))
            comment = []
        elif not line:
            if comment and topics:
                topics[-1].notes.append(" ".join(comment))
            comment = []
        else:
            raise SourceError(f".env.example:{number}: neither a comment nor NAME=value: {line!r}")
    return topics


def setting_from(name: str, comment: list[str], number: int) -> Setting:
    text = " ".join(part for part in comment if part)
    found = list(DEFAULT.finditer(text))
    if len(found) != 1:
        raise SourceError(
            f".env.example:{number}: {name} needs a comment right above it, ending with one "
            '"Default: …"'
        )
    description, default = text[: found[0].start()].strip(), text[found[0].end() :].strip()
    if not description or not default:
        raise SourceError(f".env.example:{number}: {name}: say what it does, then its default")
    return Setting(name, description, default.removesuffix("."), number)


# --- What the code reads -------------------------------------------------------------------


def code_reads(base_dir: Path = BASE_DIR) -> dict[str, list[Read]]:
    reads: dict[str, list[Read]] = {}
    paths = sorted({path for pattern in CODE_PATTERNS for path in base_dir.glob(pattern)})
    for path in paths:
        for name, default in reads_in(path.read_text(), str(path)):
            reads.setdefault(name, []).append(Read(str(path.relative_to(base_dir)), default))
    compose = base_dir / COMPOSE_FILE.name
    if compose.exists():
        for name in sorted(set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", compose.read_text()))):
            reads.setdefault(name, []).append(Read(compose.name, UNKNOWN))
    for name, reader in READ_ELSEWHERE.items():
        reads.setdefault(name, []).append(Read(reader, UNKNOWN))
    return reads


def reads_in(source: str, filename: str = "<source>") -> list[tuple[str, object]]:
    """The variables a module reads (`env_*("X", default)`, `os.environ.get("X")`, `… or
    default`, `os.getenv`, `os.environ["X"]`), with their defaults. A name given as a
    module-level string constant counts too."""
    tree = ast.parse(source, filename)
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        if isinstance(node.value.value, str)
        for target in node.targets
        if isinstance(target, ast.Name)
    }
    fallbacks = {
        id(node.values[0]): node.values[1]
        for node in ast.walk(tree)
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or)
    }

    def variable(node) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Name):
            return constants.get(node.id)
        return None

    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and node.args:
            function = dotted(node.func)
            name = variable(node.args[0])
            if name is None:
                continue
            if function.rsplit(".", 1)[-1] in ENV_HELPERS:
                helper = function.rsplit(".", 1)[-1]
                default = value_of(node.args[1]) if len(node.args) > 1 else ""
                found.append((name, typed(helper, default)))
            elif function in {"os.environ.get", "os.getenv"}:
                default = node.args[1] if len(node.args) > 1 else fallbacks.get(id(node))
                found.append((name, None if default is None else value_of(default)))
        elif isinstance(node, ast.Subscript) and dotted(node.value) == "os.environ":
            if isinstance(node.ctx, ast.Load) and (name := variable(node.slice)):
                found.append((name, None))
    return found


def dotted(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def value_of(node) -> object:
    """A default written as a plain value (numbers, strings, sizes such as `8 * MIB`)."""
    allowed = (ast.Constant, ast.BinOp, ast.UnaryOp, ast.operator, ast.unaryop, ast.Name, ast.Load)
    if not all(isinstance(part, allowed) for part in ast.walk(node)):
        return UNKNOWN
    if any(isinstance(part, ast.Name) and part.id not in SIZES for part in ast.walk(node)):
        return UNKNOWN
    return eval(compile(ast.Expression(node), "<default>", "eval"), {"__builtins__": {}}, SIZES)


def typed(helper: str, default: object) -> object:
    if default is UNKNOWN:
        return UNKNOWN
    return bool(default) if helper == "env_bool" else default


# --- Agreement -----------------------------------------------------------------------------


def default_disagrees(documented: str, code: object) -> bool:
    """Whether a documented default (its words) is not the code's plain value."""
    words = documented.replace("`", "").strip()
    if code is UNKNOWN or code is None or code == "":
        return False
    if isinstance(code, bool):
        return not words.lower().startswith(("1", "on") if code else ("0", "off"))
    number = re.match(r"-?[\d,_]*\.?\d+", words)
    if isinstance(code, (int, float)) or (isinstance(code, str) and code.isdigit()):
        return number is None or float(re.sub("[,_]", "", number[0])) != float(code)
    return not words.startswith(str(code))


def problems(topics: list[Topic], reads: dict[str, list[Read]]) -> list[str]:
    """What disagrees between `.env.example` and the code."""
    described: dict[str, Setting] = {}
    found = []
    for topic in topics:
        for setting in topic.settings:
            if setting.name in described:
                found.append(f".env.example:{setting.line}: {setting.name} is described twice")
            described[setting.name] = setting
    for name in sorted(set(reads) - set(described)):
        where = ", ".join(sorted({read.path for read in reads[name]}))
        found.append(f"{name} is read ({where}) but not described in .env.example")
    for name, setting in described.items():
        if name not in reads:
            found.append(f".env.example:{setting.line}: {name} is described but read nowhere")
        for read in reads.get(name, []):
            if default_disagrees(setting.default, read.default):
                found.append(
                    f".env.example:{setting.line}: {name}'s default is {setting.default!r}, "
                    f"but {read.path} falls back to {read.default!r}"
                )
    return found


# --- docs/settings.md ----------------------------------------------------------------------

INTRO = """\
# Settings

<!-- Generated by tools/settings_doc.py from .env.example: edit that file, then run
     `make settings-doc`. tests/test_docs.py fails when this page is stale. -->

Every setting comes from the environment (12-factor); a variable left unset takes the default
below, which works on a local checkout (`make run`: SQLite, the embedded Redis). Copy
`.env.example` to `.env` for docker compose. `.env.example` is the one description of each
setting: this page is generated from it (`make settings-doc`, `tools/settings_doc.py`), with
where each variable is read taken from the code, and `tests/test_docs.py` fails when the code
reads a variable `.env.example` does not describe, when a described default is not the code's,
or when this page is stale.

The settings are read in the package `project/settings/`, one module per topic (after
HackSoft's `config/settings/`), which `project/settings/__init__.py` gathers in this order, so
`DJANGO_SETTINGS_MODULE` stays `project.settings`. A new setting goes in its topic's module,
read with the helpers of `project/settings/env.py`, and gets its entry in `.env.example` (a
comment right above it, ending with `Default: …`); then `make settings-doc`.
"""


def settings_modules(package: Path = SETTINGS_PACKAGE) -> list[tuple[str, str]]:
    """Each topic module, in the order the package gathers them, with its docstring."""
    order = re.findall(
        r"^from project\.settings\.(\w+) import", (package / "__init__.py").read_text(), re.M
    )
    modules = []
    for name in order:
        path = package / f"{name}.py"
        docstring = ast.get_docstring(ast.parse(path.read_text())) or ""
        modules.append(
            (str(path.relative_to(BASE_DIR)), docstring.split("\n\n")[0].replace("\n", " "))
        )
    return modules


def cell(text: str) -> str:
    return text.replace("|", "\\|")


def render(topics: list[Topic], reads: dict[str, list[Read]], modules) -> str:
    lines = [INTRO, "| module | what it holds |", "|---|---|"]
    lines += [f"| `{path}` | {cell(summary)} |" for path, summary in modules]
    lines.append("")
    for topic in topics:
        lines += [f"## {topic.title}", ""]
        for note in topic.notes:
            lines += [note, ""]
        lines += ["| variable | default | what it does | read by |", "|---|---|---|---|"]
        for setting in topic.settings:
            readers = sorted({read.path for read in reads.get(setting.name, [])})
            where = ", ".join(
                f"`{reader}`" if (BASE_DIR / reader).exists() else reader for reader in readers
            )
            default, description = cell(setting.default), cell(setting.description)
            lines.append(f"| `{setting.name}` | {default} | {description} | {where} |")
        lines.append("")
    return "\n".join(lines)


def generate() -> tuple[str, list[str]]:
    """The page, and what disagrees between `.env.example` and the code."""
    topics = parse_env_example(ENV_EXAMPLE.read_text())
    reads = code_reads()
    return render(topics, reads, settings_modules()), problems(topics, reads)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 on any disagreement"
    )
    arguments = parser.parse_args()
    try:
        page, found = generate()
    except SourceError as error:
        print(error, file=sys.stderr)
        return 1
    if arguments.check:
        current = SETTINGS_DOC.read_text() if SETTINGS_DOC.exists() else ""
        if current != page:
            found.append("docs/settings.md is stale: run `make settings-doc`")
    else:
        SETTINGS_DOC.write_text(page)
    for problem in found:
        print(problem, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
