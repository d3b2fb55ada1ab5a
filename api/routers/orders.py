"""Orders: one at a time, in bulk (JSON), or as the CSV/XLSX file county dispatchers fill in.

Every order is checked by :mod:`dispatch.io.orders` (the rules of ``codist plan --orders``),
then against the caller's scope (a dispatcher creates orders of the own county only, a
carrier of the own party only) and the orders already stored (an ``order_id`` is unique).
By default a request with any bad order imports nothing; with ``skip_bad`` the good ones
are imported and the bad ones reported.

The plan date of an order is the one sent, else the day of its ``ready_time`` in
Asia/Shanghai.
"""

from __future__ import annotations

import functools
import re
import tempfile
from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, date, datetime
from pathlib import Path as FilePath
from typing import Annotated, Any, Literal, get_args

from fastapi import (
    APIRouter,
    Body,
    File,
    Form,
    HTTPException,
    Path,
    Query,
    Response,
    UploadFile,
    status,
)
from sqlalchemy import false
from sqlmodel import Session, select

from api.deps import PageDep, SafeRoute, SessionDep, invalid, page_body, paginate, require
from api.errors import NotFound
from api.models import ORDER_STATES, User
from api.models import Order as OrderRow
from api.schemas.common import bad_text
from api.schemas.orders import (
    EXAMPLE,
    EXAMPLE_UP,
    BulkOut,
    ItemError,
    OrderIn,
    OrderOut,
    RowErrorOut,
    UploadOut,
)
from api.services import exports
from api.services.convert import local, order_county, order_row, utc
from api.services.reference import parties, places_by_id, served
from api.services.users import carrier_party
from dispatch.domain import TZ
from dispatch.domain import Order as OrderSpec
from dispatch.io.orders import (
    COLUMNS,
    MAX_ORDER_ROWS,
    MAX_XLSX_RATIO,
    MAX_XLSX_UNPACKED_BYTES,
    ImportResult,
    OrderFileError,
    RowError,
    parse_rows,
    read_orders,
)
from routing.errors import InputError

router = APIRouter(tags=["orders"], route_class=SafeRoute)

READERS = ("admin", "dispatcher", "carrier")
CREATORS = ("admin", "dispatcher", "carrier")
CANCELLERS = ("admin", "dispatcher")
ORDER_SORTS = ("id", "order_id", "plan_date", "weight_kg", "created_at")
MAX_BULK = 5000
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_PIECES = 1_000_000  # what a database integer column surely holds, far above any order
UPLOAD_SUFFIXES = (".csv", ".xlsx")
EXISTS = "order_id exists already"

OrderStatus = Literal["open", "planned", "delivered", "failed", "cancelled"]
assert set(get_args(OrderStatus)) == set(ORDER_STATES)

# ---- checks beyond the file rules -----------------------------------------------------


@functools.cache
def county_names() -> dict[str, str]:
    from routing.network.places import load_counties

    return {row["county_code"]: row["name_zh"] for row in load_counties()}


def _county(code: str | None) -> str:
    name = county_names().get(code or "")
    return f"{code} ({name})" if name else str(code)


def _existing(session: Session, order_ids: Iterable[str]) -> set[str]:
    ids = sorted(set(order_ids))
    out: set[str] = set()
    for start in range(0, len(ids), 500):
        chunk = ids[start : start + 500]
        out.update(
            session.exec(
                select(OrderRow.order_id).where(OrderRow.order_id.in_(chunk))  # type: ignore[attr-defined]
            )
        )
    return out


Admitted = list[tuple[OrderSpec, str, date]]


