"""Conversions between the service's tables and the dispatch dataclasses.

The API stores vehicles and orders as rows (:mod:`api.models`); the planner works on
:class:`dispatch.model.VehicleSpec` and :class:`dispatch.model.Order`. Times are stored in
UTC (SQLite keeps no zone, see :func:`api.models.aware`) and handed to the planner in
Asia/Shanghai; shift times are ``HH:MM`` text in the table and :class:`datetime.time` in
the dataclass.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from api.models import Order as OrderRow
from api.models import Vehicle, aware, now
from dispatch.domain import TZ, VehicleSpec
from dispatch.domain import Order as OrderSpec
from routing.network.graph import Place

WAREHOUSE = "WH-CX"
HUB_PREFIX = "HUB-"


def depot_county(depot: str) -> str | None:
    """The county a depot serves: ``HUB-532326`` -> ``532326``, a township station
    ``532326101`` -> ``532326`` (the first six digits of its official code); the warehouse
    -> None."""
    if depot.startswith(HUB_PREFIX):
        return depot[len(HUB_PREFIX) :]
    if len(depot) == 9 and depot.isdigit():
        return depot[:6]
    return None


def clock_text(moment: time) -> str:
    return f"{moment.hour:02d}:{moment.minute:02d}"


def clock(text: str) -> time:
    """``HH:MM`` -> time (the table only holds values checked on the way in)."""
    hour, minute = text.split(":")
    return time(int(hour), int(minute))


def utc(moment: datetime | None) -> datetime | None:
    """A tz-aware time in UTC for storage (naive times are taken as Asia/Shanghai)."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=TZ)
    return moment.astimezone(UTC)


def local(moment: datetime | None) -> datetime | None:
    """A stored time in Asia/Shanghai (+08:00)."""
    stored = aware(moment)
    return stored.astimezone(TZ) if stored is not None else None


_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def local_value(value: Any) -> Any:
    """``value`` as the API answers it: a datetime in Asia/Shanghai (a naive one is a
    stored UTC time), ISO 8601 text of a time with its zone rewritten in Asia/Shanghai
    (``...03:00:00Z`` -> ``...11:00:00+08:00``); anything else (dates, text, a time
    without a zone) as it is."""
    if isinstance(value, datetime):
        return local(value)
    if isinstance(value, str) and _ISO_TIME.match(value):
        try:
            moment = datetime.fromisoformat(value)
        except ValueError:
            return value
        return moment.astimezone(TZ).isoformat() if moment.tzinfo is not None else value
    return value


def local_json(value: Any) -> Any:
    """A JSON document (stored or about to be answered) with every time in it in
    Asia/Shanghai (:func:`local_value`), e.g. a plan's summary."""
    if isinstance(value, dict):
        return {k: local_json(v) for k, v in value.items()}
    if isinstance(value, list):
        return [local_json(v) for v in value]
    return local_value(value)


def vehicle_spec(row: Vehicle) -> VehicleSpec:
    """The planner's view of a vehicle row."""
    return VehicleSpec(
        id=row.id,
        owner=row.owner,
        depot=row.depot,
        kind=row.kind,
        profile=row.profile,
        capacity_kg=row.capacity_kg,
        capacity_m3=row.capacity_m3,
        refrigerated=row.refrigerated,
        freezer=row.freezer,
        livestock=row.livestock,
        fixed_fen=row.fixed_fen,
        per_km_fen=row.per_km_fen,
        per_hour_fen=row.per_hour_fen,
        shift_start=clock(row.shift_start),
        shift_end=clock(row.shift_end),
        max_shift_h=row.max_shift_h,
        max_driving_h=row.max_driving_h,
        name=row.name,
    )


def vehicle_row(spec: VehicleSpec) -> Vehicle:
    """A new (active, unassigned) vehicle row; ``county_code`` follows from the depot."""
    return Vehicle(
        id=spec.id,
        owner=spec.owner,
        depot=spec.depot,
        county_code=depot_county(spec.depot),
        kind=spec.kind,
        profile=spec.profile,
        capacity_kg=spec.capacity_kg,
        capacity_m3=spec.capacity_m3,
        refrigerated=spec.refrigerated,
        freezer=spec.freezer,
        livestock=spec.livestock,
        fixed_fen=spec.fixed_fen,
        per_km_fen=spec.per_km_fen,
        per_hour_fen=spec.per_hour_fen,
        shift_start=clock_text(spec.shift_start),
        shift_end=clock_text(spec.shift_end),
        max_shift_h=spec.max_shift_h,
        max_driving_h=spec.max_driving_h,
        name=spec.name,
    )


def order_county(order: OrderSpec, places: Mapping[str, Place]) -> str:
    """The county of an order: that of its township or village end (destination of a
    ``down`` order, origin of an ``up`` order)."""
    local_end = order.destination if order.direction == "down" else order.origin
    return places[local_end].county_code


def order_row(
    order: OrderSpec, county_code: str, plan_date: date, created_by: int | None
) -> OrderRow:
    """A new open order row for a validated order."""
    return OrderRow(
        order_id=order.id,
        party=order.party,
        direction=order.direction,
        origin=order.origin,
        destination=order.destination,
        county_code=county_code,
        plan_date=plan_date,
        weight_kg=order.weight_kg,
        volume_m3=order.volume_m3,
        pieces=order.pieces,
        temperature=order.temperature,
        ready_at=utc(order.ready),
        due_at=utc(order.due),
        live_animal=order.live_animal,
        tracking=list(order.tracking),
        goods=order.goods,
        status="open",
        created_by=created_by,
        created_at=now(),
    )


def order_dataclass(row: OrderRow) -> OrderSpec:
    """The planner's view of an order row (times in Asia/Shanghai)."""
    return OrderSpec(
        id=row.order_id,
        party=row.party,
        direction=row.direction,
        origin=row.origin,
        destination=row.destination,
        weight_kg=row.weight_kg,
        volume_m3=row.volume_m3,
        pieces=row.pieces,
        temperature=row.temperature,
        ready=local(row.ready_at),
        due=local(row.due_at),
        live_animal=row.live_animal,
        tracking=tuple(row.tracking or ()),
        goods=row.goods,
    )
