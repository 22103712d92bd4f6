"""The app is put together once from what the caller built; pages and JSON answer from the same queries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sentinel.app import create_app
from tests.support.web import A, B, World, bearer, build_world, sign_in

WEB_PACKAGE = Path(__file__).resolve().parents[3] / "sentinel" / "web"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    w = build_world(tmp_path_factory.mktemp("app"))
    yield w
    w.store.close()


def test_the_app_uses_what_serve_built(world: World) -> None:
    health = {"stored": 1}
    app = create_app(
        world.settings,
        store=world.store,
        inventory=world.inventory,
        response=world.response,
        collector_health=lambda: health,
    )
    services = app.state.services
    assert services.response is world.response
    assert services.incidents is world.response.incidents
    assert services.ack_signer is world.response.notices.ack_signer
    assert services.notice_renderer is world.response.notices.renderer
    assert services.collector_health() is health


def test_no_handler_keeps_state_on_the_app() -> None:
    """Nothing is built lazily in a request: only build_app puts things on app.state."""
    offenders = [
        f"{path.relative_to(WEB_PACKAGE)}: {line.strip()}"
        for path in WEB_PACKAGE.rglob("*.py")
        if path.name != "app.py"
        for line in path.read_text().splitlines()
        if re.search(r"\.state\.\w+\s*=(?!=)", line) and "request.state.session" not in line
    ]
    assert offenders == []


def test_the_page_and_the_json_answer_the_same_search(world: World) -> None:
    with world.client() as client:
        sign_in(client, world.tokens["soc_analyst"])
        params = {"q": f"source.ip:{B.attacker_ip}", "since": "1d"}
        api = client.get("/api/v1/events", params=params).json()
        page = client.get("/events", params=params).text
        assert api["total"] == 12
        assert "12 event(s)." in page
        assert page.count('class="msg"') == len(api["events"])
        # The same refusal for the same bad parameter, as JSON and as a page.
        bad = {"since": "1000000d"}
        assert client.get("/api/v1/events", params=bad).status_code == 400
        assert client.get("/events", params=bad).status_code == 400


def test_the_collector_counters_are_for_the_soc_only(world: World) -> None:
    app = create_app(
        world.settings,
        store=world.store,
        inventory=world.inventory,
        response=world.response,
        collector_health=lambda: {"spool_depth": 4242},
    )
    from fastapi.testclient import TestClient

    with TestClient(app) as client:
        soc = client.get("/api/v1/status", headers=bearer(world.tokens["soc_manager"])).json()
        own = client.get("/api/v1/status", headers=bearer(world.tokens[A.id])).json()
    assert soc["collector"]["spool_depth"] == 4242
    assert own["collector"] == {}
