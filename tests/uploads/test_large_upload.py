"""A 200 MiB upload through the real uvicorn server streams: the web process never holds it."""

import hashlib
import json
import threading

import httpx
import psutil
import pytest

from files_app.models import File
from files_app.sizes import MIB
from tests.support.operations import UPLOAD

pytestmark = pytest.mark.django_db(transaction=True)

UPLOAD_SIZE = 200 * MIB
BLOCK = bytes(range(256)) * 4096  # 1 MiB, not compressible by accident
# Far below the upload size: the body goes to temporary files, then is moved into storage.
MAX_RSS_GROWTH = 100 * MIB


class PeakRss(threading.Thread):
    def __init__(self, pid):
        super().__init__(daemon=True)
        self.process = psutil.Process(pid)
        self.baseline = self.process.memory_info().rss
        self.peak = self.baseline
        self.done = threading.Event()

    def run(self):
        while not self.done.wait(0.05):
            self.peak = max(self.peak, self.process.memory_info().rss)


def test_large_upload_streams_to_disk(uvicorn_server, token, tmp_path):
    source = tmp_path / "big.bin"
    digest = hashlib.sha256()
    with source.open("wb") as out:
        for _ in range(UPLOAD_SIZE // len(BLOCK)):
            out.write(BLOCK)
            digest.update(BLOCK)

    monitor = PeakRss(uvicorn_server.process.pid)
    monitor.start()
    with source.open("rb") as body, httpx.Client(timeout=300) as client:
        response = client.post(
            f"{uvicorn_server.url}/graphql/",
            headers={"Authorization": f"Bearer {token}"},
            data={
                "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
                "map": json.dumps({"0": ["variables.file"]}),
            },
            files={"0": ("big.bin", body)},
        )
    monitor.done.set()
    monitor.join()

    assert response.status_code == 200, response.text
    assert response.json()["data"]["uploadFile"]["size"] == UPLOAD_SIZE
    stored = File.objects.get()
    assert stored.size == UPLOAD_SIZE
    with stored.stored_file.open("rb") as handle:
        stored_digest = hashlib.sha256()
        while chunk := handle.read(MIB):
            stored_digest.update(chunk)
    assert stored_digest.hexdigest() == digest.hexdigest()
    growth = monitor.peak - monitor.baseline
    assert growth < MAX_RSS_GROWTH, f"server RSS grew by {growth / 2**20:.0f} MiB"
