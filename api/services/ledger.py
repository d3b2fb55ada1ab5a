"""Settlement (电子结算): a double-entry ledger in integer fen over the session.

Every :class:`~api.models.LedgerEntry` moves ``amount_fen > 0`` from its debit account
(the payer) to its credit account (the payee), so an account's balance is its credits
minus its debits and all balances sum to zero. Entries are never updated or deleted:

* a correction is a *reversing* entry (debit and credit swapped, kind ``reversal``,
  ``reverses_id`` set); an entry is reversed at most once and a reversal is not reversed;
* states are appended as :class:`~api.models.EntryState` rows; the latest one is the
  entry's state. The lifecycle::

      pending ──> confirmed ──> settled (final)
         │            ▲  │
         └──> disputed ┘<┘          any unreversed entry ──reverse()──> reversed (final)

  A dispute is resolved either by confirming the entry again or by reversing it.
  Reversing an entry that was never settled voids it: the original becomes ``reversed``
  and the reversal starts ``settled`` (no money has to move). Reversing a *settled* entry
  is a refund: the original stays ``settled`` and the reversal starts ``pending``, to be
  confirmed and settled like any other entry.

Every entry has a *service date*, the day of the service it pays for, derived from what it
refers to (:func:`service_dates`): statements are by service date, and show when each
entry was recorded as well. A replan bills its day in place of the plans it supersedes
(:func:`settle_plan`).

Creating calls take an idempotency key: the same key with the same content returns the
stored entry and creates nothing; the same key with other content raises
:class:`Conflict`. The unique constraint on ``ledger_entries.idempotency_key`` is the final
guard against two concurrent requests with one key.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from datetime import UTC, date, datetime
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import Conflict
from api.models import (
    Account,
    CargoPosting,
    EntryState,
    FreightBooking,
    LeaseBooking,
    LedgerEntry,
    Organisation,
    Plan,
    RouteSheet,
    aware,
    now,
)
from routing.errors import InputError, NotFoundError

TZ = ZoneInfo("Asia/Shanghai")
MAX_FEN = 2**31 - 1  # the column is a 32-bit integer on PostgreSQL
KINDS = ("freight_booking", "lease", "shared_route", "reversal", "adjustment")
STATES = ("pending", "confirmed", "settled", "disputed", "reversed")
TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"confirmed", "disputed"}),
    "confirmed": frozenset({"settled", "disputed"}),
    "disputed": frozenset({"confirmed"}),
    "settled": frozenset(),
    "reversed": frozenset(),
}
PLATFORM = "platform"
SETTLEABLE_PLANS = ("published", "completed")


# ---- accounts --------------------------------------------------------------------------
def _get_or_create_account(
    session: Session, name: str, *, org_id: int | None = None, party_id: str | None = None
) -> Account:
    found = session.exec(select(Account).where(Account.name == name)).first()
    if found is not None:
        return found
    account = Account(name=name, org_id=org_id, party_id=party_id, created_at=now())
    session.add(account)
    try:
        session.commit()
    except IntegrityError:  # created concurrently by another request
        session.rollback()
        return session.exec(select(Account).where(Account.name == name)).one()
    session.refresh(account)
    return account


def account_for_org(session: Session, org_id: int) -> Account:
    """The account of an organisation (``org:<id>``), created on first use."""
    org = session.get(Organisation, org_id)
    if org is None:
        raise NotFoundError("org_id", f"no organisation {org_id}")
    return _get_or_create_account(session, f"org:{org_id}", org_id=org_id, party_id=org.party_id)


def platform_account(session: Session) -> Account:
    """The platform's own account (``platform``)."""
    return _get_or_create_account(session, PLATFORM)


def org_for_party(session: Session, party_id: str) -> Organisation | None:
    return session.exec(
        select(Organisation).where(Organisation.party_id == party_id).order_by(col(Organisation.id))
    ).first()


def account_for_party(session: Session, party_id: str) -> Account:
    """The account of a plan party: its organisation's when one has this ``party_id``,
    else ``party:<id>``."""
    org = org_for_party(session, party_id)
    if org is not None and org.id is not None:
        return account_for_org(session, org.id)
    return _get_or_create_account(session, f"party:{party_id}", party_id=party_id)


def accounts_of_org(session: Session, org_id: int | None) -> list[Account]:
    """The accounts an organisation's members may see: its own, and the ``party:<id>``
    account of its party id (made before the organisation existed)."""
    if org_id is None:
        return []
    org = session.get(Organisation, org_id)
    if org is None:
        return []
    cond = col(Account.org_id) == org_id
    if org.party_id:
        cond = or_(cond, (col(Account.party_id) == org.party_id) & col(Account.org_id).is_(None))
    return list(session.exec(select(Account).where(cond).order_by(col(Account.id))).all())


