"""Webhooks (docs/webhooks.md), against a real HTTP receiver on loopback and a real Celery
worker of their own: every delivery verified with the `standardwebhooks` library. A file
reaches DONE or FAILED, or is deleted, in this process (the services a worker or a request
would call); its deliveries go out from the worker. Retries are made quick by the worker's
settings (base WEBHOOK_RETRY_BASE below, giving up after RETRY_FOR); the tests wait on the
receiver's queue, never on a clock."""

import json
import uuid
from datetime import timedelta

import pytest
from standardwebhooks import Webhook as Verifier
from standardwebhooks.webhooks import WebhookVerificationError

from files_app import services
from files_app.models import DeliveryStatus, Webhook, WebhookDelivery
from schema.graphql.ids import decode_file_id, decode_webhook_id
from tests.support.files import make_sniffed_file
from tests.support.graphql import GraphQL
from tests.support.processes import free_port, start_celery, wait_until
from tests.support.samples import truncated_jpeg
from tests.support.users import grant_every_file_right
from tests.support.webhook_receiver import DRIP, HOLD, Receiver

pytestmark = pytest.mark.django_db(transaction=True)

RETRY_BASE = 0.5
RETRY_FOR = 6.0  # four tries of an endpoint that always fails: 0, 0.5, 1.5, 3.5 s
TIMEOUT = 1.0
CSV = b"city,population\nParis,2102650\nLyon,522250\n"
FIELDS = "id url events createdAt lastDelivery { status attempts respondedWith at messageId }"
CREATE = (
    "mutation($url: String!, $events: [WebhookEvent!]!) { createWebhook(url: $url, "
    f"events: $events) {{ secret webhook {{ {FIELDS} }} }} }}"
)
LIST = f"{{ webhooks {{ {FIELDS} }} }}"
DELETE = "mutation($id: ID!) { deleteWebhook(id: $id) }"
ALL_EVENTS = ["FILE_DONE", "FILE_FAILED", "FILE_DELETED"]


@pytest.fixture(scope="module")
def queue_name():
    return f"webhooks-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, process_logs, queue_name):
    """A worker of its own, on a queue of its own, allowed to send to loopback, quick to
    retry and to give up."""
    worker = start_celery(
        {
            "WEBHOOK_DELIVERY_QUEUE": queue_name,
            "WEBHOOK_ALLOW_PRIVATE_ADDRESSES": "1",
            "WEBHOOK_RETRY_BASE_SECONDS": str(RETRY_BASE),
            "WEBHOOK_RETRY_FOR_SECONDS": str(RETRY_FOR),
            "WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT),
        },
        process_logs / f"{queue_name}.log",
        "worker",
        "--pool",
        "threads",
        "--concurrency",
        "4",
        "-Q",
        queue_name,
        "--without-gossip",
        "--without-mingle",
        hostname=f"{queue_name}@%h",
    )
    from project.celery import app

    try:
        worker.wait_ready(app)
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="module")
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture(autouse=True)
def webhook_settings(settings, queue_name):
    """This process creates the deliveries (a file's change commits here): to the worker's
    queue; webhooks to loopback are allowed unless a test says otherwise."""
    settings.WEBHOOK_DELIVERY_QUEUE = queue_name
    settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = True
    return settings


def path() -> str:
    return f"/hook/{uuid.uuid4().hex[:8]}"


def create(gql: GraphQL, url: str, events=ALL_EVENTS) -> dict:
    answer = gql(CREATE, url=url, events=events)
    assert "errors" not in answer, answer
    return answer["data"]["createWebhook"]


def refusal(gql: GraphQL, url: str) -> str:
    answer = gql(CREATE, url=url, events=ALL_EVENTS)
    assert answer["data"] is None, answer
    return answer["errors"][0]["extensions"]["code"]


def done_file(owner, name="cities.csv"):
    file = make_sniffed_file(owner, name, CSV)
    assert services.file_process(file_id=file.pk).file.status == "DONE"
    return file


def verified(secret: str, got) -> dict:
    """The delivery, checked as a receiver checks it: the library's verification."""
    return Verifier(secret).verify(got.body, got.headers)


def last_delivery(gql: GraphQL, webhook_id: str) -> dict:
    hooks = {hook["id"]: hook for hook in gql(LIST)["data"]["webhooks"]}
    return hooks[webhook_id]["lastDelivery"]


# --- delivery, signature, payload ------------------------------------------------------------


