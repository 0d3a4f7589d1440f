"""Reading the docs as the tests check them: which files, their prose outside code blocks, the
anchors GitHub gives their headings, their relative links and the repository paths they write
in backticks."""

import glob
import re
from pathlib import Path

from tools.processes import BASE_DIR

FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
HEADING = re.compile(r"^ {0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"""<a\s+(?:id|name)=["']([^"']+)["']""")
CODE_SPAN = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)")
LINK = re.compile(r"\[[^\]]*\]\(<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\)")
PATH = re.compile(r"^[\w.\-/*{},]+$")
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)
# Top folders of a checkout that are not the repository's: local state, built things.
LOCAL_ROOTS = {".git", ".venv", "var", "test-artifacts", "node_modules"}


def documents(base_dir: Path = BASE_DIR) -> list[Path]:
    """The README first, then docs/*.md by name."""
    return [base_dir / "README.md", *sorted((base_dir / "docs").glob("*.md"))]


def paragraphs(text: str) -> list[tuple[int, str]]:
    """The prose outside fenced code blocks, as (first line number, paragraph joined into one
    line), so that a link or a code span broken over two lines is still whole."""
    found, lines, start, fence = [], [], 0, None

    def end_paragraph():
        if lines:
            found.append((start, " ".join(line.strip() for line in lines)))
            lines.clear()

    for number, line in enumerate(text.splitlines(), 1):
        opening = FENCE.match(line)
        if fence:
            if opening and opening[1][0] == fence[0] and len(opening[1]) >= len(fence):
                if not line.strip().strip(fence[0]):
                    fence = None
            continue
        if opening:
            end_paragraph()
            fence = opening[1]
        elif not line.strip() or HEADING.match(line):
            end_paragraph()
        else:
            if not lines:
                start = number
            lines.append(line)
    end_paragraph()
    return found


def anchor(heading: str) -> str:
    """GitHub's anchor for a heading: its text in lower case, punctuation dropped, spaces as
    hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading).strip().lower()
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(text: str) -> set[str]:
    found, seen, fence = set(HTML_ANCHOR.findall(text)), {}, None
    for line in text.splitlines():
        opening = FENCE.match(line)
        if fence:
            if opening and opening[1][0] == fence[0] and not line.strip().strip(fence[0]):
                fence = None
            continue
        if opening:
            fence = opening[1]
        elif heading := HEADING.match(line):
            name = anchor(heading[2])
            count = seen.get(name, 0)
            found.add(name if count == 0 else f"{name}-{count}")
            seen[name] = count + 1
    return found


def link_problems(document: Path, text: str) -> list[str]:
    """Each relative link of `text` whose file or `#anchor` is missing."""
    problems = []
    for line, paragraph in paragraphs(text):
        prose = CODE_SPAN.sub("code", paragraph)
        for target in LINK.findall(prose):
            if EXTERNAL.match(target):
                continue
            path, _, fragment = target.partition("#")
            where = (document.parent / path).resolve() if path else document
            if not where.exists():
                problems.append(f"{document.name}:{line}: {target}: no such file")
            elif fragment and where.suffix == ".md" and fragment not in anchors(where.read_text()):
                problems.append(f"{document.name}:{line}: {target}: no such heading")
    return problems


def expand_braces(path: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", path)
    if not match:
        return [path]
    return [
        expanded
        for choice in match[1].split(",")
        for expanded in expand_braces(path[: match.start()] + choice + path[match.end() :])
    ]


def repository_paths(text: str, base_dir: Path = BASE_DIR) -> list[tuple[int, str]]:
    """The repository paths written in backticks: no spaces, a slash, and a first folder that
    is one of the repository's."""
    roots = {entry.name for entry in base_dir.iterdir()} - LOCAL_ROOTS
    found = []
    for line, paragraph in paragraphs(text):
        for _ticks, content in CODE_SPAN.findall(paragraph):
            path = content.strip().split("::")[0]
            if PATH.match(path) and "/" in path.strip("/") and path.split("/")[0] in roots:
                found.append((line, path))
    return found


def path_problems(
    document: Path, text: str, absent: set[str] = frozenset(), base_dir: Path = BASE_DIR
) -> list[str]:
    """Each repository path in backticks that names nothing, unless listed in `absent`."""
    problems = []
    for line, path in repository_paths(text, base_dir):
        if path.rstrip("/") in {allowed.rstrip("/") for allowed in absent}:
            continue
        for one in expand_braces(path):
            if not glob.glob(str(base_dir / one)):
                problems.append(f"{document.name}:{line}: `{path}` does not exist")
    return problems
