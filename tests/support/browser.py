"""The live page in a real headless Chromium (Debian's, driven by Playwright): launching it,
logging in through the form, and scripts the page tests run in it.

Skipped where Chromium or the built page is missing, unless REQUIRE_BROWSER=1 (CI)."""

import contextlib
import os
import shutil
from pathlib import Path

import pytest

from files_app.sizes import MIB
from tests.support.processes import BASE_DIR
from tests.support.users import PASSWORD

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = BASE_DIR / "test-artifacts"
PAGE_MAX_UPLOAD = 2 * MIB
WAIT_MS = 30_000


def missing_tool() -> str | None:
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        return f"Chromium not found at {CHROMIUM} (apt install chromium, or set CHROMIUM_PATH)"
    if not (BASE_DIR / "frontend" / "dist" / "app" / "app.js").exists():
        return "the page is not built (make frontend needs Node.js 20+)"
    return None


@contextlib.contextmanager
def logged_in_page(browser, base_url: str, user, request):
    """The page of `base_url`, logged in through the form and live; a screenshot of it is
    kept in ARTIFACTS after the test, for a failure's post-mortem."""
    context = browser.new_context(base_url=base_url)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        page.goto("/")
        page.fill("#id_username", user.username)
        page.fill("#id_password", PASSWORD)
        page.click("input[type=submit]")
        page.wait_for_selector("#live[data-state=live]")
        yield page
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"{request.node.name}.png"), full_page=True)
    finally:
        context.close()


RECORD_UPLOAD_STATES = """() => {
  window.__states = {};
  new MutationObserver(() => {
    for (const item of document.querySelectorAll('#uploads li')) {
      const seen = window.__states[item.dataset.name] ||= [];
      const state = item.dataset.status + (item.querySelector('progress') ? '+bar' : '');
      if (seen[seen.length - 1] !== state) seen.push(state);
    }
  }).observe(document.querySelector('#uploads'),
             {subtree: true, childList: true, attributes: true});
}"""

DROP_FILES = """([files]) => {
  const transfer = new DataTransfer();
  for (const [name, text] of files) {
    transfer.items.add(new File([text], name, {type: 'text/plain'}));
  }
  const drop = document.querySelector('#drop');
  drop.dispatchEvent(new DragEvent('dragover', {dataTransfer: transfer, bubbles: true}));
  drop.dispatchEvent(new DragEvent('drop', {dataTransfer: transfer, bubbles: true}));
}"""


@contextlib.contextmanager
def chromium():
    """A headless Chromium for a module's page tests (a skip, or a failure in CI, if missing)."""
    reason = missing_tool()
    if reason:
        if os.environ.get("REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser tests are mandatory here: {reason}")
        pytest.skip(reason)
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which makes Django
    # refuse ORM calls from the test's own fixtures; they are plain sync code here.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            yield browser
            browser.close()
    finally:
        del os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"]