def _vet(
    session: Session,
    user: User,
    orders: Sequence[OrderSpec],
    plan_date_of: Callable[[OrderSpec], date | None],
    date_column: str,
    date_reason: str,
) -> tuple[Admitted, list[RowError]]:
    """Scope, storability, plan date and uniqueness in the database of parsed orders:
    the admitted (order, county, plan date) and the errors (``line`` of the order)."""
    places = places_by_id()
    party = carrier_party(session, user) if user.role == "carrier" else None
    existing = _existing(session, (o.id for o in orders))
    admitted: Admitted = []
    errors: list[RowError] = []
    for order in orders:
        found: list[RowError] = []
        local_column = "destination" if order.direction == "down" else "origin"
        local_place = order.destination if order.direction == "down" else order.origin
        county = order_county(order, places)
        if user.role == "dispatcher" and county != user.county_code:
            found.append(
                RowError(
                    order.line,
                    local_column,
                    local_place,
                    f"{local_place} ({places[local_place].name_zh}) lies in county "
                    f"{_county(county)}; a dispatcher of county {_county(user.county_code)} "
                    "may only create orders of that county",
                )
            )
        if user.role == "carrier" and order.party != party:
            found.append(
                RowError(
                    order.line,
                    "party",
                    order.party,
                    f"a carrier account may only create orders of its own party {party!r}"
                    if party
                    else "this carrier account's organisation has no party id",
                )
            )
        if order.pieces > MAX_PIECES:
            found.append(
                RowError(order.line, "pieces", str(order.pieces), f"must be at most {MAX_PIECES}")
            )
        for column, moment in (("ready_time", order.ready), ("due_time", order.due)):
            try:
                utc(moment)
            except OverflowError:
                found.append(
                    RowError(order.line, column, str(moment), "is out of the supported range")
                )
        plan_date = plan_date_of(order)
        if plan_date is None:
            found.append(RowError(order.line, date_column, "", date_reason))
        if order.id in existing:
            found.append(RowError(order.line, "order_id", order.id, EXISTS))
        if found or plan_date is None:  # (a missing plan date is in found)
            errors.extend(found)
        else:
            admitted.append((order, county, plan_date))
    return admitted, errors


def _ready_day(order: OrderSpec) -> date | None:
    return order.ready.astimezone(TZ).date() if order.ready is not None else None


def _save(session: Session, user: User, admitted: Admitted) -> list[OrderRow]:
    rows = [order_row(o, county, day, user.id) for o, county, day in admitted]
    session.add_all(rows)
    session.commit()
    return rows


# ---- JSON orders ----------------------------------------------------------------------


def _cells(item: OrderIn) -> dict[str, Any]:
    cells = item.model_dump(exclude={"plan_date"})
    if isinstance(cells["tracking_numbers"], list):
        cells["tracking_numbers"] = ";".join(cells["tracking_numbers"])
    return cells


def _tracking(item: OrderIn) -> list[str]:
    raw = item.tracking_numbers
    text = ";".join(raw) if isinstance(raw, list) else raw or ""
    return [t.strip() for t in re.split(r"[;；]", text) if t.strip()]


def _repeats_across(items: Sequence[OrderIn]) -> list[RowError]:
    """Order ids and tracking numbers repeated between items of different plan dates
    (items of one plan date are parsed together, which checks them)."""
    out: list[RowError] = []
    first_id: dict[str, int] = {}
    first_number: dict[str, int] = {}
    for i, item in enumerate(items):
        oid = (item.order_id or "").strip()
        j = first_id.setdefault(oid, i) if oid else i
        if j != i and items[j].plan_date != item.plan_date:
            out.append(
                RowError(i, "order_id", oid, f"order id {oid!r} is already used at item {j}")
            )
        for number in _tracking(item):
            j = first_number.setdefault(number, i)
            if j != i and items[j].plan_date != item.plan_date:
                out.append(
                    RowError(
                        i,
                        "tracking_numbers",
                        number,
                        f"tracking number {number!r} is already in item {j}",
                    )
                )
    return out


def _items_reason(reason: str) -> str:
    return re.sub(r"\bat line (\d+)", r"at item \1", reason)


