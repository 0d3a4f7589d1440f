"""The `live-files` command: its arguments, where the server and token come from, and one exit
code per outcome (docs/client.md, "Exit codes")."""

import argparse
import os
import re
import sys

from . import __version__, commands
from .api import Server
from .errors import ClientError, Exit
from .output import Output
from .uploads import TUS_THRESHOLD

STATUSES = ("AWAITING_UPLOAD", "PENDING", "PROCESSING", "DONE", "FAILED")
SIZE = re.compile(r"([0-9]+)(B|KiB|MiB|GiB)?", re.ASCII)
UNIT_BYTES = {None: 1, "B": 1, "KiB": 1024, "MiB": 1024**2, "GiB": 1024**3}
DEFAULT_LIMIT = 20

EPILOG = """\
environment:
  LIVE_FILES_URL    the server, e.g. http://127.0.0.1:8000 (or --url)
  LIVE_FILES_TOKEN  an API token (or --token; the variable keeps it out of `ps`)

exit codes:
  0 done · 1 refused by the server (the code is printed) · 2 usage · 3 token refused
  4 try again later (unreachable, RATE_LIMITED, SERVICE_UNAVAILABLE, --timeout)
  5 a file's processing FAILED · 130 interrupted
"""


def size(value: str) -> int:
    """Bytes, with an optional binary unit: 33554432, 32MiB (ASCII digits only)."""
    matched = SIZE.fullmatch(value.strip())
    if not matched:
        raise argparse.ArgumentTypeError(f"{value!r} is not a size (e.g. 32MiB, 1048576)")
    return int(matched[1]) * UNIT_BYTES[matched[2]]


def seconds(value: str) -> float:
    """A number of seconds above 0, in ASCII digits (float() would take "٣" and "inf")."""
    if not re.fullmatch(r"[0-9]+(\.[0-9]+)?", value, re.ASCII) or not float(value) > 0:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number of seconds above 0")
    return float(value)


def count(value: str) -> int:
    if not re.fullmatch(r"[0-9]+", value, re.ASCII) or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a number above 0")
    return int(value)


def status(value: str) -> str:
    if value.upper() not in STATUSES:
        raise argparse.ArgumentTypeError(f"{value!r}: one of {', '.join(STATUSES)}")
    return value.upper()


def parser() -> argparse.ArgumentParser:
    # The same options before or after the command: `live-files --json list`, `list --json`.
    shared = argparse.ArgumentParser(add_help=False)
    shared.add_argument("--url", default=argparse.SUPPRESS, help="the server's address")
    shared.add_argument("--token", default=argparse.SUPPRESS, help="an API token")
    shared.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="JSON on stdout"
    )
    shared.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        default=argparse.SUPPRESS,
        help="no progress bars or notes (bars are only drawn on a terminal)",
    )
    top = argparse.ArgumentParser(
        prog="live-files",
        description="Upload, list, watch and download the files of a live-files server.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[shared],
    )
    top.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands_ = top.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(name: str, help_text: str) -> argparse.ArgumentParser:
        return commands_.add_parser(name, help=help_text, description=help_text, parents=[shared])

    upload = command("upload", "upload files, each with a progress bar")
    upload.add_argument("files", nargs="+", metavar="FILE")
    upload.add_argument(
        "--wait", action="store_true", help="then show their processing, until DONE or FAILED"
    )
    upload.add_argument("--timeout", type=seconds, help="with --wait: give up after SECONDS")
    upload.add_argument(
        "--tus-threshold",
        type=size,
        default=TUS_THRESHOLD,
        metavar="SIZE",
        help="files of this size or more go through tus, resumable (default: 32MiB)",
    )

    listing = command("list", "list your files, newest first")
    listing.add_argument("--status", type=status, action="append", help="only these (repeat)")
    listing.add_argument("--name", help="only names containing this")
    limit = listing.add_mutually_exclusive_group()
    limit.add_argument("--limit", type=count, default=DEFAULT_LIMIT, help="at most N (default 20)")
    limit.add_argument("--all", action="store_true", help="every one, page after page")

    watch = command("watch", "print every change to your files as it happens (Ctrl-C ends)")
    watch.add_argument("ids", nargs="*", metavar="ID", help="only these (their state first)")

    wait = command("wait", "wait until these files are DONE or FAILED")
    wait.add_argument("ids", nargs="+", metavar="ID")
    wait.add_argument("--timeout", type=seconds, help="give up after SECONDS")

    download = command("download", "download a file (to its name here, -o PATH, or -o - )")
    download.add_argument("id", metavar="ID")
    download.add_argument("-o", "--output", metavar="PATH", help="a file or folder, or - (stdout)")
    download.add_argument("--force", action="store_true", help="replace an existing file")

    webhooks = command("webhooks", "signed HTTP callbacks for your files' events")
    actions = webhooks.add_subparsers(dest="action", required=True, metavar="ACTION")
    actions.add_parser("list", help="your webhooks", parents=[shared])
    create = actions.add_parser(
        "create", help="a new webhook; prints its secret once", parents=[shared]
    )
    create.add_argument("webhook_url", metavar="URL")
    create.add_argument(
        "--event", action="append", help="FILE_DONE, FILE_FAILED or FILE_DELETED (default: all)"
    )
    delete = actions.add_parser("delete", help="delete a webhook", parents=[shared])
    delete.add_argument("webhook_id", metavar="ID")
    return top


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    output = Output(json_output=getattr(args, "json", False), quiet=getattr(args, "quiet", False))
    try:
        server = Server.configured(
            getattr(args, "url", None) or os.environ.get("LIVE_FILES_URL"),
            getattr(args, "token", None) or os.environ.get("LIVE_FILES_TOKEN"),
        )
        return int(commands.run(args, server, output))
    except ClientError as error:
        output.error(str(error))
        if output.json:
            output.print_json({"error": error.as_json()})
        return int(error.exit)
    except KeyboardInterrupt:
        output.error("interrupted")
        return int(Exit.INTERRUPTED)
    except BrokenPipeError:  # `live-files list | head`: the reader had enough
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return int(Exit.REFUSED)
