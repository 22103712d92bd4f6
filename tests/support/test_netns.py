"""The namespace helpers themselves: a link carries traffic, and everything is gone after a failure."""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.support.netns import NetLab, free_10_octet, leftover_namespaces, netns_available

pytestmark = pytest.mark.netns

ECHO = "import socket; s=socket.create_connection(('{addr}', 7007), timeout=5); s.sendall(b'hi'); print(s.recv(2).decode())"
SERVE = (
    "import socket; s=socket.socket(); s.bind(('0.0.0.0', 7007)); s.listen(1); print('ready', flush=True);"
    " c,_=s.accept(); c.sendall(c.recv(2))"
)


def test_link_and_cleanup_even_on_failure() -> None:
    ok, reason = netns_available()
    if not ok:
        pytest.skip(f"network namespaces unavailable on this machine: {reason}")  # shown by -ra
    x = free_10_octet()
    names: list[str] = []
    with pytest.raises(RuntimeError, match="boom"), NetLab() as lab:
        a, b = lab.add_namespace("a"), lab.add_namespace("b")
        names = [a, b]
        lab.link_namespaces(a, f"10.{x}.9.1/30", b, f"10.{x}.9.2/30")
        server = lab.popen(b, [sys.executable, "-c", SERVE], stdout=subprocess.PIPE)
        assert server.stdout is not None and server.stdout.readline().strip() == b"ready"
        answer = lab.run(a, [sys.executable, "-c", ECHO.format(addr=f"10.{x}.9.2")])
        assert answer.stdout.strip() == "hi", answer.stderr
        raise RuntimeError("boom")
    assert names and not set(names) & set(leftover_namespaces())