@cache
def party_names() -> dict[str, str]:
    """party id -> its Chinese name, from the parties file of the dispatch data (empty
    when it cannot be read: names are a convenience, never a reason to fail)."""
    try:
        from dispatch.io.fleet import load_parties

        return {pid: p.name_zh for pid, p in load_parties().items()}
    except Exception:  # a missing or broken data file
        return {}


def account_labels(session: Session, accounts: Iterable[Account]) -> dict[int, str]:
    """account id -> a readable name: its organisation's name; for a ``party:<id>``
    account, the name of the organisation with that party id (one may have joined after
    the account was made), else the party's name in the parties file; else the account
    name (``platform``)."""
    items = [a for a in accounts if a.id is not None]
    org_ids = {a.org_id for a in items if a.org_id is not None}
    parties = {a.party_id for a in items if a.org_id is None and a.party_id}
    by_id: dict[int, str] = {}
    by_party: dict[str, str] = {}
    if org_ids or parties:
        cond: Any = col(Organisation.id).in_(org_ids)
        if parties:
            cond = or_(cond, col(Organisation.party_id).in_(parties))
        for org in session.exec(
            select(Organisation).where(cond).order_by(col(Organisation.id))
        ).all():
            if org.id is not None:
                by_id[org.id] = org.name
            if org.party_id:
                by_party.setdefault(org.party_id, org.name)
    out: dict[int, str] = {}
    for a in items:
        assert a.id is not None
        name = None
        if a.org_id is not None:
            name = by_id.get(a.org_id)
        elif a.party_id:
            name = by_party.get(a.party_id) or party_names().get(a.party_id)
        out[a.id] = name or a.name
    return out


def account_label(session: Session, account: Account) -> str:
    """A readable name of one account (see :func:`account_labels`)."""
    return account_labels(session, [account]).get(account.id or 0, account.name)


# ---- states ----------------------------------------------------------------------------
def history(session: Session, entry_id: int) -> list[EntryState]:
    return list(
        session.exec(
            select(EntryState).where(EntryState.entry_id == entry_id).order_by(col(EntryState.id))
        ).all()
    )


def current_states(session: Session, entry_ids: Iterable[int]) -> dict[int, str]:
    """entry id -> its latest state."""
    ids = list(entry_ids)
    if not ids:
        return {}
    latest = (
        select(func.max(EntryState.id))
        .where(col(EntryState.entry_id).in_(ids))
        .group_by(col(EntryState.entry_id))
    )
    rows = session.exec(select(EntryState).where(col(EntryState.id).in_(latest))).all()
    return {r.entry_id: r.state for r in rows}


def current_state(session: Session, entry_id: int) -> str:
    return current_states(session, [entry_id]).get(entry_id, "pending")


def latest_state_ids() -> Any:
    """A subquery of the latest EntryState id of every entry (for filtering by state)."""
    return select(func.max(EntryState.id)).group_by(col(EntryState.entry_id))


def reversal_of(session: Session, entry_id: int) -> LedgerEntry | None:
    return session.exec(
        select(LedgerEntry).where(LedgerEntry.reverses_id == entry_id).order_by(col(LedgerEntry.id))
    ).first()


# ---- recording -------------------------------------------------------------------------
def _same(entry: LedgerEntry, fields: dict[str, Any]) -> bool:
    return all(getattr(entry, k) == v for k, v in fields.items())


def _by_key(session: Session, key: str) -> LedgerEntry | None:
    return session.exec(select(LedgerEntry).where(LedgerEntry.idempotency_key == key)).first()


def _replay(stored: LedgerEntry, fields: dict[str, Any]) -> tuple[LedgerEntry, bool]:
    if not _same(stored, fields):
        raise Conflict(
            f"the idempotency key was used for entry {stored.id} with other content; "
            "use a new key for a new request"
        )
    return stored, False


