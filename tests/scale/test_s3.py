"""S3 end to end on real processes: moto's S3 server, two uvicorn processes and two Celery
workers on the suite's database and Redis, files stored only in the bucket."""

import asyncio
import hashlib
import json
import threading

import httpx
import psutil
import pytest

from files_app.models import File, FileStatus
from files_app.sizes import MIB
from tests.support import samples
from tests.support.processes import Server, free_port
from tests.support.s3 import BUCKET, local_files, processed_per_worker
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

FILE_FIELDS = "id name size status sha256 version error"
SUBSCRIBE = f"subscription {{ fileUpdates {{ {FILE_FIELDS} }} }}"
UPLOAD_MANY = "mutation($files: [Upload!]!) { uploadFiles(files: $files) { id name } }"
UPLOAD_ONE = "mutation($file: Upload!) { uploadFile(file: $file) { id size } }"
LIST = "{ files(first: 50) { totalCount edges { node { id name size url status } } } }"


def sixteen_files() -> dict[str, bytes]:
    """Sixteen different files: one spans two multipart parts, an image (thumbnail, Pillow
    seeking), a zip (read from its end) and a PDF make processors read ranges of objects."""
    files = {f"note-{n}.txt": f"file {n}\n".encode() * (n * 500 + 1) for n in range(12)}
    files["big.bin"] = bytes(range(256)) * (12 * MIB // 256)  # 12 MiB: two 8 MiB parts
    files["picture.png"] = samples.png(64, 48)
    files["bundle.zip"] = samples.zip_archive({"a.txt": b"a" * 1000, "b.txt": b"b"})
    files["report.pdf"] = samples.pdf()
    return files


def headers(token) -> dict:
    return {"Authorization": f"Bearer {token}"}


async def upload_many(web, token, files: dict[str, bytes]) -> list[dict]:
    names = list(files)
    async with httpx.AsyncClient(timeout=120) as client:
        response = await client.post(
            f"{web.url}/graphql/",
            headers=headers(token),
            data={
                "operations": json.dumps(
                    {"query": UPLOAD_MANY, "variables": {"files": [None] * len(names)}}
                ),
                "map": json.dumps({str(i): [f"variables.files.{i}"] for i in range(len(names))}),
            },
            files={str(i): (name, files[name]) for i, name in enumerate(names)},
        )
    assert response.status_code == 200, response.text
    assert "errors" not in response.json(), response.text
    return response.json()["data"]["uploadFiles"]


async def test_two_webs_two_workers_on_s3(s3, s3_env, s3_webs, s3_workers, token, user):
    web1, web2 = s3_webs
    files = sixteen_files()
    # The workers serve the whole session: count what they run from here on.
    before = await asyncio.to_thread(processed_per_worker, s3_env, s3_workers)
    subscription = await Subscription.open(web2.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=user)

    uploaded = await upload_many(web1, token, files)
    ids = {file["id"] for file in uploaded}
    done: dict[str, dict] = {}
    while set(done) != ids:
        event = await subscription.next_file(timeout=60)
        assert event["status"] != FileStatus.FAILED, event
        if event["status"] == FileStatus.DONE:
            done[event["id"]] = event
    await subscription.close()

    async with httpx.AsyncClient(timeout=60, headers=headers(token)) as client:
        listed = (await client.post(f"{web2.url}/graphql/", json={"query": LIST})).json()
        nodes = {edge["node"]["name"]: edge["node"] for edge in listed["data"]["files"]["edges"]}
        assert set(nodes) == set(files)
        for name, content in files.items():
            redirect = await client.get(nodes[name]["url"])
            assert redirect.status_code == 302, redirect.text
            location = redirect.headers["location"]
            assert location.startswith(s3_env["AWS_S3_ENDPOINT_URL"]), "a presigned S3 URL"
            assert "private" in redirect.headers["cache-control"]
            fetched = await httpx.AsyncClient(timeout=60).get(location)
            assert fetched.status_code == 200
            assert fetched.content == content, name
            assert fetched.headers["content-disposition"].startswith("attachment")
        # The thumbnail comes the same way, shown inline.
        picture = await File.objects.aget(name="picture.png")
        thumbnail = await client.get(f"{web2.url}/files/{picture.pk}/thumbnail")
        assert thumbnail.status_code == 302
        fetched = await httpx.AsyncClient().get(thumbnail.headers["location"])
        assert fetched.content.startswith(b"RIFF") and b"WEBP" in fetched.content[:16]
        assert fetched.headers["content-type"] == "image/webp"

    after = await asyncio.to_thread(processed_per_worker, s3_env, s3_workers)
    per_worker = {name: count - before.get(name, 0) for name, count in after.items()}
    assert len(per_worker) == 2 and all(per_worker.values()), per_worker
    assert sum(per_worker.values()) >= len(files), per_worker

    stored = {
        obj["Key"]: obj
        for obj in s3.list_objects_v2(Bucket=BUCKET, Prefix=f"uploads/{user.pk}/")["Contents"]
    }
    async for file in File.objects.filter(owner=user):
        key = file.stored_file.name
        assert key in stored and stored[key]["Size"] == len(files[file.name])
        body = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert hashlib.sha256(body).hexdigest() == file.sha256
    assert not local_files(s3_env["MEDIA_ROOT"]), "nothing may be written to local disk"

    # Deleting a file deletes its objects (after commit).
    picture_keys = {picture.stored_file.name, picture.thumbnail.name}
    assert picture.thumbnail.name.startswith("thumbnails/")
    async with httpx.AsyncClient(headers=headers(token)) as client:
        deleted = await client.post(
            f"{web1.url}/graphql/",
            json={
                "query": "mutation($id: ID!) { deleteFile(id: $id) }",
                "variables": {"id": done_id(done, picture)},
            },
        )
    assert "errors" not in deleted.json(), deleted.text
    await asyncio.to_thread(wait_for_keys_gone, s3, picture_keys)


def done_id(done: dict, file: File) -> str:
    """The global id a DONE event gave the file."""
    (global_id,) = [gid for gid, event in done.items() if event["name"] == file.name]
    return global_id


def wait_for_keys_gone(s3, keys) -> None:
    from tests.support.processes import wait_until

    def gone():
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        return not keys & {obj["Key"] for obj in listed}

    wait_until(gone, 10, f"the objects {keys} were not deleted")


def streamed_body(size: int, *, close: bool = True):
    """A multipart body for one `size`-byte file, generated as it is sent (the test holds
    one MiB of it). Without `close`, it ends before its closing boundary: a broken upload."""
    boundary = "scale-test-boundary"
    operations = json.dumps({"query": UPLOAD_ONE, "variables": {"file": None}})
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="operations"\r\n\r\n'
        f'{operations}\r\n--{boundary}\r\nContent-Disposition: form-data; name="map"\r\n\r\n'
        f"{json.dumps({'0': ['variables.file']})}\r\n--{boundary}\r\n"
        'Content-Disposition: form-data; name="0"; filename="big.bin"\r\n'
        "Content-Type: application/octet-stream\r\n\r\n"
    ).encode()
    block = bytes(range(256)) * (MIB // 256)

    def chunks():
        yield head
        for n in range(size // MIB):
            yield n.to_bytes(8, "big") + block[8:]
        if close:
            yield f"\r\n--{boundary}--\r\n".encode()

    return chunks(), f"multipart/form-data; boundary={boundary}"


class PeakRss:
    """Samples a process's resident memory while the `with` block runs."""

    def __init__(self, pid: int):
        self.process = psutil.Process(pid)
        self.stopped = threading.Event()
        self.peak = self.baseline = self.process.memory_info().rss

    def sample(self) -> None:
        while not self.stopped.wait(0.02):
            self.peak = max(self.peak, self.process.memory_info().rss)

    def __enter__(self):
        self.thread = threading.Thread(target=self.sample, daemon=True)
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stopped.set()
        self.thread.join()


def multipart_uploads(s3) -> list:
    return s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", [])


def test_a_big_upload_to_s3_keeps_the_web_process_flat(s3, s3_webs, token, user):
    web = s3_webs[0]
    size = 200 * MIB
    warm_body, content_type = streamed_body(MIB)  # boto3's client made, imports done
    httpx.post(
        f"{web.url}/graphql/",
        content=warm_body,
        timeout=60,
        headers={**headers(token), "Content-Type": content_type},
    ).raise_for_status()
    body, content_type = streamed_body(size)
    with PeakRss(web.process.pid) as rss:
        response = httpx.post(
            f"{web.url}/graphql/",
            content=body,
            timeout=300,
            headers={**headers(token), "Content-Type": content_type},
        )
    assert response.status_code == 200, response.text
    assert response.json()["data"]["uploadFile"]["size"] == size
    growth = rss.peak - rss.baseline
    assert growth < 64 * MIB, f"the web process grew by {growth / MIB:.0f} MiB"
    stored = File.objects.get(size=size)
    assert s3.head_object(Bucket=BUCKET, Key=stored.stored_file.name)["ContentLength"] == size


def test_a_refused_upload_leaves_no_object_and_no_parts(s3, s3_env, s3_webs, token, user):
    before = {obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    body, content_type = streamed_body(20 * MIB, close=False)  # two parts sent, then cut
    response = httpx.post(
        f"{s3_webs[0].url}/graphql/",
        content=body,
        timeout=60,
        headers={**headers(token), "Content-Type": content_type},
    )
    assert response.status_code == 400, response.text
    after = {obj["Key"] for obj in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
    assert after == before
    assert not multipart_uploads(s3), "the multipart upload was aborted"
    assert not File.objects.exists()
    assert not local_files(s3_env["MEDIA_ROOT"])


def test_s3_down_is_service_unavailable_and_names_nothing(s3_env, process_logs, token):
    dead_endpoint = f"http://127.0.0.1:{free_port()}"
    web = Server(
        "uvicorn",
        process_logs,
        env={**s3_env, "AWS_S3_ENDPOINT_URL": dead_endpoint, "AWS_MAX_ATTEMPTS": "1"},
    )
    try:
        body, content_type = streamed_body(MIB)
        response = httpx.post(
            f"{web.url}/graphql/",
            content=body,
            timeout=60,
            headers={**headers(token), "Content-Type": content_type},
        )
    finally:
        web.stop()
    assert response.status_code == 503, response.text
    assert response.json()["errors"][0]["extensions"]["code"] == "SERVICE_UNAVAILABLE"
    for secret in (dead_endpoint.split("//")[1], s3_env["AWS_ACCESS_KEY_ID"], BUCKET, "uploads"):
        assert secret not in response.text
    assert not File.objects.exists()
