"""The S3 rows of `make bench` (part `s3`): a big upload into S3 served by moto's standalone
server on loopback, through the service's ingress (streamed into a multipart upload) and as
a direct upload (presigned POST, the bytes skip the web process).

References measured in the same run: for throughput, the same bytes sent straight to moto by
boto3 in one stream of the same part size (what the S3 server itself takes: the ceiling of
any upload through it); for the web process's memory, the same upload to the same service on
local disk. moto keeps objects in memory and temporary files, so the figures say what the
web tier adds, not what a real S3 or MinIO sustains.
"""

import importlib.util
import time
import uuid

import httpx

from bench import loads
from bench.stack import WebServer
from files_app.sizes import MIB
from tools.processes import HttpServer, free_port, moto_command

BUCKET = "filesvc-bench"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "bench-key",
    "AWS_SECRET_ACCESS_KEY": "bench-secret",
    "AWS_S3_REGION_NAME": "us-east-1",
}
CREATE = """mutation($name: String!, $size: BigInt!) { createUploadUrl(name: $name, size: $size)
  { url fields { name value } file { id } } }"""
COMPLETE = "mutation($id: ID!) { completeUpload(id: $id) { id status } }"


class MotoServer(HttpServer):
    def __init__(self, work):
        port = free_port()
        super().__init__(
            moto_command(host=self.host, port=port),
            work / "moto.log",
            port=port,
            ready_path="/moto-api/",
        )

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
            region_name=CREDENTIALS["AWS_S3_REGION_NAME"],
        )


def straight_to_s3(client, source) -> float:
    """Seconds boto3 takes to put `source` into the bucket: one stream, 8 MiB parts (as the
    ingress sends them)."""
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=8 * MIB,
        multipart_chunksize=8 * MIB,
        max_concurrency=1,
        use_threads=False,
    )
    started = time.perf_counter()
    client.upload_file(str(source), BUCKET, f"reference/{uuid.uuid4().hex}", Config=config)
    return time.perf_counter() - started


def direct_upload(server, headers: dict, source) -> float:
    """createUploadUrl, the presigned POST, completeUpload: seconds for all three."""
    size = source.stat().st_size
    with httpx.Client(timeout=600, headers=headers) as api, source.open("rb") as body:
        started = time.perf_counter()
        issued = api.post(
            f"{server.url}/graphql/",
            json={"query": CREATE, "variables": {"name": source.name, "size": size}},
        )
        loads.check_graphql(issued)
        issued = issued.json()["data"]["createUploadUrl"]
        fields = {field["name"]: field["value"] for field in issued["fields"]}
        stored = httpx.post(
            issued["url"], data=fields, files={"file": (source.name, body)}, timeout=600
        )
        stored.raise_for_status()
        completed = api.post(
            f"{server.url}/graphql/",
            json={"query": COMPLETE, "variables": {"id": issued["file"]["id"]}},
        )
        loads.check_graphql(completed)
        return time.perf_counter() - started


def bench_s3(report, work, size: int, token: str) -> None:
    label = f"{size // MIB} MiB"
    if importlib.util.find_spec("moto") is None:
        report.add(
            f"S3 upload {label}: skipped",
            float("nan"),
            "",
            note="moto is not installed (pip install -r requirements-dev.txt)",
        )
        return
    headers = {"Authorization": f"Bearer {token}"}
    source = loads.make_file(work / "big-s3.bin", size)
    moto = local = service = None
    try:
        moto = MotoServer(work)
        client = moto.client()
        client.create_bucket(Bucket=BUCKET)
        s3_env = {**CREDENTIALS, "AWS_STORAGE_BUCKET_NAME": BUCKET, "AWS_S3_ENDPOINT_URL": moto.url}
        service = WebServer("uvicorn", work, env=s3_env, name="uvicorn-s3")
        local = WebServer("uvicorn", work, name="uvicorn-local")
        reference = straight_to_s3(client, source)
        # Once per process, not per upload: boto3's client and its S3 model (tens of MiB).
        warm_up = loads.make_file(work / "warm-up.bin", MIB)
        for server in (service, local):
            loads.upload_with_rss(server, headers, "/graphql/", warm_up, loads.check_graphql)
        warm_up.unlink()
        took, grew = loads.upload_with_rss(
            service, headers, "/graphql/", source, loads.check_graphql
        )
        loads.wait_until_processed(timeout=600)
        _, local_grew = loads.upload_with_rss(
            local, headers, "/graphql/", source, loads.check_graphql
        )
        loads.wait_until_processed(timeout=600)
        direct = direct_upload(service, headers, source)
        loads.wait_until_processed(timeout=600)
    finally:
        for each in (service, local, moto):
            if each:
                each.stop()
        source.unlink()
        loads.empty_directory(work / "media")
    mib = size / MIB
    report.add(
        f"S3 upload {label} via uvicorn (ingress): throughput",
        mib / took,
        "MiB/s",
        reference=mib / reference,
        target="≥ 0.7 × ref",
        passed=reference / took >= 0.7,
        note="ref: boto3 straight to moto, one stream of 8 MiB parts",
    )
    report.add(
        f"S3 upload {label} via uvicorn (ingress): server RSS growth",
        grew / MIB,
        "MiB",
        reference=local_grew / MIB,
        target="≤ 64 MiB",
        passed=grew <= 64 * MIB,
        note="ref: the same service on local disk",
    )
    report.add(
        f"S3 direct upload {label} (presigned POST): throughput",
        mib / direct,
        "MiB/s",
        reference=mib / reference,
        note="createUploadUrl + POST to moto + completeUpload",
    )