def record(
    session: Session,
    *,
    debit: Account | int,
    credit: Account | int,
    amount_fen: int,
    kind: str,
    ref_type: str | None = None,
    ref_id: str | None = None,
    memo: str = "",
    idempotency_key: str | None = None,
    created_by: int | None = None,
    state: str = "pending",
    note: str = "",
    reverses_id: int | None = None,
    _then: Callable[[LedgerEntry], None] | None = None,
) -> tuple[LedgerEntry, bool]:
    """Record ``amount_fen`` paid by ``debit`` to ``credit`` and its first state; commit.

    Returns (entry, created): with a known ``idempotency_key`` and the same content, the
    stored entry and False. Raises :class:`~routing.errors.InputError` naming the field
    for invalid input and :class:`Conflict` for a key reused with other content."""
    debit_id = debit.id if isinstance(debit, Account) else debit
    credit_id = credit.id if isinstance(credit, Account) else credit
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise InputError("amount_fen", "must be an integer number of fen")
    if not 0 < amount_fen <= MAX_FEN:
        raise InputError("amount_fen", f"must be more than 0 and at most {MAX_FEN}")
    if kind not in KINDS:
        raise InputError("kind", f"must be one of {', '.join(KINDS)}")
    if state not in STATES:
        raise InputError("state", f"must be one of {', '.join(STATES)}")
    if idempotency_key is not None and not 1 <= len(idempotency_key) <= 200:
        raise InputError("idempotency_key", "must be 1 to 200 characters")
    fields: dict[str, Any] = {
        "debit_account_id": debit_id,
        "credit_account_id": credit_id,
        "amount_fen": amount_fen,
        "kind": kind,
        "ref_type": ref_type,
        "ref_id": ref_id,
        "reverses_id": reverses_id,
        "memo": memo,
    }
    if idempotency_key is not None:
        stored = _by_key(session, idempotency_key)
        if stored is not None:
            return _replay(stored, fields)
    for field, account_id in (("debit_account_id", debit_id), ("credit_account_id", credit_id)):
        if account_id is None or session.get(Account, account_id) is None:
            raise NotFoundError(field, f"no account {account_id}")
    if debit_id == credit_id:
        raise InputError("credit_account_id", "must differ from the debit account")
    at = now()
    entry = LedgerEntry(
        **fields, idempotency_key=idempotency_key, created_by=created_by, created_at=at
    )
    session.add(entry)
    try:
        session.flush()
        assert entry.id is not None
        session.add(
            EntryState(entry_id=entry.id, state=state, note=note, by_user=created_by, at=at)
        )
        if _then is not None:  # more rows of the same transaction (a reversal's)
            _then(entry)
        session.commit()
    except IntegrityError:
        session.rollback()
        stored = _by_key(session, idempotency_key) if idempotency_key is not None else None
        if stored is None:
            raise
        return _replay(stored, fields)
    session.refresh(entry)
    return entry, True


def add_in_transaction(
    session: Session,
    *,
    debit_id: int,
    credit_id: int,
    amount_fen: int,
    kind: str,
    ref_type: str,
    ref_id: str,
    memo: str,
    idempotency_key: str,
    created_by: int | None,
) -> LedgerEntry:
    """Add a record and its first state to the caller's open transaction (no commit):
    a booking and the money it moves are committed together, or neither is."""
    if not 0 < amount_fen <= MAX_FEN or kind not in KINDS or debit_id == credit_id:
        raise InputError("amount_fen", "not a valid ledger record")
    at = now()
    entry = LedgerEntry(
        debit_account_id=debit_id,
        credit_account_id=credit_id,
        amount_fen=amount_fen,
        kind=kind,
        ref_type=ref_type,
        ref_id=ref_id,
        memo=memo,
        idempotency_key=idempotency_key,
        created_by=created_by,
        created_at=at,
    )
    session.add(entry)
    session.flush()
    assert entry.id is not None
    session.add(EntryState(entry_id=entry.id, state="pending", by_user=created_by, at=at))
    session.flush()
    return entry


def _locked(session: Session, entry: LedgerEntry) -> LedgerEntry:
    """The entry's row, locked until the commit (PostgreSQL; SQLite serialises writers),
    so that two concurrent transitions or reversals cannot both pass their checks."""
    return session.exec(
        select(LedgerEntry).where(LedgerEntry.id == entry.id).with_for_update()
    ).one()


def transition(
    session: Session, entry: LedgerEntry, to_state: str, *, by_user: int | None, note: str = ""
) -> EntryState:
    """Append ``to_state`` to the entry's history (commit). Moving to the state it is in
    already changes nothing and returns its latest state row. Raises :class:`Conflict`
    for a transition the lifecycle does not allow."""
    if to_state not in STATES or to_state == "reversed":
        raise InputError("state", "must be one of confirmed, settled, disputed")
    assert entry.id is not None
    _locked(session, entry)
    states = history(session, entry.id)
    current = states[-1].state if states else "pending"
    if to_state == current and states:
        session.rollback()
        return states[-1]
    if to_state not in TRANSITIONS.get(current, frozenset()):
        allowed = sorted(TRANSITIONS.get(current, frozenset()))
        message = f"entry {entry.id} is {current}; it can move to " + (
            ", ".join(allowed) if allowed else "no other state"
        )
        session.rollback()
        raise Conflict(message)
    row = EntryState(entry_id=entry.id, state=to_state, note=note, by_user=by_user, at=now())
    session.add(row)
    session.commit()
    session.refresh(row)
    return row


