"""The settlement ledger: double-entry invariants under generated operation sequences
(api.services.ledger directly, a fresh in-memory database per example), and the HTTP resources:
idempotency keys, state changes, reversals, plan settlement, statements and scope."""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, text
from sqlalchemy.engine import Engine
from sqlalchemy.pool import StaticPool
from sqlmodel import Session, SQLModel, col, create_engine, func, select

from api.errors import Conflict
from api.models import Account, EntryState, LedgerEntry, Organisation, Plan, RouteSheet
from api.services import ledger
from api.services.users import create_user
from routing.errors import InputError

API = "/api/v1"


# ---- generated operation sequences over api.services.ledger -------------------------------------
@pytest.fixture
def fresh() -> Iterator[Callable[[], Session]]:
    """Sessions over a new in-memory database each call (one per hypothesis example)."""
    opened: list[tuple[Session, Engine]] = []

    def make() -> Session:
        engine = create_engine(
            "sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False}
        )

        @event.listens_for(engine, "connect")
        def _fk(dbapi_connection: Any, _record: Any) -> None:
            dbapi_connection.execute("PRAGMA foreign_keys=ON")

        SQLModel.metadata.create_all(engine)
        session = Session(engine)
        opened.append((session, engine))
        return session

    yield make
    for session, engine in opened:
        session.close()
        engine.dispose()


