"""Failed sign-ins per client address: logged, and after a few in a window, refused for a while.

Kept in memory (per process): it slows down guessing from one address; tokens are 256-bit random,
so it is there to make noise and cost, not to stop a search that cannot succeed anyway.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)


class SignInThrottle:
    def __init__(
        self,
        *,
        max_failures: int = 5,
        window_seconds: float = 300.0,
        max_addresses: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window_seconds
        self.max_addresses = max_addresses
        self._clock = clock
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, address: str) -> int:
        """Seconds until ``address`` may try again (0: it may now)."""
        with self._lock:
            recent = self._recent(address)
            if len(recent) < self.max_failures:
                return 0
            return max(1, int(recent[0] + self.window - self._clock()) + 1)

    def failed(self, address: str, reason: str) -> None:
        with self._lock:
            if address not in self._failures and len(self._failures) >= self.max_addresses:
                self._failures.pop(next(iter(self._failures)))  # oldest address first: memory stays bounded
            recent = self._recent(address)
            recent.append(self._clock())
            count = len(recent)
        log.warning("failed sign-in from %s (%d in %d s): %s", address, count, self.window, reason)

    def succeeded(self, address: str) -> None:
        with self._lock:
            self._failures.pop(address, None)

    def _recent(self, address: str) -> deque[float]:
        recent = self._failures.setdefault(address, deque(maxlen=self.max_failures))
        cutoff = self._clock() - self.window
        while recent and recent[0] < cutoff:
            recent.popleft()
        return recent
