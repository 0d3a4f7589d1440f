"""Deletion events arrive in a second tab: two pages of one browser session, a file deleted
in one, its row gone from the other at once (no reload), in a real headless Chromium."""

import pytest

from tests.support.browser import WAIT_MS
from tests.support.files import make_done_file
from tests.support.users import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def open_tab(context):
    page = context.new_page()
    page.set_default_timeout(WAIT_MS)
    page.goto("/")
    return page


def test_a_file_deleted_in_one_tab_leaves_the_other_at_once(browser, uvicorn_server, user):
    make_done_file(user, "shared.txt")
    make_done_file(user, "stays.txt")
    context = browser.new_context(base_url=uvicorn_server.url)
    try:
        first = open_tab(context)
        first.fill("#id_username", user.username)
        first.fill("#id_password", PASSWORD)
        first.click("input[type=submit]")
        second = open_tab(context)  # the same session
        for tab in (first, second):
            tab.wait_for_selector("#live[data-state=live]")
            tab.wait_for_selector('#rows tr[data-name="shared.txt"]')

        first.on("dialog", lambda dialog: dialog.accept())  # "Delete shared.txt?"
        first.click('#rows tr[data-name="shared.txt"] button')
        first.click("#detail[open] button.danger")

        second.wait_for_selector('#rows tr[data-name="shared.txt"]', state="detached")
        assert second.locator('#rows tr[data-name="stays.txt"]').count() == 1
        assert second.inner_text("#count") == "1 file"
    finally:
        context.close()