def reverse(
    session: Session,
    entry: LedgerEntry,
    *,
    by_user: int | None,
    memo: str,
    idempotency_key: str | None,
) -> tuple[LedgerEntry, bool]:
    """Record the reversing entry of ``entry`` (see the module's notes on states).
    Returns (reversal, created); a retry with the same key returns the same reversal."""
    assert entry.id is not None
    fields = {
        "debit_account_id": entry.credit_account_id,
        "credit_account_id": entry.debit_account_id,
        "amount_fen": entry.amount_fen,
        "kind": "reversal",
        "ref_type": "ledger_entry",
        "ref_id": str(entry.id),
        "reverses_id": entry.id,
        "memo": memo,
    }
    if idempotency_key is not None:
        stored = _by_key(session, idempotency_key)
        if stored is not None:
            return _replay(stored, fields)
    if entry.kind == "reversal":
        raise Conflict(f"entry {entry.id} is a reversal; record a new entry instead")
    _locked(session, entry)
    done = reversal_of(session, entry.id)
    if done is not None:
        message = f"entry {entry.id} is reversed already by entry {done.id}"
        session.rollback()
        raise Conflict(message)
    entry_id = entry.id
    refund = current_state(session, entry_id) == "settled"

    def void_original(reversal: LedgerEntry) -> None:
        if not refund:
            session.add(
                EntryState(
                    entry_id=entry_id,
                    state="reversed",
                    note=f"reversed by entry {reversal.id}",
                    by_user=by_user,
                    at=now(),
                )
            )

    return record(
        session,
        debit=entry.credit_account_id,
        credit=entry.debit_account_id,
        amount_fen=entry.amount_fen,
        kind="reversal",
        ref_type="ledger_entry",
        ref_id=str(entry.id),
        reverses_id=entry.id,
        memo=memo,
        idempotency_key=idempotency_key,
        created_by=by_user,
        state="pending" if refund else "settled",
        note=(
            f"refund of settled entry {entry.id}"
            if refund
            else f"voids entry {entry.id}, which was never settled: nothing to pay"
        ),
        _then=void_original,
    )


# ---- service dates ---------------------------------------------------------------------
def _int_ids(values: Iterable[str | None]) -> set[int]:
    return {int(v) for v in values if v is not None and v.isdigit() and len(v) < 10}


def local_date(moment: datetime | None) -> date | None:
    """The Asia/Shanghai calendar day of a stored time."""
    at = aware(moment)
    return at.astimezone(TZ).date() if at is not None else None


def service_dates(session: Session, entries: Iterable[LedgerEntry]) -> dict[int, date]:
    """entry id -> the day of the service the entry pays for, derived from what it refers
    to: a route sheet's (or plan's) plan date, a freight booking's cargo pickup day, a
    lease booking's first day; a reversal has the date of the entry it reverses; any other
    entry (an adjustment without such a reference) the Asia/Shanghai day it was
    recorded. Unknown references fall back to the recording day as well."""
    items = [e for e in entries if e.id is not None]
    by_id: dict[int, LedgerEntry] = {e.id: e for e in items if e.id is not None}
    missing = {e.reverses_id for e in items if e.reverses_id is not None} - set(by_id)
    if missing:
        for e in session.exec(select(LedgerEntry).where(col(LedgerEntry.id).in_(missing))).all():
            if e.id is not None:
                by_id[e.id] = e

    def original(e: LedgerEntry) -> LedgerEntry:
        return by_id.get(e.reverses_id, e) if e.reverses_id is not None else e

    refs: dict[str, set[str | None]] = {}
    for e in items:
        o = original(e)
        if o.ref_type:
            refs.setdefault(o.ref_type, set()).add(o.ref_id)
    found: dict[tuple[str, str], date] = {}
    sheet_ids = _int_ids(refs.get("route_sheet", ()))
    plan_of_sheet: dict[int, int] = {}
    if sheet_ids:
        rows = session.exec(
            select(col(RouteSheet.id), col(RouteSheet.plan_id)).where(
                col(RouteSheet.id).in_(sheet_ids)
            )
        ).all()
        plan_of_sheet = {sid: pid for sid, pid in rows if sid is not None}
    plan_ids = _int_ids(refs.get("plan", ())) | set(plan_of_sheet.values())
    if plan_ids:
        days = dict(
            session.exec(
                select(col(Plan.id), col(Plan.plan_date)).where(col(Plan.id).in_(plan_ids))
            ).all()
        )
        for pid, plan_day in days.items():
            found[("plan", str(pid))] = plan_day
        for sid, pid in plan_of_sheet.items():
            if pid in days:
                found[("route_sheet", str(sid))] = days[pid]
    booking_ids = _int_ids(refs.get("freight_booking", ()))
    if booking_ids:
        for bid, pickup in session.exec(
            select(col(FreightBooking.id), col(CargoPosting.pickup_start))
            .join(CargoPosting, col(CargoPosting.id) == col(FreightBooking.cargo_id))
            .where(col(FreightBooking.id).in_(booking_ids))
        ).all():
            pickup_day = local_date(pickup)
            if pickup_day is not None:
                found[("freight_booking", str(bid))] = pickup_day
    lease_ids = _int_ids(refs.get("lease_booking", ()))
    if lease_ids:
        for lid, start in session.exec(
            select(col(LeaseBooking.id), col(LeaseBooking.start_day)).where(
                col(LeaseBooking.id).in_(lease_ids)
            )
        ).all():
            found[("lease_booking", str(lid))] = start
    out: dict[int, date] = {}
    for e in items:
        assert e.id is not None
        o = original(e)
        out[e.id] = (
            found.get((o.ref_type or "", o.ref_id or ""))
            or local_date(o.created_at)
            or now().astimezone(TZ).date()
        )
    return out