def test_a_done_file_is_delivered_signed_with_its_public_state(gql, user, receiver, webhook_worker):
    where = path()
    created = create(gql, receiver.url(where))
    secret, webhook = created["secret"], created["webhook"]
    assert secret.startswith("whsec_") and webhook["lastDelivery"] is None
    assert webhook["events"] == ALL_EVENTS and webhook["url"] == receiver.url(where)
    assert secret not in Webhook.objects.get().secret_encrypted  # kept encrypted only

    file = done_file(user)
    got = receiver.next(where)
    payload = verified(secret, got)
    assert payload["type"] == "file.done" and payload["timestamp"].endswith("+00:00")
    data = payload["data"]
    assert decode_file_id(data["id"]) == file.pk and data["id"] != str(file.pk)  # a global id
    assert data["name"] == "cities.csv" and data["status"] == "DONE" and data["size"] == len(CSV)
    assert data["kind"] == "CSV" and len(data["sha256"]) == 64 and data["deleted"] is False
    assert "owner_id" not in data and "ownerId" not in data
    assert got.headers["webhook-id"].startswith("msg_")
    assert got.headers["content-type"] == "application/json"
    # The global id is the API's: the file is found by it.
    node = gql("query($id: ID!) { file(id: $id) { name status } }", id=data["id"])
    assert node["data"]["file"] == {"name": "cities.csv", "status": "DONE"}

    tampered = got.body.replace(b'"DONE"', b'"FAILED"')
    with pytest.raises(WebhookVerificationError):
        Verifier(secret).verify(tampered, got.headers)
    with pytest.raises(WebhookVerificationError):  # another secret
        Verifier("whsec_" + "A" * 43 + "=").verify(got.body, got.headers)

    wait_until(
        lambda: (last_delivery(gql, webhook["id"]) or {}).get("status") == "SUCCEEDED",
        30,
        "the delivery was never marked SUCCEEDED",
    )
    delivered = last_delivery(gql, webhook["id"])
    assert delivered["attempts"] == 1 and delivered["respondedWith"] == "HTTP 200"
    assert delivered["messageId"] == got.headers["webhook-id"]


def test_failed_and_deleted_files_reach_only_the_webhooks_listening(
    gql, user, receiver, webhook_worker
):
    done_only, failed_and_deleted = path(), path()
    done_hook = create(gql, receiver.url(done_only), ["FILE_DONE"])
    other = create(gql, receiver.url(failed_and_deleted), ["FILE_FAILED", "FILE_DELETED"])

    broken = make_sniffed_file(user, "broken.jpg", truncated_jpeg())
    assert services.file_process(file_id=broken.pk).file.status == "FAILED"
    failed = verified(other["secret"], receiver.next(failed_and_deleted))
    assert failed["type"] == "file.failed" and failed["data"]["status"] == "FAILED"
    assert failed["data"]["error"] and failed["data"]["failureCode"]

    services.file_delete(user=user, file_id=broken.pk)
    deleted = verified(other["secret"], receiver.next(failed_and_deleted))
    assert deleted["type"] == "file.deleted" and deleted["data"]["deleted"] is True
    assert decode_file_id(deleted["data"]["id"]) == broken.pk

    done = done_file(user)
    assert verified(done_hook["secret"], receiver.next(done_only))["data"]["name"] == done.name
    assert receiver.nothing(done_only), "a FILE_DONE webhook heard of a failure or a deletion"
    assert WebhookDelivery.objects.filter(webhook__url=receiver.url(done_only)).count() == 1


def test_a_file_of_an_owner_without_webhooks_costs_the_worker_no_webhook_query(
    gql, other_gql, user, other_user, receiver, webhook_worker, settings, django_assert_num_queries
):
    """The change to DONE itself says whether its owner has a webhook: for one without, the
    worker's two statements (start, finish) are all, though someone else has a webhook."""
    settings.PROGRESS_EVENTS_PER_SECOND = 0.001  # no progress write: the count is exact
    where = path()
    others = create(other_gql, receiver.url(where))
    alices = make_sniffed_file(user, "alice.csv", CSV)
    with django_assert_num_queries(2):
        assert services.file_process(file_id=alices.pk).file.status == "DONE"

    bobs = done_file(other_user, "bob.csv")  # the owner with a webhook still hears
    assert decode_file_id(verified(others["secret"], receiver.next(where))["data"]["id"]) == (
        bobs.pk
    )
    assert receiver.nothing(where) and WebhookDelivery.objects.count() == 1


