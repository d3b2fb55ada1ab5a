"""Organisations and users: creation, sign-in and account management, with the rules
the API, the web pages and the CLI all apply.

Sign-in (:func:`sign_in`) goes through the throttle (``api.services.throttle``) before any
password is checked, does the same hashing work for an unknown username as for a known
one, asks admins who turned it on for a TOTP code, and counts failures. Every change of
an account is written to the audit log in the change's transaction; a password change,
an admin's reset, a deactivation or a role change bumps the account's token version, so
every token issued before stops working.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from api.core.config import Settings
from api.core.security import (
    hash_password,
    issue_token,
    new_totp_secret,
    totp_step,
    totp_uri,
    verify_decoy,
    verify_password,
)
from api.models import ORG_KINDS, ROLES, Organisation, User, now
from api.services import audit, passwords
from api.services.throttle import Throttle
from dispatch.io.day import served_counties
from dispatch.io.fleet import load_parties
from routing.errors import InputError

#: The fields of an account the audit log keeps (never the hash or the TOTP secret).
AUDITED = ("username", "role", "org_id", "county_code", "active", "display_name", "phone")
PHONE = re.compile(r"^(\+86[ -]?)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$")


def create_organisation(
    session: Session,
    *,
    name: str,
    kind: str,
    county_code: str | None = None,
    party_id: str | None = None,
) -> Organisation:
    if kind not in ORG_KINDS:
        raise InputError("kind", f"must be one of {', '.join(ORG_KINDS)}, got {kind!r}")
    if kind == "county_hub" and county_code not in served_counties():
        raise InputError("county_code", "a county hub needs one of the served county codes")
    if party_id is not None:
        known = load_parties()
        if party_id not in known:
            raise InputError(
                "party_id", f"unknown party {party_id!r}; the planner knows {', '.join(known)}"
            )
    if session.exec(select(Organisation).where(Organisation.name == name)).first():
        raise InputError("name", f"an organisation named {name!r} exists already")
    org = Organisation(
        name=name, kind=kind, county_code=county_code, party_id=party_id, created_at=now()
    )
    session.add(org)
    session.commit()
    session.refresh(org)
    return org


def create_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    org_id: int | None = None,
    county_code: str | None = None,
    display_name: str = "",
    phone: str | None = None,
    actor: User | None = None,
) -> User:
    if (why := passwords.problem(password, username=username)) is not None:
        raise InputError("password", why)
    _check_role(session, role=role, org_id=org_id, county_code=county_code)
    _check_profile(display_name, phone)
    if session.exec(select(User).where(User.username == username)).first():
        raise InputError("username", f"{username!r} is taken")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        org_id=org_id,
        county_code=county_code,
        display_name=display_name.strip(),
        phone=phone,
        created_at=now(),
        password_changed_at=now(),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="user.create",
        entity="user",
        entity_id=user.id,
        after=audit.snapshot(user, AUDITED),
    )
    session.commit()
    session.refresh(user)
    return user


def _check_profile(display_name: str | None, phone: str | None) -> None:
    if display_name is not None and len(display_name.strip()) > 64:
        raise InputError("display_name", "must be at most 64 characters")
    if phone is not None and not PHONE.match(phone):
        raise InputError(
            "phone", "must be a mainland mobile (13812345678) or a landline (0878-3123456)"
        )


def _check_role(
    session: Session, *, role: str, org_id: int | None, county_code: str | None
) -> None:
    """The rules tying a role to a county and an organisation (creation and changes)."""
    if role not in ROLES:
        raise InputError("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "dispatcher" and county_code not in served_counties():
        raise InputError(
            "county_code",
            f"a dispatcher works for one served county ({', '.join(sorted(served_counties()))})",
        )
    if role != "dispatcher" and county_code is not None:
        raise InputError("county_code", "only dispatchers are scoped to a county")
    org = session.get(Organisation, org_id) if org_id is not None else None
    if org_id is not None and org is None:
        raise InputError("org_id", f"no organisation {org_id}")
    if (
        role == "dispatcher"
        and org is not None
        and (
            org.kind not in ("county_hub", "prefecture")
            or (org.kind == "county_hub" and org.county_code != county_code)
        )
    ):
        raise InputError(
            "org_id", "a dispatcher belongs to the prefecture office or their county's hub"
        )
    if role == "carrier" and (org is None or not org.party_id):
        raise InputError("org_id", "a carrier user belongs to an organisation with a party_id")


def carrier_party(session: Session, user: User) -> str | None:
    """The party id of a carrier user's organisation (None when it has none)."""
    if user.org_id is None:
        return None
    org = session.get(Organisation, user.org_id)
    return org.party_id if org is not None and org.party_id else None


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None; an unknown or disabled
    account costs the same hashing work as a real one. No throttling: see :func:`sign_in`."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active:
        verify_decoy(password)
        return None
    return user if verify_password(password, user.password_hash) else None


