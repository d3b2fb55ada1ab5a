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
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from api.errors import Conflict
from api.models import (
    Account,
    EntryState,
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


def account_label(session: Session, account: Account) -> str:
    """A readable name: the organisation's name, else the account name."""
    if account.org_id is not None:
        org = session.get(Organisation, account.org_id)
        if org is not None:
            return org.name
    return account.name


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
def plan_share_entries(
    session: Session, plan_id: int, *, by_user: int | None
) -> list[tuple[LedgerEntry, bool]]:
    """(entry, created) of :func:`record_plan_shares`."""
    plan = session.get(Plan, plan_id)
    if plan is None:
        raise NotFoundError("plan_id", f"no plan {plan_id}")
    if plan.status not in SETTLEABLE_PLANS:
        raise Conflict(
            f"only a published or completed plan is settled; plan {plan_id} is {plan.status}"
        )
    sheets = session.exec(
        select(RouteSheet).where(RouteSheet.plan_id == plan_id).order_by(col(RouteSheet.id))
    ).all()
    out: list[tuple[LedgerEntry, bool]] = []
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
            amount = round(value)
            payer = account_for_party(session, party)
            if payer.id == payee.id:  # a carrier's share of its own vehicle's route
                continue
            name = share.get("name_zh") or party
            out.append(
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
    return out


def record_plan_shares(session: Session, plan_id: int, *, by_user: int | None) -> list[LedgerEntry]:
    """One entry per (route sheet, party) with a Shapley share > 0 of a published or
    completed plan: the party's account pays the route's operator (the vehicle owner's
    organisation, else the platform); a carrier's share of its own route is skipped.
    Keys derive from plan, route and party, so running it again creates nothing new.
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
    """An account's entries of an Asia/Shanghai calendar month, oldest first, between an
    ``opening_balance`` row and a ``closing_balance`` row. ``debit_fen`` is what the account
    paid, ``credit_fen`` what it received, ``balance_fen`` the running balance; so
    opening + credits - debits == closing == :func:`balance` at the month's end."""
    account = session.get(Account, account_id)
    if account is None:
        raise NotFoundError("account_id", f"no account {account_id}")
    start, end = month_bounds(year, month)
    running = balance(session, account_id, before=start)
    entries = session.exec(
        select(LedgerEntry)
        .where(
            or_(
                col(LedgerEntry.debit_account_id) == account_id,
                col(LedgerEntry.credit_account_id) == account_id,
            ),
            col(LedgerEntry.created_at) >= _utc(start),
            col(LedgerEntry.created_at) < _utc(end),
        )
        .order_by(col(LedgerEntry.created_at), col(LedgerEntry.id))
    ).all()
    states = current_states(session, [e.id for e in entries if e.id is not None])
    others: dict[int, Account | None] = {}
    labels: dict[int, str] = {}

    def blank(kind: str, at: datetime, amount: int) -> dict[str, Any]:
        return {
            "date": at.date().isoformat(),
            "at": at.isoformat(),
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
        }

    rows = [blank("opening_balance", start, running)]
    for e in entries:
        paid = e.debit_account_id == account_id
        other_id = e.credit_account_id if paid else e.debit_account_id
        if other_id not in others:
            others[other_id] = other = session.get(Account, other_id)
            labels[other_id] = account_label(session, other) if other else str(other_id)
        other = others[other_id]
        running += -e.amount_fen if paid else e.amount_fen
        at = (aware(e.created_at) or start).astimezone(TZ)
        rows.append(
            {
                "date": at.date().isoformat(),
                "at": at.isoformat(),
                "entry_id": e.id,
                "kind": e.kind,
                "counterparty": other.name if other else str(other_id),
                "counterparty_name": labels[other_id],
                "debit_fen": e.amount_fen if paid else 0,
                "credit_fen": 0 if paid else e.amount_fen,
                "balance_fen": running,
                "state": states.get(e.id or 0, "pending"),
                "reverses_id": e.reverses_id,
                "memo": e.memo,
            }
        )
    last = end - timedelta(seconds=1)
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
    "date",
    "at",
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
                row["date"],
                row["at"],
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
