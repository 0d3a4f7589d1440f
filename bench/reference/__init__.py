"""The simple design the service is benchmarked against, side by side in the same run.

A plain Django project, written the way small upload services usually are: one model, an
upload view that saves the file with `FileSystemStorage` (the model's FileField), inserts a
row and calls `process.delay(id)`, a list view that returns every row as JSON, no auth, CSRF
exempt. Served by gunicorn with one sync worker, processed by one Celery worker with
`--pool=solo` (see bench/stack.py: ReferenceStack). Its own PostgreSQL database
(`filesvc_bench_reference`), MEDIA_ROOT and Redis database 2.

`bare_asgi.py` is the other reference: the least an ASGI server can do with an upload
(stream the body to a file), for the big-upload figures.
"""
