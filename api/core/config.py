"""Service settings, all from the environment (nothing secret lives in the repository).

``CODIST_ENV``          ``development`` (default) or ``production``
``DATABASE_URL``        SQLAlchemy URL; default: SQLite file ``$CODIST_HOME/codist.db``
``REDIS_URL``           when set, planning jobs run on RQ workers (``codist worker``);
                        otherwise in the API process
``CODIST_SECRET_KEY``   signs access tokens; outside development a random secret of at least
                        32 characters and 128 bits of entropy is required (the development
                        placeholder, ``aaaa…`` or a repeated pattern are refused)
``CODIST_HOME``         where the SQLite file and uploaded photos live (default ``./var``)
``CODIST_TOKEN_MINUTES``  access-token lifetime (default 480 = one working day)
``CODIST_PHOTO_MAX_BYTES``  largest proof-of-delivery photo (default 5 MB)
``CODIST_PLAN_TIME_LIMIT``  optimisation seconds per planning job (default 25)
``CODIST_PLAN_WORKERS``     processes a planning job may use (default 1 in-process, else CPUs)
``CODIST_QUEUE``            the RQ queue name (default ``plans``)
``CODIST_DB_POOL_SIZE``, ``CODIST_DB_MAX_OVERFLOW``  the connection pool (default 10 + 20)
``CODIST_DB_POOL_TIMEOUT``  seconds a request waits for a connection, then 503 (default 10)
``CODIST_DB_STATEMENT_TIMEOUT_MS``, ``CODIST_DB_LOCK_TIMEOUT_MS``  PostgreSQL's
                            statement_timeout and lock_timeout (default 30000 and 5000)
``CODIST_METRICS_TOKEN``    when set, ``/metrics`` wants ``Authorization: Bearer <token>``
``CODIST_LOGIN_ACCOUNT_FAILURES``, ``CODIST_LOGIN_ADDRESS_FAILURES``, ``CODIST_LOGIN_LOCKOUT_S``
                            sign-in throttling (default 5 per account, 30 per address, 900 s)

The routing core reads its own knobs (``CODIST_DATA_DIR``, ``CODIST_CACHE_DIR``,
``CODIST_NETWORK``, ``CODIST_PLACE_OVERRIDES``) in one place, ``routing.settings``.
"""

from __future__ import annotations

import functools
import math
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PLACEHOLDER_SECRET = "development-only-secret-do-not-use-in-production"


class SettingsError(RuntimeError):
    """The environment does not describe a safe, usable service."""


@dataclass(frozen=True)
class Settings:
    env: str
    database_url: str
    redis_url: str | None
    secret_key: str
    home: Path
    token_minutes: int = 480
    photo_max_bytes: int = 5 * 1024 * 1024
    plan_time_limit: float = 25.0
    plan_workers: int = 1
    stale_after_s: int = 60  # a running job whose heartbeat is older is presumed dead
    max_attempts: int = 2  # a job whose worker died is retried once, then failed
    queue: str = "plans"  # the RQ queue of planning jobs
    # the database pool (PostgreSQL): a request waits at most pool_timeout_s for a connection
    # (then 503 with Retry-After); statements and lock waits are cut off by the server
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_pool_timeout_s: float = 10.0
    db_statement_timeout_ms: int = 30_000
    db_lock_timeout_ms: int = 5_000
    # /metrics: when set, a scrape must send ``Authorization: Bearer <metrics_token>``
    metrics_token: str | None = None
    # sign-in throttling: failures allowed per account and per client address before the
    # account (or address) must wait, and how long a lockout lasts
    login_account_failures: int = 5
    login_address_failures: int = 30
    login_lockout_s: int = 15 * 60

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def photo_dir(self) -> Path:
        return self.home / "photos"


MIN_SECRET_BITS = 128