def service_date(session: Session, entry: LedgerEntry) -> date:
    """The day of the service one entry pays for (see :func:`service_dates`)."""
    return service_dates(session, [entry])[entry.id or 0]


# ---- balances --------------------------------------------------------------------------
def _utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC)


def _sums(session: Session, column: Any, before: datetime | None, account_id: int | None) -> Any:
    query = select(column, func.sum(LedgerEntry.amount_fen)).group_by(column)
    if before is not None:
        query = query.where(col(LedgerEntry.created_at) < _utc(before))
    if account_id is not None:
        query = query.where(column == account_id)
    return session.exec(query).all()


def balances(session: Session, *, before: datetime | None = None) -> dict[int, int]:
    """account id -> credits minus debits (of entries made before ``before``, if given);
    every account appears, and the values sum to zero."""
    out = {a: 0 for a in session.exec(select(Account.id)).all() if a is not None}
    for account_id, total in _sums(session, col(LedgerEntry.credit_account_id), before, None):
        out[account_id] = out.get(account_id, 0) + int(total or 0)
    for account_id, total in _sums(session, col(LedgerEntry.debit_account_id), before, None):
        out[account_id] = out.get(account_id, 0) - int(total or 0)
    return out


def balance(session: Session, account_id: int, *, before: datetime | None = None) -> int:
    """One account's credits minus debits (of entries made before ``before``, if given)."""
    credit = _sums(session, col(LedgerEntry.credit_account_id), before, account_id)
    debit = _sums(session, col(LedgerEntry.debit_account_id), before, account_id)
    return sum(int(t or 0) for _, t in credit) - sum(int(t or 0) for _, t in debit)


# ---- shared routes ---------------------------------------------------------------------
@dataclass
class Settlement:
    """What settling a plan recorded or found: its share entries (``charges``) and the
    reversals of the share entries of the plans it supersedes; each (entry, created)."""

    plan_id: int
    charges: list[tuple[LedgerEntry, bool]] = dataclass_field(default_factory=list)
    reversals: list[tuple[LedgerEntry, bool]] = dataclass_field(default_factory=list)


def superseded_by(session: Session, plan: Plan) -> Plan | None:
    """The replan that took over ``plan`` (its ``options.replan_of`` is ``plan``)."""
    candidates = session.exec(
        select(Plan)
        .where(Plan.plan_date == plan.plan_date, col(Plan.id) != plan.id)
        .order_by(col(Plan.id).desc())
    ).all()
    for other in candidates:
        if str((other.options or {}).get("replan_of")) == str(plan.id) and other.status in (
            *SETTLEABLE_PLANS,
            "superseded",
        ):
            return other
    return None


def replaced_plans(session: Session, plan: Plan) -> list[Plan]:
    """The plans ``plan`` replaces: its parent (``options.replan_of``), the parent's
    parent and so on, nearest first."""
    out: list[Plan] = []
    seen = {plan.id}
    parent_id = (plan.options or {}).get("replan_of")
    while parent_id is not None:
        try:
            pid = int(parent_id)
        except (TypeError, ValueError):
            break
        parent = session.get(Plan, pid) if pid not in seen else None
        if parent is None:
            break
        out.append(parent)
        seen.add(pid)
        parent_id = (parent.options or {}).get("replan_of")
    return out


