"""Settling a replan (defect 5): the plan it supersedes is not billed as well.

A replan supersedes its parent for the same date and county when it is published (the
parent becomes ``superseded``; its trunk routes are carried over unchanged). Settling the
replan reverses the parent's share entries (reversing entries: history stays append-only)
and charges its own shares, so every route is charged once net for the day."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import Session, col, func, select

from api.models import Account, LedgerEntry, Organisation, Plan, RouteSheet
from api.services import ledger

API = "/api/v1"
DAY = date(2026, 9, 15)


def _org(session: Session, name: str) -> int:
    org = session.exec(select(Organisation).where(Organisation.name == name)).one()
    assert org.id is not None
    return org.id


def _plan(session: Session, status: str, replan_of: int | None = None) -> Plan:
    plan = Plan(
        plan_date=DAY,
        counties=["532326"],
        status=status,
        options={"replan_of": replan_of, "at": "2026-09-15T11:00:00+08:00"} if replan_of else {},
        summary={"date": DAY.isoformat(), "routes": 2, "replan_of": replan_of},
    )
    session.add(plan)
    session.commit()
    assert plan.id is not None
    return plan


def _sheet(
    session: Session,
    plan: Plan,
    route: str,
    owner: str,
    shares: dict[str, int],
    *,
    echelon: str = "county",
    vehicle: str | None = None,
    status: str = "draft",
) -> RouteSheet:
    vehicle = vehicle or f"V-{route}"
    sheet = RouteSheet(
        plan_id=plan.id or 0,
        route_id=route,
        echelon=echelon,
        county_code=None if echelon == "trunk" else "532326",
        vehicle_id=vehicle,
        status=status,
        content={
            "route_id": route,
            "echelon": echelon,
            "vehicle": {"id": vehicle, "owner": owner},
            "cost_fen": sum(shares.values()),
            "stops": [],
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
    session.add(sheet)
    session.commit()
    return sheet


def _net(session: Session) -> dict[tuple[str, int, int], int]:
    """(route id, payer, payee) -> what the payer pays net for that route (reversals
    subtracted), over every plan of the day."""
    session.rollback()  # a fresh read
    entries = session.exec(select(LedgerEntry).order_by(col(LedgerEntry.id))).all()
    by_id = {e.id: e for e in entries}
    sheets = {str(s.id): s.route_id for s in session.exec(select(RouteSheet)).all()}
    out: dict[tuple[str, int, int], int] = {}
    for e in entries:
        sign, original = 1, e
        if e.reverses_id is not None:
            sign, original = -1, by_id[e.reverses_id]
        assert original.ref_type == "route_sheet" and original.ref_id is not None
        key = (sheets[original.ref_id], original.debit_account_id, original.credit_account_id)
        out[key] = out.get(key, 0) + sign * original.amount_fen
    return {k: v for k, v in out.items() if v}


@pytest.fixture
def parties(session: Session, accounts: dict[str, int]) -> dict[str, int]:
    return {
        "platform": ledger.platform_account(session).id or 0,
        "ZTO": ledger.account_for_org(session, _org(session, "中通快递")).id or 0,
        "YTO": ledger.account_for_party(session, "YTO").id or 0,
        "YUNDA": ledger.account_for_party(session, "YUNDA").id or 0,
    }


def test_settling_a_replan_reverses_the_superseded_plan_and_charges_each_route_once(
    client: TestClient,
    login: Callable[[str], dict[str, str]],
    session: Session,
    parties: dict[str, int],
) -> None:
    admin = login("admin")
    # plan 2: a trunk route on the platform's truck and a county route on ZTO's
    first = _plan(session, "published")
    _sheet(session, first, "T-01", "PLATFORM", {"ZTO": 4000, "YTO": 3000}, echelon="trunk")
    _sheet(session, first, "C-01", "ZTO", {"ZTO": 2000, "YUNDA": 1500})
    r = client.post(f"{API}/plans/{first.id}/settle", headers=admin)
    assert r.status_code == 201, r.text
    assert r.json()["created"] == 3
    trunk_zto = next(
        e
        for e in r.json()["entries"]
        if e["debit_account_id"] == parties["ZTO"] and e["amount_fen"] == 4000
    )
    # some money moved already: the trunk share of ZTO was settled
    for state in ("confirmed", "settled"):
        r = client.post(
            f"{API}/ledger/entries/{trunk_zto['id']}/state", json={"state": state}, headers=admin
        )
        assert r.status_code == 200, r.text

    # the replan: the trunk route carried over unchanged, a new county route
    second = _plan(session, "succeeded", replan_of=first.id)
    _sheet(session, second, "T-01", "PLATFORM", {"ZTO": 4000, "YTO": 3000}, echelon="trunk")
    _sheet(session, second, f"R{second.id}-C-01", "ZTO", {"ZTO": 2500, "YUNDA": 1000})
    r = client.post(f"{API}/plans/{second.id}/publish", json={"assignments": {}}, headers=admin)
    assert r.status_code == 200, r.text
    session.refresh(first)
    assert first.status == "superseded"

    r = client.post(f"{API}/plans/{second.id}/settle", headers=admin)
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["total_fen"] == 4000 + 3000 + 1000
    assert len(body["entries"]) == 3
    assert sorted(e["reverses_id"] for e in body["reversals"]) == sorted(
        e.id
        for e in session.exec(select(LedgerEntry).where(LedgerEntry.reverses_id == None)).all()  # noqa: E711
        if e.memo.endswith(f"plan {first.id})")
    )
    assert body["created"] == 3 + 3
    # every route of the day is charged once, net
    rid = f"R{second.id}-C-01"
    assert _net(session) == {
        ("T-01", parties["ZTO"], parties["platform"]): 4000,
        ("T-01", parties["YTO"], parties["platform"]): 3000,
        (rid, parties["YUNDA"], parties["ZTO"]): 1000,
    }
    balances = ledger.balances(session)
    assert balances[parties["platform"]] == 7000
    assert balances[parties["ZTO"]] == -4000 + 1000
    assert balances[parties["YTO"]] == -3000
    assert balances[parties["YUNDA"]] == -1000
    assert sum(balances.values()) == 0
    # the settled trunk entry is refunded (its reversal is pending), the others voided
    states = {e["reverses_id"]: e["state"] for e in body["reversals"]}
    assert states[trunk_zto["id"]] == "pending"
    assert sorted(states.values()) == ["pending", "settled", "settled"]
    count = session.exec(select(func.count()).select_from(LedgerEntry)).one()

    # settling the replan again changes nothing
    r = client.post(f"{API}/plans/{second.id}/settle", headers=admin)
    assert r.status_code == 200, r.text
    assert r.json()["created"] == 0
    assert [e["id"] for e in r.json()["entries"]] == [e["id"] for e in body["entries"]]
    assert [e["id"] for e in r.json()["reversals"]] == [e["id"] for e in body["reversals"]]
    session.rollback()
    assert session.exec(select(func.count()).select_from(LedgerEntry)).one() == count

    # the superseded plan is not billed again: the current plan is
    r = client.post(f"{API}/plans/{first.id}/settle", headers=admin)
    assert r.status_code == 409
    assert f"plan {second.id}" in r.json()["detail"]
    session.rollback()
    assert session.exec(select(func.count()).select_from(LedgerEntry)).one() == count


def test_a_replan_of_a_replan_reverses_the_plan_billed_before(
    session: Session, parties: dict[str, int]
) -> None:
    """Plan 1 settled, its replan 2 never settled, 2's replan 3 settled: plan 1's entries
    are reversed; a completed route that the replans no longer contain stays billed."""
    first = _plan(session, "published")
    _sheet(session, first, "T-01", "PLATFORM", {"ZTO": 4000}, echelon="trunk")
    _sheet(session, first, "C-01", "ZTO", {"YUNDA": 1500})
    _sheet(session, first, "C-02", "ZTO", {"YTO": 900}, vehicle="V-done")
    done = ledger.record_plan_shares(session, first.id or 0, by_user=None)
    assert len(done) == 3
    # C-02 was driven to the end before the replans: it stays completed (not superseded)
    sheets = session.exec(select(RouteSheet).where(RouteSheet.plan_id == first.id)).all()
    for s in sheets:
        s.status = "completed" if s.route_id == "C-02" else "superseded"
        session.add(s)
    first.status = "superseded"
    session.add(first)
    session.commit()
    second = _plan(session, "superseded", replan_of=first.id)
    _sheet(session, second, "T-01", "PLATFORM", {"ZTO": 4000}, echelon="trunk")
    third = _plan(session, "published", replan_of=second.id)
    _sheet(session, third, "T-01", "PLATFORM", {"ZTO": 4000}, echelon="trunk")
    _sheet(session, third, f"R{third.id}-C-01", "ZTO", {"YUNDA": 1200})

    charged = ledger.record_plan_shares(session, third.id or 0, by_user=None)
    assert sorted(e.amount_fen for e in charged) == [1200, 4000]
    assert _net(session) == {
        ("T-01", parties["ZTO"], parties["platform"]): 4000,
        ("C-02", parties["YTO"], parties["ZTO"]): 900,
        (f"R{third.id}-C-01", parties["YUNDA"], parties["ZTO"]): 1200,
    }
    with pytest.raises(ledger.Conflict):
        ledger.record_plan_shares(session, second.id or 0, by_user=None)
    again = ledger.record_plan_shares(session, third.id or 0, by_user=None)
    assert [e.id for e in again] == [e.id for e in charged]
    assert sum(ledger.balances(session).values()) == 0
    yto: Any = session.get(Account, parties["YTO"])
    assert ledger.balance(session, yto.id) == -900


def test_a_plan_with_a_published_replan_is_not_settled_even_if_completed(
    session: Session, parties: dict[str, int]
) -> None:
    """Publishing marks only a *published* parent superseded; a parent that was completed
    meanwhile is replaced all the same, and billing it next to its replan would charge
    the trunk route twice."""
    first = _plan(session, "completed")
    _sheet(session, first, "T-01", "PLATFORM", {"ZTO": 4000}, echelon="trunk")
    second = _plan(session, "published", replan_of=first.id)
    _sheet(session, second, "T-01", "PLATFORM", {"ZTO": 4000}, echelon="trunk")
    with pytest.raises(ledger.Conflict, match=f"superseded by plan {second.id}"):
        ledger.record_plan_shares(session, first.id or 0, by_user=None)
    assert [
        e.amount_fen for e in ledger.record_plan_shares(session, second.id or 0, by_user=None)
    ] == [4000]
    assert _net(session) == {("T-01", parties["ZTO"], parties["platform"]): 4000}
