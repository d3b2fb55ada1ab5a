"""Passwords (argon2id), access tokens (JWT, HS256, with an expiry and the account's token
version) and the TOTP second factor (RFC 6238, 30 s steps, 6 digits)."""

from __future__ import annotations

import functools
import hmac
import time
from datetime import timedelta
from typing import Any

import jwt
import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from api.models import now

_hasher = PasswordHasher()
ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password: str, hashed: str) -> bool:
    try:
        return _hasher.verify(hashed, password)
    except (VerificationError, InvalidHashError):
        return False


@functools.cache
def _decoy_hash() -> str:
    return _hasher.hash("decoy password, never a user's")


def verify_decoy(password: str) -> bool:
    """The same hashing work as :func:`verify_password`, for an unknown or disabled
    account: the answer takes as long as for a real one (no username enumeration by
    timing). Always False."""
    verify_password(password, _decoy_hash())
    return False


def warm_decoy() -> None:
    """Make the decoy hash now (at start), not during the first unknown sign-in."""
    _decoy_hash()


# ---- TOTP (RFC 6238) ------------------------------------------------------------------
TOTP_STEP_S = 30
TOTP_ISSUER = "楚雄州城乡配送平台"


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, username: str) -> str:
    """The ``otpauth://`` URI an authenticator app reads (as a QR code or typed)."""
    return pyotp.TOTP(secret).provisioning_uri(name=username, issuer_name=TOTP_ISSUER)


def totp_step(secret: str, code: str, *, after: int | None) -> int | None:
    """The 30 s step ``code`` belongs to (the current one or one either side, for clock
    drift), or None when it matches none of them or was used already (a step not later
    than ``after``, the last accepted one: a code works once)."""
    code = "".join(code.split())
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    current = int(time.time() // TOTP_STEP_S)
    for step in (current, current - 1, current + 1):
        if hmac.compare_digest(totp.at(step * TOTP_STEP_S), code):
            return step if after is None or step > after else None
    return None


def issue_token(subject: str, secret: str, minutes: int, **claims: Any) -> str:
    issued = now()
    payload = {
        "sub": subject,
        "iat": int(issued.timestamp()),
        "exp": int((issued + timedelta(minutes=minutes)).timestamp()),
        **claims,
    }
    return jwt.encode(payload, secret, algorithm=ALGORITHM)


class TokenError(Exception):
    """The token is missing, forged, malformed or expired."""


def read_token(token: str, secret: str) -> dict[str, Any]:
    try:
        payload: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[ALGORITHM], options={"require": ["exp", "sub"]}
        )
    except jwt.ExpiredSignatureError:
        raise TokenError("token expired") from None
    except jwt.PyJWTError:
        raise TokenError("invalid token") from None
    return payload