@dataclass(frozen=True)
class SignInRefused(Exception):
    """Why a sign-in (or a check of the current password) is refused.

    ``reason``: ``wrong`` (username or password, never which), ``throttled`` (wait
    ``retry_after`` s), ``locked`` (the account or address used its long window; an admin
    can lift an account's), ``totp_required`` (the password was right, a one-time code is
    needed), ``totp_wrong``."""

    reason: str
    retry_after: int | None = None

    @property
    def status_code(self) -> int:
        return 429 if self.reason in ("throttled", "locked") else 401

    @property
    def detail(self) -> str:
        if self.reason == "throttled":
            return f"too many failed sign-ins: try again in {self.retry_after} s"
        if self.reason == "locked":
            return (
                f"signing in is locked after too many failures: try again in "
                f"{self.minutes} min or ask an administrator to unlock"
            )
        if self.reason == "totp_required":
            return "enter the one-time code from your authenticator app (totp)"
        if self.reason == "totp_wrong":
            return "wrong or already used one-time code"
        return "wrong username or password"

    @property
    def minutes(self) -> int:
        """``retry_after`` in whole minutes, rounded up."""
        return max(1, -(-(self.retry_after or 0) // 60))

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after)} if self.retry_after is not None else {}


def sign_in(
    session: Session,
    throttle: Throttle,
    *,
    username: str,
    password: str,
    address: str,
    totp: str | None = None,
) -> User:
    """The account signing in, or :class:`SignInRefused`. The same path for the API's
    token endpoint and the web pages' form."""
    blocked = throttle.check(username, address)
    if blocked is not None:
        raise SignInRefused("locked" if blocked.locked else "throttled", blocked.retry_after)
    user = authenticate(session, username, password)
    if user is None:
        _failed(session, throttle, username, address)
        raise SignInRefused("wrong")
    if user.totp_enabled and user.totp_secret:
        if not totp or not totp.strip():
            raise SignInRefused("totp_required")
        return second_factor(session, throttle, user=user, code=totp, address=address)
    throttle.clear(username)
    return user


def second_factor(
    session: Session, throttle: Throttle, *, user: User, code: str, address: str
) -> User:
    """The second step of a sign-in whose password was right (the web form asks for the
    code on a second page, carrying a short-lived signed proof of the first step)."""
    blocked = throttle.check(user.username, address)
    if blocked is not None:
        raise SignInRefused("locked" if blocked.locked else "throttled", blocked.retry_after)
    if not (user.active and user.totp_enabled and _use_totp(session, user, code)):
        _failed(session, throttle, user.username, address)
        raise SignInRefused("totp_wrong")
    throttle.clear(user.username)
    return user


def _failed(session: Session, throttle: Throttle, username: str, address: str) -> None:
    """Count a failure; the attempt that locks a real account is audited."""
    if not throttle.failed(username, address):
        return
    user = session.exec(select(User).where(User.username == username)).first()
    if user is not None:
        audit.record(
            session,
            actor=None,
            action="user.lockout",
            entity="user",
            entity_id=user.id,
            after={"address": address, "locked_for_s": throttle.locked_for(username)},
        )
        session.commit()


