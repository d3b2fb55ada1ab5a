"""Assemble a planning day: the date, the parties, the fleet and the day's orders."""

from __future__ import annotations

from collections import Counter
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from dispatch.domain import Day
from dispatch.io.orders import ImportResult, read_orders
from routing.errors import InputError

if TYPE_CHECKING:
    from routing.network import RoadNetwork

DATA = Path(__file__).resolve().parents[2] / "data"
SAMPLE_DATE = date(2026, 9, 15)


def sample_orders_path(plan_date: date) -> Path:
    return DATA / "sample" / f"orders-{plan_date.isoformat()}.csv"


def served_counties() -> set[str]:
    from routing.network.places import load_counties

    return {row["county_code"] for row in load_counties() if row.get("in_scope") == "1"}


def load_day(
    network: RoadNetwork,
    *,
    plan_date: date | None = None,
    orders: Path | None = None,
    fleet: Path | None = None,
    skip_bad: bool = False,
) -> tuple[Day, ImportResult]:
    """The day to plan. Without ``orders``, the bundled sample day of ``plan_date``;
    without a date, the date most orders are ready on (or the sample day's)."""
    from dispatch.io.fleet import load_fleet, load_parties

    parties = load_parties()
    place_ids = {p.id for p in network.places}
    vehicles = load_fleet(fleet, parties=parties, place_ids=place_ids)
    if orders is None:
        orders = sample_orders_path(plan_date or SAMPLE_DATE)
        if not orders.exists():
            raise InputError(
                "--date",
                f"no bundled sample orders for {(plan_date or SAMPLE_DATE).isoformat()}; give "
                "--orders FILE, or make a sample day with 'python -m simulations.sample_day "
                "--date YYYY-MM-DD -o FILE'",
            )
    result = read_orders(
        orders,
        places={p.id: p for p in network.places},
        parties=parties,
        served_counties=served_counties(),
        plan_date=plan_date,
        skip_bad=skip_bad,
    )
    if plan_date is None:
        days = Counter(o.ready.date() for o in result.orders if o.ready is not None)
        plan_date = days.most_common(1)[0][0] if days else SAMPLE_DATE
    return Day(date=plan_date, parties=parties, orders=result.orders, fleet=vehicles), result
