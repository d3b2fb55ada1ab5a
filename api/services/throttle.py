"""Sign-in throttling: failed attempts counted per account and per client address, with
growing waits and a lockout an admin can lift (``limits``' moving windows).

Only failures count. Before a password is checked, every tier of the account and of the
address is tested; when one is used up the attempt is refused with the seconds to wait,
without checking the password (so a flood of guesses costs no hashing either):

- an account: 3 failures a minute (then wait up to a minute), and
  ``login_account_failures`` (default 5) in ``login_lockout_s`` (default 15 minutes),
  then the account is locked for the rest of that window, from every address; an admin
  lifts it (``POST /users/{id}/unlock``); a successful sign-in clears the account's count;
- an address: 10 failures a minute and ``login_address_failures`` (default 30) an hour,
  whatever the accounts tried (one address guessing many usernames).

The counters live in Redis when ``REDIS_URL`` is set (shared by every worker and
machine), otherwise in the process's memory (one process: the development setup). If
Redis stops answering, the counters fall back to memory with a warning rather than
letting every attempt through or locking everyone out.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from limits import (
    RateLimitItem,
    RateLimitItemPerHour,
    RateLimitItemPerMinute,
    RateLimitItemPerSecond,
)
from limits.storage import Storage, storage_from_string
from limits.strategies import MovingWindowRateLimiter

from api.core.config import Settings

log = logging.getLogger("codist.auth")
T = TypeVar("T")
RETRY_REDIS_S = 30.0


@dataclass(frozen=True)
class Blocked:
    """Attempts are refused for ``retry_after`` seconds; ``locked``: the long window (an
    admin can lift an account's)."""

    scope: str  # "account" or "address"
    retry_after: int
    locked: bool


def account_key(username: str) -> str:
    return username.strip().lower()[:150]


class Throttle:
    def __init__(self, settings: Settings, *, prefix: str = "codist-login") -> None:
        self.account_tiers: tuple[RateLimitItem, ...] = (
            RateLimitItemPerMinute(3),
            RateLimitItemPerSecond(settings.login_account_failures, settings.login_lockout_s),
        )
        self.address_tiers: tuple[RateLimitItem, ...] = (
            RateLimitItemPerMinute(10),
            RateLimitItemPerHour(settings.login_address_failures),
        )
        self.memory = MovingWindowRateLimiter(storage_from_string("memory://"))
        self.shared: MovingWindowRateLimiter | None = None
        self._redis_down_until = 0.0
        if settings.redis_url:
            storage = storage_from_string(
                settings.redis_url,
                key_prefix=prefix,
                socket_timeout=0.5,
                socket_connect_timeout=0.5,
            )
            assert isinstance(storage, Storage)  # the synchronous one, for this scheme
            self.shared = MovingWindowRateLimiter(storage)

    def _run(self, work: Callable[[MovingWindowRateLimiter], T]) -> T:
        if self.shared is not None and time.monotonic() >= self._redis_down_until:
            try:
                return work(self.shared)
            except Exception as e:  # any Redis failure: count in memory for a while
                log.warning("sign-in throttle: Redis failed (%s); counting in memory", e)
                self._redis_down_until = time.monotonic() + RETRY_REDIS_S
        return work(self.memory)

    def _blocked(self, scope: str, tiers: tuple[RateLimitItem, ...], key: str) -> Blocked | None:
        def check(limiter: MovingWindowRateLimiter) -> Blocked | None:
            worst: Blocked | None = None  # the longest wait of the used-up tiers
            for i, tier in enumerate(tiers):
                if not limiter.test(tier, scope, key):
                    reset = limiter.get_window_stats(tier, scope, key).reset_time
                    wait = max(1, math.ceil(reset - time.time()))
                    if worst is None or wait > worst.retry_after:
                        worst = Blocked(scope, wait, locked=i == len(tiers) - 1)
            return worst

        return self._run(check)

    def check(self, username: str, address: str) -> Blocked | None:
        """Whether an attempt for ``username`` from ``address`` must wait (None: go on)."""
        return self._blocked("account", self.account_tiers, account_key(username)) or (
            self._blocked("address", self.address_tiers, address)
        )

    def failed(self, username: str, address: str) -> bool:
        """Count a failure; True when it locked the account (its long window is used up)."""

        def hit(limiter: MovingWindowRateLimiter) -> bool:
            key = account_key(username)
            for tier in self.account_tiers:
                limiter.hit(tier, "account", key)
            for tier in self.address_tiers:
                limiter.hit(tier, "address", address)
            last = self.account_tiers[-1]
            return limiter.get_window_stats(last, "account", key).remaining == 0

        return self._run(hit)

    def clear(self, username: str) -> None:
        """Forget the account's failures (a successful sign-in, an admin's unlock)."""

        def clear(limiter: MovingWindowRateLimiter) -> None:
            for tier in self.account_tiers:
                limiter.clear(tier, "account", account_key(username))

        self._run(clear)

    def locked_for(self, username: str) -> int | None:
        """Seconds the account stays locked (its long window used up), else None."""
        blocked = self._blocked("account", self.account_tiers[-1:], account_key(username))
        return blocked.retry_after if blocked is not None else None
