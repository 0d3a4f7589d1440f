"""Authentication and ownership: tokens, sessions with CSRF, and users kept apart."""

from email.message import EmailMessage

import pytest
from asgiref.sync import sync_to_async
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from files_app import services
from files_app.models import File
from tests.support.graphql import GraphQL
from tests.support.users import grant_every_file_right

pytestmark = pytest.mark.django_db

UPLOAD = "mutation($file: Upload!) { uploadFile(file: $file) { id name } }"
FILES = "{ files { totalCount edges { node { id name } } } }"


def upload(gql, name="a.txt", content=b"alice's data"):
    body = gql.upload(UPLOAD, {"file": (name, content)}, {"file": None}).json()
    assert "errors" not in body, body
    return body["data"]["uploadFile"]


def codes(body) -> list[str]:
    return [error["extensions"]["code"] for error in body.get("errors", [])]


def test_anonymous_requests_are_unauthenticated(client):
    anonymous = GraphQL(client)
    assert codes(anonymous(FILES)) == ["UNAUTHENTICATED"]
    response = anonymous.upload(UPLOAD, {"file": ("x.txt", b"x")}, {"file": None})
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    assert File.objects.count() == 0


def test_unknown_bearer_token_is_401(client):
    response = GraphQL(client, "not-a-token").post(json={"query": FILES})
    assert response.status_code == 401
    assert response.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"


def test_token_stored_only_as_hash(user):
    raw = services.api_token_create(user=user)
    assert not user.api_tokens.filter(token_hash=raw).exists()
    assert services.api_token_authenticate(raw_token=raw) == user


def test_a_token_check_is_one_query_and_records_use_once_a_minute(user, django_assert_num_queries):
    raw = services.api_token_create(user=user)
    with django_assert_num_queries(2):  # the lookup, and its first use recorded
        assert services.api_token_authenticate(raw_token=raw) == user
    with django_assert_num_queries(1):
        assert services.api_token_authenticate(raw_token=raw) == user
    assert user.api_tokens.get().last_used_at is not None
    user.is_active = False
    user.save()
    assert services.api_token_authenticate(raw_token=raw) is None


def test_another_user_cannot_see_or_touch_a_file(gql, other_gql, client, other_token):
    file = upload(gql)
    assert other_gql(FILES)["data"]["files"]["totalCount"] == 0
    assert other_gql("query($id: ID!) { file(id: $id) { id } }", id=file["id"]) == {
        "data": {"file": None}
    }
    for mutation in ("reprocessFile(id: $id) { id }", "deleteFile(id: $id)"):
        body = other_gql(f"mutation($id: ID!) {{ {mutation} }}", id=file["id"])
        assert codes(body) == ["NOT_FOUND"], body
    download = client.get(
        f"/files/{File.objects.get().pk}/download",
        HTTP_AUTHORIZATION=f"Bearer {other_token}",
    )
    assert download.status_code == 404
    assert File.objects.count() == 1


@pytest.mark.django_db(transaction=True)
async def test_owner_sees_and_downloads_own_file(gql, async_client, token):
    file = await sync_to_async(upload)(gql, "report.txt", b"numbers")
    assert (await sync_to_async(gql)(FILES))["data"]["files"]["edges"][0]["node"] == file
    stored = await File.objects.aget()
    download = await async_client.get(
        f"/files/{stored.pk}/download", headers={"Authorization": f"Bearer {token}"}
    )
    assert download.status_code == 200
    assert b"".join([chunk async for chunk in download.streaming_content]) == b"numbers"
    assert download["Content-Disposition"] == 'attachment; filename="report.txt"'
    assert download["X-Content-Type-Options"] == "nosniff"


def test_staff_see_every_file_with_the_view_permission(gql, client, staff_user, staff_token):
    upload(gql)
    assert GraphQL(client, staff_token)(FILES)["data"]["files"]["totalCount"] == 0
    grant_every_file_right(staff_user)  # more in tests/api/test_permissions.py
    assert GraphQL(client, staff_token)(FILES)["data"]["files"]["totalCount"] == 1


def test_session_upload_needs_the_csrf_token(client, user):
    client.force_login(user)
    browser = GraphQL(client)
    forged = browser.upload(UPLOAD, {"file": ("f.txt", b"x")}, {"file": None})
    assert forged.status_code == 403
    assert codes(forged.json()) == ["FORBIDDEN"]
    assert File.objects.count() == 0

    page = client.get("/graphql/", HTTP_ACCEPT="text/html")  # sets the csrftoken cookie
    csrf_token = page.cookies["csrftoken"].value
    allowed = browser.upload(
        UPLOAD, {"file": ("f.txt", b"x")}, {"file": None}, headers={"X-CSRFToken": csrf_token}
    )
    assert allowed.status_code == 200, allowed.content
    assert File.objects.get().owner == user


