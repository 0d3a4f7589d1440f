"""What each command does with its arguments, and what it prints (output.py says where)."""

import asyncio
import datetime

from rich.text import Text

from . import documents, download, live, uploads, webhooks
from .api import Api, Server
from .errors import ClientError, Exit
from .output import Output, human_size, status_text

PAGE_SIZE = 100  # the server's GRAPHQL_MAX_PAGE_SIZE default


def run(args, server: Server, output: Output) -> Exit:
    handler = {
        "upload": upload,
        "list": listing,
        "watch": watch,
        "wait": wait,
        "download": fetch,
        "webhooks": webhook_action,
    }[args.command]
    return handler(args, server, output)


def upload(args, server: Server, output: Output) -> Exit:
    failure = None
    with Api(server) as api, output.bars() as bars:
        outcomes = uploads.upload_all(
            api, args.files, bars=bars, threshold=args.tus_threshold, note=output.note
        )
        sent = {outcome.file["id"]: outcome for outcome in outcomes if outcome.file}
        if args.wait and sent:

            def on_update(file: dict) -> None:
                sent[file["id"]].file = file
                bars.processing(sent[file["id"]].task, file)

            try:
                asyncio.run(
                    live.wait(server, list(sent), on_update=on_update, timeout=args.timeout)
                )
            except ClientError as error:  # the results so far are printed all the same
                failure = error
    by_error = {}  # one line per refusal: one that stopped the run names every file it left
    for outcome in outcomes:
        if outcome.error:
            by_error.setdefault(id(outcome.error), (outcome.error, []))[1].append(outcome.path)
    for error, paths in by_error.values():
        output.error(f"{', '.join(map(str, paths))}: {error}")
    if output.json:
        output.print_json([outcome.as_json() for outcome in outcomes])
    else:
        print_files(output, [outcome.file for outcome in outcomes if outcome.file])
    if failure is not None:  # reported here: the results above are the JSON a script reads
        output.error(str(failure))
        return failure.exit
    return uploads.exit_code(outcomes, waited=args.wait)


def listing(args, server: Server, output: Output) -> Exit:
    filters = {}
    if args.status:
        filters["statusIn"] = args.status
    if args.name:
        filters["nameContains"] = args.name
    wanted = None if args.all else args.limit
    files, after, total = [], None, 0
    with Api(server) as api:
        while wanted is None or len(files) < wanted:
            first = PAGE_SIZE if wanted is None else min(PAGE_SIZE, wanted - len(files))
            variables = {"first": first, "after": after, "filters": filters or None}
            page = api.execute(documents.FILES, variables)["files"]
            total = page["totalCount"]
            files += [edge["node"] for edge in page["edges"]]
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    if output.json:
        output.print_json(files)
    else:
        print_files(output, files, caption=f"{len(files)} of {total} file(s)")
    return Exit.OK


def print_files(output: Output, files: list[dict], caption: str | None = None) -> None:
    if output.table_output:
        output.files_table(files, caption)
    else:
        for file in files:
            output.line(file["id"], file["status"], file["size"], file["name"])


def watch(args, server: Server, output: Output) -> Exit:
    def emit(file: dict) -> None:
        if output.json:
            output.print_json(file, compact=True)
        elif output.table_output:
            now = datetime.datetime.now().strftime("%H:%M:%S")
            output.out.print(
                Text(f"{now}  ") + status_text(file) + Text(f"  {file['name']}  {file['id']}")
            )
        else:
            now = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
            status = "DELETED" if file.get("deleted") else file["status"]
            output.line(now, file["id"], status, f"{file['progress']:.2f}", file["name"])

    asyncio.run(live.watch(server, args.ids or None, emit))
    return Exit.OK


def wait(args, server: Server, output: Output) -> Exit:
    with Api(server) as api:
        files = [file_or_not_found(api, file_id) for file_id in args.ids]
    ids = list(dict.fromkeys(file["id"] for file in files))  # the API's ids, each once
    with output.bars() as bars:
        tasks = {file["id"]: bars.add(file["name"], 1) for file in files}
        latest = asyncio.run(
            live.wait(
                server,
                ids,
                on_update=lambda file: bars.processing(tasks[file["id"]], file),
                timeout=args.timeout,
            )
        )
    files = [latest[file_id] for file_id in ids]
    if output.json:
        output.print_json(files)
    else:
        print_files(output, files)
    failed = any(file["status"] == "FAILED" or file["deleted"] for file in files)
    return Exit.PROCESSING_FAILED if failed else Exit.OK


def file_or_not_found(api: Api, file_id: str) -> dict:
    file = api.execute(documents.FILE, {"id": file_id})["file"]
    if file is None:
        raise ClientError(f"no file {file_id} (or it is not yours)", code="NOT_FOUND")
    return file


def fetch(args, server: Server, output: Output) -> Exit:
    with Api(server) as api, output.bars() as bars:
        saved = download.download(api, args.id, output=args.output, force=args.force, bars=bars)
    if output.json:
        output.print_json(saved)
    elif saved["savedTo"] != "-":
        output.line(saved["savedTo"])
        output.note(f"saved {saved['name']} ({human_size(saved['size'])})")
    return Exit.OK


def webhook_action(args, server: Server, output: Output) -> Exit:
    with Api(server) as api:
        if args.action == "list":
            found = webhooks.webhooks_list(api)
            if output.json:
                output.print_json(found)
            for hook in [] if output.json else found:
                delivery = hook.get("lastDelivery") or {}
                output.line(
                    hook["id"], hook["url"], ",".join(hook["events"]), delivery.get("status", "")
                )
        elif args.action == "create":
            created = webhooks.webhook_create(api, args.webhook_url, args.event or [])
            if output.json:
                output.print_json(created)
            else:
                output.line(created["webhook"]["id"], created["secret"])
                output.note("the secret (whsec_…) is shown this once: keep it to verify deliveries")
        else:
            deleted = webhooks.webhook_delete(api, args.webhook_id)
            output.print_json({"deleted": deleted}) if output.json else output.line(deleted)
    return Exit.OK
