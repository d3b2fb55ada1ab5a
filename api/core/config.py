"""Service settings, all from the environment (nothing secret lives in the repository).

``CODIST_ENV``          ``development`` (default) or ``production``
``DATABASE_URL``        SQLAlchemy URL; default: SQLite file ``$CODIST_HOME/codist.db``
``REDIS_URL``           when set, planning jobs run on RQ workers (``codist worker``);
                        otherwise in the API process
``CODIST_SECRET_KEY``   signs access tokens; outside development a real secret of at least
                        32 characters is required (the development placeholder is refused)
``CODIST_HOME``         where the SQLite file and uploaded photos live (default ``./var``)
``CODIST_TOKEN_MINUTES``  access-token lifetime (default 480 = one working day)
``CODIST_PHOTO_MAX_BYTES``  largest proof-of-delivery photo (default 5 MB)
``CODIST_PLAN_TIME_LIMIT``  optimisation seconds per planning job (default 25)
``CODIST_PLAN_WORKERS``     processes a planning job may use (default 1 in-process, else CPUs)
``CODIST_QUEUE``            the RQ queue name (default ``plans``)

The routing core reads its own knobs (``CODIST_DATA_DIR``, ``CODIST_CACHE_DIR``,
``CODIST_NETWORK``, ``CODIST_PLACE_OVERRIDES``) in one place, ``routing.settings``.
"""

from __future__ import annotations

import functools
import os
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

    @property
    def development(self) -> bool:
        return self.env == "development"

    @property
    def photo_dir(self) -> Path:
        return self.home / "photos"


def _int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be an integer, got {raw!r}") from None


def load_settings() -> Settings:
    env = os.environ.get("CODIST_ENV", "development").strip().lower()
    if env not in ("development", "production"):
        raise SettingsError(f"CODIST_ENV must be development or production, got {env!r}")
    home = Path(os.environ.get("CODIST_HOME", "var"))
    url = os.environ.get("DATABASE_URL") or f"sqlite:///{home / 'codist.db'}"
    secret = os.environ.get("CODIST_SECRET_KEY") or ""
    if env != "development":
        if not secret or secret == PLACEHOLDER_SECRET:
            raise SettingsError("CODIST_SECRET_KEY must be set to a real secret in production")
        if len(secret) < 32:
            raise SettingsError("CODIST_SECRET_KEY must be at least 32 characters")
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
    )


@functools.cache
def get_settings() -> Settings:
    return load_settings()
