"""Vehicles: loading the bundled fleet into the table."""

from __future__ import annotations

from sqlmodel import Session

from api.models import User, Vehicle
from api.services import audit
from api.services.convert import vehicle_row
from api.services.reference import network, parties
from dispatch.io.fleet import DEPOT_KINDS, load_fleet

__all__ = ["import_bundled"]


def import_bundled(session: Session, actor: User | None = None) -> tuple[int, int, int]:
    """Add every vehicle of the bundled fleet file and update those that exist (by id),
    keeping their courier and whether they are retired: (in the file, created, updated).
    Each vehicle created or changed is audited."""
    depots = {p.id for p in network().places if p.kind in DEPOT_KINDS}
    specs = load_fleet(parties=parties(), place_ids=depots)
    created = updated = 0
    for spec in specs:
        fresh = vehicle_row(spec)
        row = session.get(Vehicle, spec.id)
        if row is None:
            session.add(fresh)
            audit.record(
                session,
                actor=actor,
                action="vehicle.create",
                entity="vehicle",
                entity_id=spec.id,
                after=fresh.model_dump(),
            )
            created += 1
            continue
        before = row.model_dump()
        for name, value in fresh.model_dump(exclude={"id", "courier_id", "active"}).items():
            setattr(row, name, value)
        audit.record_change(
            session,
            actor=actor,
            action="vehicle.update",
            entity="vehicle",
            entity_id=spec.id,
            before=before,
            after=row.model_dump(),
        )
        session.add(row)
        updated += 1
    session.commit()
    return len(specs), created, updated