class Clock:
    def __init__(self) -> None:
        # 23:30 on 1 February in Asia/Shanghai, still 31 January in UTC
        self.at = datetime(2026, 1, 31, 15, 30, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.at


def _rows(session: Session) -> tuple[dict[int, tuple[Any, ...]], dict[int, tuple[Any, ...]]]:
    """Every ledger row as stored (raw SQL: no identity map in between)."""
    entries = {r[0]: tuple(r) for r in session.execute(text("SELECT * FROM ledger_entries"))}
    states = {r[0]: tuple(r) for r in session.execute(text("SELECT * FROM entry_states"))}
    return entries, states


RECORD = st.tuples(
    st.just("record"),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(1, 2_000_000),
    st.integers(0, 200),  # hours to advance the clock first
)
REVERSE = st.tuples(st.just("reverse"), st.integers(0, 4), st.booleans())
MOVE = st.tuples(
    st.just("move"),
    st.integers(0, 4),
    st.sampled_from(("confirmed", "settled", "disputed", "next", "next")),
)
NEXT = {"pending": "confirmed", "confirmed": "settled", "disputed": "confirmed"}
RETRY = st.tuples(st.just("retry"), st.integers(0, 4), st.booleans())
OPERATIONS = st.lists(
    st.one_of(RECORD, RECORD, REVERSE, MOVE, MOVE, RETRY), min_size=8, max_size=24
)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=OPERATIONS)
def test_ledger_invariants_hold_for_any_operation_sequence(
    fresh: Callable[[], Session], operations: list[tuple[Any, ...]]
) -> None:
    session = fresh()
    clock = Clock()
    with mock.patch.object(ledger, "now", clock):
        for name in ("大姚县物流中心", "中通快递"):
            session.add(Organisation(name=name, kind="carrier", party_id=name[:2]))
        session.commit()
        orgs = session.exec(select(Organisation).order_by(col(Organisation.id))).all()
        accounts = [
            ledger.platform_account(session),
            ledger.account_for_org(session, orgs[0].id or 0),
            ledger.account_for_party(session, orgs[1].party_id or ""),  # the org's account
            ledger.account_for_party(session, "YUNDA"),  # no organisation: party:YUNDA
        ]
        ids = [a.id or 0 for a in accounts]
        assert len(set(ids)) == 4
        assert accounts[2].name == f"org:{orgs[1].id}" and accounts[3].name == "party:YUNDA"
        assert ledger.account_for_org(session, orgs[0].id or 0).id == ids[1]  # get, not create

        expected = dict.fromkeys(ids, 0)
        entries: list[int] = []
        keys: dict[int, tuple[str, dict[str, Any]]] = {}
        months: set[tuple[int, int]] = set()
        before = _rows(session)

        for op in operations:
            kind = op[0]
            if kind == "record":
                _, d, c, amount, hours = op
                clock.at += timedelta(hours=hours)
                local = clock.at.astimezone(ledger.TZ)
                months.add((local.year, local.month))
                key = f"k{len(keys)}"
                body = {
                    "debit": ids[d],
                    "credit": ids[c],
                    "amount_fen": amount,
                    "kind": "adjustment",
                    "memo": f"op {len(keys)}",
                }
                if d == c:
                    with pytest.raises(InputError) as err:
                        ledger.record(session, idempotency_key=key, **body)
                    assert err.value.field == "credit_account_id"
                    continue
                entry, created = ledger.record(session, idempotency_key=key, **body)
                assert created and entry.id is not None
                entries.append(entry.id)
                keys[entry.id] = (key, body)
                expected[ids[d]] -= amount
                expected[ids[c]] += amount
            elif not entries:
                continue
            elif kind == "reverse":
                _, pick, retry = op
                entry_id = entries[pick % len(entries)]
                original = session.get(LedgerEntry, entry_id)
                assert original is not None
                key = f"r{entry_id}"
                if original.kind == "reversal" or ledger.reversal_of(session, entry_id):
                    with pytest.raises(Conflict):
                        ledger.reverse(
                            session, original, by_user=None, memo="again", idempotency_key=f"x{key}"
                        )
                    continue
                was = ledger.current_state(session, entry_id)
                reversal, created = ledger.reverse(
                    session, original, by_user=None, memo="fix", idempotency_key=key
                )
                assert created and reversal.id is not None
                if retry:  # the same request again: the same reversal, nothing new
                    again, created = ledger.reverse(
                        session, original, by_user=None, memo="fix", idempotency_key=key
                    )
                    assert again.id == reversal.id and not created
                entries.append(reversal.id)
                expected[original.debit_account_id] += original.amount_fen
                expected[original.credit_account_id] -= original.amount_fen
                if was == "settled":
                    assert ledger.current_state(session, entry_id) == "settled"
                    assert ledger.current_state(session, reversal.id) == "pending"
                else:
                    assert ledger.current_state(session, entry_id) == "reversed"
                    assert ledger.current_state(session, reversal.id) == "settled"
            elif kind == "move":
                _, pick, to_state = op
                entry_id = entries[pick % len(entries)]
                moved = session.get(LedgerEntry, entry_id)
                assert moved is not None
                current = ledger.current_state(session, entry_id)
                if to_state == "next":  # along the happy path, so that entries get settled
                    to_state = NEXT.get(current, "settled")  # settled or reversed: final
                if to_state == current or to_state in ledger.TRANSITIONS[current]:
                    ledger.transition(session, moved, to_state, by_user=None)
                    assert ledger.current_state(session, entry_id) == to_state
                else:
                    with pytest.raises(Conflict):
                        ledger.transition(session, moved, to_state, by_user=None)
                    assert ledger.current_state(session, entry_id) == current
            elif kind == "retry":
                _, pick, same = op
                entry_id = entries[pick % len(entries)]
                if entry_id not in keys:
                    continue
                key, body = keys[entry_id]
                if same:
                    entry, created = ledger.record(session, idempotency_key=key, **body)
                    assert entry.id == entry_id and not created
                else:
                    with pytest.raises(Conflict):
                        ledger.record(
                            session,
                            idempotency_key=key,
                            **{**body, "amount_fen": body["amount_fen"] + 1},
                        )

            # after every operation
            balances = ledger.balances(session)
            assert sum(balances.values()) == 0
            assert balances == expected
            after = _rows(session)
            for old, new in zip(before, after, strict=True):  # rows only ever added
                assert all(new.get(row_id) == row for row_id, row in old.items())
            before = after

        stored = session.exec(select(LedgerEntry)).all()
        assert all(e.amount_fen > 0 for e in stored)
        assert len(stored) == len(entries)
        reversed_ids = [e.reverses_id for e in stored if e.reverses_id is not None]
        assert len(reversed_ids) == len(set(reversed_ids))  # each reversed at most once
        by_id = {e.id: e for e in stored}
        for e in stored:
            if e.reverses_id is not None:  # the pair's net effect on every account is zero
                o = by_id[e.reverses_id]
                net = dict.fromkeys(ids, 0)
                for x in (o, e):
                    net[x.debit_account_id] -= x.amount_fen
                    net[x.credit_account_id] += x.amount_fen
                assert set(net.values()) == {0} and o.kind != "reversal"
        for e in stored:  # every history follows the lifecycle
            states = [s.state for s in ledger.history(session, e.id or 0)]
            for a, b in itertools.pairwise(states):
                assert b in ledger.TRANSITIONS[a] or b == "reversed", states

        # statements agree with the ledger at every month's end, by service date (an
        # adjustment's recording day; a reversal's is the day of the entry it reverses)
        days = ledger.service_dates(session, stored)
        for e in stored:
            o = by_id[e.reverses_id] if e.reverses_id is not None else e
            assert days[e.id or 0] == (ledger.local_date(o.created_at) or date.min)

        def through(account_id: int, before: date) -> int:
            return sum(
                (e.amount_fen if e.credit_account_id == account_id else 0)
                - (e.amount_fen if e.debit_account_id == account_id else 0)
                for e in stored
                if days[e.id or 0] < before
            )

        for account_id in ids:
            closing = {}
            for year, month in sorted(months):
                rows = ledger.statement(session, account_id, year, month)
                opening, body_rows, closing = rows[0], rows[1:-1], rows[-1]
                start, end = ledger.month_bounds(year, month)
                assert opening["balance_fen"] == through(account_id, start.date())
                moved = sum(r["credit_fen"] - r["debit_fen"] for r in body_rows)
                assert opening["balance_fen"] + moved == closing["balance_fen"]
                assert closing["balance_fen"] == through(account_id, end.date())
                assert all(r["service_date"][:7] == f"{year}-{month:02d}" for r in body_rows)
                csv_rows = list(
                    csv.DictReader(
                        io.StringIO(ledger.statement_csv(session, account_id, year, month))
                    )
                )
                assert len(csv_rows) == len(rows)
                assert csv_rows[-1]["balance_yuan"] == ledger.yuan(closing["balance_fen"])
            if closing:  # every entry is dated in a month seen: the last closing is the total
                assert closing["balance_fen"] == ledger.balance(session, account_id)
        assert ledger.balance(session, ids[0]) == expected[ids[0]]