def _overflows(text: str) -> bool:
    """Whether a date-time text cannot be moved to another zone (year 1 or 9999)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return False
    try:
        (moment if moment.tzinfo else moment.replace(tzinfo=TZ)).astimezone(UTC)
    except OverflowError:
        return True
    return False


def _check_items(
    session: Session, user: User, items: Sequence[OrderIn]
) -> tuple[Admitted, list[RowError], list[str]]:
    """Parse and vet JSON orders; ``line`` of an error is the item's index."""
    groups: dict[date | None, list[int]] = {}
    parsed: list[OrderSpec] = []
    errors: list[RowError] = []
    warnings: list[str] = []
    for i, item in enumerate(items):
        out_of_range = [
            RowError(i, column, text, "is out of the supported range of dates")
            for column, text in (("ready_time", item.ready_time), ("due_time", item.due_time))
            if text and _overflows(text)
        ]
        if out_of_range:  # the file rules would not get past it
            errors.extend(out_of_range)
        else:
            groups.setdefault(item.plan_date, []).append(i)
    for plan_date, indices in groups.items():
        try:
            result = parse_rows(
                [(i, _cells(items[i])) for i in indices],
                source="orders",
                places=places_by_id(),
                parties=parties(),
                served_counties=served(),
                plan_date=plan_date,
                skip_bad=True,
                columns=COLUMNS,
            )
        except OrderFileError as e:  # not expected: the columns are fixed
            result = ImportResult(orders=[], errors=e.errors)
        parsed.extend(result.orders)
        errors.extend(result.errors)
        warnings.extend(w for w in result.warnings if w not in warnings)
    if len(groups) > 1:
        errors.extend(_repeats_across(items))
    given = {i: item.plan_date for i, item in enumerate(items)}
    admitted, more = _vet(
        session,
        user,
        parsed,
        lambda o: given[o.line] or _ready_day(o),
        "plan_date",
        "no plan date: send plan_date, or a ready_time with a date",
    )
    errors.extend(more)
    bad = {e.line for e in errors}
    admitted = [a for a in admitted if a[0].line not in bad]
    errors = [
        RowError(e.line, e.column, e.value, _items_reason(e.reason))
        for e in sorted(errors, key=lambda e: e.line)
    ]
    return admitted, errors, warnings


def order_out(row: OrderRow) -> OrderOut:
    assert row.id is not None
    return OrderOut(
        id=row.id,
        order_id=row.order_id,
        party=row.party,
        direction=row.direction,
        origin=row.origin,
        destination=row.destination,
        county_code=row.county_code,
        plan_date=row.plan_date,
        weight_kg=row.weight_kg,
        volume_m3=row.volume_m3,
        pieces=row.pieces,
        temperature=row.temperature,
        ready_time=local(row.ready_at),
        due_time=local(row.due_at),
        live_animal=row.live_animal,
        tracking_numbers=list(row.tracking or []),
        goods=row.goods,
        status=row.status,
        plan_id=row.plan_id,
        created_by=row.created_by,
        created_at=local(row.created_at),
    )


def _unprocessable(detail: list[dict[str, Any]]) -> HTTPException:
    return HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail=detail)


@router.post(
    "/orders",
    response_model=OrderOut,
    status_code=status.HTTP_201_CREATED,
    summary="create one order",
    responses={409: {"description": "an order with this order_id exists already"}},
)
def new_order(body: OrderIn, session: SessionDep, user: Annotated[User, require(*CREATORS)]) -> Any:
    admitted, errors, _warnings = _check_items(session, user, [body])
    other = [e for e in errors if e.reason != EXISTS]
    if other:
        raise _unprocessable(
            [
                {
                    "loc": ["body", e.column] if e.column else ["body"],
                    "msg": e.reason,
                    "type": "value_error",
                }
                for e in other
            ]
        )
    if errors:
        raise HTTPException(
            status.HTTP_409_CONFLICT, detail=f"order id {errors[0].value!r} exists already"
        )
    (row,) = _save(session, user, admitted)
    session.refresh(row)
    return order_out(row)


@router.post(
    "/orders/bulk",
    response_model=BulkOut,
    status_code=status.HTTP_201_CREATED,
    summary=f"create up to {MAX_BULK} orders (all or nothing, or skip the bad ones)",
    description="Without `skip_bad` one bad order rejects the request (422, every problem "
    "listed with the item's `index` and `field`); with `skip_bad=true` the good orders are "
    "imported and the bad ones listed in `errors` (422 when none was good).",
)
def bulk_orders(
    items: Annotated[
        list[OrderIn],
        Body(min_length=1, max_length=MAX_BULK, examples=[[EXAMPLE, EXAMPLE_UP]]),
    ],
    session: SessionDep,
    user: Annotated[User, require(*CREATORS)],
    skip_bad: Annotated[
        bool, Query(description="import the good orders and report the bad ones")
    ] = False,
) -> Any:
    admitted, errors, warnings = _check_items(session, user, items)
    if errors and (not skip_bad or not admitted):
        raise _unprocessable(
            [
                {
                    "loc": ["body", e.line, e.column] if e.column else ["body", e.line],
                    "msg": e.reason,
                    "type": "value_error",
                    "index": e.line,
                    "field": e.column,
                    "value": e.value,
                    "reason": e.reason,
                }
                for e in errors
            ]
        )
    _save(session, user, admitted)
    return BulkOut(
        imported=len(admitted),
        order_ids=[o.id for o, _, _ in admitted],
        errors=[
            ItemError(index=e.line, field=e.column, value=e.value, reason=e.reason) for e in errors
        ],
        warnings=warnings,
    )


