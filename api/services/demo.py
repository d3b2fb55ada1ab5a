"""The demonstration service (``codist serve --demo``): the bundled fleet, the sample day's
orders, accounts for each kind of user and the day planned for the whole prefecture.

Seeding is idempotent: a second start finds the accounts, vehicles, orders and plan and
adds nothing. Meant for a development database (SQLite under ``CODIST_HOME``); the demo
password is printed on start and is the same for every demo account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from api.core.config import Settings
from api.errors import Conflict
from api.models import CapacityPosting, CargoPosting, Listing, Order, Organisation, Plan, User, now
from api.services import freight, leasing, plans
from api.services.convert import order_county, order_row
from api.services.reference import parties, places_by_id, served
from api.services.users import create_organisation, create_user
from api.services.vehicles import import_bundled
from dispatch.io.day import sample_orders_path
from dispatch.io.orders import read_orders
from routing.errors import InputError

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
#: The trading demo (交易中心): a logistics firm posting spare truck capacity, a
#: cooperative shipping produce, a lessor of cold rooms and equipment; their users.
#: (organisation, its kind, its party in the plans); a carrier user's organisation names
#: its party.
FIRM = ("顺丰速运楚雄分公司（演示）", "carrier", "SF")
COOPERATIVE = ("大姚县示例核桃专业合作社（演示）", "cooperative", "coop-dayao-walnut")
LESSOR = ("中国邮政楚雄州分公司 仓储租赁（演示）", "carrier", "EMS")
TRADING_LOGINS = {
    "sf": FIRM,
    "sf-2": FIRM,
    "hetao": COOPERATIVE,
    "hetao-2": COOPERATIVE,
    "ems": LESSOR,
}
SHANGHAI = ZoneInfo("Asia/Shanghai")


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


def _org(
    session: Session, name: str, kind: str, county: str | None = None, party: str | None = None
) -> Organisation:
    found = session.exec(select(Organisation).where(Organisation.name == name)).first()
    return found or create_organisation(
        session, name=name, kind=kind, county_code=county, party_id=party
    )


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


def _trading_accounts(session: Session) -> dict[str, User]:
    users = {}
    for login, (name, kind, party) in TRADING_LOGINS.items():
        org = _org(session, name, kind, party=party)
        users[login] = _user(session, login, role="carrier", org_id=org.id)
    return users


def _point(place_id: str) -> tuple[float, float]:
    place = places_by_id()[place_id]
    assert place.lon is not None and place.lat is not None
    return float(place.lon), float(place.lat)


def _stop(place_id: str, day: date, hhmm: str) -> dict[str, object]:
    place = places_by_id()[place_id]
    moment = datetime.combine(day, time.fromisoformat(hhmm), SHANGHAI)
    return {"place": place_id, "lon": place.lon, "lat": place.lat, "time": moment}


def _trading(session: Session) -> None:
    """Sample postings and listings so the trading pages are not empty: two trucks of the
    firm (from tomorrow, Beijing time), a cargo of the cooperative looking for one and one
    already booked, the lessor's cold room and equipment, and one lease. Added once."""
    users = _trading_accounts(session)
    firm, coop, lessor = users["sf"], users["hetao"], users["ems"]
    assert firm.org_id is not None and coop.org_id is not None and lessor.org_id is not None
    mine = select(CapacityPosting.id).where(CapacityPosting.org_id == firm.org_id).limit(1)
    if session.exec(mine).first() is not None:
        return
    day = now().astimezone(SHANGHAI).date() + timedelta(days=1)
    trucks = (
        ("box_4_2m", False, 1500, 8.0, 250, ("WH-CX", "08:00"), ("HUB-532323", "09:10"),
         ("HUB-532326", "11:00"), ("HUB-532327", "13:30")),
        ("reefer_4_2m", True, 1200, 6.0, 320, ("HUB-532326", "07:30"), ("HUB-532325", "08:40"),
         ("WH-CX", "10:40")),
    )  # fmt: skip
    posted = []
    for vehicle, cold, kg, m3, per_km, *stops in trucks:
        posted.append(
            freight.create_capacity(
                session,
                org_id=firm.org_id,
                created_by=firm.id,
                fields={
                    "vehicle_type": vehicle,
                    "refrigerated": cold,
                    "livestock": False,
                    "capacity_kg": kg,
                    "capacity_m3": m3,
                    "price_per_km_fen": per_km,
                    "price_per_tkm_fen": None,
                    "public": True,
                    "stops": [_stop(p, day, t) for p, t in stops],
                },
            )
        )
    cargos = (
        ("532323102", "HUB-532327", 600.0, 2.0, 30000),
        ("532326105", "HUB-532326", 300.0, 1.0, 12000),
    )
    made = []
    for origin, destination, weight, volume, price in cargos:
        a, b = _point(origin), _point(destination)
        cargo = CargoPosting(
            org_id=coop.org_id, created_by=coop.id, created_at=now(), status="open",
            origin=origin, origin_lon=a[0], origin_lat=a[1], destination=destination,
            destination_lon=b[0], destination_lat=b[1], weight_kg=weight, volume_m3=volume,
            temperature="ambient", live_animal=False, offered_price_fen=price, public=True,
            pickup_start=datetime.combine(day, time(6), SHANGHAI).astimezone(UTC),
            pickup_end=datetime.combine(day, time(12), SHANGHAI).astimezone(UTC),
            deliver_by=datetime.combine(day, time(20), SHANGHAI).astimezone(UTC),
        )  # fmt: skip
        session.add(cargo)
        session.commit()
        made.append(cargo)
    try:
        freight.book(
            session, cargo_id=made[0].id or 0, capacity_id=posted[0].id or 0,
            idempotency_key="demo:first-booking", created_by=coop.id,
        )  # fmt: skip
    except (Conflict, InputError):  # a demo without its sample booking still works
        session.rollback()
    _listings(session, lessor, firm, day)