# --- retries -------------------------------------------------------------------------------


def test_a_5xx_is_retried_with_backoff_and_the_same_webhook_id(gql, user, receiver, webhook_worker):
    where = path()
    receiver.script(where, 500, 503)
    created = create(gql, receiver.url(where))
    done_file(user)

    tries = [receiver.next(where) for _ in range(3)]
    assert len({got.headers["webhook-id"] for got in tries}) == 1
    stamps = [int(got.headers["webhook-timestamp"]) for got in tries]
    assert stamps == sorted(stamps)
    for got in tries:  # each try signed afresh, each one verifies
        assert verified(created["secret"], got)["type"] == "file.done"
    assert len({got.body for got in tries}) == 1  # the body is fixed at the event

    webhook_id = created["webhook"]["id"]
    wait_until(
        lambda: last_delivery(gql, webhook_id)["status"] == "SUCCEEDED", 30, "never SUCCEEDED"
    )
    assert last_delivery(gql, webhook_id)["attempts"] == 3


def test_a_receiver_that_does_not_answer_in_time_gets_the_delivery_again(
    gql, user, receiver, webhook_worker
):
    where = path()
    receiver.script(where, HOLD, HOLD)
    created = create(gql, receiver.url(where))
    done_file(user)

    first, second = receiver.next(where), receiver.next(where)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    # The second try is under way: the first's outcome is what the API shows.
    delivery = WebhookDelivery.objects.get(message_id=first.headers["webhook-id"])
    assert delivery.responded_with == f"no answer within {TIMEOUT:g} s"
    assert delivery.status == DeliveryStatus.PENDING
    third = receiver.next(where)
    assert verified(created["secret"], third)["data"]["status"] == "DONE"
    wait_until(
        lambda: last_delivery(gql, created["webhook"]["id"])["respondedWith"] == "HTTP 200",
        30,
        "the third try's answer was never recorded",
    )


def test_a_delivery_that_never_succeeds_is_failed_after_the_retry_period(
    gql, user, receiver, webhook_worker, admin_client
):
    where = path()
    receiver.script(where, *[500] * 10)
    created = create(gql, receiver.url(where))
    done_file(user)

    webhook_id = created["webhook"]["id"]
    wait_until(
        lambda: last_delivery(gql, webhook_id)["status"] == "FAILED",
        60,
        "the delivery was never given up",
    )
    failed = last_delivery(gql, webhook_id)
    # Tries at 0, 0.5, 1.5 and 3.5 s; the next (7.5 s) would be past RETRY_FOR (6 s).
    assert failed["attempts"] == 4 and failed["respondedWith"] == "HTTP 500"
    assert [receiver.next(where).headers["webhook-id"] for _ in range(4)] == [
        failed["messageId"]
    ] * 4
    assert receiver.nothing(where)
    listed = admin_client.get("/admin/files_app/webhookdelivery/?status__exact=FAILED")
    assert listed.status_code == 200 and failed["messageId"].encode() in listed.content


# --- who hears of what -------------------------------------------------------------------------


def test_each_owner_hears_only_of_their_own_files_staff_included(
    client, gql, other_gql, user, other_user, staff_user, staff_token, receiver, webhook_worker
):
    grant_every_file_right(staff_user)  # staff who see everyone's files in the API
    staff_gql = GraphQL(client, staff_token)
    paths = {name: path() for name in ("alice", "bob", "staff")}
    secrets = {
        name: create(client_gql, receiver.url(paths[name]))["secret"]
        for name, client_gql in (("alice", gql), ("bob", other_gql), ("staff", staff_gql))
    }

    alices = done_file(user, "alice.csv")
    got = verified(secrets["alice"], receiver.next(paths["alice"]))
    assert decode_file_id(got["data"]["id"]) == alices.pk
    # Deliveries are made when the change commits: none for anyone else's webhook.
    assert list(
        WebhookDelivery.objects.order_by()
        .values_list("webhook__owner__username", flat=True)
        .distinct()
    ) == ["alice"]

    bobs = done_file(other_user, "bob.csv")
    assert decode_file_id(verified(secrets["bob"], receiver.next(paths["bob"]))["data"]["id"]) == (
        bobs.pk
    )
    staffs = done_file(staff_user, "staff.csv")
    staff_got = verified(secrets["staff"], receiver.next(paths["staff"]))
    assert decode_file_id(staff_got["data"]["id"]) == staffs.pk
    for name in paths:
        assert receiver.nothing(paths[name]), f"{name} heard of someone else's file"

    # Each lists their own webhooks only, and cannot delete another's.
    staff_hooks = staff_gql(LIST)["data"]["webhooks"]
    assert [hook["url"] for hook in staff_hooks] == [receiver.url(paths["staff"])]
    alices_hook = gql(LIST)["data"]["webhooks"][0]["id"]
    refused = staff_gql(DELETE, id=alices_hook)
    assert refused["errors"][0]["extensions"]["code"] == "NOT_FOUND"
    assert Webhook.objects.filter(owner=user).exists()


