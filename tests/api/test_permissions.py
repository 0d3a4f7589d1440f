"""Rights over other users' files are Django permissions, one per action: `view_file` (see
them), `delete_file`, `reprocess_file`; they count for staff accounts. Owners may do anything
to their own files."""

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission

from files_app import services
from files_app.models import File, FileStatus
from schema.graphql.ids import encode_file_id
from schema.live import channel
from tests.support.files import make_file
from tests.support.graphql import GraphQL
from tests.support.operations import SUBSCRIBE
from tests.support.users import PASSWORD
from tests.support.wsclient import Subscription

pytestmark = pytest.mark.django_db

FILES = "{ files { totalCount } }"
DELETE = "mutation($id: ID!) { deleteFile(id: $id) }"
REPROCESS = "mutation($id: ID!) { reprocessFile(id: $id) { status } }"


def person(username, *permissions, is_staff=True):
    """A user holding these `files_app` permissions, and a token for them."""
    user = get_user_model().objects.create_user(username, password=PASSWORD, is_staff=is_staff)
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="files_app", codename__in=permissions)
    )
    return user, services.api_token_create(user=user)


def done_file(owner) -> File:
    return make_file(
        owner, b"a,b,c", name="report.csv", status=FileStatus.DONE, content_type="text/plain"
    )


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def test_seeing_everyones_files_needs_view_file(client, user):
    file = done_file(user)
    global_id = encode_file_id(file.pk)
    one = "query($id: ID!) { file(id: $id) { name } }"
    _, plain_staff = person("staff")
    _, viewer = person("viewer", "view_file")
    _, not_staff = person("outsider", "view_file", is_staff=False)
    for token, sees in ((plain_staff, False), (not_staff, False), (viewer, True)):
        api = GraphQL(client, token)
        assert api(FILES)["data"]["files"]["totalCount"] == (1 if sees else 0)
        assert api(one, id=global_id)["data"]["file"] == ({"name": "report.csv"} if sees else None)
        download = client.get(f"/files/{file.pk}/download", HTTP_AUTHORIZATION=f"Bearer {token}")
        assert download.status_code == (200 if sees else 404)
    staff = get_user_model().objects.get(username="viewer")
    assert channel.groups_for_viewer(staff) == [
        channel.ALL_FILES_GROUP,
        channel.owner_group(staff.pk),
    ]
    assert channel.groups_for_viewer(user) == [channel.owner_group(user.pk)]


def test_deleting_someone_elses_file_needs_delete_file(client, user, token):
    file = done_file(user)
    global_id = encode_file_id(file.pk)
    _, viewer = person("viewer", "view_file")
    _, blind_deleter = person("blind", "delete_file")
    _, deleter = person("deleter", "view_file", "delete_file")

    refused = GraphQL(client, viewer)(DELETE, id=global_id)
    assert codes(refused) == ["FORBIDDEN"], refused
    assert refused["errors"][0]["message"] == (
        "You may see this file but not delete it: it is not yours."
    )
    # Without the right to see it, the file stays hidden: NOT_FOUND, as for anyone.
    assert codes(GraphQL(client, blind_deleter)(DELETE, id=global_id)) == ["NOT_FOUND"]
    assert File.objects.filter(pk=file.pk).exists()

    assert GraphQL(client, deleter)(DELETE, id=global_id) == {"data": {"deleteFile": global_id}}
    assert not File.objects.filter(pk=file.pk).exists()
    own = done_file(user)  # owners need no permission
    assert "errors" not in GraphQL(client, token)(DELETE, id=encode_file_id(own.pk))


def test_reprocessing_someone_elses_file_needs_reprocess_file(client, user, token):
    file = done_file(user)
    global_id = encode_file_id(file.pk)
    _, viewer = person("viewer", "view_file", "delete_file")
    _, reprocessor = person("reprocessor", "view_file", "reprocess_file")

    refused = GraphQL(client, viewer)(REPROCESS, id=global_id)
    assert codes(refused) == ["FORBIDDEN"], refused
    file.refresh_from_db()
    assert file.status == FileStatus.DONE

    queued = GraphQL(client, reprocessor)(REPROCESS, id=global_id)
    assert queued == {"data": {"reprocessFile": {"status": "PENDING"}}}
    own = done_file(user)  # owners need no permission
    assert GraphQL(client, token)(REPROCESS, id=encode_file_id(own.pk))["data"] == {
        "reprocessFile": {"status": "PENDING"}
    }


def test_the_admin_reprocess_action_needs_reprocess_file(client, user):
    file = done_file(user)
    viewer, _ = person("viewer", "view_file")
    client.force_login(viewer)
    page = client.get("/admin/files_app/file/")
    assert page.status_code == 200 and b"report.csv" in page.content
    assert b'value="reprocess"' not in page.content
    client.post(
        "/admin/files_app/file/", {"action": "reprocess", "_selected_action": [str(file.pk)]}
    )
    file.refresh_from_db()
    assert file.status == FileStatus.DONE

    reprocessor, _ = person("reprocessor", "view_file", "reprocess_file")
    client.force_login(reprocessor)
    assert b'value="reprocess"' in client.get("/admin/files_app/file/").content


@pytest.mark.django_db(transaction=True)
async def test_a_viewer_subscribes_to_someone_elses_file(uvicorn_server, user):
    file = await sync_to_async(done_file)(user)
    _, viewer = await sync_to_async(person)("viewer", "view_file")
    _, plain_staff = await sync_to_async(person)("staff")
    ids = {"ids": [encode_file_id(file.pk)]}

    watching = await Subscription.open(uvicorn_server.ws_url, token=viewer)
    await watching.subscribe(SUBSCRIBE, ids)
    assert (await watching.next_file())["status"] == "DONE"
    await watching.close()

    refused = await Subscription.open(uvicorn_server.ws_url, token=plain_staff)
    await refused.subscribe(SUBSCRIBE, ids)
    message = await refused.receive()
    await refused.close()
    assert message["payload"]["errors"][0]["extensions"]["code"] == "NOT_FOUND", message
