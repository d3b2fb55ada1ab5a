"""/closures: times keep their offset on every database (defect 2: SQLite stored
``06:00+08:00`` as ``06:00`` and answered ``06:00Z``, 8 h off) and the list shows the plans a
closure flagged (defect 12: the list answered ``flagged_plans: []``)."""

from __future__ import annotations

from collections.abc import Callable

from fastapi.testclient import TestClient
from sqlmodel import Session

from api.models import Plan, now

BODY = {
    "from_place": "HUB-532326",
    "to_place": "532326104",
    "starts_at": "2026-09-20T06:00:00+08:00",
    "ends_at": "2026-09-20T18:00:00+08:00",
    "reason": "塌方",
}


def test_closure_times_round_trip_in_asia_shanghai(
    client: TestClient, login: Callable[[str], dict[str, str]]
) -> None:
    r = client.post("/api/v1/closures", json=BODY, headers=login("dayao"))
    assert r.status_code == 201, r.text
    assert r.json()["starts_at"] == "2026-09-20T06:00:00+08:00"
    assert r.json()["ends_at"] == "2026-09-20T18:00:00+08:00"
    listed = client.get("/api/v1/closures", headers=login("dayao")).json()["items"]
    assert [c["starts_at"] for c in listed] == ["2026-09-20T06:00:00+08:00"]
    # the same instant given in UTC is the same closure time
    utc_body = BODY | {"starts_at": "2026-09-20T00:00:00Z", "ends_at": "2026-09-20T10:00:00Z"}
    r = client.post("/api/v1/closures", json=utc_body, headers=login("dayao"))
    assert r.json()["starts_at"] == "2026-09-20T08:00:00+08:00"
    on_day = client.get(
        "/api/v1/closures", params={"active_on": "2026-09-20"}, headers=login("dayao")
    ).json()
    assert on_day["total"] == 2


def test_closure_list_shows_the_plans_it_flagged(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session
) -> None:
    r = client.post("/api/v1/closures", json=BODY, headers=login("dayao"))
    closure_id = r.json()["id"]
    plan = Plan(
        plan_date=now().date(),
        status="succeeded",
        flags=[{"closure_id": closure_id, "routes": ["C-532326-01"]}],
    )
    session.add(plan)
    session.commit()
    listed = client.get("/api/v1/closures", headers=login("dayao")).json()["items"]
    assert listed[0]["flagged_plans"] == [plan.id]


def test_unknown_query_parameter_is_refused(
    client: TestClient, login: Callable[[str], dict[str, str]]
) -> None:
    """Defect 12: ``?actve_on=`` (misspelt) listed every closure as if unfiltered."""
    r = client.get("/api/v1/closures", params={"actve_on": "2026-09-20"}, headers=login("dayao"))
    assert r.status_code == 422, r.text
    assert r.json()["detail"][0]["loc"] == ["query", "actve_on"]
    assert "active_on" in r.json()["detail"][0]["msg"]
    ok = client.get(
        "/api/v1/closures", params={"active_on": "2026-09-20", "limit": 5}, headers=login("dayao")
    )
    assert ok.status_code == 200, ok.text


def test_closures_list_with_road_geometry_and_delete_drops_flags(
    client: TestClient, login: Callable[[str], dict[str, str]], session: Session
) -> None:
    """The console draws each closed road (``?geometry=true``); reopening a road takes its
    flags off the plans it had flagged."""
    closure_id = client.post("/api/v1/closures", json=BODY, headers=login("dayao")).json()["id"]
    plan = Plan(
        plan_date=now().date(),
        status="published",
        flags=[{"closure_id": closure_id, "routes": ["C-532326-01"]}, {"closure_id": 999}],
    )
    session.add(plan)
    session.commit()
    plain = client.get("/api/v1/closures", headers=login("dayao")).json()["items"][0]
    assert "geometry" not in plain
    drawn = client.get("/api/v1/closures?geometry=true", headers=login("dayao")).json()["items"]
    assert drawn[0]["geometry"]["type"] == "LineString"
    assert len(drawn[0]["geometry"]["coordinates"]) >= 2
    assert drawn[0]["starts_at"] == "2026-09-20T06:00:00+08:00"
    assert drawn[0]["flagged_plans"] == [plan.id]
    r = client.delete(f"/api/v1/closures/{closure_id}", headers=login("dayao"))
    assert r.status_code == 204, r.text
    session.refresh(plan)
    assert plan.flags == [{"closure_id": 999}]