def test_a_deleted_webhook_gets_nothing_more(gql, user, receiver, webhook_worker):
    gone, kept = path(), path()
    receiver.script(gone, 500)  # a retry is queued when it is deleted
    doomed = create(gql, receiver.url(gone))
    create(gql, receiver.url(kept), ["FILE_DELETED"])
    file = done_file(user)
    receiver.next(gone)

    deleted = gql(DELETE, id=doomed["webhook"]["id"])
    assert deleted["data"]["deleteWebhook"] == doomed["webhook"]["id"]
    doomed_id = decode_webhook_id(doomed["webhook"]["id"])
    assert not WebhookDelivery.objects.filter(webhook_id=doomed_id).exists()
    services.file_delete(user=user, file_id=file.pk)
    assert json.loads(receiver.next(kept).body)["type"] == "file.deleted"
    assert receiver.nothing(gone), "a deleted webhook was sent to again"
    assert [hook["url"] for hook in gql(LIST)["data"]["webhooks"]] == [receiver.url(kept)]
    again = gql(DELETE, id=doomed["webhook"]["id"])
    assert again["errors"][0]["extensions"]["code"] == "NOT_FOUND"


# --- refusals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8000/hook",
        "http://localhost/hook",  # a name, resolved: loopback
        "http://169.254.169.254/latest/meta-data/",  # the clouds' metadata address
        "http://10.1.2.3/",
        "http://192.168.0.10/",
        "http://100.64.0.1/",  # shared address space
        "http://[::1]/",
        "http://[::ffff:127.0.0.1]/",  # IPv4-mapped loopback
        "http://[fd00:ec2::254]/",  # a metadata address over IPv6
        "http://0.0.0.0/",
        "http://does-not-exist.invalid/",
    ],
)
def test_a_private_destination_is_refused_at_creation(gql, webhook_settings, url):
    webhook_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    answer = gql(CREATE, url=url, events=ALL_EVENTS)
    assert answer["errors"][0]["extensions"]["code"] == "WEBHOOK_DESTINATION_REFUSED"
    # One message for a name that does not resolve and one that resolves privately.
    assert "is not a public destination" in answer["errors"][0]["message"]
    assert not Webhook.objects.exists()


@pytest.mark.parametrize(
    "url",
    [
        "ftp://example.com/",
        "example.com/hook",
        "http://user:pw@example.com/",
        "http://",
        "http://example.com/ hook",
        "https://example.com/" + "a" * 2048,
    ],
)
def test_a_malformed_url_is_refused(gql, url):
    assert refusal(gql, url) == "INVALID_WEBHOOK_URL"


def test_a_public_destination_is_accepted_and_the_number_per_user_is_capped(gql, webhook_settings):
    webhook_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    webhook_settings.WEBHOOK_MAX_PER_USER = 2
    no_event = gql(CREATE, url="https://93.184.215.14/x", events=[])
    assert no_event["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"
    create(gql, "https://93.184.215.14/hook")  # an address literal: nothing to resolve
    create(gql, "https://93.184.215.14/other", ["FILE_DONE"])
    assert refusal(gql, "https://93.184.215.14/third") == "WEBHOOK_LIMIT_REACHED"


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_destination_private_when_sent_is_refused_then(
    gql, user, receiver, webhook_settings, host
):
    """Created while allowed (as a name that resolved publicly then would be), refused at
    send: the worker checks again, and nothing reaches the receiver. Sent here, in this
    process, so the refusal is seen as it happens (no worker takes this queue)."""
    where = path()
    url = receiver.url(where).replace("127.0.0.1", host)
    create(gql, url)
    webhook_settings.WEBHOOK_DELIVERY_QUEUE = f"nobody-{uuid.uuid4().hex[:8]}"
    done_file(user)

    webhook_settings.WEBHOOK_ALLOW_PRIVATE_ADDRESSES = False
    delivery = services.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)
    assert delivery.responded_with.startswith("refused: ")
    assert "is not a public destination" in delivery.responded_with
    assert "127.0.0.1" not in delivery.responded_with.removeprefix(f"refused: The host '{host}'")
    assert receiver.nothing(where)
    assert delivery.status == DeliveryStatus.PENDING  # tried again later, checked again then


