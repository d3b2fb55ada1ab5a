"""Settlement (电子结算): accounts, the double-entry ledger, shared-route settlement of a
plan, and monthly statements (CSV). Amounts are integer fen.

Admins see and do everything. Members of an organisation (its dispatchers and carrier
users; not its couriers, who are refused with 403) see their organisation's accounts and
the entries that touch them, read their statements, and may dispute an entry they pay or
receive; anything else of another organisation answers 404.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, HTTPException, Query, Response, status
from fastapi.responses import JSONResponse
from sqlalchemy import false, or_
from sqlmodel import Session, col, select

from api.deps import (
    Id,
    PageDep,
    SafeRoute,
    SessionDep,
    UserDep,
    invalid,
    page_body,
    paginate,
    require,
)
from api.errors import NotFound
from api.models import Account, EntryState, LedgerEntry, Organisation, Plan, User, aware, now
from api.schemas.common import bad_text
from api.schemas.ledger import (
    AccountOut,
    EntryIn,
    EntryOut,
    ReverseIn,
    SettleOut,
    StateIn,
    StateOut,
)
from api.services import audit, ledger
from routing.errors import InputError

router = APIRouter(tags=["settlement"], route_class=SafeRoute)
ADMIN = require("admin")
# who may read the books and dispute: not couriers (they belong to an organisation but
# have no say over its money)
MEMBER = require("admin", "dispatcher", "carrier")
ENTRY_SORTS = ("id", "created_at", "amount_fen", "kind")
ACCOUNT_SORTS = ("id", "name", "created_at")
Kind = Literal["freight_booking", "lease", "shared_route", "reversal", "adjustment"]
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
State = Literal["pending", "confirmed", "settled", "disputed", "reversed"]

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=128,
        description="a client-chosen key (1..128 characters): a retry with the same key "
        "returns the record made the first time (200) and creates nothing; the same key "
        "with a different body is refused (409)",
    ),
]


# ---- helpers ---------------------------------------------------------------------------
@contextmanager
def _ledger_errors(where: str = "body") -> Iterator[None]:
    """Name where a bad field came from: InputError -> 422 at ``[where, field]`` (a
    Conflict passes to the app's handler, 409)."""
    try:
        yield
    except InputError as e:
        raise invalid([where, e.field], e.reason) from None


def _key(key: str) -> str:
    reason = bad_text(key) or (None if key.strip() else "must not be blank")
    if reason:
        raise invalid(["header", "Idempotency-Key"], reason)
    return f"client:{key}"  # apart from the keys the service derives itself ("plan:...")


def _own_ids(session: Session, user: User) -> set[int]:
    return {a.id for a in ledger.accounts_of_org(session, user.org_id) if a.id is not None}


def _account(session: Session, user: User, account_id: int) -> Account:
    account = session.get(Account, account_id)
    if account is None or (user.role != "admin" and account_id not in _own_ids(session, user)):
        raise NotFound(f"account {account_id} not found")
    return account


def _account_out(session: Session, account: Account, balance: int) -> AccountOut:
    org = session.get(Organisation, account.org_id) if account.org_id is not None else None
    assert account.id is not None
    return AccountOut(
        id=account.id,
        name=account.name,
        org_id=account.org_id,
        org_name=org.name if org else None,
        party_id=account.party_id,
        balance_fen=balance,
        created_at=aware(account.created_at),
    )


def _entries_out(
    session: Session, entries: list[LedgerEntry], *, with_history: bool = False
) -> list[EntryOut]:
    ids = [e.id for e in entries if e.id is not None]
    states = ledger.current_states(session, ids)
    account_ids = {e.debit_account_id for e in entries} | {e.credit_account_id for e in entries}
    accounts = session.exec(select(Account).where(col(Account.id).in_(account_ids))).all()
    names = {a.id: a.name for a in accounts}
    labels = ledger.account_labels(session, accounts)
    days = ledger.service_dates(session, entries)
    reversals = {
        r.reverses_id: r.id
        for r in session.exec(
            select(LedgerEntry).where(col(LedgerEntry.reverses_id).in_(ids))
        ).all()
    }
    out = []
    for e in entries:
        assert e.id is not None
        item = EntryOut(
            id=e.id,
            debit_account_id=e.debit_account_id,
            debit_account=names.get(e.debit_account_id, ""),
            debit_account_name=labels.get(e.debit_account_id, ""),
            credit_account_id=e.credit_account_id,
            credit_account=names.get(e.credit_account_id, ""),
            credit_account_name=labels.get(e.credit_account_id, ""),
            amount_fen=e.amount_fen,
            service_date=days[e.id],
            kind=e.kind,
            ref_type=e.ref_type,
            ref_id=e.ref_id,
            reverses_id=e.reverses_id,
            reversed_by=reversals.get(e.id),
            memo=e.memo,
            state=states.get(e.id, "pending"),
            created_by=e.created_by,
            created_at=aware(e.created_at),
        )
        if with_history:
            item.history = [
                StateOut(state=s.state, note=s.note, by_user=s.by_user, at=aware(s.at))
                for s in ledger.history(session, e.id)
            ]
        out.append(item)
    return out


def _entry_out(session: Session, entry: LedgerEntry) -> EntryOut:
    return _entries_out(session, [entry], with_history=True)[0]


def _entry(session: Session, user: User, entry_id: int) -> LedgerEntry:
    entry = session.get(LedgerEntry, entry_id)
    if entry is None:
        raise NotFound(f"ledger entry {entry_id} not found")
    if user.role != "admin":
        own = _own_ids(session, user)
        if entry.debit_account_id not in own and entry.credit_account_id not in own:
            raise NotFound(f"ledger entry {entry_id} not found")
    return entry


# ---- accounts --------------------------------------------------------------------------
@router.get("/accounts", dependencies=[MEMBER], summary="ledger accounts with their balances")
def list_accounts(session: SessionDep, user: UserDep, page: PageDep) -> dict[str, Any]:
    """Admins: every account. Others: their organisation's account(s)."""
    query = select(Account)
    if user.role != "admin":
        ids = sorted(_own_ids(session, user))
        query = query.where(col(Account.id).in_(ids)) if ids else query.where(false())
    items, total = paginate(session, query, Account, page, ACCOUNT_SORTS)
    balances = ledger.balances(session)
    return page_body(
        [_account_out(session, a, balances.get(a.id, 0)) for a in items if a.id is not None],
        total,
        page,
    )


@router.get(
    "/accounts/{account_id}",
    response_model=AccountOut,
    dependencies=[MEMBER],
    summary="an account",
)
def get_account(account_id: Id, session: SessionDep, user: UserDep) -> Any:
    account = _account(session, user, account_id)
    return _account_out(session, account, ledger.balance(session, account_id))


@router.get(
    "/accounts/{account_id}/statement",
    response_class=Response,
    responses={
        200: {
            "content": {
                "text/csv": {},
                XLSX: {},
                "application/json": {},
            },
            "description": "the statement as CSV (default), XLSX or JSON (rows and totals)",
        }
    },
    dependencies=[MEMBER],
    summary="an account's monthly statement (CSV, XLSX or JSON)",
)
def account_statement(
    account_id: Id,
    session: SessionDep,
    user: UserDep,
    year: Annotated[
        int | None, Query(ge=2000, le=2100, description="default: this year (Asia/Shanghai)")
    ] = None,
    month: Annotated[
        int | None, Query(ge=1, le=12, description="default: this month (Asia/Shanghai)")
    ] = None,
    format: Annotated[
        Literal["csv", "xlsx", "json"], Query(description="csv (UTF-8 with BOM), xlsx or json")
    ] = "csv",
) -> Response:
    """The entries whose service date (the plan's date, the cargo's pickup day, the
    lease's first day; a reversal's is its original's; else the day it was recorded) falls
    in one Asia/Shanghai calendar month, ordered by it, between an opening and a closing
    balance row: service_date, recorded_at (+08:00), the counterparty's code and name,
    debit_fen paid, credit_fen received, the running balance, each entry's state; amounts
    also in yuan with two decimals. ``xlsx`` adds a totals row; ``json`` answers
    ``{rows, totals}`` (totals: opening, debit, credit, closing, entries)."""
    account = _account(session, user, account_id)
    today = now().astimezone(ledger.TZ)
    year = year or today.year
    month = month or today.month
    name = f"statement-{account_id}-{year}-{month:02d}"
    with _ledger_errors("query"):
        if format == "json":
            rows = ledger.statement(session, account_id, year, month)
            return JSONResponse(
                {"account_id": account_id, "year": year, "month": month, "rows": rows,
                 "totals": ledger.statement_totals(rows)}
            )  # fmt: skip
        if format == "xlsx":
            title = f"{ledger.account_label(session, account)} · {year}-{month:02d}"
            data = ledger.statement_xlsx(session, account_id, year, month, title=title)
            return Response(
                content=data,
                media_type=XLSX,
                headers={"Content-Disposition": f'attachment; filename="{name}.xlsx"'},
            )
        text = ledger.statement_csv(session, account_id, year, month)
    return Response(
        # a byte order mark first, or Excel (zh-CN) reads the UTF-8 as GBK and garbles it
        content=("\ufeff" + text).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'},
    )


# ---- entries ---------------------------------------------------------------------------
@router.post(
    "/ledger/entries",
    response_model=EntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": EntryOut, "description": "a retry: the entry made before"}},
    dependencies=[ADMIN],
    summary="record a manual adjustment between two accounts (admin)",
)
def create_entry(
    body: EntryIn,
    session: SessionDep,
    user: UserDep,
    response: Response,
    idempotency_key: IdempotencyKey,
) -> Any:
    key = _key(idempotency_key)
    with _ledger_errors():
        entry, created = ledger.record(
            session,
            debit=body.debit_account_id,
            credit=body.credit_account_id,
            amount_fen=body.amount_fen,
            kind="adjustment",
            ref_type=body.ref_type,
            ref_id=body.ref_id,
            memo=body.memo,
            idempotency_key=key,
            created_by=user.id,
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/ledger/entries/{entry.id}"
    return _entry_out(session, entry)


@router.get("/ledger/entries", dependencies=[MEMBER], summary="ledger entries")
def list_entries(
    session: SessionDep,
    user: UserDep,
    page: PageDep,
    account_id: Annotated[
        int | None, Query(ge=1, le=2**31 - 1, description="entries paid or received by it")
    ] = None,
    kind: Kind | None = None,
    state: State | None = None,
    ref_type: Annotated[str | None, Query(max_length=64)] = None,
    ref_id: Annotated[str | None, Query(max_length=64)] = None,
) -> dict[str, Any]:
    """Admins see every entry; others the entries that touch their organisation's
    accounts. ``state`` filters by the current (latest) state."""
    query = select(LedgerEntry)
    if user.role != "admin":
        own = sorted(_own_ids(session, user))
        if not own:
            query = query.where(false())
        else:
            query = query.where(
                or_(
                    col(LedgerEntry.debit_account_id).in_(own),
                    col(LedgerEntry.credit_account_id).in_(own),
                )
            )
    if account_id is not None:
        query = query.where(
            or_(
                col(LedgerEntry.debit_account_id) == account_id,
                col(LedgerEntry.credit_account_id) == account_id,
            )
        )
    if kind is not None:
        query = query.where(LedgerEntry.kind == kind)
    if ref_type is not None:
        query = query.where(LedgerEntry.ref_type == ref_type)
    if ref_id is not None:
        query = query.where(LedgerEntry.ref_id == ref_id)
    if state is not None:
        latest = select(EntryState.entry_id).where(
            col(EntryState.id).in_(ledger.latest_state_ids()), EntryState.state == state
        )
        query = query.where(col(LedgerEntry.id).in_(latest))
    items, total = paginate(session, query, LedgerEntry, page, ENTRY_SORTS)
    return page_body(_entries_out(session, items), total, page)


@router.get(
    "/ledger/entries/{entry_id}",
    response_model=EntryOut,
    dependencies=[MEMBER],
    summary="a ledger entry with its state history",
)
def get_entry(entry_id: Id, session: SessionDep, user: UserDep) -> Any:
    return _entry_out(session, _entry(session, user, entry_id))


@router.post(
    "/ledger/entries/{entry_id}/state",
    response_model=EntryOut,
    dependencies=[MEMBER],
    summary="move an entry on: confirmed, settled, or disputed",
)
def change_state(entry_id: Id, body: StateIn, session: SessionDep, user: UserDep) -> Any:
    """pending -> confirmed -> settled; pending or confirmed -> disputed; disputed ->
    confirmed once resolved (or reverse the entry). Admins make any allowed move; the
    paying or paid organisation's members may dispute. Moving to the current state
    changes nothing."""
    entry = _entry(session, user, entry_id)
    if user.role != "admin" and body.state != "disputed":
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            detail="only an admin confirms or settles; your organisation may dispute",
        )
    with _ledger_errors():
        ledger.transition(session, entry, body.state, by_user=user.id, note=body.note)
    return _entry_out(session, entry)


@router.post(
    "/ledger/entries/{entry_id}/reverse",
    response_model=EntryOut,
    status_code=status.HTTP_201_CREATED,
    responses={200: {"model": EntryOut, "description": "a retry: the reversal made before"}},
    dependencies=[ADMIN],
    summary="correct an entry with a reversing entry (admin)",
)
def reverse_entry(
    entry_id: Id,
    body: ReverseIn,
    session: SessionDep,
    user: UserDep,
    response: Response,
    idempotency_key: IdempotencyKey,
) -> Any:
    """Records the reversing entry (debit and credit swapped). An entry never settled is
    voided (it becomes ``reversed``; the reversal starts ``settled``); a settled one is
    refunded (the reversal starts ``pending``). An entry is reversed once."""
    key = _key(idempotency_key)
    entry = _entry(session, user, entry_id)
    with _ledger_errors():
        reversal, created = ledger.reverse(
            session, entry, by_user=user.id, memo=body.memo, idempotency_key=key
        )
    if not created:
        response.status_code = status.HTTP_200_OK
    response.headers["Location"] = f"/api/v1/ledger/entries/{reversal.id}"
    return _entry_out(session, reversal)


# ---- plans -----------------------------------------------------------------------------
@router.post(
    "/plans/{plan_id}/settle",
    response_model=SettleOut,
    dependencies=[ADMIN],
    summary="record the shared-route cost shares of a published or completed plan (admin)",
)
def settle_plan(plan_id: Id, session: SessionDep, user: UserDep, response: Response) -> Any:
    """One pending entry per route and party with a Shapley share: the party pays the
    route's operator (the vehicle owner's organisation, else the platform). A replan
    first reverses the share entries of the plan(s) it supersedes (``reversals``), so
    a route both carry is charged once; a superseded plan is refused (409). Repeating it
    creates nothing new (201 when entries were made, 200 otherwise)."""
    if session.get(Plan, plan_id) is None:
        raise NotFound(f"plan {plan_id} not found")
    with _ledger_errors("path"):
        result = ledger.settle_plan(session, plan_id, by_user=user.id)
    created = sum(1 for _, new in (*result.charges, *result.reversals) if new)
    entries = [e for e, _ in result.charges]
    reversals = [e for e, _ in result.reversals]
    if created:
        response.status_code = status.HTTP_201_CREATED
        # the entries carry who made them; the audit row says the plan was billed
        audit.record(
            session,
            actor=user,
            action="plan.settle",
            entity="plan",
            entity_id=plan_id,
            after={
                "created": created,
                "total_fen": sum(e.amount_fen for e in entries),
                "reversed_fen": sum(e.amount_fen for e in reversals),
            },
        )
        session.commit()
    return SettleOut(
        plan_id=plan_id,
        created=created,
        total_fen=sum(e.amount_fen for e in entries),
        entries=_entries_out(session, entries),
        reversed_fen=sum(e.amount_fen for e in reversals),
        reversals=_entries_out(session, reversals),
    )