def test_yuan_and_month_bounds() -> None:
    assert [ledger.yuan(x) for x in (0, 5, 100, 12345, -5, -12345)] == [
        "0.00", "0.05", "1.00", "123.45", "-0.05", "-123.45",
    ]  # fmt: skip
    start, end = ledger.month_bounds(2026, 12)
    assert start.isoformat() == "2026-12-01T00:00:00+08:00"
    assert end.isoformat() == "2027-01-01T00:00:00+08:00"
    with pytest.raises(InputError):
        ledger.month_bounds(2026, 13)


# ---- over HTTP -------------------------------------------------------------------------
def _org(session: Session, name: str) -> int:
    org = session.exec(select(Organisation).where(Organisation.name == name)).one()
    assert org.id is not None
    return org.id


def _count(session: Session, model: Any = LedgerEntry) -> int:
    session.rollback()  # a fresh read
    return int(session.exec(select(func.count()).select_from(model)).one())


@pytest.fixture
def books(session: Session, accounts: dict[str, int]) -> dict[str, int]:
    """Account ids: the platform, 中通快递 (ZTO), 大姚县物流中心."""
    return {
        "platform": ledger.platform_account(session).id or 0,
        "zto": ledger.account_for_org(session, _org(session, "中通快递")).id or 0,
        "dayao": ledger.account_for_org(session, _org(session, "大姚县物流中心")).id or 0,
    }