def _listings(session: Session, lessor: User, lessee: User, day: date) -> None:
    assert lessor.org_id is not None and lessee.org_id is not None
    last = day + timedelta(days=89)
    offers = (
        ("warehouse", "WH-CX", "公共仓冷库 A 区（0–4 °C）", "chilled", None, 200, 150),
        ("warehouse", "HUB-532326", "大姚物流中心 常温仓 2 号库", "ambient", None, 500, 60),
        ("equipment", "HUB-532326", "电动叉车 1.5 t", None, "forklift", 3, 8000),
        ("equipment", "WH-CX", "冷藏周转箱 (reefer box)", None, "reefer_box", 40, 1500),
        ("equipment", "HUB-532326", "标准托盘 1.2 × 1.0 m", None, "pallet", 300, 30),
    )
    listed: list[Listing] = []
    for kind, place, name, temperature, equipment, capacity, price in offers:
        listed.append(
            leasing.create_listing(
                session,
                org_id=lessor.org_id,
                kind=kind,
                place_id=place,
                name=name,
                temperature=temperature,
                equipment_type=equipment,
                capacity=capacity,
                price_per_unit_day_fen=price,
                available_from=day,
                available_to=last,
            )
        )
    try:
        leasing.book(
            session, listing_id=listed[2].id or 0, org_id=lessee.org_id, start_day=day,
            end_day=day + timedelta(days=2), quantity=2, idempotency_key="demo:first-lease",
            by_user=lessee.id,
        )  # fmt: skip
    except (Conflict, InputError, leasing.Unavailable):  # the demo works without it
        session.rollback()


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
    _trading(session)
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
        ("sf", "logistics firm: posts spare truck capacity (交易中心 /trade)"),
        ("hetao", "cooperative: posts cargo and books trucks"),
        ("ems", "lessor: cold rooms, warehouse space and equipment"),
    )
    return DemoInfo(plan.id, DEMO_DATE, count, accounts)
