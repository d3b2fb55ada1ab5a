"""The audit log as admins read it."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from api.schemas.common import Moment


class AuditOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: Moment
    actor_id: int | None
    actor: str
    action: str
    entity: str
    entity_id: str
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    request_id: str | None
    client: str | None
