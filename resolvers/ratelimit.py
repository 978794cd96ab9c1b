"""Request budgets kept in the memory of each server process: per agent token, and per
client address for failed authentications (AuthenticationGuard).

A budget refills continuously, one request every `window / budget` seconds, up to a
burst of `budget` requests (the generic cell rate algorithm): a key that sent nothing
for a window may send `budget` requests at once, and one that keeps sending gets one
request per interval. Each key costs one number, forgotten once its budget is full
again; `max_keys` bounds how many are remembered at once.
"""

from __future__ import annotations

import ipaddress
import math
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

_NS = 1_000_000_000

Clock = Callable[[], float]


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
    """Budgets by key (the sha256 of a token, or an address). Not shared between
    processes: with N workers a key may send up to N budgets."""

    def __init__(
        self,
        budget: int,
        window: float = 60.0,
        *,
        clock: Clock = time.monotonic,
        max_keys: int | None = None,
    ) -> None:
        if budget < 1 or window <= 0:
            raise ValueError("a rate limit needs a positive budget and window")
        self.budget = budget
        self.window = window
        self.max_keys = max_keys
        self._window_ns = round(window * _NS)
        self._interval_ns = self._window_ns // budget
        self._clock = clock
        # Per key, the time at which its budget is full again ("theoretical arrival time"),
        # in the order the keys came.
        self._full_at: OrderedDict[bytes, int] = OrderedDict()
        self._sweep_at = self._now() + self._window_ns

    def __len__(self) -> int:
        """How many keys are remembered (those whose budget is not full)."""
        return len(self._full_at)

    def check(self, key: bytes) -> Verdict:
        """Whether a request of `key` would be allowed now, without counting it."""
        now = self._now()
        return self._verdict(now, self._next(key, now))

    def take(self, key: bytes) -> Verdict:
        """Counts a request of `key` if it is allowed; a refused one costs nothing. Past
        `max_keys` keys, the key remembered longest is forgotten (its budget full again)."""
        now = self._now()
        if now >= self._sweep_at:
            self._sweep(now)
        full_at = self._next(key, now)
        verdict = self._verdict(now, full_at)
        if verdict.allowed:
            if self.max_keys is not None and key not in self._full_at:
                while len(self._full_at) >= self.max_keys:
                    self._full_at.popitem(last=False)
            self._full_at[key] = full_at
        return verdict

    def give_back(self, key: bytes) -> None:
        """Returns one request counted by `take` that turned out not to count."""
        full_at = self._full_at.get(key)
        if full_at is None:
            return
        full_at -= self._interval_ns
        if full_at > self._now():
            self._full_at[key] = full_at
        else:
            del self._full_at[key]

    def _next(self, key: bytes, now: int) -> int:
        return max(self._full_at.get(key, now), now) + self._interval_ns

    def _verdict(self, now: int, full_at: int) -> Verdict:
        debt = full_at - now
        if debt > self._window_ns:
            return Verdict(False, 0, (debt - self._window_ns) / _NS)
        return Verdict(True, (self._window_ns - debt) // self._interval_ns, 0.0)

    def _sweep(self, now: int) -> None:
        self._full_at = OrderedDict((key, at) for key, at in self._full_at.items() if at > now)
        self._sweep_at = now + self._window_ns

    def _now(self) -> int:
        return round(self._clock() * _NS)


class RecentKeys:
    """Keys added in the last `ttl` seconds, at most `max_entries` of them (the oldest go
    first)."""

    def __init__(self, max_entries: int, ttl: float, *, clock: Clock = time.monotonic) -> None:
        self.max_entries = max_entries
        self.ttl = ttl
        self._clock = clock
        self._expires: OrderedDict[bytes, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._expires)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, bytes):
            return False
        expires = self._expires.get(key)
        if expires is None:
            return False
        if expires <= self._clock():
            del self._expires[key]
            return False
        return True

    def add(self, key: bytes) -> None:
        now = self._clock()
        self._expires.pop(key, None)
        self._expires[key] = now + self.ttl
        # Every entry lives as long, so the oldest are at the front.
        while self._expires and (
            len(self._expires) > self.max_entries or next(iter(self._expires.values())) <= now
        ):
            self._expires.popitem(last=False)

    def discard(self, key: bytes) -> None:
        self._expires.pop(key, None)


@lru_cache(maxsize=4096)  # a client sends many requests; parsing its address took ~3 µs
def address_key(host: str | None) -> bytes:
    """The key of a client address for budgets: an IPv4 address (mapped into IPv6 or
    not) as it is, an IPv6 address by its /64 network, which one host or one customer
    usually holds whole; a host that is no address, by its name."""
    if not host:
        return b""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return host.encode()
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return address.ipv4_mapped.packed
        return address.packed[:8]
    return address.packed


@dataclass(frozen=True, slots=True)
class Attempt:
    """One token lookup, as AuthenticationGuard let it through (or not)."""

    address: bytes
    token: bytes
    charged: bool  # counted against the address until the token proves valid
    refused: Verdict | None = None  # the address is over its budget: no lookup


class AuthenticationGuard:
    """What unknown tokens may cost, in memory: a token that failed in the last
    `failed_ttl` seconds is refused again without a lookup, and each client address may
    fail `per_minute` authentications a minute.

    A lookup is charged to its address before it runs and given back once the token
    proves valid, so that concurrent lookups of one address are bounded as well as its
    failures. Tokens that authenticated in the last `verified_ttl` seconds are looked up
    without a charge: an address spending its budget on bad tokens does not lock out the
    agents who share it. Every set is bounded by `max_entries`.
    """

    def __init__(
        self,
        per_minute: int,
        *,
        clock: Clock = time.monotonic,
        failed_ttl: float = 60.0,
        verified_ttl: float = 900.0,
        max_entries: int = 10_000,
    ) -> None:
        self.limiter = RateLimiter(per_minute, 60.0, clock=clock, max_keys=max_entries)
        self._failed = RecentKeys(max_entries, failed_ttl, clock=clock)
        self._verified = RecentKeys(max_entries, verified_ttl, clock=clock)

    def failed_recently(self, token: bytes) -> bool:
        return token in self._failed

    def attempt(self, address: bytes, token: bytes) -> Attempt:
        """Lets a lookup of `token` from `address` through, charged or not, or refuses it
        (`refused` says when to retry)."""
        if token in self._verified:
            return Attempt(address, token, charged=False)
        verdict = self.limiter.take(address)
        if not verdict.allowed:
            return Attempt(address, token, charged=False, refused=verdict)
        return Attempt(address, token, charged=True)

    def settle(self, attempt: Attempt, *, authenticated: bool | None) -> None:
        """Records how a lookup ended: True, the token is valid; False, it is not (the
        charge stays); None, the lookup did not complete, which is not the token's
        failure."""
        if authenticated is False:
            self._verified.discard(attempt.token)
            self._failed.add(attempt.token)
            return
        if authenticated:
            self._verified.add(attempt.token)
        if attempt.charged:
            self.limiter.give_back(attempt.address)
