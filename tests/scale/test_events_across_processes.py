"""Events cross processes: two uvicorn processes and a worker on a channel layer sharded
across two Redis servers (CHANNEL_REDIS_HOSTS). Several users, so that their groups live on
both servers; each user watches from both web processes, uploads through one of them, and
both subscribers see every event of every file (published by the web process that took the
upload and by the worker that processed it), in order."""

import pytest
import redis
from django.conf import settings
from django.contrib.auth import get_user_model

from files_app import services
from files_app.models import File, FileStatus
from schema.live import channel
from tests.support.operations import upload_blocking
from tests.support.processes import Server, wait_until
from tests.support.scale import ShardedWatcher, csv, redis_server, shard_of, start_worker

pytestmark = pytest.mark.django_db(transaction=True)

USERS_PER_SHARD = 2
FILES_PER_USER = 2
ROWS = 20_000  # enough CSV for a few progress events


def users_on_every_shard(hosts: list[str]) -> list:
    """Users whose groups land USERS_PER_SHARD on each Redis server (group names hash)."""
    users, placed, number = [], {host: 0 for host in hosts}, 0
    while min(placed.values()) < USERS_PER_SHARD:
        number += 1
        assert number < 100, f"no spread of user groups over {hosts}: {placed}"
        user = get_user_model().objects.create_user(f"user-{number}")
        host = shard_of(channel.owner_group(user.pk), hosts)
        if placed[host] < USERS_PER_SHARD:
            placed[host] += 1
            users.append(user)
    return users


def group_keys(url: str) -> int:
    client = redis.Redis.from_url(url)
    try:
        prefix = settings.CHANNEL_LAYERS["default"]["CONFIG"]["prefix"]
        return sum(1 for _ in client.scan_iter(f"{prefix}:group:files.owner.*"))
    finally:
        client.close()


def test_subscribers_on_every_web_process_see_every_event(django_db_setup, process_logs):
    content = csv(ROWS)
    with redis_server(process_logs / "second-redis.log") as second:
        hosts = [settings.REDIS_URL, second]
        env = {
            "CHANNEL_REDIS_HOSTS": ",".join(hosts),
            # A broker of the test's own: the session's worker (one channel-layer server)
            # must not take these files.
            "CELERY_BROKER_URL": second.rsplit("/", 1)[0] + "/1",
        }
        users = users_on_every_shard(hosts)
        tokens = {user.pk: services.api_token_create(user=user) for user in users}
        webs = [Server("uvicorn", process_logs, env=env) for _ in range(2)]
        worker = start_worker(
            env,
            process_logs / "events-worker.log",
            "events",
            "--pool",
            "threads",
            "--concurrency",
            "2",
        )
        watchers = {}
        try:
            for user in users:
                for index, web in enumerate(webs):
                    watchers[user.pk, index] = ShardedWatcher(web, tokens[user.pk], user, hosts)
            # Every membership where its group's name says: both servers hold groups.
            assert all(group_keys(host) >= USERS_PER_SHARD for host in hosts)
            for number, user in enumerate(users):
                for copy in range(FILES_PER_USER):
                    upload_blocking(
                        webs[number % 2], tokens[user.pk], f"{user.pk}-{copy}.csv", content
                    )
            files = File.objects.filter(owner__in=users)
            assert files.count() == len(users) * FILES_PER_USER
            wait_until(
                lambda: files.filter(status=FileStatus.DONE).count() == files.count(),
                120,
                "not every file was processed",
            )
            for file in files:
                for index in range(len(webs)):
                    watcher = watchers[file.owner_id, index]
                    wait_until(
                        lambda w=watcher, f=file: w.saw_done(f.pk),
                        30,
                        f"web {index + 1} never announced {file.name} DONE",
                    )
                seen = [
                    [
                        event["version"]
                        for event in watchers[file.owner_id, index].events[str(file.pk)]
                    ]
                    for index in range(len(webs))
                ]
                assert seen[0] == seen[1], seen  # every event, on both web processes
                assert seen[0] == sorted(set(seen[0])) and seen[0][-1] == file.version, seen
                assert len(seen[0]) >= 3, seen  # queued, started (and progress), done
        finally:
            for watcher in watchers.values():
                watcher.close()
            worker.stop()
            for web in webs:
                web.stop()
