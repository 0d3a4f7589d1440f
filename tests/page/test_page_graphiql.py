"""GraphiQL at GET /graphql/, built from npm into frontend/dist/graphiql, in a real Chromium
against a real server and worker: it loads with every request beyond the server refused,
runs a query and a subscription over the session, and uploads a file from its Files panel."""

import json
import os
from urllib.parse import urlsplit

import httpx
import pytest
from django.conf import settings

from tests.support.browser import ARTIFACTS
from tests.support.operations import UPLOAD_ID as UPLOAD
from tests.support.processes import BASE_DIR

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

GRAPHIQL_BUNDLE = BASE_DIR / "frontend" / "dist" / "graphiql" / "graphiql.js"
WAIT_MS = 20_000
FILES = "query Files { files(first: 10) { totalCount edges { node { name status } } } }"
MODEL_BACKEND = "django.contrib.auth.backends.ModelBackend"
UPDATES = "subscription Live { fileUpdates { name status } }"


class GraphiQL:
    """One logged-in GraphiQL tab; what it asked of other hosts, and CSP violations seen."""

    def __init__(self, page, origin: str):
        self.page, self.origin = page, origin
        self.outside: list[str] = []
        self.sockets: list[str] = []
        self.violations: list[str] = []

    def refuse_other_hosts(self, route):
        url = route.request.url
        if url.startswith(("data:", "blob:")) or self.same_origin(url):
            route.continue_()
        else:
            self.outside.append(url)
            route.abort()

    def same_origin(self, url: str) -> bool:
        return urlsplit(url).netloc == urlsplit(self.origin).netloc

    def write(self, text: str) -> None:
        """Replace the operation in the editor (Monaco): inserted at once, not typed, so its
        auto-closing brackets add nothing; then read back until the editor shows it."""
        editor = ".graphiql-query-editor .view-lines"
        self.page.focus(".graphiql-query-editor textarea")
        self.page.keyboard.press("ControlOrMeta+A")
        self.page.keyboard.insert_text(text)
        self.page.wait_for_function(
            """([selector, text]) => document.querySelector(selector)
                .innerText.replace(/\\u00a0/g, ' ').trim() === text""",
            arg=[editor, text],
        )

    def run(self, name: str, text: str) -> None:
        """Write the operation `name` and run it, once GraphiQL has parsed it: until then it
        would send the previous operation's name."""
        self.write(text)
        self.page.wait_for_selector(f".graphiql-tab-active .graphiql-tab-button:text-is('{name}')")
        self.page.click(".graphiql-execute-button")

    def wait_for_response(self, *texts: str) -> str:
        response = self.page.locator(".graphiql-response")
        self.page.wait_for_function(
            """([texts]) => { const text = document.querySelector('.graphiql-response')
                ?.innerText.replace(/\\u00a0/g, ' ') ?? '';
              return texts.every((t) => text.includes(t)); }""",
            arg=[list(texts)],
        )
        return response.inner_text()

    def assert_stayed_home(self) -> None:
        assert self.outside == [], f"requests beyond the server: {self.outside}"
        assert all(self.same_origin(url) for url in self.sockets), self.sockets
        assert self.violations == [], self.violations


@pytest.fixture
def graphiql(browser, uvicorn_server, celery_worker, user, client, request):
    if not GRAPHIQL_BUNDLE.exists():
        reason = "GraphiQL is not built (make frontend needs Node.js 20+)"
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are mandatory here: {reason}")
        pytest.skip(reason)
    context = browser.new_context(base_url=uvicorn_server.url)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    ide = GraphiQL(page, uvicorn_server.url)
    context.route("**/*", ide.refuse_other_hosts)
    page.on("websocket", lambda socket: ide.sockets.append(socket.url))
    page.on(
        "console",
        lambda message: (
            "Content Security Policy" in message.text and ide.violations.append(message.text)
        ),
    )
    client.force_login(user, backend=MODEL_BACKEND)  # the session GraphiQL runs with
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session, "url": uvicorn_server.url}]
    )
    page.goto("/graphql/")
    page.wait_for_selector(".graphiql-query-editor .view-lines")
    yield ide
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"))
    context.close()


def test_graphiql_works_offline_and_runs_a_query_and_a_subscription(
    graphiql, uvicorn_server, token
):
    graphiql.run("Files", FILES)
    graphiql.wait_for_response('"totalCount": 0')
    graphiql.page.click('button[aria-label="Show Documentation Explorer"]')  # introspection ran
    graphiql.page.wait_for_selector(".graphiql-doc-explorer a:text-is('Subscription')")
    graphiql.run("Live", UPDATES)
    response = httpx.post(  # an upload made elsewhere, with a token
        f"{uvicorn_server.url}/graphql/",
        headers={"Authorization": f"Bearer {token}"},
        data={
            "operations": json.dumps({"query": UPLOAD, "variables": {"file": None}}),
            "map": json.dumps({"0": ["variables.file"]}),
        },
        files={"0": ("from-elsewhere.txt", b"uploaded with a token")},
    )
    assert response.status_code == 200, response.text
    graphiql.wait_for_response('"name": "from-elsewhere.txt"', '"status": "DONE"')
    assert graphiql.sockets  # the subscription ran over graphql-ws, with the session
    graphiql.assert_stayed_home()


def test_graphiql_uploads_a_file_bound_in_its_files_panel(graphiql):
    page = graphiql.page
    page.click('button[aria-label="Show Files"]')
    page.fill(".files-plugin-path", "file")
    page.set_input_files(
        ".files-plugin-input",
        files=[
            {"name": "from-graphiql.txt", "mimeType": "text/plain", "buffer": b"sent by GraphiQL\n"}
        ],
    )
    page.wait_for_selector(".files-plugin-row output:has-text('from-graphiql.txt')")
    graphiql.run(
        "Upload", "mutation Upload($file: Upload!) { uploadFile(file: $file) { name size } }"
    )
    graphiql.wait_for_response('"name": "from-graphiql.txt"', '"size": 17')
    graphiql.run("Files", FILES)
    graphiql.wait_for_response('"totalCount": 1', '"name": "from-graphiql.txt"')
    graphiql.assert_stayed_home()
