"""Give freed memory back to the operating system after a burst.

A flood of large or malformed records makes the process allocate hundreds of megabytes for a
while (a batch of 64 KiB lines, their decoded text and dead-letter documents). Python frees it,
but glibc's allocator keeps freed heap pages mapped for reuse, so the process's RSS stays at the
burst's peak. ``malloc_trim(0)`` returns those pages; it is called when the collector goes idle
after a burst, at most once every few seconds. Where there is no glibc it does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import time
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load_malloc_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
        trim = libc.malloc_trim
    except (OSError, AttributeError):  # not glibc (musl, macOS)
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return trim  # type: ignore[no-any-return]


class MemoryTrimmer:
    """``trim_if_due()``: return freed heap pages to the system, at most every ``interval`` seconds."""

    def __init__(self, interval: float = 10.0) -> None:
        self.interval = interval
        self._trim = _load_malloc_trim()
        self._last = time.monotonic()
        self.trims = 0

    @property
    def available(self) -> bool:
        return self._trim is not None

    def trim_if_due(self) -> bool:
        now = time.monotonic()
        if self._trim is None or now - self._last < self.interval:
            return False
        self._last = now
        self._trim(0)
        self.trims += 1
        return True
