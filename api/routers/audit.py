"""The audit log: admins read and filter who changed what, when, before and after."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from sqlmodel import col, select

from api.deps import PageDep, SessionDep, page_body, paginate, require
from api.models import AuditEntry
from api.schemas.audit import AuditOut
from api.schemas.common import MomentIn
from api.services.audit import ACTIONS, ENTITIES

router = APIRouter(tags=["audit"], dependencies=[require("admin")])
Action = Literal[ACTIONS]  # type: ignore[valid-type]
Entity = Literal[ENTITIES]  # type: ignore[valid-type]


@router.get("/audit", summary="the audit log, newest first (filters combine)")
def audit_log(
    session: SessionDep,
    page: PageDep,
    action: Annotated[Action | None, Query(description="one action, e.g. user.role")] = None,
    entity: Annotated[Entity | None, Query(description="what kind of thing changed")] = None,
    entity_id: Annotated[str | None, Query(max_length=64, description="which one")] = None,
    actor_id: Annotated[int | None, Query(ge=1, le=2**31 - 1, description="who")] = None,
    since: Annotated[MomentIn | None, Query(description="from this moment (with offset)")] = None,
    until: Annotated[MomentIn | None, Query(description="before this moment")] = None,
) -> dict[str, Any]:
    query = select(AuditEntry)
    if action is not None:
        query = query.where(AuditEntry.action == action)
    if entity is not None:
        query = query.where(AuditEntry.entity == entity)
    if entity_id is not None:
        query = query.where(AuditEntry.entity_id == entity_id)
    if actor_id is not None:
        query = query.where(AuditEntry.actor_id == actor_id)
    if since is not None:
        query = query.where(col(AuditEntry.at) >= since)
    if until is not None:
        query = query.where(col(AuditEntry.at) < until)
    if page.sort is None:
        page = replace(page, sort="-id")
    items, total = paginate(session, query, AuditEntry, page, ("id", "at"))
    return page_body([AuditOut.model_validate(e) for e in items], total, page)
