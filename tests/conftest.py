"""Shared fixtures: where the third-party test data is, temp data dirs, free ports."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path | None:
    """The folder of real third-party logs, rules, scans and captures (``../shared/data``)."""
    configured = os.environ.get("SENTINEL_TEST_DATA")
    path = Path(configured) if configured else PROJECT_ROOT.parent / "shared" / "data"
    return path if path.is_dir() else None


@pytest.fixture(scope="session")
def shared_data() -> Path:
    path = shared_data_dir()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("SENTINEL_TEST_DATA (../shared/data) is required in CI but is missing")
        pytest.skip("third-party test data not found: set SENTINEL_TEST_DATA or place ../shared/data")
    return path


def free_port(kind: int = socket.SOCK_STREAM, host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, kind) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def decoders_restored() -> Iterator[None]:
    """Put the decoder set that was active back after a test that installs others."""
    from collectors.parsers import active_decoders, install_decoders

    before = active_decoders()
    yield
    install_decoders(before)


# The live app over two institutions' data and real Chromium, for the browser tests.
from tests.support.browser import browser, live_world, page  # noqa: E402, F401