def test_idempotency_key_over_http(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session, books: dict
) -> None:
    admin = login("admin")
    body = {
        "debit_account_id": books["zto"],
        "credit_account_id": books["platform"],
        "amount_fen": 12_000,
        "memo": "9月 平台服务费",
    }
    key = {"Idempotency-Key": "fee-2026-09-zto"}
    r = client.post(f"{API}/ledger/entries", json=body, headers={**admin, **key})
    assert r.status_code == 201, r.text
    entry = r.json()
    assert entry["state"] == "pending" and entry["kind"] == "adjustment"
    assert r.headers["Location"] == f"{API}/ledger/entries/{entry['id']}"
    for _ in range(2):  # a retry: the same record, nothing new
        r = client.post(f"{API}/ledger/entries", json=body, headers={**admin, **key})
        assert r.status_code == 200 and r.json()["id"] == entry["id"]
    assert _count(session) == 1
    # the same key with another body
    r = client.post(
        f"{API}/ledger/entries", json={**body, "amount_fen": 13_000}, headers={**admin, **key}
    )
    assert r.status_code == 409
    assert _count(session) == 1
    # the key is required, and the input is checked field by field
    r = client.post(f"{API}/ledger/entries", json=body, headers=admin)
    assert r.status_code == 422
    assert r.json()["detail"][0]["loc"] == ["header", "Idempotency-Key"]
    cases = [
        ({"credit_account_id": books["zto"]}, "credit_account_id"),
        ({"debit_account_id": 999_999}, "debit_account_id"),
        ({"amount_fen": 0}, "amount_fen"),
        ({"amount_fen": 2**31}, "amount_fen"),
    ]
    for i, (change, field) in enumerate(cases):
        r = client.post(
            f"{API}/ledger/entries",
            json={**body, **change},
            headers={**admin, "Idempotency-Key": f"bad-{i}"},
        )
        assert r.status_code == 422, r.text
        assert r.json()["detail"][0]["loc"] == ["body", field]
    # only an admin records adjustments
    for user in ("zto", "dayao"):
        r = client.post(
            f"{API}/ledger/entries", json=body, headers={**login(user), "Idempotency-Key": "x"}
        )
        assert r.status_code == 403
    assert _count(session) == 1
    # the balances moved, and sum to zero
    r = client.get(f"{API}/accounts", headers=admin)
    balances = {a["id"]: a["balance_fen"] for a in r.json()["items"]}
    assert balances[books["zto"]] == -12_000 and balances[books["platform"]] == 12_000
    assert sum(balances.values()) == 0


def test_states_and_reversal_over_http(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session, books: dict
) -> None:
    admin, zto = login("admin"), login("zto")
    entry, _ = ledger.record(
        session, debit=books["zto"], credit=books["dayao"], amount_fen=500, kind="adjustment"
    )
    url = f"{API}/ledger/entries/{entry.id}"
    # the paying organisation may dispute, not confirm
    assert client.post(f"{url}/state", json={"state": "confirmed"}, headers=zto).status_code == 403
    r = client.post(f"{url}/state", json={"state": "disputed", "note": "未送达"}, headers=zto)
    assert r.status_code == 200 and r.json()["state"] == "disputed"
    assert client.post(f"{url}/state", json={"state": "settled"}, headers=admin).status_code == 409
    for state in ("confirmed", "settled", "settled"):  # the repeat changes nothing
        r = client.post(f"{url}/state", json={"state": state}, headers=admin)
        assert r.status_code == 200 and r.json()["state"] == state
    history = [h["state"] for h in client.get(url, headers=zto).json()["history"]]
    assert history == ["pending", "disputed", "confirmed", "settled"]
    assert client.post(f"{url}/state", json={"state": "disputed"}, headers=zto).status_code == 409
    r = client.post(f"{url}/state", json={"state": "bogus"}, headers=admin)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "state"]
    # another organisation does not see it
    assert client.get(url, headers=login("yongren")).status_code == 404
    # a settled entry is refunded by a reversal
    key = {"Idempotency-Key": "refund-1"}
    r = client.post(f"{url}/reverse", json={"memo": "退款"}, headers={**admin, **key})
    assert r.status_code == 201, r.text
    reversal = r.json()
    assert reversal["reverses_id"] == entry.id and reversal["state"] == "pending"
    assert reversal["debit_account_id"] == books["dayao"]
    r = client.post(f"{url}/reverse", json={"memo": "退款"}, headers={**admin, **key})
    assert r.status_code == 200 and r.json()["id"] == reversal["id"]
    r = client.post(
        f"{url}/reverse", json={"memo": "退款"}, headers={**admin, "Idempotency-Key": "2"}
    )
    assert r.status_code == 409
    r = client.post(
        f"{API}/ledger/entries/{reversal['id']}/reverse",
        json={"memo": "x"},
        headers={**admin, "Idempotency-Key": "3"},
    )
    assert r.status_code == 409
    r = client.post(f"{url}/reverse", json={"memo": "x"}, headers={**zto, "Idempotency-Key": "4"})
    assert r.status_code == 403
    assert client.get(url, headers=admin).json()["reversed_by"] == reversal["id"]
    assert _count(session) == 2
    assert ledger.balance(session, books["zto"]) == 0
    # the ledger list: zto sees the two entries touching its account, yongren none
    r = client.get(f"{API}/ledger/entries", headers=zto, params={"state": "pending"})
    assert [e["id"] for e in r.json()["items"]] == [reversal["id"]]
    assert client.get(f"{API}/ledger/entries", headers=zto).json()["total"] == 2
    assert client.get(f"{API}/ledger/entries", headers=login("yongren")).json()["total"] == 0


