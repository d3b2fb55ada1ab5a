"""The audit log: who changed what that matters, when, with the values before and after.

A service that makes such a change calls :func:`record` before its commit, so the row is
written in the same transaction as the change (no change without its row, no row for a
change that was rolled back). The table is append-only: the database refuses UPDATE and
DELETE (migration 0008's triggers).

What is audited (``action``):

- ``user.create``, ``user.update`` (display name, phone, role, county, organisation),
  ``user.deactivate``, ``user.reactivate``, ``user.password_change``,
  ``user.password_reset``, ``user.totp_enable``, ``user.totp_disable``, ``user.unlock``,
  ``user.lockout`` (the sign-in throttle locked an account);
- ``vehicle.create``, ``vehicle.update`` (owner, courier, …), ``vehicle.delete``;
- ``route_sheet.assign`` (a sheet's courier, on publishing or later);
- ``place.correct`` (coordinates set or corrected, by hand or by accepting a proposal);
- ``plan.publish``, ``plan.replan``, ``plan.settle``;
- ``closure.create``, ``closure.delete``.

Passwords, hashes and TOTP secrets are never written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

from sqlmodel import Session

from api.models import AuditEntry, User, now
from api.services.observability import current_client, current_request_id

ACTIONS = (
    "user.create", "user.update", "user.deactivate", "user.reactivate",
    "user.password_change", "user.password_reset", "user.totp_enable", "user.totp_disable",
    "user.unlock", "user.lockout",
    "vehicle.create", "vehicle.update", "vehicle.delete",
    "route_sheet.assign",
    "place.correct",
    "plan.publish", "plan.replan", "plan.settle",
    "closure.create", "closure.delete",
)  # fmt: skip
ENTITIES = ("user", "vehicle", "route_sheet", "place", "plan", "closure")
_SECRET_FIELDS = frozenset({"password", "password_hash", "totp_secret"})


def _plain(value: Any) -> Any:
    """A JSON-storable copy (times and dates as ISO text, secrets left out)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items() if str(k) not in _SECRET_FIELDS}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return value


def snapshot(row: Any, fields: tuple[str, ...]) -> dict[str, Any]:
    """The ``fields`` of a row, for ``before`` or ``after``."""
    return {f: _plain(getattr(row, f)) for f in fields if f not in _SECRET_FIELDS}


def record_change(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    context: Mapping[str, Any] | None = None,
) -> AuditEntry | None:
    """A row with only the fields whose value differs (both sides), or none when nothing
    changed; ``context`` (e.g. the route id of a sheet) is added to ``after``."""
    keys = [k for k in after if before.get(k) != after.get(k)]
    if not keys:
        return None
    return record(
        session,
        actor=actor,
        action=action,
        entity=entity,
        entity_id=entity_id,
        before={k: before.get(k) for k in keys},
        after={**{k: after[k] for k in keys}, **(context or {})},
    )


def record(
    session: Session,
    *,
    actor: User | None,
    action: str,
    entity: str,
    entity_id: object,
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
) -> AuditEntry:
    """Add one audit row to ``session`` (the caller commits it with the change)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    entry = AuditEntry(
        at=now(),
        actor_id=actor.id if actor is not None else None,
        actor=actor.username if actor is not None else "",
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        before=_plain(dict(before)) if before is not None else None,
        after=_plain(dict(after)) if after is not None else None,
        request_id=current_request_id(),
        client=current_client(),
    )
    session.add(entry)
    return entry