def test_create_api_token_command_prints_a_working_token(user, capsys):
    from django.core.management import call_command

    call_command("create_api_token", user.username)
    raw = capsys.readouterr().out.strip()
    assert services.api_token_authenticate(raw_token=raw) == user


def test_files_query_costs_the_same_number_of_queries_for_any_page_size(
    gql, user, django_assert_max_num_queries
):
    for i in range(30):
        upload(gql, f"file-{i}.txt", b"x")
    page = (
        "query($n: Int) { files(first: $n) { totalCount edges { node { id name url status } } } }"
    )
    with django_assert_max_num_queries(4):  # token lookup + count + page (+ savepoint slack)
        assert len(gql(page, n=1)["data"]["files"]["edges"]) == 1
    with django_assert_max_num_queries(4):
        assert len(gql(page, n=30)["data"]["files"]["edges"]) == 30


def test_cookieless_api_requests_get_json_but_login_keeps_csrf():
    browserless = Client(enforce_csrf_checks=True)
    response = GraphQL(browserless).post(json={"query": FILES})
    assert response.status_code == 401  # refused before its body is read
    assert codes(response.json()) == ["UNAUTHENTICATED"]
    forged_login = browserless.post("/accounts/login/", {"username": "x", "password": "y"})
    assert forged_login.status_code == 403


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("name", "content"),
    [
        ("page.html", b"<html><script>alert(document.cookie)</script></html>"),
        ("image.svg", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"/>'),
    ],
)
async def test_uploaded_html_and_svg_are_never_rendered_inline(
    gql, async_client, token, name, content
):
    await sync_to_async(upload)(gql, name, content)
    stored = await File.objects.aget()
    download = await async_client.get(
        f"/files/{stored.pk}/download", headers={"Authorization": f"Bearer {token}"}
    )
    assert download["Content-Disposition"].startswith("attachment;")
    assert download["X-Content-Type-Options"] == "nosniff"
    assert "sandbox" in download["Content-Security-Policy"]
    assert stored.stored_file.name == f"uploads/{stored.owner_id}/{stored.pk.hex}"


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    "name",
    [
        'report"; filename="evil.html',  # tries to end the quoted name and start another
        "line\r\nSet-Cookie: a=b.txt",  # tries to start a header of its own
        "résumé 文件.pdf",  # not ASCII: the RFC 6266 filename* form
        "..\\..\\etc\\passwd",  # a path: only its last segment is a name
    ],
)
async def test_download_names_are_quoted_safely(user, async_client, token, name):
    # Stored through the service: HTTP clients percent-encode quotes and line breaks in a
    # multipart file name (as browsers do), so the hostile name would never arrive intact.
    await sync_to_async(services.file_create)(owner=user, upload=SimpleUploadedFile(name, b"data"))
    stored = await File.objects.aget()
    assert '"' in stored.name or not name.startswith("report")
    download = await async_client.get(
        f"/files/{stored.pk}/download", headers={"Authorization": f"Bearer {token}"}
    )
    header = download["Content-Disposition"]
    assert "\r" not in header and "\n" not in header
    parsed = EmailMessage()
    parsed["Content-Disposition"] = header
    assert parsed.get_content_disposition() == "attachment"
    assert parsed.get_filename() == stored.name  # one name, the sanitised one, intact
    assert "/" not in stored.name and "\\" not in stored.name


def test_a_bearer_token_is_an_api_credential_not_a_login(client, staff_user, staff_token):
    """A staff token downloads files and runs GraphQL; it never drives the admin (where it
    would need no CSRF token) nor opens the page."""
    grant_every_file_right(staff_user)
    bearer = {"HTTP_AUTHORIZATION": f"Bearer {staff_token}"}
    assert GraphQL(client, staff_token)(FILES)["data"]["files"]["totalCount"] == 0
    admin = client.get("/admin/files_app/file/", **bearer)
    assert admin.status_code == 302 and "/login/" in admin["Location"]
    page = client.get("/", **bearer)
    assert page.status_code == 302 and "/login/" in page["Location"]
    forged = client.post("/admin/logout/", **bearer)
    assert forged.status_code in (302, 403)
