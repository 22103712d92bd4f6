"""Hypothesis strategies for syslog lines, shared by the fuzz tests of the ingest paths."""

from __future__ import annotations

from hypothesis import strategies as st

TEXT = st.text(max_size=100)  # any characters: controls, NUL, emoji, right-to-left marks
MESSAGES = st.sampled_from(["Failed password for root from 10.2.6.6 port 22 ssh2", "session opened for user x"]) | TEXT


def rfc3164(hosts: st.SearchStrategy[str]) -> st.SearchStrategy[str]:
    """``<PRI>Mmm dd hh:mm:ss host program[pid]: message`` with every part sometimes out of range."""
    return st.builds(
        "<{}>{} {:>2} {:02}:{:02}:{:02} {} {}[{}]: {}".format,
        st.integers(-5, 300),
        st.sampled_from(["Jan", "Feb", "Nov", "Dec", "Xyz"]),
        st.integers(0, 40),
        st.integers(0, 25),
        st.integers(0, 61),
        st.integers(0, 61),
        hosts,
        st.sampled_from(["sshd", "sudo", "CRON", "app", ""]),
        st.integers(0, 2**70),
        MESSAGES,
    )
