"""Cost against the data one user owns: the same requests for a user with `small` rows and
for one with `large` rows (10,000 and 1,000,000 by default), on PostgreSQL, the ratio large /
small for each, and the `nameContains` page against its absolute target.

The rows are written with COPY, then VACUUM ANALYZE, as autovacuum would have done on a
table that grew that big. Both users are then measured by turns, request by request, so
whatever else the machine runs slows both alike. The search (`-00042`) matches the same 100
rows at both sizes, so only the rows around it grow.

`make bench` runs it as the `growth` part; alone: `python bench/growth.py [--large N]`.
"""

import argparse
import io
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.loads import SMALL_FILE, multipart, percentile
from bench.stack import WebServer, configure_environment, setup_django
from files_app.sizes import GIB

PAGE = """query { files(first: 100) {
  totalCount edges { node { id name size status uploadedAt } } } }"""
PAGE_NO_COUNT = """query { files(first: 100) {
  edges { node { id name size status uploadedAt } } } }"""
SEARCH = """query { files(first: 100, filters: {nameContains: "-00042"}) {
  totalCount edges { node { id name size status uploadedAt } } } }"""
SMALL = 10_000
ROUNDS = 40
WARMUP = 3
COPY_BATCH = 100_000
COLUMNS = (
    "id, owner_id, name, stored_file, size, content_type, kind, sha256, status, progress, "
    "error, failure_code, uploaded_at, result, thumbnail, version, updated_at, attempts"
)
STATUSES = ("DONE", "DONE", "DONE", "FAILED")


def copy_rows(owner_id: int, count: int) -> float:
    """`count` processed rows for the owner, by COPY; returns the seconds it took."""
    from django.db import connection

    started = time.perf_counter()
    epoch = datetime(2026, 1, 1, tzinfo=UTC)
    with connection.cursor() as cursor:
        for first in range(0, count, COPY_BATCH):
            buffer = io.StringIO()
            for i in range(first, min(count, first + COPY_BATCH)):
                at = (epoch + timedelta(seconds=i)).isoformat()
                buffer.write(
                    f"{uuid.uuid4()}\t{owner_id}\treport-{i:07d}.csv\tuploads/{owner_id}/{i}\t"
                    f"{1000 + i % 1000}\ttext/csv\tCSV\t\t{STATUSES[i % 4]}\t1\t\t\t{at}\t{{}}\t"
                    f"\t3\t{at}\t1\n"
                )
            buffer.seek(0)
            cursor.copy_expert(f"COPY files_app_file ({COLUMNS}) FROM STDIN", buffer)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE files_app_file")
    return time.perf_counter() - started


def timed(client, body) -> float:
    started = time.perf_counter()
    response = client.post("/graphql/", **body)
    seconds = time.perf_counter() - started
    if response.status_code != 200 or "errors" in response.json():
        raise RuntimeError(response.text)
    return seconds


def explain_search(owner_id: int) -> str:
    """The plans PostgreSQL picks for the search page: its ids, then the page among them
    (`selectors.file_list_narrowed`, the ORM's own SQL)."""
    from django.contrib.auth import get_user_model
    from django.db import connection

    from files_app import selectors

    user = get_user_model().objects.get(pk=owner_id)
    files = selectors.file_list(user=user, filters={"name__icontains": "-00042"})
    queries = [files.order_by().values_list("pk", flat=True)[: selectors.COUNT_CAP + 1]]
    if hasattr(selectors, "file_list_narrowed"):
        queries.append(selectors.file_list_narrowed(files=files)[0][:101])
    else:
        queries.append(files[:101])
    plans = []
    for query in queries:
        sql, params = query.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS OFF) {sql}", params)
            plans.append("\n".join(row[0][:160] for row in cursor.fetchall()))
    return "\n---\n".join(plans)


def requests_of(round_number: int) -> dict[str, dict]:
    """Each metric's request (an upload's file named for its round, so none repeats)."""
    return {
        "first page with totalCount": {"json": {"query": PAGE}},
        "first page without totalCount": {"json": {"query": PAGE_NO_COUNT}},
        "nameContains page": {"json": {"query": SEARCH}},
        "one small upload (quota on)": multipart(f"small-{round_number}.txt", SMALL_FILE),
    }


def measure(server, tokens: dict[int, str]) -> dict[int, dict[str, float]]:
    """p50 in ms of each metric for each user, the users taking turns request by request
    (ROUNDS of them), so a machine busy with something else slows both alike."""
    clients = {
        rows: httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )
        for rows, token in tokens.items()
    }
    latencies = {rows: {} for rows in tokens}
    try:
        for round_number in range(-WARMUP, ROUNDS):
            for metric, body in requests_of(round_number).items():
                for rows, client in clients.items():
                    seconds = timed(client, body)
                    if round_number >= 0:
                        latencies[rows].setdefault(metric, []).append(seconds)
    finally:
        for client in clients.values():
            client.close()
    return {
        rows: {metric: percentile(values, 0.5) * 1000 for metric, values in figures.items()}
        for rows, figures in latencies.items()
    }


def forget(tokens) -> None:
    """Delete the users' rows (one statement each), so the parts after start from an empty
    table."""
    from django.db import connection

    with connection.cursor() as cursor:
        for rows in tokens:
            cursor.execute(
                "DELETE FROM files_app_file WHERE owner_id = "
                "(SELECT id FROM auth_user WHERE username = %s)",
                [f"bench-growth-{rows}"],
            )


def growth(report, work, small: int, large: int, explain: bool = False) -> None:
    from bench import fixtures

    tokens = {}
    for rows in (small, large):
        user, tokens[rows] = fixtures.user_with_token(f"bench-growth-{rows}")
        seconds = copy_rows(user.pk, rows)
        print(f"  {rows:,} rows written in {seconds:.1f} s", flush=True)
    if explain:
        print(explain_search(user.pk), flush=True)
    # The quota on, at its default, as a deployment has it.
    server = WebServer("uvicorn", work, name="uvicorn-growth", env={"STORAGE_QUOTA": str(10 * GIB)})
    try:
        measured = measure(server, tokens)
    finally:
        server.stop()
        forget(tokens)
    targets = {"first page with totalCount": 2.0, "one small upload (quota on)": 2.0}
    for metric, figure in measured[large].items():
        reference = measured[small][metric]
        target = targets.get(metric)
        report.add(
            f"{large:,} rows: {metric}: p50",
            figure,
            "ms",
            reference=reference,
            target=f"≤ {target:.0f}× at {small:,}" if target else None,
            passed=figure <= target * reference if target else None,
            note=f"ref: {small:,} rows",
        )
    search = measured[large]["nameContains page"]
    report.add(
        f"{large:,} rows: nameContains page (absolute)",
        search,
        "ms",
        reference=measured[large]["first page without totalCount"],
        target="≤ 50 ms",
        passed=search <= 50,
        note="ref: the unfiltered page without totalCount at the same size",
    )


def main() -> None:
    from bench.run import Report

    parser = argparse.ArgumentParser()
    parser.add_argument("--small", type=int, default=SMALL)
    parser.add_argument("--large", type=int, default=1_000_000)
    parser.add_argument("--explain", action="store_true", help="print the search's plan")
    args = parser.parse_args()
    work = configure_environment()
    setup_django()
    from bench import fixtures

    fixtures.reset()
    report = Report()
    growth(report, work, args.small, args.large, explain=args.explain)


if __name__ == "__main__":
    main()
