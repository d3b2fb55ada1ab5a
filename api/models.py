"""Tables of the platform service (SQLModel). Alembic migrations own the schema.

Times are stored timezone-aware (UTC on PostgreSQL; SQLite keeps the value and
:func:`aware` restores the zone). Money is integer fen, weights kg, volumes m3.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, Column, DateTime, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

ROLES = ("admin", "dispatcher", "courier", "carrier")
ORG_KINDS = ("prefecture", "county_hub", "carrier", "cooperative")
PLAN_STATES = (
    "queued", "running", "succeeded", "failed", "published", "completed", "superseded",
)  # fmt: skip
ORDER_STATES = ("open", "planned", "delivered", "failed", "cancelled")
SHEET_STATES = ("draft", "assigned", "in_progress", "completed", "superseded")
STOP_STATES = ("pending", "arrived", "completed", "failed")
EVENT_TYPES = ("arrived", "delivered", "picked_up", "failed")
PROPOSAL_STATES = ("proposed", "accepted", "rejected", "superseded")
PROPOSAL_SOURCES = ("field", "console")


def now() -> datetime:
    return datetime.now(UTC)


def aware(moment: datetime | None) -> datetime | None:
    """A stored time with its zone (SQLite returns naive UTC)."""
    if moment is None:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _ts(nullable: bool = True) -> Any:
    return Field(default=None, sa_column=Column(DateTime(timezone=True), nullable=nullable))


def _json() -> Any:
    return Field(default=None, sa_column=Column(JSON, nullable=True))


class Organisation(SQLModel, table=True):
    __tablename__ = "organisations"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(index=True, unique=True)
    kind: str  # one of ORG_KINDS
    county_code: str | None = None  # a county hub's county
    party_id: str | None = None  # a carrier's or cooperative's id in the plan (e.g. "ZTO")
    created_at: datetime | None = _ts()


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(index=True, unique=True)
    password_hash: str
    role: str  # one of ROLES
    org_id: int | None = Field(default=None, foreign_key="organisations.id")
    county_code: str | None = None  # a dispatcher's county
    active: bool = True
    created_at: datetime | None = _ts()
    display_name: str = ""
    phone: str | None = None
    # tokens carry the version they were issued at: a password change, a reset, a
    # deactivation or a role change bumps it, and every older token stops working
    token_version: int = 0
    password_changed_at: datetime | None = _ts()
    must_change_password: bool = False  # after an admin's reset: only /me/password works
    totp_secret: str | None = None  # base32; the second factor is on when totp_enabled
    totp_enabled: bool = False
    totp_last_step: int | None = None  # the last accepted 30 s step (a code works once)


class AuditEntry(SQLModel, table=True):
    """One change that matters, with who made it, when, and the values before and after.
    Append-only: the database refuses UPDATE and DELETE on this table (triggers)."""

    __tablename__ = "audit_log"

    id: int | None = Field(default=None, primary_key=True)
    at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False, index=True))
    actor_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    actor: str = ""  # the actor's username at the time (kept if the account is renamed)
    action: str = Field(index=True)  # e.g. "user.role", "vehicle.update", "plan.publish"
    entity: str = Field(index=True)  # "user", "vehicle", "route_sheet", "place", "plan", …
    entity_id: str = Field(index=True)
    before: dict[str, Any] | None = _json()
    after: dict[str, Any] | None = _json()
    request_id: str | None = None
    client: str | None = None  # the client's address


class PlaceCorrection(SQLModel, table=True):
    """An admin's corrected coordinates for a place (applied when planning)."""

    __tablename__ = "place_corrections"

    id: int | None = Field(default=None, primary_key=True)
    place_id: str = Field(index=True)
    lon: float
    lat: float
    source: str = ""
    corrected_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime | None = _ts()


class Vehicle(SQLModel, table=True):
    __tablename__ = "vehicles"

    id: str = Field(primary_key=True)
    owner: str  # party id of the owner (a carrier, "HUB", "PLATFORM")
    depot: str  # "WH-CX" or "HUB-<county>"
    county_code: str | None = Field(default=None, index=True)  # None at the warehouse
    kind: str
    profile: str
    capacity_kg: int
    capacity_m3: float
    refrigerated: bool = False
    freezer: bool = False
    livestock: bool = False
    fixed_fen: int = 0
    per_km_fen: int = 0
    per_hour_fen: int = 0
    shift_start: str = "08:00"
    shift_end: str = "20:00"
    max_shift_h: float = 12.0
    max_driving_h: float = 8.0
    name: str = ""
    courier_id: int | None = Field(default=None, foreign_key="users.id")
    active: bool = True