def _use_totp(session: Session, user: User, code: str) -> bool:
    """Accept ``code`` once: the step is stored with a conditional update, so two requests
    with the same code cannot both pass."""
    assert user.totp_secret is not None
    step = totp_step(user.totp_secret, code, after=user.totp_last_step)
    if step is None:
        return False
    done = session.exec(
        update(User)
        .where(
            col(User.id) == user.id,
            or_(col(User.totp_last_step).is_(None), col(User.totp_last_step) < step),
        )
        .values(totp_last_step=step)
    )
    session.commit()
    session.refresh(user)
    return bool(done.rowcount)


def access_token(user: User, settings: Settings) -> str:
    """An access token of ``user`` (the API's bearer token, the pages' session cookie): the
    role and the token version besides the subject."""
    return issue_token(
        str(user.id),
        settings.secret_key,
        settings.token_minutes,
        role=user.role,
        ver=user.token_version,
    )


# ---- account management ----------------------------------------------------------------
def _revoke_tokens(user: User) -> None:
    user.token_version += 1


def _active_admins(session: Session) -> int:
    return len(
        session.exec(select(User.id).where(User.role == "admin", User.active == True)).all()  # noqa: E712
    )


def _keep_an_admin(session: Session, user: User, field: str) -> None:
    if user.role == "admin" and user.active and _active_admins(session) <= 1:
        raise InputError(field, "this is the last active admin; make another admin first")


def change_password(
    session: Session,
    throttle: Throttle,
    *,
    user: User,
    current: str,
    new: str,
    address: str,
) -> User:
    """The user's own change: the current password is checked (throttled like a sign-in),
    the new one against the policy; every older token stops working."""
    blocked = throttle.check(user.username, address)
    if blocked is not None:
        raise SignInRefused("locked" if blocked.locked else "throttled", blocked.retry_after)
    if not verify_password(current, user.password_hash):
        _failed(session, throttle, user.username, address)
        raise InputError("current_password", "is not your current password")
    if (why := passwords.problem(new, username=user.username)) is not None:
        raise InputError("new_password", why)
    if verify_password(new, user.password_hash):
        raise InputError("new_password", "must differ from the current password")
    _set_password(user, new)
    user.must_change_password = False
    return _save(session, user, actor=user, action="user.password_change")