def test_a_receiver_answering_a_byte_at_a_time_is_cut_off_at_the_deadline(
    gql, user, receiver, webhook_worker
):
    """Each byte comes well within the timeout; the exchange as a whole does not."""
    where = path()
    receiver.script(where, DRIP)
    create(gql, receiver.url(where))
    done_file(user)

    first, second = receiver.next(where), receiver.next(where)
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    delivery = WebhookDelivery.objects.get(message_id=first.headers["webhook-id"])
    wait_until(
        lambda: WebhookDelivery.objects.get(pk=delivery.pk).status == "SUCCEEDED",
        30,
        "the second try never succeeded",
    )


def test_a_redirect_is_not_followed(gql, user, receiver, webhook_worker):
    where = path()
    receiver.script(where, 307)
    created = create(gql, receiver.url(where))
    done_file(user)

    first, second = receiver.next(where), receiver.next(where)  # tried again, not redirected
    assert first.headers["webhook-id"] == second.headers["webhook-id"]
    assert receiver.nothing("/redirected")
    wait_until(
        lambda: (
            last_delivery(gql, created["webhook"]["id"])["attempts"] == 2
            and last_delivery(gql, created["webhook"]["id"])["status"] == "SUCCEEDED"
        ),
        30,
        "the second try was never recorded",
    )


def test_a_delivery_whose_message_was_lost_is_sent_by_the_sweep(
    gql, user, receiver, webhook_worker, webhook_settings, queue_name
):
    where = path()
    created = create(gql, receiver.url(where))
    webhook_settings.WEBHOOK_DELIVERY_QUEUE = f"lost-{uuid.uuid4().hex[:8]}"  # nobody listens
    done_file(user)
    delivery = WebhookDelivery.objects.get()
    assert services.webhook_deliveries_recover() == 0  # due, but not yet overdue

    WebhookDelivery.objects.filter(pk=delivery.pk).update(
        next_attempt_at=delivery.next_attempt_at - timedelta(hours=1)
    )
    webhook_settings.WEBHOOK_DELIVERY_QUEUE = queue_name
    assert services.webhook_deliveries_recover() == 1
    got = receiver.next(where)
    assert got.headers["webhook-id"] == delivery.message_id
    assert verified(created["secret"], got)["type"] == "file.done"


def test_a_closed_port_is_a_failed_try_said_in_words(gql, user, webhook_settings):
    """Tried here, in this process (no worker takes this queue)."""
    create(gql, f"http://127.0.0.1:{free_port()}/hook")  # nobody listens there
    webhook_settings.WEBHOOK_DELIVERY_QUEUE = f"nobody-{uuid.uuid4().hex[:8]}"
    done_file(user)
    delivery = services.webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)
    assert delivery.responded_with == "connection refused"
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 1
    # Not due again yet: a duplicate message does nothing.
    assert services.webhook_deliver(delivery_id=delivery.pk) is None


def test_finished_deliveries_are_pruned_after_the_days_kept(gql, user, webhook_settings):
    create(gql, "http://127.0.0.1:9/hook")
    webhook_settings.WEBHOOK_DELIVERY_QUEUE = f"nobody-{uuid.uuid4().hex[:8]}"
    for name in ("old.csv", "failed.csv", "pending.csv", "recent.csv"):
        done_file(user, name)
    old, failed, pending, recent = WebhookDelivery.objects.order_by("created_at")
    WebhookDelivery.objects.filter(pk__in=[old.pk, failed.pk, pending.pk]).update(
        created_at=old.created_at - timedelta(days=31)
    )
    WebhookDelivery.objects.filter(pk__in=[old.pk, recent.pk]).update(status="SUCCEEDED")
    WebhookDelivery.objects.filter(pk=failed.pk).update(status="FAILED")

    assert services.webhook_deliveries_prune() == 2
    assert set(WebhookDelivery.objects.values_list("pk", flat=True)) == {pending.pk, recent.pk}
