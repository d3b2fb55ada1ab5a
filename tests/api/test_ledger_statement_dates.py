"""Statements by service date, counterparties by name (defect 13, rest).

An entry is dated by the service it pays for: a plan share by the plan's date, a freight
booking by the cargo's pickup date, a lease by its first day, a reversal by the date of
the entry it reverses, anything else by the day it was recorded (Asia/Shanghai). The
monthly statement selects and orders by that date and shows when each entry was
recorded; counterparties show their organisation's (or party's) name beside the code."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from datetime import UTC, date, datetime
from unittest import mock

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, select

from api.models import (
    CapacityPosting,
    CargoPosting,
    FreightBooking,
    LeaseBooking,
    LedgerEntry,
    Listing,
    Organisation,
    Plan,
    RouteSheet,
)
from api.services import ledger
from api.services.users import create_organisation

API = "/api/v1"
BOOKED = datetime(2026, 12, 3, 2, 0, tzinfo=UTC)  # 10:00 on 3 December in Asia/Shanghai
BOOKED_TEXT = "2026-12-03T10:00:00+08:00"


def _org(session: Session, name: str) -> int:
    org = session.exec(select(Organisation).where(Organisation.name == name)).one()
    assert org.id is not None
    return org.id


def _statement(
    client: TestClient, headers: dict[str, str], account_id: int, year: int, month: int
) -> list[dict[str, str]]:
    r = client.get(
        f"{API}/accounts/{account_id}/statement",
        params={"year": year, "month": month},
        headers=headers,
    )
    assert r.status_code == 200, r.text
    return list(csv.DictReader(io.StringIO(r.content.decode("utf-8-sig"))))


@pytest.fixture
def booked_late(session: Session, accounts: dict[str, int]) -> dict[str, int]:
    """September's services, all recorded on 3 December: a plan share, a lease, a
    freight booking picked up just after midnight on 1 October (Asia/Shanghai), a
    reversal; and a December adjustment. Returns entry and account ids."""
    zto_org, dayao_org = _org(session, "中通快递"), _org(session, "大姚县物流中心")
    with mock.patch.object(ledger, "now", lambda: BOOKED):
        zto = ledger.account_for_org(session, zto_org).id or 0
        dayao = ledger.account_for_org(session, dayao_org).id or 0
        plan = Plan(plan_date=date(2026, 9, 15), counties=["532326"], status="published")
        session.add(plan)
        session.commit()
        session.add(
            RouteSheet(
                plan_id=plan.id or 0,
                route_id="C-01",
                echelon="county",
                county_code="532326",
                vehicle_id="V-1",
                content={
                    "route_id": "C-01",
                    "vehicle": {"id": "V-1", "owner": "ZTO"},
                    "cost_shares": [{"party": "YUNDA", "name_zh": "韵达快递", "shapley_fen": 1500}],
                },
            )
        )
        session.commit()
        (share,) = ledger.record_plan_shares(session, plan.id or 0, by_user=None)

        listing = Listing(
            org_id=dayao_org,
            kind="warehouse",
            place_id="HUB-532326",
            name="大姚冷库",
            temperature="chilled",
            unit="m2",
            capacity=100,
            price_per_unit_day_fen=300,
            available_from=date(2026, 9, 1),
            available_to=date(2026, 12, 31),
        )
        session.add(listing)
        session.flush()
        lease = LeaseBooking(
            listing_id=listing.id or 0,
            org_id=zto_org,
            start_day=date(2026, 9, 20),
            end_day=date(2026, 9, 22),
            quantity=10,
            price_fen=9000,
        )
        session.add(lease)
        session.flush()
        lease_entry = ledger.add_in_transaction(
            session,
            debit_id=zto,
            credit_id=dayao,
            amount_fen=9000,
            kind="lease",
            ref_type="lease_booking",
            ref_id=str(lease.id),
            memo="lease",
            idempotency_key=f"lease:{lease.id}",
            created_by=None,
        )
        session.commit()

        truck = CapacityPosting(
            org_id=dayao_org, vehicle_type="van", capacity_kg=1000, capacity_m3=8.0, stops=[]
        )
        cargo = CargoPosting(
            org_id=zto_org,
            origin_lon=101.3,
            origin_lat=25.7,
            destination_lon=101.5,
            destination_lat=25.9,
            weight_kg=200,
            volume_m3=1.0,
            pickup_start=datetime(2026, 9, 30, 16, 30, tzinfo=UTC),  # 00:30 on 1 October
            pickup_end=datetime(2026, 9, 30, 20, 0, tzinfo=UTC),
            deliver_by=datetime(2026, 10, 1, 8, 0, tzinfo=UTC),
            offered_price_fen=5000,
        )
        session.add(truck)
        session.add(cargo)
        session.flush()
        booking = FreightBooking(
            cargo_id=cargo.id or 0,
            capacity_id=truck.id or 0,
            pickup_seq=1,
            delivery_seq=2,
            first_leg=0,
            last_leg=0,
            weight_kg=200,
            volume_l=1000,
            price_fen=5000,
        )
        session.add(booking)
        session.flush()
        freight_entry = ledger.add_in_transaction(
            session,
            debit_id=zto,
            credit_id=dayao,
            amount_fen=5000,
            kind="freight_booking",
            ref_type="freight_booking",
            ref_id=str(booking.id),
            memo="freight",
            idempotency_key=f"freight:{booking.id}",
            created_by=None,
        )
        session.commit()

        reversal, _ = ledger.reverse(
            session, share, by_user=None, memo="重复 duplicate", idempotency_key="fix-1"
        )
        adjustment, _ = ledger.record(
            session, debit=zto, credit=dayao, amount_fen=100, kind="adjustment", memo="12月"
        )
    return {
        "zto": zto,
        "dayao": dayao,
        "yunda": share.debit_account_id,
        "share": share.id or 0,
        "lease": lease_entry.id or 0,
        "freight": freight_entry.id or 0,
        "reversal": reversal.id or 0,
        "adjustment": adjustment.id or 0,
    }


def test_statement_is_by_service_date_and_shows_when_recorded(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    session: Session,
    booked_late: dict[str, int],
) -> None:
    ids = booked_late
    zto = login("zto")
    september = _statement(client, zto, ids["zto"], 2026, 9)
    assert [r["kind"] for r in september] == [
        "opening_balance",
        "shared_route",
        "reversal",
        "lease",
        "closing_balance",
    ]
    assert [r["entry_id"] for r in september[1:-1]] == [
        str(ids["share"]),
        str(ids["reversal"]),
        str(ids["lease"]),
    ]
    assert [r["service_date"] for r in september] == [
        "2026-09-01",
        "2026-09-15",
        "2026-09-15",
        "2026-09-20",
        "2026-09-30",
    ]
    assert all(r["recorded_at"] == BOOKED_TEXT for r in september[1:-1])
    assert september[0]["balance_fen"] == "0"
    assert september[-1]["balance_fen"] == str(1500 - 1500 - 9000)

    october = _statement(client, zto, ids["zto"], 2026, 10)
    assert [r["kind"] for r in october] == ["opening_balance", "freight_booking", "closing_balance"]
    assert october[1]["service_date"] == "2026-10-01"  # the pickup day in Asia/Shanghai
    assert october[1]["recorded_at"] == BOOKED_TEXT
    assert october[0]["balance_fen"] == september[-1]["balance_fen"]
    assert october[-1]["balance_fen"] == str(-9000 - 5000)

    december = _statement(client, zto, ids["zto"], 2026, 12)
    assert [r["kind"] for r in december] == ["opening_balance", "adjustment", "closing_balance"]
    assert december[1]["entry_id"] == str(ids["adjustment"])
    assert december[1]["service_date"] == "2026-12-03"
    assert december[-1]["balance_fen"] == str(ledger.balance(session, ids["zto"]))

    # the listing carries the service date and the recording time too
    r = client.get(f"{API}/ledger/entries/{ids['freight']}", headers=zto)
    assert r.status_code == 200, r.text
    assert r.json()["service_date"] == "2026-10-01"
    assert r.json()["created_at"].startswith("2026-12-03")
    r = client.get(f"{API}/ledger/entries", params={"account_id": ids["zto"]}, headers=zto)
    dates = {e["id"]: e["service_date"] for e in r.json()["items"]}
    assert dates == {
        ids["share"]: "2026-09-15",
        ids["reversal"]: "2026-09-15",
        ids["lease"]: "2026-09-20",
        ids["freight"]: "2026-10-01",
        ids["adjustment"]: "2026-12-03",
    }


def test_counterparties_are_shown_by_name_beside_their_code(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    session: Session,
    booked_late: dict[str, int],
) -> None:
    ids = booked_late
    # a party that had an account before its organisation joined: party:YTO
    yto = ledger.account_for_party(session, "YTO")
    assert yto.name == "party:YTO" and yto.org_id is None
    create_organisation(session, name="圆通速递", kind="carrier", party_id="YTO")
    with mock.patch.object(ledger, "now", lambda: BOOKED):
        entry, _ = ledger.record(
            session, debit=yto, credit=ids["zto"], amount_fen=700, kind="adjustment", memo="运费"
        )

    zto = login("zto")
    r = client.get(f"{API}/ledger/entries", params={"account_id": ids["zto"]}, headers=zto)
    assert r.status_code == 200, r.text
    items = {e["id"]: e for e in r.json()["items"]}
    share = items[ids["share"]]
    assert share["debit_account"] == "party:YUNDA"
    assert share["debit_account_name"] == "韵达快递"  # a party with no organisation
    assert share["credit_account_name"] == "中通快递"
    assert items[entry.id or 0]["debit_account"] == "party:YTO"
    assert items[entry.id or 0]["debit_account_name"] == "圆通速递"
    r = client.get(f"{API}/ledger/entries/{entry.id}", headers=zto)
    assert r.json()["debit_account_name"] == "圆通速递"

    december = _statement(client, zto, ids["zto"], 2026, 12)
    rows = {r["entry_id"]: r for r in december}
    assert rows[str(entry.id)]["counterparty"] == "party:YTO"
    assert rows[str(entry.id)]["counterparty_name"] == "圆通速递"
    september = _statement(client, zto, ids["zto"], 2026, 9)
    rows = {r["entry_id"]: r for r in september}
    assert rows[str(ids["share"])]["counterparty"] == "party:YUNDA"
    assert rows[str(ids["share"])]["counterparty_name"] == "韵达快递"
    assert rows[str(ids["lease"])]["counterparty_name"] == "大姚县物流中心"
    assert session.exec(select(LedgerEntry)).all()  # nothing rewritten
