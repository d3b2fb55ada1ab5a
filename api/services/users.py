"""Organisations and users: creation with the rules both the API and the CLI apply."""

from __future__ import annotations

from sqlmodel import Session, select

from api.core.security import hash_password, verify_password
from api.models import ORG_KINDS, ROLES, Organisation, User, now
from dispatch.io.day import served_counties
from dispatch.io.fleet import load_parties
from routing.errors import InputError


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
) -> User:
    if role not in ROLES:
        raise InputError("role", f"must be one of {', '.join(ROLES)}, got {role!r}")
    if len(password) < 8:
        raise InputError("password", "must be at least 8 characters")
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
    if session.exec(select(User).where(User.username == username)).first():
        raise InputError("username", f"{username!r} is taken")
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        org_id=org_id,
        county_code=county_code,
        created_at=now(),
    )
    session.add(user)
    session.commit()
    session.refresh(user)
    return user


def carrier_party(session: Session, user: User) -> str | None:
    """The party id of a carrier user's organisation (None when it has none)."""
    if user.org_id is None:
        return None
    org = session.get(Organisation, user.org_id)
    return org.party_id if org is not None and org.party_id else None


def authenticate(session: Session, username: str, password: str) -> User | None:
    """The active user with this username and password, or None."""
    user = session.exec(select(User).where(User.username == username)).first()
    if user is None or not user.active or not verify_password(password, user.password_hash):
        return None
    return user


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