def secret_bits(secret: str) -> float:
    """An estimate of a secret's entropy: its length times the Shannon entropy of its
    characters' frequencies. ``"a" * 40`` has 0 bits, ``"abab…"`` 1 bit a character;
    ``openssl rand -hex 32`` about 250, ``secrets.token_urlsafe(32)`` about 220."""
    if not secret:
        return 0.0
    counts = Counter(secret)
    n = len(secret)
    per_char = -sum(c / n * math.log2(c / n) for c in counts.values())
    return max(0.0, per_char * n)


def secret_problem(secret: str) -> str | None:
    """Why ``secret`` is too weak to sign tokens with, or None."""
    if len(secret) < 32:
        return "must be at least 32 characters (e.g. $(openssl rand -hex 32))"
    if secret_bits(secret) < MIN_SECRET_BITS:
        return (
            f"is too predictable (about {secret_bits(secret):.0f} bits of entropy, at least "
            f"{MIN_SECRET_BITS} needed): use a random one, e.g. $(openssl rand -hex 32)"
        )
    for size in range(1, len(secret) // 2 + 1):
        if secret == (secret[:size] * (len(secret) // size + 1))[: len(secret)]:
            return "repeats a short pattern: use a random one, e.g. $(openssl rand -hex 32)"
    return None


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def _float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a number, got {raw!r}") from None


def load_settings() -> Settings:
    env = os.environ.get("CODIST_ENV", "development").strip().lower()
    if env not in ("development", "production"):
        raise SettingsError(f"CODIST_ENV must be development or production, got {env!r}")
    home = Path(os.environ.get("CODIST_HOME", "var"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{home / 'codist.db'}"
    secret = os.environ.get("CODIST_SECRET_KEY") or ""
    if env != "development":
        if not secret or secret == PLACEHOLDER_SECRET:
            raise SettingsError(
                "CODIST_SECRET_KEY must be set to a real secret in production "
                "(e.g. $(openssl rand -hex 32)); `codist serve --dev` runs without one"
            )
        if (why := secret_problem(secret)) is not None:
            raise SettingsError(f"CODIST_SECRET_KEY {why}")
    secret = secret or PLACEHOLDER_SECRET
    redis_url = os.environ.get("REDIS_URL") or None
    try:
        time_limit = float(os.environ.get("CODIST_PLAN_TIME_LIMIT", "25"))
    except ValueError:
        raise SettingsError("CODIST_PLAN_TIME_LIMIT must be a number of seconds") from None
    return Settings(
        env=env,
        database_url=url,
        redis_url=redis_url,
        secret_key=secret,
        home=home,
        token_minutes=_int("CODIST_TOKEN_MINUTES", 480),
        photo_max_bytes=_int("CODIST_PHOTO_MAX_BYTES", 5 * 1024 * 1024),
        plan_time_limit=time_limit,
        plan_workers=_int("CODIST_PLAN_WORKERS", 1 if redis_url is None else 0),
        stale_after_s=_int("CODIST_STALE_AFTER_S", 60),
        max_attempts=_int("CODIST_MAX_ATTEMPTS", 2),
        queue=os.environ.get("CODIST_QUEUE") or "plans",
        db_pool_size=_int("CODIST_DB_POOL_SIZE", 10),
        db_max_overflow=_int("CODIST_DB_MAX_OVERFLOW", 20),
        db_pool_timeout_s=_float("CODIST_DB_POOL_TIMEOUT", 10.0),
        db_statement_timeout_ms=_int("CODIST_DB_STATEMENT_TIMEOUT_MS", 30_000),
        db_lock_timeout_ms=_int("CODIST_DB_LOCK_TIMEOUT_MS", 5_000),
        metrics_token=os.environ.get("CODIST_METRICS_TOKEN") or None,
        login_account_failures=_int("CODIST_LOGIN_ACCOUNT_FAILURES", 5),
        login_address_failures=_int("CODIST_LOGIN_ADDRESS_FAILURES", 30),
        login_lockout_s=_int("CODIST_LOGIN_LOCKOUT_S", 15 * 60),
    )


@functools.cache
def get_settings() -> Settings:
    return load_settings()
