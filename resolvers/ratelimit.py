"""A request budget per agent token, kept in the memory of each server process.

The budget refills continuously, one request every `window / budget` seconds, up to a
burst of `budget` requests (the generic cell rate algorithm): a token that sent nothing
for a window may send `budget` requests at once, and one that keeps sending gets one
request per interval. Each token costs one number, forgotten once its budget is full
again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

_NS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    remaining: int  # requests that could follow at once
    retry_after: float  # seconds until one more request is allowed (0 when it is)

    @property
    def retry_after_seconds(self) -> int:
        """`retry_after` rounded up to whole seconds, as Retry-After takes it (at least 1)."""
        return max(1, math.ceil(self.retry_after))


class RateLimiter:
    """Budgets by key (the sha256 of a token). Not shared between processes: with N
    workers a token may send up to N budgets."""

    def __init__(
        self,
        budget: int,
        window: float = 60.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if budget < 1 or window <= 0:
            raise ValueError("a rate limit needs a positive budget and window")
        self.budget = budget
        self.window = window
        self._window_ns = round(window * _NS)
        self._interval_ns = self._window_ns // budget
        self._clock = clock
        # Per key, the time at which its budget is full again ("theoretical arrival time").
        self._full_at: dict[bytes, int] = {}
        self._sweep_at = self._now() + self._window_ns

    def __len__(self) -> int:
        """How many keys are remembered (those whose budget is not full)."""
        return len(self._full_at)

    def check(self, key: bytes) -> Verdict:
        """Whether a request of `key` would be allowed now, without counting it."""
        now = self._now()
        return self._verdict(now, self._next(key, now))

    def take(self, key: bytes) -> Verdict:
        """Counts a request of `key` if it is allowed; a refused one costs nothing."""
        now = self._now()
        if now >= self._sweep_at:
            self._sweep(now)
        full_at = self._next(key, now)
        verdict = self._verdict(now, full_at)
        if verdict.allowed:
            self._full_at[key] = full_at
        return verdict

    def _next(self, key: bytes, now: int) -> int:
        return max(self._full_at.get(key, now), now) + self._interval_ns

    def _verdict(self, now: int, full_at: int) -> Verdict:
        debt = full_at - now
        if debt > self._window_ns:
            return Verdict(False, 0, (debt - self._window_ns) / _NS)
        return Verdict(True, (self._window_ns - debt) // self._interval_ns, 0.0)

    def _sweep(self, now: int) -> None:
        self._full_at = {key: at for key, at in self._full_at.items() if at > now}
        self._sweep_at = now + self._window_ns

    def _now(self) -> int:
        return round(self._clock() * _NS)