def _save(
    session: Session,
    user: User,
    *,
    actor: User | None,
    action: str,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
) -> User:
    """Commit a change of ``user`` with its audit row (in the same transaction)."""
    audit.record(
        session,
        actor=actor,
        action=action,
        entity="user",
        entity_id=user.id,
        before=before,
        after=after,
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def _set_password(user: User, password: str) -> None:
    user.password_hash = hash_password(password)
    user.password_changed_at = now()
    _revoke_tokens(user)


def reset_password(
    session: Session,
    *,
    actor: User,
    user: User,
    new: str | None = None,
    clear_totp: bool = False,
) -> str:
    """An admin's reset: ``new`` or a generated temporary password (returned, shown once);
    the user must choose their own at the next sign-in, and older tokens stop working."""
    password = new if new is not None else secrets.token_urlsafe(12)
    if (why := passwords.problem(password, username=user.username)) is not None:
        raise InputError("new_password", why)
    _set_password(user, password)
    user.must_change_password = True
    after: dict[str, Any] = {"must_change_password": True}
    if clear_totp and user.totp_enabled:
        user.totp_enabled = False
        user.totp_secret = None
        user.totp_last_step = None
        after["totp_enabled"] = False
    _save(session, user, actor=actor, action="user.password_reset", after=after)
    return password


def set_active(session: Session, *, actor: User, user: User, active: bool) -> User:
    """Deactivate (every token of the account stops working at once) or reactivate."""
    if user.active == active:
        return user
    if not active:
        if user.id == actor.id:
            raise InputError("user_id", "you cannot deactivate your own account")
        _keep_an_admin(session, user, "user_id")
        _revoke_tokens(user)
    user.active = active
    return _save(
        session,
        user,
        actor=actor,
        action="user.reactivate" if active else "user.deactivate",
        before={"active": not active},
        after={"active": active},
    )


def update_user(session: Session, *, actor: User, user: User, changes: dict[str, Any]) -> User:
    """Change a profile (display name, phone; an admin also role, county, organisation).
    A role change revokes the account's tokens."""
    if "display_name" in changes or "phone" in changes:
        _check_profile(changes.get("display_name"), changes.get("phone"))
    role = changes.get("role", user.role)
    county = changes.get("county_code", user.county_code)
    org_id = changes.get("org_id", user.org_id)
    if {"role", "county_code", "org_id"} & set(changes):
        if role != user.role:
            _keep_an_admin(session, user, "role")
        if role != "dispatcher" and "county_code" not in changes:
            county = None
        _check_role(session, role=role, org_id=org_id, county_code=county)
    before = audit.snapshot(user, AUDITED)
    if role != user.role:
        _revoke_tokens(user)
    user.role, user.county_code, user.org_id = role, county, org_id
    if "display_name" in changes:
        user.display_name = (changes["display_name"] or "").strip()
    if "phone" in changes:
        user.phone = changes["phone"]
    audit.record_change(
        session,
        actor=actor,
        action="user.update",
        entity="user",
        entity_id=user.id,
        before=before,
        after=audit.snapshot(user, AUDITED),
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def unlock(session: Session, throttle: Throttle, *, actor: User, user: User) -> None:
    """An admin lifts the account's sign-in lockout."""
    throttle.clear(user.username)
    audit.record(session, actor=actor, action="user.unlock", entity="user", entity_id=user.id)
    session.commit()


@dataclass(frozen=True)
class TotpEnrolment:
    secret: str
    uri: str


def begin_totp(session: Session, *, user: User) -> TotpEnrolment:
    """A new secret for the user's authenticator app; on once confirmed with a code."""
    if user.totp_enabled:
        raise InputError("totp", "the second factor is on already; turn it off first")
    user.totp_secret = new_totp_secret()
    user.totp_last_step = None
    session.add(user)
    session.commit()
    return TotpEnrolment(user.totp_secret, totp_uri(user.totp_secret, user.username))


def confirm_totp(session: Session, *, user: User, code: str) -> User:
    if user.totp_enabled or not user.totp_secret:
        raise InputError("code", "start with POST /me/totp to get a secret first")
    if not _use_totp(session, user, code):
        raise InputError("code", "wrong one-time code; check the phone's clock and try again")
    user.totp_enabled = True
    return _save(session, user, actor=user, action="user.totp_enable")


def disable_totp(session: Session, *, user: User, code: str) -> User:
    if not user.totp_enabled:
        raise InputError("code", "the second factor is not on")
    if not _use_totp(session, user, code):
        raise InputError("code", "wrong or already used one-time code")
    user.totp_enabled = False
    user.totp_secret = None
    return _save(session, user, actor=user, action="user.totp_disable")


def courier_county(session: Session, user: User) -> str | None:
    """The county a courier works in (their own, else their organisation's); None for the
    warehouse's and carriers' couriers, who drive the trunk."""
    org = session.get(Organisation, user.org_id) if user.org_id is not None else None
    return user.county_code or (org.county_code if org else None)


def couriers(
    session: Session, *, county: str | None, trunk: bool, every: bool = False
) -> list[User]:
    """Active couriers of ``county`` and, with ``trunk``, those of no county (trunk);
    ``every``: all of them."""
    rows = session.exec(
        select(User).where(User.role == "courier", User.active == True)  # noqa: E712
    ).all()
    out = []
    for user in rows:
        home = courier_county(session, user)
        if every or (county is not None and home == county) or (trunk and home is None):
            out.append(user)
    return sorted(out, key=lambda u: u.username)