# ---- order files ----------------------------------------------------------------------


def _file_error(msg: str) -> HTTPException:
    return invalid(["body", "file"], msg)


def _row_errors(errors: Sequence[RowError]) -> HTTPException:
    return _unprocessable(
        [
            {
                "loc": ["body", "file", e.line, e.column] if e.column else ["body", "file", e.line],
                "msg": str(e),
                "type": "value_error",
                "line": e.line,
                "column": e.column,
                "value": e.value,
                "reason": e.reason,
            }
            for e in errors
        ]
    )


def _safe_name(filename: str, suffix: str) -> str:
    stem = re.sub(r"[^\w\-]+", "_", FilePath(filename).stem)[:80].strip("_.")
    return f"{stem or 'orders'}{suffix}"


def _store_upload(upload: UploadFile, folder: FilePath, suffix: str) -> FilePath:
    path = folder / _safe_name(upload.filename or "", suffix)
    size = 0
    with path.open("wb") as out:
        while chunk := upload.file.read(1024 * 1024):
            size += len(chunk)
            if size > MAX_UPLOAD_BYTES:
                raise HTTPException(
                    status.HTTP_413_CONTENT_TOO_LARGE,
                    detail=f"the file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB",
                )
            out.write(chunk)
    return path


def _read_upload(path: FilePath, plan_date: date | None) -> ImportResult:
    try:
        return read_orders(
            path,
            places=places_by_id(),
            parties=parties(),
            served_counties=served(),
            plan_date=plan_date,
            skip_bad=True,
        )
    except OrderFileError as e:  # a bad header
        raise _row_errors(e.errors) from None
    except InputError as e:
        raise _file_error(str(e)) from None
    except OverflowError:
        raise _file_error("a date or time in the file is out of the supported range") from None
    except Exception as e:
        if path.suffix.lower() != ".xlsx":
            raise
        raise _file_error(f"{path.name}: not a readable XLSX workbook ({type(e).__name__})") from e


@router.post(
    "/orders/upload",
    response_model=UploadOut,
    status_code=status.HTTP_201_CREATED,
    summary="import an order file (CSV or XLSX, at most 20 MB)",
    description="The file format of `codist plan --orders` (see dispatch/orders.py). Without "
    "`skip_bad` one bad row rejects the file (422; every problem listed with its `line`, "
    "`column`, `value` and `reason`); with `skip_bad=true` the good rows are imported and "
    "the bad ones listed in `errors` (422 when none was good). A cell with a control "
    "character (a NUL above all, which PostgreSQL text cannot hold) is a bad row like any "
    f"other. A file of more than {MAX_ORDER_ROWS:,} order rows, or an XLSX that unpacks to "
    f"more than {MAX_XLSX_UNPACKED_BYTES // 2**20} MB or holds a member compressed more "
    f"than {MAX_XLSX_RATIO} to 1, is refused before it is parsed (422 naming `file`).",
    responses={413: {"description": "the file is larger than 20 MB"}},
)
def upload_orders(
    file: Annotated[UploadFile, File(description="a .csv (UTF-8 or GB18030) or .xlsx file")],
    session: SessionDep,
    user: Annotated[User, require(*CREATORS)],
    plan_date: Annotated[
        date | None,
        Form(
            description="the day to plan the orders; HH:MM times are on it (default: the "
            "day of each order's ready_time)",
            examples=["2026-09-15"],
        ),
    ] = None,
    skip_bad: Annotated[
        bool, Form(description="import the good rows and report the bad ones", examples=[False])
    ] = False,
) -> Any:
    suffix = FilePath(file.filename or "").suffix.lower()
    if suffix not in UPLOAD_SUFFIXES:
        raise _file_error(f"unsupported order file type {suffix or '(none)'!r}; use .csv or .xlsx")
    with tempfile.TemporaryDirectory(prefix="codist-upload-") as folder:
        path = _store_upload(file, FilePath(folder), suffix)
        result = _read_upload(path, plan_date)
    admitted, more = _vet(
        session,
        user,
        result.orders,
        lambda o: plan_date or _ready_day(o),
        "ready_time",
        "no plan date: send the plan_date field, or give the order a ready_time with a date",
    )
    bad = {e.line for e in more}
    admitted = [a for a in admitted if a[0].line not in bad]
    errors = sorted([*result.errors, *more], key=lambda e: e.line)
    if not errors and not admitted:
        raise _file_error("the file holds no orders")
    if errors and (not skip_bad or not admitted):
        raise _row_errors(errors)
    _save(session, user, admitted)
    return UploadOut(
        imported=len(admitted),
        rows=result.rows,
        errors=[
            RowErrorOut(line=e.line, column=e.column, value=e.value, reason=e.reason)
            for e in errors
        ],
        warnings=result.warnings,
    )


