"""Each kind end to end: upload → real worker → typed `result` in GraphQL."""

import json

import httpx
import pytest

from files_app.sizes import MIB
from tests.support import samples
from tests.support.operations import SUBSCRIBE, is_final, upload
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db(transaction=True)

RESULT = """
query($id: ID!) { file(id: $id) { kind status error failureCode result {
  __typename
  ... on ImageResult { format width height mode animated frames thumbnailUrl }
  ... on CsvResult { encoding delimiter hasHeader header rowCount columnCount
                     columns { name type nulls } badRows { line reason } badRowCount }
  ... on TextResult { encoding lineCount wordCount characterCount preview }
  ... on JsonResult { valid error errorLine errorColumn topLevelType keyCount itemCount }
  ... on PdfResult { pageCount title author encrypted }
  ... on ArchiveResult { format entryCount totalUncompressedSize entries }
  ... on AudioResult { format durationSeconds sampleRate channels }
} } }
"""


async def process(server, token, user, name, content) -> dict:
    subscription = await Subscription.open(server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=user)
    uploaded = await upload(server, token, name, content)
    await subscription.files_until(is_final, timeout=60)
    await subscription.close()
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{server.url}/graphql/",
            headers={"Authorization": f"Bearer {token}"},
            json={"query": RESULT, "variables": {"id": uploaded["id"]}},
        )
    return response.json()["data"]["file"]


@pytest.fixture
def server(uvicorn_server, celery_worker):
    return uvicorn_server


async def test_image(server, token, user):
    file = await process(server, token, user, "photo.png", samples.png(640, 480))
    assert file["kind"] == "IMAGE" and file["status"] == "DONE"
    result = file["result"]
    assert result["__typename"] == "ImageResult"
    assert (result["format"], result["width"], result["height"]) == ("PNG", 640, 480)
    async with httpx.AsyncClient() as client:
        thumbnail = await client.get(
            result["thumbnailUrl"], headers={"Authorization": f"Bearer {token}"}
        )
        foreign = await client.get(result["thumbnailUrl"])
    assert thumbnail.status_code == 200 and thumbnail.headers["content-type"] == "image/webp"
    assert thumbnail.content[8:12] == b"WEBP"
    assert foreign.status_code == 401


async def test_truncated_image_fails_with_a_clear_error(server, token, user):
    file = await process(server, token, user, "broken.jpg", samples.truncated_jpeg())
    assert file["kind"] == "IMAGE" and file["status"] == "FAILED"
    assert "damaged" in file["error"] or "truncated" in file["error"]
    assert file["failureCode"] == "DAMAGED"
    assert file["result"] is None


async def test_csv_with_a_validation_report(server, token, user):
    file = await process(server, token, user, "items.csv", samples.csv_with_bad_rows())
    result = file["result"]
    assert file["kind"] == "CSV" and result["__typename"] == "CsvResult"
    assert result["header"] == ["id", "name", "price", "active", "since"]
    assert result["rowCount"] == 50 and result["columnCount"] == 5
    assert [c["type"] for c in result["columns"]] == ["int", "text", "float", "bool", "date"]
    assert result["badRowCount"] == 1 and result["badRows"][0]["line"] == 12


async def test_text(server, token, user):
    text = "première ligne\nsecond line here\n".encode()
    file = await process(server, token, user, "notes.txt", text)
    assert file["result"]["__typename"] == "TextResult"
    assert (file["result"]["lineCount"], file["result"]["wordCount"]) == (2, 5)


async def test_json_valid_and_invalid(server, token, user):
    document = json.dumps({"a": 1, "b": [1, 2]}).encode()
    valid = await process(server, token, user, "data.json", document)
    assert valid["result"]["valid"] is True and valid["result"]["keyCount"] == 2
    invalid = await process(server, token, user, "bad.json", b'{\n  "a": 1,\n  "b": oops\n}')
    assert invalid["status"] == "DONE"
    assert invalid["result"]["valid"] is False
    assert (invalid["result"]["errorLine"], invalid["result"]["errorColumn"]) == (3, 8)


async def test_pdf(server, token, user):
    pdf = samples.pdf("Quarterly report", pages=3)
    file = await process(server, token, user, "report.pdf", pdf)
    result = file["result"]
    assert file["kind"] == "PDF" and file["failureCode"] is None
    assert (result["pageCount"], result["title"], result["author"]) == (
        3,
        "Quarterly report",
        "Alice",
    )


async def test_broken_pdf_fails_with_a_clear_error(server, token, user):
    file = await process(server, token, user, "broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 50)
    assert file["status"] == "FAILED" and "PDF" in file["error"]
    assert file["failureCode"] == "DAMAGED"  # the code to act on, beside the wording


async def test_zip_archive(server, token, user):
    archive = samples.zip_archive({"a.txt": b"a" * 10, "dir/b.txt": b"b" * 20})
    file = await process(server, token, user, "bundle.zip", archive)
    result = file["result"]
    assert file["kind"] == "ARCHIVE"
    assert (result["format"], result["entryCount"], result["totalUncompressedSize"]) == (
        "zip",
        2,
        30,
    )
    assert result["entries"] == ["a.txt", "dir/b.txt"]


async def test_zip_bomb_fails_without_extracting(server, token, user):
    bomb = samples.zip_archive({"zeros.bin": b"\x00" * (20 * MIB)})
    file = await process(server, token, user, "bomb.zip", bomb)
    assert file["status"] == "FAILED" and "bomb" in file["error"]


async def test_audio(server, token, user):
    file = await process(server, token, user, "tone.wav", samples.wav(seconds=1, rate=8000))
    result = file["result"]
    assert file["kind"] == "AUDIO"
    assert result["sampleRate"] == 8000 and result["channels"] == 1
    assert abs(result["durationSeconds"] - 1.0) < 0.01


async def test_other_kind_has_no_result(server, token, user):
    file = await process(server, token, user, "blob.bin", bytes(range(256)) * 4)
    assert file["kind"] == "OTHER" and file["status"] == "DONE" and file["result"] is None


async def test_progress_of_a_large_csv_rises_live_and_ends_at_one(server, token, user):
    rows = 600_000  # ~25 MB: long enough to process for several progress intervals
    content = "id,value,label\n" + "".join(f"{i},{i * 0.5},row {i}\n" for i in range(rows))
    subscription = await Subscription.open(server.ws_url, token=token)
    await subscription.subscribe(SUBSCRIBE, owner=user)
    await upload(server, token, "big.csv", content.encode())
    events = await subscription.files_until(is_final, timeout=120)
    await subscription.close()
    processing = [e["progress"] for e in events if e["status"] == "PROCESSING"]
    assert len(processing) >= 3, processing
    assert processing == sorted(processing) and len(set(processing)) == len(processing)
    assert events[-1]["status"] == "DONE" and events[-1]["progress"] == 1.0
    versions = [e["version"] for e in events]
    assert versions == sorted(versions)
