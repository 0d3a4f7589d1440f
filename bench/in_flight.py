"""Bytes in flight against the quota: the issue's measurement, repeated. Three uploads of
80 MiB sent at once by one user whose quota is 200 MiB; a watcher samples how many bytes
MEDIA_ROOT/.incoming holds meanwhile (every upload in flight writes its part there). Each
upload reserves its bytes before its body is read (files_app/services/reservations.py), so
what is in flight stays within the quota; before that, all three were let in (239 MiB)."""

import asyncio
import threading
from pathlib import Path

from bench import loads
from bench.stack import WebServer
from files_app.sizes import MIB

QUOTA = 200 * MIB
UPLOADS = 3
UPLOAD_SIZE = 80 * MIB
CHUNK = MIB  # what the ingress writes at a time: the target's allowance


class IncomingWatch(threading.Thread):
    """The most bytes the incoming folder held at once, sampled every 2 ms."""

    def __init__(self, folder: Path):
        super().__init__(daemon=True)
        self.folder, self.most = folder, 0
        self.done = threading.Event()

    def held(self) -> int:
        total = 0
        for part in self.folder.glob("*.part"):
            try:
                total += part.stat().st_size
            except FileNotFoundError:  # renamed into uploads/ while we looked
                continue
        return total

    def run(self) -> None:
        while not self.done.wait(0.002):
            self.most = max(self.most, self.held())

    def stop(self) -> int:
        self.done.set()
        self.join()
        return self.most


async def send_all(url: str, token: str) -> list:
    headers = {"Authorization": f"Bearer {token}"}
    return await asyncio.gather(
        *(loads.raw_multipart_post(url, headers, UPLOAD_SIZE) for _ in range(UPLOADS))
    )


def outcome(answer) -> str:
    refusal = loads.graphql_refusal(answer.body) if answer.status else "no answer"
    return "OK" if answer.status == 200 and not refusal else f"{answer.status} {refusal}"


def bytes_in_flight(report, work: Path, token: str) -> None:
    server = WebServer(
        "uvicorn",
        work,
        env={"STORAGE_QUOTA": str(QUOTA), "UPLOAD_MAX_CONCURRENT_PER_USER": "8"},
        name="uvicorn-quota",
    )
    watch = IncomingWatch(work / "media" / ".incoming")
    watch.start()
    try:
        answers = asyncio.run(send_all(server.url, token))
    finally:
        most = watch.stop()
        server.stop()
    outcomes = [outcome(answer) for answer in answers]
    report.add(
        f"{UPLOADS} uploads of {UPLOAD_SIZE // MIB} MiB at once, quota {QUOTA // MIB} MiB: "
        "most in flight",
        most / MIB,
        "MiB",
        reference=QUOTA / MIB,
        target=f"≤ {(QUOTA + CHUNK) / MIB:.0f} MiB",
        passed=most <= QUOTA + CHUNK,
        note=f"ref: the quota; answers {', '.join(outcomes)}; before reservations: 239 MiB",
    )
