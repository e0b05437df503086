"""A token bucket shared by the threads of one process, to pace calls to a rate-limited API.

The DMS API allows roughly 4-8 requests/s per account and the quota cannot be raised
(reference/dms.md §5). botocore's adaptive retry mode backs off *after* being throttled; this
bucket keeps one process from getting there in the first place when a fleet run starts hundreds
of tasks at once. Callers reserve a token and sleep outside the lock, so waiting callers are
served in arrival order and never hold each other up while sleeping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from sqlfleet.errors import TransientError


class TokenBucket:
    """``rate_per_second`` tokens refill continuously up to ``burst``; each call takes one."""

    def __init__(
        self,
        rate_per_second: float,
        burst: int,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_second <= 0 or burst < 1:
            raise ValueError(f"a token bucket needs a positive rate and burst, got {rate_per_second}/s, {burst}")
        self.rate = float(rate_per_second)
        self.burst = float(burst)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = float(burst)
        self._stamp = clock()

    def acquire(self, deadline_seconds: float = 120.0) -> float:
        """Take one token, sleeping until it is available; returns the seconds waited.

        Raises ``TransientError`` (without taking a token) when the wait would pass
        ``deadline_seconds``: the process is asking for far more calls than the API allows.
        """
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
            self._stamp = now
            wait = 0.0 if self._tokens >= 1 else (1 - self._tokens) / self.rate
            if wait > deadline_seconds:
                raise TransientError(
                    f"API pacing: the next call slot is {wait:.1f} s away, past the {deadline_seconds:.0f} s deadline"
                )
            # A negative balance is a queue of reservations: later callers wait behind this one.
            self._tokens -= 1
        if wait > 0:
            self._sleep(wait)
        return wait
