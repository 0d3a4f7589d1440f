"""S3 for the scale tests: moto's bucket and credentials, clients, and Celery workers on a
broker of their own (the session's local-disk worker must never take their tasks)."""

import importlib.util
import os
from pathlib import Path

import pytest
from celery import Celery

from tests.support.processes import start_celery
from tools.processes import CeleryProcess

BUCKET = "filesvc-scale"
CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "scale-test-key",
    "AWS_SECRET_ACCESS_KEY": "scale-secret",
    "AWS_S3_REGION_NAME": "us-east-1",
}


def require_moto() -> None:
    if importlib.util.find_spec("moto") is None:
        reason = "moto is not installed (pip install -r requirements-dev.txt)"
        if os.environ.get("REQUIRE_S3") == "1":
            pytest.fail(f"the S3 tests are mandatory here: {reason}")
        pytest.skip(reason)


def s3_client(endpoint: str):
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"],
        region_name=CREDENTIALS["AWS_S3_REGION_NAME"],
    )


def start_s3_worker(name: str, log_dir: Path, env: dict) -> CeleryProcess:
    """One Celery worker (solo pool: one file at a time), named `name@scale`."""
    return start_celery(
        env,
        log_dir / f"{name}.log",
        "worker",
        "--pool",
        "solo",
        "--without-gossip",
        "--without-mingle",
        hostname=f"{name}@scale",
    )


def control_app(env: dict) -> Celery:
    # Not the current app: `shared_task`s (process_file) would send to its broker after.
    return Celery("scale-control", broker=env["CELERY_BROKER_URL"], set_as_current=False)


def processed_per_worker(env: dict, workers) -> dict[str, int]:
    """How many process_file tasks each worker ran, as Celery's own stats count them."""
    stats = (
        control_app(env)
        .control.inspect(destination=[w.hostname for w in workers], timeout=5)
        .stats()
        or {}
    )
    return {
        name: stat.get("total", {}).get("files_app.process_file", 0) for name, stat in stats.items()
    }


def local_files(media_root: str) -> list[Path]:
    return [path for path in Path(media_root).rglob("*") if path.is_file()]
