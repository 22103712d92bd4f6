"""Pause Python's cyclic garbage collector while a page of events is decoded and matched.

A page is thousands of freshly decoded JSON documents (a dozen dicts and lists each): plain trees
that reference counting frees as soon as the page is done. Every 700 container allocations the
cyclic collector would still run, and its older generations walk every long-lived object (the
compiled rules, the runs' counts), so on a large catch-up it cost about a quarter of the engine's
time for nothing. While any thread holds a pause the collector does not run on its own; it is
switched back on when the last one ends (if it was on before), and collects as usual from then.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()
_holders = 0
_was_enabled = False


@contextmanager
def gc_paused() -> Iterator[None]:
    global _holders, _was_enabled
    with _lock:
        if _holders == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _holders += 1
    try:
        yield
    finally:
        with _lock:
            _holders -= 1
            if _holders == 0 and _was_enabled:
                gc.enable()
