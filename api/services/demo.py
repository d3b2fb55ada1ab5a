"""The demonstration service (``codist serve --demo``): the bundled fleet, the sample day's
orders, accounts for each kind of user and the day planned for the whole prefecture.

Seeding is idempotent: a second start finds the accounts, vehicles, orders and plan and
adds nothing. Meant for a development database (SQLite under ``CODIST_HOME``); the demo
password is printed on start and is the same for every demo account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlmodel import Session, col, select

from api.core.config import Settings
from api.models import Order, Organisation, Plan, User
from api.services import plans
from api.services.convert import order_county, order_row
from api.services.reference import parties, places_by_id, served
from api.services.users import create_organisation, create_user
from api.services.vehicles import import_bundled
from dispatch.io.day import sample_orders_path
from dispatch.io.orders import read_orders

__all__ = ["DEMO_DATE", "DEMO_PASSWORD", "DemoInfo", "seed_demo"]

DEMO_DATE = date(2026, 9, 15)
DEMO_PASSWORD = "chuxiong-demo-2026"
OFFICE = "楚雄州物流办（演示）"
WAREHOUSE_COURIERS = "楚雄州公共仓干线车队（演示）"
#: The county whose dispatcher and couriers the demo prints (大姚县).
DEMO_COUNTY = "532326"
#: Demo usernames of each served county's dispatcher and couriers.
COUNTY_LOGINS = {
    "532329": "wuding",
    "532326": "dayao",
    "532322": "shuangbai",
    "532323": "mouding",
    "532325": "yaoan",
    "532327": "yongren",
}
COURIERS_PER_COUNTY = 4


@dataclass(frozen=True)
class DemoInfo:
    plan_id: int
    plan_date: date
    orders: int
    accounts: tuple[tuple[str, str], ...]  # (username, what for)


def _user(session: Session, username: str, **fields: object) -> User:
    found = session.exec(select(User).where(User.username == username)).first()
    if found is not None:
        return found
    return create_user(session, username=username, password=DEMO_PASSWORD, **fields)  # type: ignore[arg-type]


def _org(session: Session, name: str, kind: str, county: str | None = None) -> Organisation:
    found = session.exec(select(Organisation).where(Organisation.name == name)).first()
    return found or create_organisation(session, name=name, kind=kind, county_code=county)


def _accounts(session: Session) -> None:
    office = _org(session, OFFICE, "prefecture")
    _user(session, "admin", role="admin", org_id=office.id)
    trunk = _org(session, WAREHOUSE_COURIERS, "prefecture")
    for n in range(1, 4):
        _user(session, f"trunk-{n}", role="courier", org_id=trunk.id)
    for code, login in COUNTY_LOGINS.items():
        if code not in served():
            continue
        hub = _org(session, f"{login} 县物流中心（演示）", "county_hub", code)
        _user(session, login, role="dispatcher", org_id=hub.id, county_code=code)
        for n in range(1, COURIERS_PER_COUNTY + 1):
            _user(session, f"{login}-{n}", role="courier", org_id=hub.id)


def _orders(session: Session, admin: User) -> int:
    have = session.exec(select(Order.id).where(Order.plan_date == DEMO_DATE).limit(1)).first()
    if have is not None:
        return len(session.exec(select(Order.id).where(Order.plan_date == DEMO_DATE)).all())
    places = places_by_id()
    result = read_orders(
        sample_orders_path(DEMO_DATE),
        places=places,
        parties=parties(),
        served_counties=set(served()),
    )
    for order in result.orders:
        county = order_county(order, places)
        session.add(order_row(order, county, DEMO_DATE, admin.id))
    session.commit()
    return len(result.orders)


def seed_demo(session: Session, settings: Settings) -> DemoInfo:
    """Accounts, fleet, the sample day's orders and its plan (started if none exists: the
    job runs in the service like any other)."""
    _accounts(session)
    admin = session.exec(select(User).where(User.username == "admin")).one()
    import_bundled(session)
    count = _orders(session, admin)
    plan = session.exec(
        select(Plan)
        .where(Plan.plan_date == DEMO_DATE, col(Plan.status).not_in(("failed",)))
        .order_by(col(Plan.id))
    ).first()
    if plan is None:
        plan = plans.start_plan(
            session,
            settings,
            plan_date=DEMO_DATE,
            counties=sorted(served()),
            options={"seed": 0},
            created_by=admin.id,
        )
    assert plan.id is not None
    login = COUNTY_LOGINS[DEMO_COUNTY]
    accounts = (
        ("admin", "prefecture logistics office: the whole prefecture"),
        (login, "dispatcher of 大姚县 (Dayao)"),
        (f"{login}-1", "courier of 大姚县"),
    )
    return DemoInfo(plan.id, DEMO_DATE, count, accounts)
