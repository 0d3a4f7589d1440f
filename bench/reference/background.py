"""The second reference design: a FastAPI app whose background work runs in-process after the
answer (`BackgroundTasks`), no queue and no worker, as such a service is often first written.

Same endpoints and table as the Django reference (bench/reference/views.py): `POST /upload`
stores the file under MEDIA_ROOT/uploads and inserts its row, answers, then marks it
processed in the same process; `GET /files/<id>` says whether it is. Plain `def` endpoints
and a pool of psycopg2 connections, run by FastAPI on its thread pool, under one uvicorn
process. The bench starts it with the Django reference's database prepared
(bench/stack.py); nothing here is imported by the service.
"""

import contextlib
import os
import shutil
import uuid
from pathlib import Path

import dj_database_url
from fastapi import BackgroundTasks, FastAPI, HTTPException, UploadFile
from psycopg2.pool import ThreadedConnectionPool

# As many connections as FastAPI's thread pool runs endpoints and background tasks at once
# (AnyIO's default limit), so none waits for a connection.
POOL_SIZE = 40

config = dj_database_url.parse(os.environ["REFERENCE_DATABASE_URL"])
pool = ThreadedConnectionPool(
    1,
    POOL_SIZE,
    dbname=config["NAME"],
    user=config["USER"],
    password=config["PASSWORD"] or None,
    host=config["HOST"] or "127.0.0.1",
    port=config["PORT"] or 5432,
)
uploads = Path(os.environ["REFERENCE_MEDIA_ROOT"]) / "uploads"
uploads.mkdir(parents=True, exist_ok=True)

app = FastAPI()


@contextlib.contextmanager
def cursor():
    """A pooled connection's cursor, committed on leaving."""
    connection = pool.getconn()
    try:
        with connection, connection.cursor() as cursor:
            yield cursor
    finally:
        pool.putconn(connection)


def process(file_id: int) -> None:
    with cursor() as c:
        c.execute("UPDATE reference_storedfile SET processed = true WHERE id = %s", [file_id])


@app.post("/upload", status_code=201)
def upload(file: UploadFile, background: BackgroundTasks) -> dict:
    name = f"{uuid.uuid4().hex}_{Path(file.filename or 'upload').name}"
    with (uploads / name).open("wb") as out:
        shutil.copyfileobj(file.file, out)
    size = (uploads / name).stat().st_size
    with cursor() as c:
        c.execute(
            "INSERT INTO reference_storedfile (name, file, size, processed, uploaded_at) "
            "VALUES (%s, %s, %s, false, now()) RETURNING id",
            [file.filename, f"uploads/{name}", size],
        )
        file_id = c.fetchone()[0]
    background.add_task(process, file_id)
    return {"id": file_id, "name": file.filename, "size": size, "processed": False}


@app.get("/files/{file_id}")
def file_detail(file_id: int) -> dict:
    with cursor() as c:
        c.execute("SELECT processed FROM reference_storedfile WHERE id = %s", [file_id])
        row = c.fetchone()
    if row is None:
        raise HTTPException(status_code=404)
    return {"id": file_id, "processed": row[0]}
