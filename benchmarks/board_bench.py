"""Plan-board benchmark: the whole prefecture's bundled day, served from the database.

    .venv/bin/python benchmarks/board_bench.py [--time-limit 8] [--repeat 20]

Plans the bundled sample day (every county, trunk and county echelons) with the product's
planner, stores it as the planning job does (summary with the unassigned orders, one row
per route sheet, one row per order) in a fresh SQLite database, then times
``GET /api/v1/plans/{id}/board`` through the app (an admin's view: every route; and a
county dispatcher's), the service call alone, and what the browser loads besides: the
page itself (``GET /console/board``) and the base map (``GET /api/v1/basemap``). Prints the
median and the slowest of ``--repeat`` answers and the answer's size. It is not a test.
Target (issue 12): under 1 s of server time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--time-limit", type=float, default=8.0)
    ap.add_argument("--repeat", type=int, default=20)
    args = ap.parse_args()

    from fastapi.testclient import TestClient
    from sqlmodel import Session

    from api.core.config import load_settings
    from api.core.db import engine_for, migrate
    from api.main import create_app
    from api.models import Plan, RouteSheet, now
    from api.services.board import plan_board
    from api.services.convert import order_county, order_row
    from api.services.users import create_organisation, create_user
    from dispatch.io.day import load_day
    from dispatch.plan.day import PlanOptions, plan_day
    from dispatch.report.summary import route_sheets, summary, unassigned_rows
    from routing.network import load_network

    t0 = time.perf_counter()
    network = load_network()
    day, _ = load_day(network, plan_date=date(2026, 9, 15))
    result = plan_day(day, network, PlanOptions(time_limit=args.time_limit))
    doc = summary(result, network)
    doc["unassigned_orders"] = unassigned_rows(result)
    sheets = route_sheets(result, network)
    took = time.perf_counter() - t0
    print(f"planned the bundled day in {took:.1f} s: {doc['orders']} orders, "
          f"{doc['routes']} routes, {doc['unassigned']} unassigned")  # fmt: skip

    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/board.db"
        migrate(url)
        with Session(engine_for(url)) as session:
            office = create_organisation(session, name="楚雄州物流办", kind="prefecture")
            admin = create_user(session, username="admin", password="board bench pass",
                                role="admin", org_id=office.id)  # fmt: skip
            plan = Plan(plan_date=day.date, counties=doc["counties"], status="succeeded",
                        summary=doc, created_at=now(), finished_at=now())  # fmt: skip
            session.add(plan)
            session.flush()
            for s in sheets:
                session.add(
                    RouteSheet(plan_id=plan.id or 0, route_id=s["route_id"], echelon=s["echelon"],
                               county_code=(s.get("county") or {}).get("code"),
                               vehicle_id=s["vehicle"]["id"], content=s, created_at=now())
                )  # fmt: skip
            places = {p.id: p for p in network.places}
            for o in day.orders:
                row = order_row(o, order_county(o, places), day.date, admin.id)
                row.status, row.plan_id = "planned", plan.id
                session.add(row)
            hub = create_organisation(session, name="大姚县物流中心", kind="county_hub",
                                      county_code="532326")  # fmt: skip
            create_user(session, username="dayao", password="board bench pass",
                        role="dispatcher", org_id=hub.id, county_code="532326")  # fmt: skip
            session.commit()
            plan_id = plan.id or 0

            service = []
            for _ in range(args.repeat):
                t = time.perf_counter()
                session.expire_all()
                plan_board(session, plan=session.get(Plan, plan_id), user=admin)  # type: ignore[arg-type]
                service.append(time.perf_counter() - t)

        settings = replace(load_settings(), database_url=url, home=Path(tmp) / "var")
        with TestClient(create_app(settings)) as client:
            http, size, routes = _time_get(client, "admin", f"/api/v1/plans/{plan_id}/board", args)
            county, _, county_routes = _time_get(
                client, "dayao", f"/api/v1/plans/{plan_id}/board", args
            )
            page, _, _ = _time_get(client, "admin", f"/console/board?plan={plan_id}", args)
            basemap, basemap_size, _ = _time_get(client, "admin", "/api/v1/basemap", args)
        engine_for(url).dispose()

    print(f"board: {routes} routes, {size / 1e6:.2f} MB of JSON")
    print(f"service call   median {statistics.median(service) * 1000:7.1f} ms, "
          f"slowest {max(service) * 1000:7.1f} ms")  # fmt: skip
    print(
        f"GET .../board  median {statistics.median(http) * 1000:7.1f} ms, "
        f"slowest {max(http) * 1000:7.1f} ms (in-process client, sign-in check included)"
    )
    print(f"  a dispatcher's (532326, {county_routes} routes): median "
          f"{statistics.median(county) * 1000:.1f} ms, "
          f"slowest {max(county) * 1000:.1f} ms")  # fmt: skip
    print(f"GET /console/board (the page)  median {statistics.median(page) * 1000:.1f} ms")
    print(f"GET /api/v1/basemap ({basemap_size / 1e3:.0f} KB)  median "
          f"{statistics.median(basemap) * 1000:.1f} ms")  # fmt: skip
    return 0


def _time_get(client: Any, username: str, path: str, args: Any) -> tuple[list[float], int, int]:
    """Sign in through the page's form (session cookie), then GET ``path`` ``--repeat`` times:
    (seconds per answer, size of the last answer, routes in it)."""
    client.cookies.clear()
    login = client.get("/login")
    csrf = login.cookies.get("codist_csrf") or client.cookies.get("codist_csrf")
    client.post("/login", data={"username": username, "password": "board bench pass",
                                "csrf": csrf}, follow_redirects=False)  # fmt: skip
    times, size, routes = [], 0, 0
    for _ in range(args.repeat):
        t = time.perf_counter()
        r = client.get(path)
        times.append(time.perf_counter() - t)
        assert r.status_code == 200, r.text
        size = len(r.content)
        if path.endswith("/board"):
            routes = len(r.json()["routes"])
    return times, size, routes


if __name__ == "__main__":
    raise SystemExit(main())
