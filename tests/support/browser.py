"""Real headless Chromium (Debian's ``chromium``, driven by Playwright) against the real app.

Playwright never downloads a browser here: it starts ``/usr/bin/chromium`` through
``executable_path`` with a fresh profile. ``BrowserPage`` collects console errors and uncaught
page errors (a test fails on any, in its teardown) and writes screenshots as PNG artefacts to
``test-artefacts/`` (gitignored) for people to look at.

Fixtures (re-exported by ``tests/conftest.py``): ``live_world`` (two institutions' data served by
uvicorn on a loopback port, one per test module), ``browser`` (one Chromium per test session) and
``page`` (a fresh tab with no cookies, per test).
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.support.web import LiveServer, World, build_world

CHROMIUM = os.environ.get("SENTINEL_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTEFACTS = Path(__file__).resolve().parents[2] / "test-artefacts"


@dataclass
class LiveWorld:
    world: World
    url: str


@dataclass
class BrowserPage:
    """A Chromium tab on the live app, with its console errors and a screenshot helper."""

    page: Any  # playwright.sync_api.Page
    base_url: str
    errors: list[str] = field(default_factory=list)
    expected: list[str] = field(default_factory=list)  # error texts a test provokes on purpose

    def expect_error(self, text: str) -> None:
        self.expected.append(text)

    def goto(self, path: str) -> Any:
        return self.page.goto(self.base_url + path)

    def screenshot(self, name: str) -> Path:
        ARTEFACTS.mkdir(exist_ok=True)
        target = ARTEFACTS / f"{re.sub(r'[^A-Za-z0-9_.-]', '_', name)}.png"
        self.page.screenshot(path=str(target), full_page=True)
        return target

    def sign_in(self, token: str) -> None:
        self.goto("/login")
        self.page.fill("#token", token)
        self.page.keyboard.press("Enter")
        self.page.wait_for_url(self.base_url + "/")


def chromium_available() -> bool:
    return shutil.which(CHROMIUM) is not None or Path(CHROMIUM).exists()


@pytest.fixture(scope="module")
def live_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveWorld]:
    world = build_world(tmp_path_factory.mktemp("live"))
    with LiveServer(world.app) as server:
        yield LiveWorld(world, server.url)
    world.store.close()


@pytest.fixture(scope="session")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is required in CI but {CHROMIUM} is missing (make system-deps installs it)")
        pytest.skip(f"Chromium not found at {CHROMIUM}: run make system-deps")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        context = playwright.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            yield context
        finally:
            context.close()


@pytest.fixture
def page(browser: Any, live_world: LiveWorld) -> Iterator[BrowserPage]:
    browser.clear_cookies()
    tab = browser.new_page()
    wrapped = BrowserPage(tab, live_world.url)
    tab.on("console", lambda msg: msg.type == "error" and wrapped.errors.append(f"console: {msg.text}"))
    tab.on("pageerror", lambda exc: wrapped.errors.append(f"page error: {exc}"))
    yield wrapped
    tab.close()
    unexpected = [e for e in wrapped.errors if not any(text in e for text in wrapped.expected)]
    assert not unexpected, "errors in the browser console:\n" + "\n".join(unexpected)