class Order(SQLModel, table=True):
    __tablename__ = "orders"

    id: int | None = Field(default=None, primary_key=True)
    order_id: str = Field(index=True, unique=True)
    party: str = Field(index=True)
    direction: str
    origin: str
    destination: str
    county_code: str = Field(index=True)
    plan_date: date = Field(index=True)
    weight_kg: float
    volume_m3: float = 0.0
    pieces: int
    temperature: str = "ambient"
    ready_at: datetime | None = _ts()
    due_at: datetime | None = _ts()
    live_animal: bool = False
    tracking: list[str] | None = _json()
    goods: str = ""
    status: str = Field(default="open", index=True)  # one of ORDER_STATES
    plan_id: int | None = Field(default=None, foreign_key="plans.id")
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime | None = _ts()


class Plan(SQLModel, table=True):
    """A planning job and, once it succeeded, its plan."""

    __tablename__ = "plans"

    id: int | None = Field(default=None, primary_key=True)
    plan_date: date = Field(index=True)
    counties: list[str] | None = _json()
    status: str = Field(default="queued", index=True)  # one of PLAN_STATES
    progress: float = 0.0  # 0..1
    message: str = ""
    attempts: int = 0
    error: str | None = None
    options: dict[str, Any] | None = _json()
    summary: dict[str, Any] | None = _json()
    flags: list[dict[str, Any]] | None = _json()  # road closures that touch the plan
    job_id: str | None = None  # RQ job id when run by a worker
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime | None = _ts()
    started_at: datetime | None = _ts()
    heartbeat_at: datetime | None = _ts()
    finished_at: datetime | None = _ts()
    published_at: datetime | None = _ts()


class PlanClaim(SQLModel, table=True):
    """A date and county with a planning job in flight (queued or running): the primary
    key lets the database itself refuse a second job for them, however many requests race.
    Written with the queued plan, deleted in the transaction that ends its job."""

    __tablename__ = "plan_claims"

    plan_date: date = Field(primary_key=True)
    county_code: str = Field(primary_key=True)
    plan_id: int = Field(foreign_key="plans.id", index=True, ondelete="CASCADE")


class RouteSheet(SQLModel, table=True):
    __tablename__ = "route_sheets"
    __table_args__ = (UniqueConstraint("plan_id", "route_id"),)

    id: int | None = Field(default=None, primary_key=True)
    plan_id: int = Field(foreign_key="plans.id", index=True)
    route_id: str
    echelon: str
    county_code: str | None = Field(default=None, index=True)
    vehicle_id: str
    courier_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    status: str = "draft"  # one of SHEET_STATES
    content: dict[str, Any] | None = _json()
    created_at: datetime | None = _ts()


class StopStatus(SQLModel, table=True):
    """Where a courier is on a route sheet: one row per stop."""

    __tablename__ = "stop_status"
    __table_args__ = (UniqueConstraint("sheet_id", "seq"),)

    id: int | None = Field(default=None, primary_key=True)
    sheet_id: int = Field(foreign_key="route_sheets.id", index=True)
    seq: int
    place_id: str
    status: str = "pending"  # one of STOP_STATES
    needs_drop: bool = False
    needs_pickup: bool = False
    delivered: bool = False
    picked_up: bool = False
    updated_at: datetime | None = _ts()


class StopEvent(SQLModel, table=True):
    """What a courier reported at a stop; ``client_event_id`` makes a retry harmless."""

    __tablename__ = "stop_events"
    __table_args__ = (UniqueConstraint("sheet_id", "client_event_id"),)

    id: int | None = Field(default=None, primary_key=True)
    sheet_id: int = Field(foreign_key="route_sheets.id", index=True)
    seq: int
    type: str  # one of EVENT_TYPES
    client_event_id: str
    reason: str | None = None
    signer_name: str | None = None
    pickup_code: str | None = None
    photo_path: str | None = None
    occurred_at: datetime | None = _ts()
    recorded_at: datetime | None = _ts()
    user_id: int | None = Field(default=None, foreign_key="users.id")
    # where the phone was, when the courier allows it (WGS84), and how far from the stop
    lon: float | None = None
    lat: float | None = None
    accuracy_m: float | None = None
    distance_m: float | None = None  # from the stop's planned point
    off_point: bool = False  # recorded farther than OFF_POINT_M from it: for the dispatcher