def test_settling_a_plan_twice_records_the_shares_once(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session, books: dict
) -> None:
    plan = Plan(plan_date=date(2026, 9, 15), counties=["532326"], status="succeeded")
    session.add(plan)
    session.commit()
    assert plan.id is not None

    def sheet(route: str, owner: str, shares: dict[str, int]) -> RouteSheet:
        return RouteSheet(
            plan_id=plan.id or 0,
            route_id=route,
            echelon="county",
            county_code="532326",
            vehicle_id=f"V-{route}",
            content={
                "route_id": route,
                "vehicle": {"id": f"V-{route}", "owner": owner},
                "cost_fen": sum(shares.values()),
                "cost_shares": [
                    {
                        "party": p,
                        "name_zh": p,
                        "standalone_fen": f,
                        "proportional_fen": f,
                        "shapley_fen": f,
                    }
                    for p, f in shares.items()
                ],
            },
        )

    session.add(sheet("C-01", "ZTO", {"ZTO": 3000, "YUNDA": 2000, "EMS": 0}))
    session.add(sheet("C-02", "PLATFORM", {"ZTO": 1500, "YUNDA": 2500}))
    session.commit()
    url = f"{API}/plans/{plan.id}/settle"
    admin = login("admin")
    assert client.post(url, headers=admin).status_code == 409  # not published yet
    plan.status = "published"
    session.add(plan)
    session.commit()
    assert client.post(url, headers=login("dayao")).status_code == 403
    assert client.post(f"{API}/plans/99999/settle", headers=admin).status_code == 404

    r = client.post(url, headers=admin)
    assert r.status_code == 201, r.text
    first = r.json()
    assert first["created"] == 3 and first["total_fen"] == 2000 + 1500 + 2500
    r = client.post(url, headers=admin)
    assert r.status_code == 200
    assert r.json()["created"] == 0
    assert [e["id"] for e in r.json()["entries"]] == [e["id"] for e in first["entries"]]
    assert _count(session) == 3
    yunda = session.exec(select(Account).where(Account.name == "party:YUNDA")).one()
    pairs = {
        (e["debit_account_id"], e["credit_account_id"], e["amount_fen"]) for e in first["entries"]
    }
    assert pairs == {
        (yunda.id, books["zto"], 2000),  # YUNDA rides on ZTO's truck; ZTO's own share skipped
        (books["zto"], books["platform"], 1500),
        (yunda.id, books["platform"], 2500),
    }
    assert all(
        e["kind"] == "shared_route" and e["ref_type"] == "route_sheet" for e in first["entries"]
    )
    assert ledger.balance(session, books["zto"]) == 2000 - 1500
    assert sum(ledger.balances(session).values()) == 0