def _plan_shares(
    session: Session, plan: Plan, sheets: Iterable[RouteSheet]
) -> list[tuple[RouteSheet, Account, Account, int, str, str]]:
    """(sheet, payer, payee, amount, party, name) of every share to charge."""
    out = []
    for sheet in sheets:
        content = sheet.content or {}
        vehicle = content.get("vehicle") or {}
        owner = str(vehicle.get("owner") or "")
        operator_org = org_for_party(session, owner) if owner else None
        payee = (
            account_for_org(session, operator_org.id)
            if operator_org is not None and operator_org.id is not None
            else platform_account(session)
        )
        for share in content.get("cost_shares") or ():
            party = str(share.get("party") or "")
            value = share.get("shapley_fen")
            if not party or isinstance(value, bool) or not isinstance(value, int | float):
                continue
            if not math.isfinite(value) or round(value) <= 0:
                continue
            payer = account_for_party(session, party)
            if payer.id == payee.id:  # a carrier's share of its own vehicle's route
                continue
            name = str(share.get("name_zh") or party)
            out.append((sheet, payer, payee, round(value), party, name))
    return out


def _withdraw(
    session: Session,
    plan: Plan,
    replaced: list[Plan],
    sheets: list[RouteSheet],
    by_user: int | None,
) -> list[tuple[LedgerEntry, bool]]:
    """Reverse the share entries of the plans ``plan`` replaces (an entry reversed before,
    by anyone, is left alone and listed with its reversal). Kept: the entries of a route
    that was driven to the end (sheet ``completed``) and that ``plan`` does not contain
    (neither its route nor its vehicle): that work was done and is billed once."""
    routes = {s.route_id for s in sheets}
    vehicles = {s.vehicle_id for s in sheets}
    old_sheets = session.exec(
        select(RouteSheet)
        .where(col(RouteSheet.plan_id).in_([p.id for p in replaced]))
        .order_by(col(RouteSheet.id))
    ).all()
    withdrawn = {
        str(s.id): s
        for s in old_sheets
        if s.status != "completed" or s.route_id in routes or s.vehicle_id in vehicles
    }
    if not withdrawn:
        return []
    entries = session.exec(
        select(LedgerEntry)
        .where(
            LedgerEntry.kind == "shared_route",
            LedgerEntry.ref_type == "route_sheet",
            col(LedgerEntry.ref_id).in_(list(withdrawn)),
        )
        .order_by(col(LedgerEntry.id))
    ).all()
    out: list[tuple[LedgerEntry, bool]] = []
    for entry in entries:
        assert entry.id is not None
        done = reversal_of(session, entry.id)
        if done is None:
            old = withdrawn[entry.ref_id or ""]
            try:
                out.append(
                    reverse(
                        session,
                        entry,
                        by_user=by_user,
                        memo=f"plan {old.plan_id} superseded by plan {plan.id} "
                        f"({plan.plan_date.isoformat()}), route {old.route_id}",
                        idempotency_key=f"plan:{plan.id}:supersedes:{entry.id}",
                    )
                )
                continue
            except Conflict:  # reversed meanwhile by another request
                done = reversal_of(session, entry.id)
                if done is None:
                    raise
        out.append((done, False))
    return out


def settle_plan(session: Session, plan_id: int, *, by_user: int | None) -> Settlement:
    """Bill a published or completed plan's shared routes; see :func:`record_plan_shares`.

    A replan bills the day in place of the plans it supersedes: their share entries are
    reversed (:func:`reverse`, so history stays append-only; a settled entry is refunded)
    before the replan's own shares are charged, so a route both carry (the trunk route,
    unchanged) is charged once net. A superseded plan is refused (:class:`Conflict`): the
    current plan is what is billed. Repeating it creates nothing new; a run cut short is
    completed by the next one (every record has its own idempotency key)."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError("plan_id", f"no plan {plan_id}")
    successor = superseded_by(session, plan)
    if plan.status == "superseded" or successor is not None:
        by = f" by plan {successor.id}" if successor is not None else ""
        raise Conflict(
            f"plan {plan_id} was superseded{by}; settle the current plan, which bills "
            "the day in its place"
        )
    if plan.status not in SETTLEABLE_PLANS:
        raise Conflict(
            f"only a published or completed plan is settled; plan {plan_id} is {plan.status}"
        )
    sheets = list(
        session.exec(
            select(RouteSheet).where(RouteSheet.plan_id == plan_id).order_by(col(RouteSheet.id))
        ).all()
    )
    shares = _plan_shares(session, plan, sheets)  # resolved (and checked) before any record
    result = Settlement(plan_id=plan_id)
    replaced = replaced_plans(session, plan)
    if replaced:
        result.reversals = _withdraw(session, plan, replaced, sheets, by_user)
    for sheet, payer, payee, amount, party, name in shares:
        result.charges.append(
            record(
                session,
                debit=payer,
                credit=payee,
                amount_fen=amount,
                kind="shared_route",
                ref_type="route_sheet",
                ref_id=str(sheet.id),
                memo=f"{name} 共享线路分摊 share of route {sheet.route_id} "
                f"({plan.plan_date.isoformat()}, plan {plan_id})",
                idempotency_key=f"plan:{plan_id}:route:{sheet.route_id}:party:{party}",
                created_by=by_user,
            )
        )
    return result


def plan_share_entries(
    session: Session, plan_id: int, *, by_user: int | None
) -> list[tuple[LedgerEntry, bool]]:
    """(entry, created) of the charges of :func:`settle_plan`."""
    return settle_plan(session, plan_id, by_user=by_user).charges


def record_plan_shares(session: Session, plan_id: int, *, by_user: int | None) -> list[LedgerEntry]:
    """One entry per (route sheet, party) with a Shapley share > 0 of a published or
    completed plan: the party's account pays the route's operator (the vehicle owner's
    organisation, else the platform); a carrier's share of its own route is skipped.
    Keys derive from plan, route and party, so running it again creates nothing new.
    A replan first reverses the entries of the plans it supersedes (:func:`settle_plan`).
    Returns the plan's share entries (new and earlier ones)."""
    return [entry for entry, _ in plan_share_entries(session, plan_id, by_user=by_user)]