class PointProposal(SQLModel, table=True):
    """A proposed service point of an unlocated village (or township): recorded by a courier
    standing there ("field", with the phone's accuracy and a photo) or clicked on the map
    by the county's dispatcher ("console"). Accepting it writes a PlaceCorrection, which
    the next plan routes, and supersedes the other proposals of the place still waiting;
    who proposed and who reviewed, and when, are kept. A user has at most one proposal of
    a place waiting (``uq_proposal_waiting``, a partial unique index)."""

    __tablename__ = "point_proposals"
    __table_args__ = (
        CheckConstraint(
            "status IN ('proposed', 'accepted', 'rejected', 'superseded')",
            name="proposal_status_known",
        ),
        CheckConstraint("source IN ('field', 'console')", name="proposal_source_known"),
        UniqueConstraint("proposed_by", "client_id", name="uq_proposal_client_id"),
        Index(
            "uq_proposal_waiting",
            "place_id",
            "proposed_by",
            unique=True,
            sqlite_where=text("status = 'proposed'"),
            postgresql_where=text("status = 'proposed'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    place_id: str = Field(index=True)
    county_code: str = Field(index=True)
    lon: float
    lat: float
    accuracy_m: float | None = None
    note: str = ""
    photo_path: str | None = None
    source: str = "field"  # one of PROPOSAL_SOURCES
    client_id: str | None = None  # made by the app once per proposal: a retry is harmless
    status: str = Field(default="proposed", index=True)  # one of PROPOSAL_STATES
    proposed_by: int | None = Field(default=None, foreign_key="users.id")
    proposed_at: datetime | None = _ts()
    reviewed_by: int | None = Field(default=None, foreign_key="users.id")
    reviewed_at: datetime | None = _ts()
    review_note: str = ""
    correction_id: int | None = Field(default=None, foreign_key="place_corrections.id")


class RoadClosure(SQLModel, table=True):
    """A road link closed for a time range (landslide, works)."""

    __tablename__ = "road_closures"

    id: int | None = Field(default=None, primary_key=True)
    from_place: str
    to_place: str
    county_code: str | None = Field(default=None, index=True)
    starts_at: datetime | None = _ts(nullable=False)
    ends_at: datetime | None = _ts(nullable=False)
    reason: str = ""
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime | None = _ts()


# ---- marketplace: freight matching (车货配载) -----------------------------------------
class CapacityPosting(SQLModel, table=True):
    """A firm's truck with spare room along a planned route (ordered stops and times)."""

    __tablename__ = "capacity_postings"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    vehicle_type: str
    refrigerated: bool = False
    livestock: bool = False
    capacity_kg: int
    capacity_m3: float
    price_per_km_fen: int | None = None
    price_per_tkm_fen: int | None = None
    stops: list[dict[str, Any]] | None = _json()  # [{place, lon, lat, time}], in order
    status: str = Field(default="open", index=True)  # open | closed | cancelled
    public: bool = False  # shown on the information board to readers not signed in
    idempotency_key: str | None = Field(default=None, unique=True, index=True)  # retry: one row
    created_at: datetime | None = _ts()


class CapacityLeg(SQLModel, table=True):
    """Room left on one leg (stop i to stop i+1) of a capacity posting. Bookings take room
    with a conditional UPDATE; the CHECK constraints make overselling impossible."""

    __tablename__ = "capacity_legs"
    __table_args__ = (
        UniqueConstraint("posting_id", "seq"),
        CheckConstraint("remaining_kg >= 0", name="leg_kg_not_oversold"),
        CheckConstraint("remaining_l >= 0", name="leg_volume_not_oversold"),
    )

    id: int | None = Field(default=None, primary_key=True)
    posting_id: int = Field(foreign_key="capacity_postings.id", index=True)
    seq: int
    remaining_kg: int
    remaining_l: int


class CargoPosting(SQLModel, table=True):
    """A shipper's cargo looking for a truck."""

    __tablename__ = "cargo_postings"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    origin: str | None = None  # place id, or None with origin_lon/lat
    origin_lon: float
    origin_lat: float
    destination: str | None = None
    destination_lon: float
    destination_lat: float
    weight_kg: float
    volume_m3: float
    temperature: str = "ambient"
    live_animal: bool = False
    pickup_start: datetime | None = _ts(nullable=False)
    pickup_end: datetime | None = _ts(nullable=False)
    deliver_by: datetime | None = _ts(nullable=False)
    offered_price_fen: int
    status: str = Field(default="open", index=True)  # open | booked | cancelled
    public: bool = False  # shown on the information board to readers not signed in
    idempotency_key: str | None = Field(default=None, unique=True, index=True)  # retry: one row
    created_at: datetime | None = _ts()


class FreightBooking(SQLModel, table=True):
    """A cargo on a truck: the legs [pickup_seq, delivery_seq) carry it."""

    __tablename__ = "freight_bookings"

    id: int | None = Field(default=None, primary_key=True)
    cargo_id: int = Field(foreign_key="cargo_postings.id", unique=True)
    capacity_id: int = Field(foreign_key="capacity_postings.id", index=True)
    pickup_seq: int  # inserted after stop pickup_seq - 1 ... (see dispatch.freight)
    delivery_seq: int
    first_leg: int
    last_leg: int  # inclusive
    weight_kg: int
    volume_l: int
    price_fen: int
    status: str = "confirmed"  # confirmed | cancelled
    idempotency_key: str | None = Field(default=None, unique=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime | None = _ts()


class IdempotencyRecord(SQLModel, table=True):
    """A POST's ``Idempotency-Key``, recorded before the request does anything, with the
    answer it gave (see :mod:`api.services.idempotency`): a retry replays that answer.

    The unique (scope, key) makes PostgreSQL serialise concurrent retries: a second insert
    of the same key waits for the first transaction, then conflicts once it commits."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("scope", "key", name="uq_idempotency_keys_scope_key"),)

    id: int | None = Field(default=None, primary_key=True)
    scope: str  # whose key it is: "user:<id>" (one user's key never answers another's)
    key: str
    request_hash: str  # sha256 of method, path, body and caller
    status_code: int | None = None  # the answer's HTTP status
    response: Any | None = _json()  # the answer's JSON body
    created_at: datetime | None = _ts()


# ---- leasing: warehouse space and equipment ------------------------------------------
class Listing(SQLModel, table=True):
    """Warehouse space (m2, with a temperature class) or equipment (a count) to lease."""

    __tablename__ = "listings"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    kind: str  # warehouse | equipment
    place_id: str
    name: str
    temperature: str | None = None  # warehouses: ambient | chilled | frozen
    equipment_type: str | None = None  # pallet | forklift | sorting_line | reefer_box | ...
    unit: str  # m2 | unit
    capacity: int  # m2 or number of units
    price_per_unit_day_fen: int
    available_from: date
    available_to: date  # inclusive
    status: str = "active"  # active | withdrawn
    idempotency_key: str | None = Field(default=None, unique=True, index=True)  # retry: one row
    created_at: datetime | None = _ts()


class ListingDay(SQLModel, table=True):
    """What is booked of a listing on one day; the CHECK makes double booking impossible."""

    __tablename__ = "listing_days"
    __table_args__ = (
        UniqueConstraint("listing_id", "day"),
        CheckConstraint("booked >= 0 AND booked <= capacity", name="listing_day_within_capacity"),
    )

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    day: date
    capacity: int
    booked: int = 0


class LeaseBooking(SQLModel, table=True):
    __tablename__ = "lease_bookings"

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listings.id", index=True)
    org_id: int = Field(foreign_key="organisations.id", index=True)
    start_day: date
    end_day: date  # inclusive
    quantity: int
    price_fen: int
    status: str = "confirmed"  # confirmed | cancelled
    idempotency_key: str | None = Field(default=None, unique=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime | None = _ts()


# ---- settlement: a double-entry ledger (电子结算) ---------------------------------------
class Account(SQLModel, table=True):
    """A party's account on the platform's ledger (an organisation, or the platform)."""

    __tablename__ = "accounts"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(unique=True)  # "org:12", "platform", "party:ZTO"
    org_id: int | None = Field(default=None, foreign_key="organisations.id", index=True)
    party_id: str | None = None
    created_at: datetime | None = _ts()


class LedgerEntry(SQLModel, table=True):
    """One record moving ``amount_fen`` from the debit account to the credit account.
    Never updated or deleted: a correction is a reversing entry; states are appended to
    ``entry_states``."""

    __tablename__ = "ledger_entries"
    __table_args__ = (
        CheckConstraint("amount_fen > 0", name="entry_amount_positive"),
        CheckConstraint("debit_account_id <> credit_account_id", name="entry_two_accounts"),
    )

    id: int | None = Field(default=None, primary_key=True)
    debit_account_id: int = Field(foreign_key="accounts.id", index=True)  # pays
    credit_account_id: int = Field(foreign_key="accounts.id", index=True)  # is paid
    amount_fen: int
    kind: str  # freight_booking | lease | shared_route | reversal | adjustment
    ref_type: str | None = None
    ref_id: str | None = None
    reverses_id: int | None = Field(default=None, foreign_key="ledger_entries.id")
    memo: str = ""
    idempotency_key: str | None = Field(default=None, unique=True)
    created_by: int | None = Field(default=None, foreign_key="users.id")
    created_at: datetime | None = _ts()


class EntryState(SQLModel, table=True):
    """The state history of a ledger entry: pending -> confirmed -> settled, or disputed."""

    __tablename__ = "entry_states"

    id: int | None = Field(default=None, primary_key=True)
    entry_id: int = Field(foreign_key="ledger_entries.id", index=True)
    state: str
    note: str = ""
    by_user: int | None = Field(default=None, foreign_key="users.id")
    at: datetime | None = _ts()
