"""The pages in real headless Chromium on the live app: sign in, every page, keyboard, CSP, languages.

Each test fails on any console error (the ``page`` fixture); screenshots of every page are written
to ``test-artefacts/``.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.support.browser import BrowserPage, LiveWorld
from tests.support.web import A, B

pytestmark = pytest.mark.slow

FOCUSABLE = "a[href], button, input:not([type=hidden]), select, textarea"


def _tab_through(page: Any, presses: int) -> list[str]:
    """Press Tab from the top of the page; returns a description of each element focus reached."""
    page.evaluate(
        "() => { document.activeElement && document.activeElement.blur(); document.body.tabIndex = -1; document.body.focus(); }"
    )
    reached: list[str] = []
    for _ in range(presses):
        page.keyboard.press("Tab")
        desc = page.evaluate(
            "() => { const e = document.activeElement; if (!e || e === document.body) return '';"
            " return e.tagName + '|' + (e.id || e.getAttribute('name') || e.getAttribute('href') || e.textContent.trim()); }"
        )
        if desc:
            reached.append(desc)
    return reached


def _expected_focusable(page: Any) -> list[str]:
    return page.evaluate(
        """(selector) => Array.from(document.querySelectorAll(selector))
            .filter(e => !e.disabled && e.offsetParent !== null && !e.closest('#swagger-ui'))
            .map(e => e.tagName + '|' + (e.id || e.getAttribute('name') || e.getAttribute('href') || e.textContent.trim()))""",
        FOCUSABLE,
    )


def _assert_keyboard_reaches_everything(page: Any) -> None:
    expected = _expected_focusable(page)
    reached = set(_tab_through(page, len(expected) + 2))
    missing = [e for e in expected if e not in reached]
    assert not missing, f"not reachable with Tab: {missing}"


def test_an_analyst_signs_in_walks_every_page_and_signs_out(page: BrowserPage, live_world: LiveWorld) -> None:
    world = live_world.world
    first = page.goto("/login")
    csp = first.headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]*)", csp)
    assert script_src is not None and "unsafe-inline" not in script_src.group(1)
    _assert_keyboard_reaches_everything(page.page)
    page.screenshot("01-sign-in")
    page.sign_in(world.tokens["soc_analyst"])

    assert page.page.inner_text("h1") == "Collection overview"
    _assert_keyboard_reaches_everything(page.page)
    page.screenshot("02-overview")

    page.page.click("nav >> text=Events")
    page.page.wait_for_url(page.base_url + "/events")
    page.page.fill("#q", f"source.ip:{B.attacker_ip}")
    page.page.select_option("#since", "24h")
    page.page.keyboard.press("Enter")
    page.page.wait_for_url(re.compile(r"/events\?"))
    assert page.page.locator("td.msg").count() == 12
    _assert_keyboard_reaches_everything(page.page)
    page.screenshot("03-events")

    page.page.click("nav >> text=Incidents")
    page.page.wait_for_url(page.base_url + "/incidents")
    assert page.page.locator("tbody tr, table tr").count() >= 3  # header + one per institution
    _assert_keyboard_reaches_everything(page.page)
    page.screenshot("04-incidents")

    page.page.click(f"text=from {A.attacker_ip}")
    page.page.wait_for_url(re.compile(r"/incidents/inc-"))
    assert A.comment in page.page.inner_text("main")
    _assert_keyboard_reaches_everything(page.page)
    # Comment with the keyboard only: focus the box, type, Tab to the button, Enter.
    page.page.focus("#comment-text")
    page.page.keyboard.type("Checked from the browser")
    page.page.keyboard.press("Tab")
    page.page.keyboard.press("Enter")
    page.page.wait_for_selector("main >> text=Checked from the browser")  # after the post and redirect
    page.screenshot("05-incident")

    page.page.click("nav >> text=API")
    page.page.wait_for_url(page.base_url + "/docs")
    page.page.wait_for_selector(".swagger-ui .information-container .title")
    assert "Sentinel" in page.page.inner_text(".swagger-ui .information-container .title")
    assert page.page.locator(".opblock").count() >= 15  # every API operation listed
    page.screenshot("06-api-docs")

    page.page.click("text=Sign out")
    page.page.wait_for_url(page.base_url + "/login")
    page.goto("/incidents")
    assert page.page.url == page.base_url + "/login"  # the session ended on the server


def test_an_institution_user_reads_swahili_and_sees_only_its_own(page: BrowserPage, live_world: LiveWorld) -> None:
    page.sign_in(live_world.world.tokens[A.id])
    # Institution A's language is Swahili: the pages default to it.
    assert page.page.inner_text("h1") == "Muhtasari wa ukusanyaji"
    assert page.page.get_attribute("html", "lang") == "sw"
    page.page.click("nav >> text=Matukio")
    page.page.wait_for_url(page.base_url + "/incidents")
    listing = page.page.inner_text("main")
    assert A.attacker_ip in listing and B.attacker_ip not in listing
    assert "Juu" in listing  # severity "high"
    page.screenshot("07-incidents-sw")
    page.page.click(f"text=from {A.attacker_ip}")
    page.page.wait_for_url(re.compile(r"/incidents/inc-"))
    page.screenshot("08-incident-sw")
    # Another institution's incident by its address: the same "not found" as a missing one.
    page.expect_error("status of 404")  # the browser logs the page's own 404
    answer = page.goto(f"/incidents/{live_world.world.ids[B.id]['incidents'][0]}")
    assert answer.status == 404 and B.name not in page.page.content()
    page.screenshot("09-not-found-sw")
    # The user chooses English; the choice stays for the next pages.
    page.goto("/")
    page.page.select_option("#language", "en")
    page.page.click("text=Badilisha")
    page.page.wait_for_selector("h1:has-text('Collection overview')")
    page.page.click("nav >> text=Events")
    page.page.wait_for_url(page.base_url + "/events")
    assert page.page.inner_text("h1") == "Events"
