"""Fixtures: users and tokens, GraphQL clients, the real processes the end-to-end tests talk to
(a Celery worker, uvicorn and daphne servers) on loopback, and the live page in Chromium.

What the fixtures are made of lives in tests/support/; no test module imports this file or
another test module."""

import pytest
from django.contrib.auth import get_user_model

from files_app import services
from tests.support import browser as page_support
from tests.support.flush import retried_on_deadlock
from tests.support.graphql import GraphQL
from tests.support.processes import Server, free_port, start_celery
from tests.support.users import PASSWORD

# --- users and clients --------------------------------------------------------------------


@pytest.fixture
def user(db):
    return get_user_model().objects.create_user("alice", password=PASSWORD)


@pytest.fixture
def other_user(db):
    return get_user_model().objects.create_user("bob", password=PASSWORD)


@pytest.fixture
def staff_user(db):
    return get_user_model().objects.create_user("carol", password=PASSWORD, is_staff=True)


@pytest.fixture
def token(user):
    return services.api_token_create(user=user)


@pytest.fixture
def other_token(other_user):
    return services.api_token_create(user=other_user)


@pytest.fixture
def staff_token(staff_user):
    return services.api_token_create(user=staff_user)


@pytest.fixture
def gql(client, token):
    return GraphQL(client, token)


@pytest.fixture
def other_gql(client, other_token):
    return GraphQL(client, other_token)


# --- real processes -----------------------------------------------------------------------


@pytest.fixture(scope="session")
def process_logs(tmp_path_factory):
    return tmp_path_factory.mktemp("process-logs")


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, process_logs):
    """One real Celery worker process on the real broker, for the whole session: it logs
    JSON lines to `worker.log` and serves its metrics at `worker.metrics_url`."""
    metrics_port = free_port()
    worker = start_celery(
        {"LOG_FORMAT": "json", "METRICS_WORKER_PORT": str(metrics_port)},
        process_logs / "celery-worker.log",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "2",
        "--purge",
        "--without-gossip",
        "--without-mingle",
    )
    worker.metrics_url = f"http://127.0.0.1:{metrics_port}/metrics"
    from project.celery import app

    try:
        worker.wait_ready(app)
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def uvicorn_server(django_db_setup, process_logs):
    server = Server("uvicorn", process_logs)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def daphne_server(django_db_setup, process_logs):
    server = Server("daphne", process_logs)
    yield server
    server.stop()


@pytest.fixture(scope="session", autouse=True)
def flush_retried_on_deadlock():
    """The flush after a transactional test, tried again if it lost a deadlock with the
    session's worker (tests/support/flush.py)."""
    from django.db.backends.base.operations import BaseDatabaseOperations

    original = BaseDatabaseOperations.execute_sql_flush
    BaseDatabaseOperations.execute_sql_flush = retried_on_deadlock(original)
    yield
    BaseDatabaseOperations.execute_sql_flush = original


@pytest.fixture(scope="session", autouse=True)
def close_stray_connections(django_db_setup, django_db_blocker):
    """Async tests leave connections open in asgiref's worker threads; PostgreSQL would
    refuse to drop the test database while they live."""
    yield
    from django.db import connection

    if connection.vendor == "postgresql":
        with django_db_blocker.unblock(), connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )


# --- the live page in Chromium (tests/support/browser.py) ---------------------------------


@pytest.fixture(scope="module")
def browser():
    with page_support.chromium() as browser:
        yield browser


@pytest.fixture(scope="module")
def page_server(django_db_setup, process_logs, celery_worker):
    """Its own server: a small upload limit, and free to be restarted by a test."""
    server = Server(
        "uvicorn", process_logs, env={"MAX_UPLOAD_SIZE": str(page_support.PAGE_MAX_UPLOAD)}
    )
    yield server
    server.stop()


@pytest.fixture
def page(browser, page_server, user, request):
    with page_support.logged_in_page(browser, page_server.url, user, request) as page:
        yield page