def test_statement_scope(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session, books: dict
) -> None:
    ledger.record(
        session,
        debit=books["zto"],
        credit=books["platform"],
        amount_fen=12_345,
        kind="adjustment",
        memo="=HYPERLINK(1)",
    )
    today = datetime.now(ledger.TZ)
    params = {"year": today.year, "month": today.month}
    zto, admin = login("zto"), login("admin")
    r = client.get(f"{API}/accounts/{books['zto']}/statement", params=params, headers=zto)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8"))))
    assert [row["kind"] for row in rows] == ["opening_balance", "adjustment", "closing_balance"]
    assert rows[1]["debit_fen"] == "12345" and rows[1]["amount_yuan"] == "-123.45"
    assert rows[1]["memo"].startswith("'=")  # not a formula in a spreadsheet
    assert rows[-1]["balance_yuan"] == "-123.45"
    # another organisation's statement and account are out of scope
    for other in ("dayao", "platform"):
        r = client.get(f"{API}/accounts/{books[other]}/statement", params=params, headers=zto)
        assert r.status_code == 404
        assert client.get(f"{API}/accounts/{books[other]}", headers=zto).status_code == 404
    r = client.get(f"{API}/accounts/{books['zto']}/statement", headers=login("yongren"))
    assert r.status_code == 404
    r = client.get(f"{API}/accounts/{books['dayao']}/statement", params=params, headers=admin)
    assert r.status_code == 200
    r = client.get(f"{API}/accounts/{books['zto']}/statement?month=13", headers=zto)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["query", "month"]
    # the accounts a carrier sees: its organisation's
    r = client.get(f"{API}/accounts", headers=zto)
    assert [a["id"] for a in r.json()["items"]] == [books["zto"]]
    assert r.json()["items"][0]["balance_fen"] == -12_345
    assert (
        client.get(f"{API}/accounts/{books['zto']}", headers=zto).json()["org_name"] == "中通快递"
    )
    assert client.get(f"{API}/accounts", headers=admin).json()["total"] == 3
    assert _count(session, EntryState) == 1


def test_statement_csv_starts_with_a_byte_order_mark(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session, books: dict
) -> None:
    """Excel (zh-CN) reads a CSV without a BOM as GBK and garbles the Chinese."""
    ledger.record(
        session,
        debit=books["zto"],
        credit=books["dayao"],
        amount_fen=800,
        kind="adjustment",
        memo="9月 运费 中通快递",
    )
    today = datetime.now(ledger.TZ)
    params = {"year": today.year, "month": today.month}
    r = client.get(f"{API}/accounts/{books['zto']}/statement", params=params, headers=login("zto"))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "text/csv; charset=utf-8"
    assert r.content.startswith(b"\xef\xbb\xbf")
    assert not r.content[3:].startswith(b"\xef\xbb\xbf")  # one mark, not two
    rows = list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))
    assert next(iter(rows[0])) == "service_date"  # the first header is clean once the mark is read
    assert [row["kind"] for row in rows] == ["opening_balance", "adjustment", "closing_balance"]
    assert rows[1]["memo"] == "9月 运费 中通快递"
    assert rows[1]["counterparty_name"] == "大姚县物流中心"


def test_a_courier_does_not_read_or_dispute_its_organisations_books(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session, books: dict
) -> None:
    zto_org = _org(session, "中通快递")
    create_user(
        session, username="zto-courier", password="courier password", role="courier", org_id=zto_org
    )
    entry, _ = ledger.record(
        session, debit=books["zto"], credit=books["dayao"], amount_fen=500, kind="adjustment"
    )
    today = datetime.now(ledger.TZ)
    params = {"year": today.year, "month": today.month}
    account = f"{API}/accounts/{books['zto']}"
    url = f"{API}/ledger/entries/{entry.id}"
    # the organisation's carrier user reads its books
    zto = login("zto")
    assert client.get(f"{API}/accounts", headers=zto).json()["total"] == 1
    assert client.get(f"{API}/ledger/entries", headers=zto).json()["total"] == 1
    assert client.get(f"{account}/statement", params=params, headers=zto).status_code == 200
    # its courier does not
    r = client.post(
        f"{API}/auth/token", data={"username": "zto-courier", "password": "courier password"}
    )
    assert r.status_code == 200, r.text
    zto_courier = {"Authorization": f"Bearer {r.json()['access_token']}"}
    for courier in (zto_courier, login("courier1")):
        r = client.get(f"{API}/accounts", headers=courier)
        assert r.status_code == 403, r.text
        assert client.get(account, headers=courier).status_code == 403
        r = client.get(f"{account}/statement", params=params, headers=courier)
        assert r.status_code == 403
        assert client.get(f"{API}/ledger/entries", headers=courier).status_code == 403
        r = client.get(
            f"{API}/ledger/entries", params={"account_id": books["zto"]}, headers=courier
        )
        assert r.status_code == 403
        assert client.get(url, headers=courier).status_code == 403
        r = client.post(f"{url}/state", json={"state": "disputed", "note": "x"}, headers=courier)
        assert r.status_code == 403
    # the dispute was not recorded
    assert _count(session, EntryState) == 1
    assert client.get(url, headers=zto).json()["state"] == "pending"
