"""The pages Django serves carry a Content-Security-Policy (schema/http/middleware.py), proven in a
real Chromium against a real server and worker: the page still uploads and updates live, the
admin's scripts still run, and a script injected into the page or the login page is refused
(an inline `<script>` and an inline event handler, each reported as a violation)."""

import pytest

from schema.http.middleware import PAGE_CSP
from schema.http.views import GRAPHIQL_CSP
from tests.support.browser import DROP_FILES, WAIT_MS
from tests.support.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# What an XSS would do: add an inline script, and markup with an inline event handler.
INJECT = """() => {
  window.__violations = [];
  document.addEventListener('securitypolicyviolation',
                            (event) => window.__violations.push(event.violatedDirective));
  const script = document.createElement('script');
  script.textContent = 'window.__inlineRan = true';
  document.body.appendChild(script);
  const holder = document.createElement('div');
  holder.innerHTML = '<img src="data:," onerror="window.__handlerRan = true">';
  document.body.appendChild(holder);
  return window.__inlineRan === true;
}"""
BOTH_REFUSED = """() => ['script-src-elem', 'script-src-attr']
  .every((directive) => window.__violations.includes(directive))"""


def assert_injected_scripts_refused(page) -> None:
    assert page.evaluate(INJECT) is False, "an injected inline script ran"
    page.wait_for_function(BOTH_REFUSED)  # both refused, and reported
    assert page.evaluate("window.__handlerRan") is None, "an inline event handler ran"


def violations_of(page) -> list[str]:
    seen: list[str] = []
    page.on(
        "console",
        lambda message: "Content Security Policy" in message.text and seen.append(message.text),
    )
    return seen


def test_the_page_still_works_and_refuses_injected_scripts(page):
    violations = violations_of(page)
    response = page.reload()
    assert response.headers["content-security-policy"] == PAGE_CSP
    page.wait_for_selector("#live[data-state=live]")
    page.evaluate(DROP_FILES, [[["under-csp.txt", "uploaded under the policy\n"]]])
    page.wait_for_selector('#rows tr[data-name="under-csp.txt"][data-status=DONE]')  # live
    assert violations == [], violations  # the page's own scripts are all ours
    assert_injected_scripts_refused(page)
    # GraphiQL keeps its own, stricter policy.
    graphiql = page.request.get("/graphql/", headers={"Accept": "text/html"})
    assert graphiql.headers["content-security-policy"] == GRAPHIQL_CSP


def test_the_login_page_refuses_injected_scripts(browser, page_server):
    context = browser.new_context(base_url=page_server.url)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    response = page.goto("/accounts/login/")
    assert response.headers["content-security-policy"] == PAGE_CSP
    assert_injected_scripts_refused(page)
    context.close()


def test_the_admins_scripts_still_run(browser, page_server, db):
    from django.contrib.auth import get_user_model

    from files_app.models import File, FileStatus

    admin = get_user_model().objects.create_superuser("csp-admin", password=PASSWORD)
    for name in ("one.txt", "two.txt"):
        File.objects.create(owner=admin, name=name, size=1, status=FileStatus.DONE)
    context = browser.new_context(base_url=page_server.url)
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    violations = violations_of(page)
    page.goto("/admin/login/?next=/admin/files_app/file/")
    page.fill("#id_username", "csp-admin")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    page.wait_for_selector("#result_list")
    page.check("#action-toggle")  # admin/js/actions.js selects every row
    page.wait_for_function(
        "() => [...document.querySelectorAll('input.action-select')].every((box) => box.checked)"
    )
    assert violations == [], violations
    context.close()