# ---- statements ------------------------------------------------------------------------
def month_bounds(year: int, month: int) -> tuple[datetime, datetime]:
    """The first moment of the Asia/Shanghai calendar month and of the next one."""
    if not 2000 <= year <= 2100:
        raise InputError("year", "must be between 2000 and 2100")
    if not 1 <= month <= 12:
        raise InputError("month", "must be between 1 and 12")
    start = datetime(year, month, 1, tzinfo=TZ)
    end = datetime(year + month // 12, month % 12 + 1, 1, tzinfo=TZ)
    return start, end


def statement(session: Session, account_id: int, year: int, month: int) -> list[dict[str, Any]]:
    """An account's entries whose *service date* (:func:`service_dates`) falls in an
    Asia/Shanghai calendar month, by service date then recording time, between an
    ``opening_balance`` row and a ``closing_balance`` row. Each row shows its
    ``service_date`` and when it was recorded (``recorded_at``, +08:00): September's
    routes booked in December are on September's statement. ``debit_fen`` is what the
    account paid, ``credit_fen`` what it received, ``balance_fen`` the running balance;
    the opening balance sums the entries of earlier service dates, so opening + credits -
    debits == closing == the next month's opening. The counterparty is its account's
    code (``counterparty``) and readable name (``counterparty_name``)."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFoundError("account_id", f"no account {account_id}")
    start, end = month_bounds(year, month)
    first, after = start.date(), end.date()
    entries = session.exec(
        select(LedgerEntry)
        .where(
            or_(
                col(LedgerEntry.debit_account_id) == account_id,
                col(LedgerEntry.credit_account_id) == account_id,
            )
        )
        .order_by(col(LedgerEntry.id))
    ).all()
    days = service_dates(session, entries)

    def signed(e: LedgerEntry) -> int:
        return -e.amount_fen if e.debit_account_id == account_id else e.amount_fen

    running = sum(signed(e) for e in entries if days[e.id or 0] < first)
    month_entries = sorted(
        (e for e in entries if first <= days[e.id or 0] < after),
        key=lambda e: (days[e.id or 0], aware(e.created_at) or start, e.id or 0),
    )
    states = current_states(session, [e.id for e in month_entries if e.id is not None])
    other_ids = {
        e.credit_account_id if e.debit_account_id == account_id else e.debit_account_id
        for e in month_entries
    }
    others = {
        a.id: a
        for a in session.exec(select(Account).where(col(Account.id).in_(other_ids))).all()
        if a.id is not None
    }
    labels = account_labels(session, others.values())

    def blank(kind: str, day: date, amount: int) -> dict[str, Any]:
        return {
            "service_date": day.isoformat(),
            "recorded_at": "",
            "entry_id": None,
            "kind": kind,
            "counterparty": "",
            "counterparty_name": "",
            "debit_fen": 0,
            "credit_fen": 0,
            "balance_fen": amount,
            "state": "",
            "reverses_id": None,
            "memo": "",
            "ref_type": None,
            "ref_id": None,
        }

    rows = [blank("opening_balance", first, running)]
    for e in month_entries:
        paid = e.debit_account_id == account_id
        other_id = e.credit_account_id if paid else e.debit_account_id
        other = others.get(other_id)
        running += signed(e)
        at = aware(e.created_at)
        rows.append(
            {
                "service_date": days[e.id or 0].isoformat(),
                "recorded_at": at.astimezone(TZ).isoformat() if at is not None else "",
                "entry_id": e.id,
                "kind": e.kind,
                "counterparty": other.name if other else str(other_id),
                "counterparty_name": labels.get(other_id, str(other_id)),
                "debit_fen": e.amount_fen if paid else 0,
                "credit_fen": 0 if paid else e.amount_fen,
                "balance_fen": running,
                "state": states.get(e.id or 0, "pending"),
                "reverses_id": e.reverses_id,
                "memo": e.memo,
                "ref_type": e.ref_type,
                "ref_id": e.ref_id,
            }
        )
    last = date.fromordinal(after.toordinal() - 1)
    rows.append(blank("closing_balance", last, running))
    return rows


def yuan(fen: int) -> str:
    """Fen as yuan with two decimals, exactly (no floating point)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def _cell(text: str) -> str:
    """A text cell a spreadsheet will not run as a formula."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


CSV_COLUMNS = (
    "service_date",
    "recorded_at",
    "entry_id",
    "kind",
    "counterparty",
    "counterparty_name",
    "debit_fen",
    "credit_fen",
    "amount_yuan",
    "balance_fen",
    "balance_yuan",
    "state",
    "reverses_id",
    "memo",
)


def statement_csv(session: Session, account_id: int, year: int, month: int) -> str:
    """:func:`statement` as CSV text (UTF-8, a header row, CRLF line ends): amounts in fen,
    and in yuan with two decimals (``amount_yuan``: received positive, paid negative)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for row in statement(session, account_id, year, month):
        writer.writerow(
            [
                row["service_date"],
                row["recorded_at"],
                "" if row["entry_id"] is None else row["entry_id"],
                row["kind"],
                _cell(row["counterparty"]),
                _cell(row["counterparty_name"]),
                row["debit_fen"],
                row["credit_fen"],
                yuan(row["credit_fen"] - row["debit_fen"]),
                row["balance_fen"],
                yuan(row["balance_fen"]),
                row["state"],
                "" if row["reverses_id"] is None else row["reverses_id"],
                _cell(row["memo"]),
            ]
        )
    return buffer.getvalue()


def statement_totals(rows: list[dict[str, Any]]) -> dict[str, int]:
    """What a statement adds up to: opening, paid (debits), received (credits), closing."""
    body = [r for r in rows if r["entry_id"] is not None]
    return {
        "opening_fen": int(rows[0]["balance_fen"]) if rows else 0,
        "debit_fen": sum(int(r["debit_fen"]) for r in body),
        "credit_fen": sum(int(r["credit_fen"]) for r in body),
        "closing_fen": int(rows[-1]["balance_fen"]) if rows else 0,
        "entries": len(body),
    }


def statement_xlsx(
    session: Session, account_id: int, year: int, month: int, *, title: str = ""
) -> bytes:
    """:func:`statement` as an XLSX workbook: the CSV's columns (amounts as numbers: fen as
    integers, yuan with two decimals) and a totals row (paid, received, closing)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    rows = statement(session, account_id, year, month)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = f"{year}-{month:02d}"
    if title:
        sheet.append([title])
        sheet.cell(row=1, column=1).font = Font(bold=True)
    sheet.append(list(CSV_COLUMNS))
    header_row = sheet.max_row
    for cell in sheet[header_row]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append(
            [
                row["service_date"],
                row["recorded_at"],
                row["entry_id"],
                row["kind"],
                _cell(row["counterparty"]),
                _cell(row["counterparty_name"]),
                row["debit_fen"],
                row["credit_fen"],
                (row["credit_fen"] - row["debit_fen"]) / 100,
                row["balance_fen"],
                row["balance_fen"] / 100,
                row["state"],
                row["reverses_id"],
                _cell(row["memo"]),
            ]
        )
    totals = statement_totals(rows)
    sheet.append(
        ["total", "", totals["entries"], "", "", "", totals["debit_fen"], totals["credit_fen"],
         (totals["credit_fen"] - totals["debit_fen"]) / 100, totals["closing_fen"],
         totals["closing_fen"] / 100, "", "", ""]
    )  # fmt: skip
    for cell in sheet[sheet.max_row]:
        cell.font = Font(bold=True)
    for column in ("I", "K"):
        for cell in sheet[column][header_row:]:
            cell.number_format = "0.00"
    for column, width in zip(
        "ABCDEFGHIJKLMN", (12, 26, 8, 16, 14, 28, 11, 11, 12, 12, 12, 10, 10, 40), strict=True
    ):
        sheet.column_dimensions[column].width = width
    sheet.freeze_panes = sheet.cell(row=header_row + 1, column=1)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- records from the marketplace --------------------------------------------------------
def reverse_lease_booking(session: Session, booking: Any, by_user: int | None) -> None:
    """A cancelled lease: its record is reversed (never deleted)."""
    entry = session.exec(
        select(LedgerEntry).where(LedgerEntry.idempotency_key == f"lease:{booking.id}")
    ).first()
    if entry is not None:
        reverse(
            session,
            entry,
            by_user=by_user,
            memo=f"lease booking {booking.id} cancelled",
            idempotency_key=f"lease-cancel:{booking.id}",
        )