# ---- reading and cancelling -----------------------------------------------------------


def _scope(query: Any, session: Session, user: User) -> Any:
    if user.role == "admin":
        return query
    if user.role == "dispatcher":
        if not user.county_code:
            return query.where(false())
        return query.where(OrderRow.county_code == user.county_code)
    party = carrier_party(session, user)
    return query.where(OrderRow.party == party) if party else query.where(false())


def _visible(session: Session, user: User, order_id: str) -> OrderRow:
    """The order if it exists and the user may see it; 404 otherwise."""
    if bad_text(order_id) is None:
        query = _scope(select(OrderRow).where(OrderRow.order_id == order_id), session, user)
        row = session.exec(query).first()
        if row is not None:
            return row
    raise NotFound(f"order {order_id!r} not found")


OrderId = Annotated[str, Path(examples=["20260915-D00421"], description="the order_id")]


@router.get(
    "/orders/template.csv",
    summary="the order file's columns with two example rows (CSV for Excel)",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    dependencies=[require(*CREATORS)],
)
def order_template() -> Response:
    """The file a dispatcher fills in: the columns `POST /orders/upload` reads, one parcel
    going down to a village and one lot of produce coming up."""
    day = EXAMPLE_UP["plan_date"]  # a file row carries whole times, not times of day
    up = {**EXAMPLE_UP, "ready_time": f"{day}T09:00:00+08:00", "due_time": f"{day}T17:00:00+08:00"}
    download = exports.orders_template([EXAMPLE, up])
    return Response(
        download.body,
        media_type=download.media_type,
        headers={"Content-Disposition": download.disposition},
    )


@router.get("/orders", summary="list orders (scoped to the caller)")
def list_orders(
    session: SessionDep,
    page: PageDep,
    user: Annotated[User, require(*READERS)],
    plan_date: Annotated[date | None, Query(examples=["2026-09-15"])] = None,
    county: Annotated[
        str | None, Query(pattern=r"^\d{6}$", examples=["532326"], description="county code")
    ] = None,
    party: Annotated[str | None, Query(max_length=64, examples=["ZTO"])] = None,
    status_: Annotated[OrderStatus | None, Query(alias="status", examples=["open"])] = None,
    direction: Annotated[Literal["down", "up"] | None, Query(examples=["down"])] = None,
) -> dict[str, Any]:
    query = _scope(select(OrderRow), session, user)
    if plan_date is not None:
        query = query.where(OrderRow.plan_date == plan_date)
    if county is not None:
        query = query.where(OrderRow.county_code == county)
    if party is not None:
        query = query.where(OrderRow.party == party if bad_text(party) is None else false())
    if status_ is not None:
        query = query.where(OrderRow.status == status_)
    if direction is not None:
        query = query.where(OrderRow.direction == direction)
    items, total = paginate(session, query, OrderRow, page, ORDER_SORTS)
    return page_body([order_out(o) for o in items], total, page)


@router.get("/orders/{order_id:path}", response_model=OrderOut, summary="one order")
def get_order(
    order_id: OrderId, session: SessionDep, user: Annotated[User, require(*READERS)]
) -> Any:
    return order_out(_visible(session, user, order_id))


@router.delete(
    "/orders/{order_id:path}",
    response_model=OrderOut,
    summary="cancel an open order (admin, the county's dispatcher)",
    responses={409: {"description": "the order is no longer open"}},
)
def cancel_order(
    order_id: OrderId, session: SessionDep, user: Annotated[User, require(*CANCELLERS)]
) -> Any:
    row = _visible(session, user, order_id)
    if row.status != "open":
        raise HTTPException(
            status.HTTP_409_CONFLICT,
            detail=f"order {row.order_id!r} is {row.status}; only open orders can be cancelled",
        )
    row.status = "cancelled"
    session.add(row)
    session.commit()
    session.refresh(row)
    return order_out(row)
