"""What the client prints, and where. Results go to stdout: a table on a terminal, one
tab-separated line per file in a pipe (stable columns a script can cut), JSON with --json.
Progress bars, notes and errors go to stderr; bars only when it is a terminal, so a cron job
or a CI log gets no control characters. Server strings (file names, messages) are printed as
text, never as rich markup."""

import datetime
import json
import sys

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TaskProgressColumn, TextColumn
from rich.table import Table
from rich.text import Text

UNITS = ("B", "KiB", "MiB", "GiB", "TiB")
FINISHED = ("DONE", "FAILED")
STATUS_STYLES = {"DONE": "green", "FAILED": "red", "PROCESSING": "cyan", "PENDING": "yellow"}


def human_size(size: int | float) -> str:
    value = float(size)
    for unit in UNITS:
        if value < 1024 or unit == UNITS[-1]:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")


class Output:
    """Where this run prints: `json` (--json), `quiet` (-q: no bars, no notes)."""

    def __init__(self, *, json_output: bool, quiet: bool):
        self.json = json_output
        self.quiet = quiet
        self.out = Console(highlight=False, soft_wrap=True)
        self.err = Console(stderr=True, highlight=False, soft_wrap=True)
        self.table_output = not json_output and sys.stdout.isatty()
        self.bars_shown = not quiet and sys.stderr.isatty()

    def note(self, message: str) -> None:
        """A line for the person watching (stderr), left out with -q."""
        if not self.quiet:
            print(f"live-files: {message}", file=sys.stderr, flush=True)

    def error(self, message: str) -> None:
        print(f"live-files: {message}", file=sys.stderr, flush=True)

    def print_json(self, value, *, compact: bool = False) -> None:
        text = json.dumps(value, separators=(",", ":")) if compact else json.dumps(value, indent=2)
        sys.stdout.write(text + "\n")
        sys.stdout.flush()

    def line(self, *fields) -> None:
        """One tab-separated line (tabs and line breaks in a field become spaces)."""
        cleaned = (" ".join(str("" if field is None else field).split()) for field in fields)
        sys.stdout.write("\t".join(cleaned) + "\n")
        sys.stdout.flush()

    def files_table(self, files: list[dict], caption: str | None = None) -> None:
        table = Table(caption=caption, caption_justify="left")
        for column in ("id", "name", "kind", "size", "status", "uploaded"):
            table.add_column(column, overflow="fold")
        for file in files:
            table.add_row(
                Text(file["id"]),
                Text(file["name"]),
                Text(file.get("kind") or ""),
                Text(human_size(file["size"])),
                status_text(file),
                Text(local_time(file.get("uploadedAt"))),
            )
        self.out.print(table)

    def bars(self) -> "Bars":
        return Bars(self.err if self.bars_shown else None)


def status_text(file: dict) -> Text:
    status = file["status"]
    label = status
    if status == "PROCESSING":
        label = f"PROCESSING {file.get('progress', 0):.0%}"
    elif status == "FAILED" and file.get("error"):
        label = f"FAILED: {file['error']}"
    if file.get("deleted"):
        label = "DELETED"
    return Text(label, style=STATUS_STYLES.get(status, ""))


def local_time(value: str | None) -> str:
    if not value:
        return ""
    try:
        moment = datetime.datetime.fromisoformat(value)
    except ValueError:
        return value
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S")


class Bars:
    """One bar per file: bytes sent, then its processing status and progress. Does nothing
    when bars are not shown."""

    def __init__(self, console: Console | None):
        self.progress = (
            Progress(
                TextColumn("{task.description}", markup=False),
                BarColumn(),
                TaskProgressColumn(),
                TextColumn("{task.fields[detail]}", markup=False),
                console=console,
                auto_refresh=True,
                refresh_per_second=8,
            )
            if console is not None
            else None
        )

    def __enter__(self) -> "Bars":
        if self.progress is not None:
            self.progress.start()
        return self

    def __exit__(self, *exc_info) -> None:
        if self.progress is not None:
            self.progress.stop()

    def add(self, name: str, size: int) -> TaskID | None:
        if self.progress is None:
            return None
        return self.progress.add_task(
            name if len(name) <= 40 else name[:39] + "…", total=max(size, 1), detail="waiting"
        )

    def sent(self, task: TaskID | None, done: int, size: int, verb: str = "uploading") -> None:
        if task is not None:
            detail = f"{verb} {human_size(done)} / {human_size(size)}"
            self.progress.update(task, completed=done, detail=detail)

    def uploaded(self, task: TaskID | None, file: dict) -> None:
        if task is not None:
            self.progress.update(task, completed=1, total=1, detail=file["status"])

    def refused(self, task: TaskID | None, message: str) -> None:
        if task is not None:
            self.progress.update(task, detail=f"refused: {message}")

    def processing(self, task: TaskID | None, file: dict) -> None:
        if task is not None:
            done = 1.0 if file["status"] in FINISHED else file.get("progress") or 0.0
            self.progress.update(task, completed=done, total=1, detail=status_text(file).plain)
