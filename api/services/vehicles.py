"""Vehicles: loading the bundled fleet into the table."""

from __future__ import annotations

from sqlmodel import Session

from api.models import Vehicle
from api.services.convert import vehicle_row
from api.services.reference import network, parties
from dispatch.io.fleet import DEPOT_KINDS, load_fleet

__all__ = ["import_bundled"]


def import_bundled(session: Session) -> tuple[int, int, int]:
    """Add every vehicle of the bundled fleet file and update those that exist (by id),
    keeping their courier and whether they are retired: (in the file, created, updated)."""
    depots = {p.id for p in network().places if p.kind in DEPOT_KINDS}
    specs = load_fleet(parties=parties(), place_ids=depots)
    created = updated = 0
    for spec in specs:
        fresh = vehicle_row(spec)
        row = session.get(Vehicle, spec.id)
        if row is None:
            session.add(fresh)
            created += 1
            continue
        for name, value in fresh.model_dump(exclude={"id", "courier_id", "active"}).items():
            setattr(row, name, value)
        session.add(row)
        updated += 1
    session.commit()
    return len(specs), created, updated
