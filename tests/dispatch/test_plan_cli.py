"""`codist plan` on the bundled sample day: the contract summary, outputs, errors."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import pytest

from dispatch.cli import main

SECTION_4 = {
    "date", "orders", "assigned", "unassigned", "routes", "vehicles_used", "distance_km",
    "duration_h", "cost_fen", "separate_cost_fen", "savings_pct", "townships_served",
    "villages_served", "unassigned_reasons", "echelons",
}  # fmt: skip
REASONS = {
    "capacity", "time_window", "skills", "max_travel_time", "max_tasks", "unreachable",
    "no_vehicle", "other",
}  # fmt: skip


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(scope="module")
def full_day(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, Path]:
    out = tmp_path_factory.mktemp("plan")
    code = main(["plan", "--time-limit", "8", "--out", str(out), "--json"])
    assert code == 0
    return json.loads((out / "summary.json").read_text(encoding="utf-8")), out


def test_full_sample_day_summary(full_day: tuple[dict, Path]) -> None:
    doc, _out = full_day
    assert doc.keys() >= SECTION_4
    assert doc["date"] == "2026-09-15"
    assert doc["orders"] == doc["assigned"] + doc["unassigned"] > 3000
    assert set(doc["unassigned_reasons"]) <= REASONS
    assert sum(doc["unassigned_reasons"].values()) == doc["unassigned"]
    # every located township with orders is served
    assert doc["townships_with_orders"] == 47
    assert doc["townships_served"] == 47 and doc["townships_with_orders_not_served"] == []
    assert doc["cost_fen"] < doc["separate_cost_fen"]
    assert doc["savings_pct"] == pytest.approx(
        100 * (1 - doc["cost_fen"] / doc["separate_cost_fen"]), abs=0.01
    )
    assert doc["savings_pct"] > 0
    # defect 15: both sides priced on the same orders, the ones the shared plan serves
    same = doc["comparison"]
    assert same["orders"] == doc["assigned"]
    assert same["separate_cost_fen"] == doc["separate_cost_fen"]
    assert same["served_alone"] + same["only_shared"]["orders"] == doc["assigned"]
    assert doc["separate"]["assigned"] == same["served_alone"] + same["only_separate"]["orders"]
    assert sum(p["separate_cost_fen"] or 0 for p in doc["parties"]) == doc["separate_cost_fen"]
    assert doc["synchronisation"]["violations"] == 0
    assert doc["allocation"]["shares_sum_to_route_cost"] is True
    assert {"trunk", "county", "village"} == set(doc["echelons"])
    assert sum(e["cost_fen"] for e in doc["echelons"].values()) == doc["cost_fen"]
    assert len(doc["echelons"]["county"]["by_county"]) == 6


def test_full_sample_day_route_sheets(full_day: tuple[dict, Path]) -> None:
    doc, out = full_day
    sheets = out / "route-sheets"
    index = json.loads((sheets / "index.json").read_text(encoding="utf-8"))
    assert len(index) == doc["routes"]
    html = (sheets / "all.html").read_text(encoding="utf-8")
    assert html.count('class="sheet"') >= doc["routes"]
    total = 0
    for row in index:
        sheet = json.loads((sheets / row["files"]["json"]).read_text(encoding="utf-8"))
        total += sheet["cost_fen"]
        assert sum(s["shapley_fen"] for s in sheet["cost_shares"]) == sheet["cost_fen"]
        assert sum(s["proportional_fen"] for s in sheet["cost_shares"]) == sheet["cost_fen"]
        assert sheet["stops"] and all(s["place"]["name_zh"] for s in sheet["stops"])
    assert total == doc["cost_fen"]
    unassigned = json.loads((out / "unassigned.json").read_text(encoding="utf-8"))
    assert len(unassigned) == doc["unassigned"]
    assert all(row["reason"] in REASONS and row["detail"] for row in unassigned)


def test_every_sheet_of_the_day_runs_forward_in_time(full_day: tuple[dict, Path]) -> None:
    """Defect 1: no sheet shows a stop reached before the vehicle leaves, a departure
    before its arrival, a wait before the first stop, or an end before the last stop."""
    _doc, out = full_day
    sheets = out / "route-sheets"
    index = json.loads((sheets / "index.json").read_text(encoding="utf-8"))
    backwards = []
    for row in index:
        sheet = json.loads((sheets / row["files"]["json"]).read_text(encoding="utf-8"))
        rid = sheet["route_id"]
        clock = datetime.fromisoformat(sheet["start"]["time"])
        assert clock.utcoffset() is not None
        first = sheet["stops"][0]
        if first["wait_s"]:
            backwards.append(f"{rid}: waits {first['wait_s']} s at its first stop")
        for stop in sheet["stops"]:
            arrival = datetime.fromisoformat(stop["arrival"])
            departure = datetime.fromisoformat(stop["departure"])
            if arrival < clock or departure < arrival:
                backwards.append(f"{rid} stop {stop['seq']}: {stop['arrival']} after {clock}")
            clock = departure
        if datetime.fromisoformat(sheet["end"]["time"]) < clock:
            backwards.append(f"{rid}: ends {sheet['end']['time']} before its last stop")
    assert backwards == []


def test_one_county(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(
        capsys, "plan", "--county", "532327", "--time-limit", "3", "--out", str(tmp_path),
        "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["counties"] == ["532327"]
    assert list(doc["echelons"]["county"]["by_county"]) == ["532327"]
    assert "county echelons" in err  # progress on stderr


def test_dump_problems_writes_every_stage_as_vroom_json(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    from routing.solver import solve
    from routing.vroom_io import parse_problem

    dump = tmp_path / "problems"
    code, _, err = run(
        capsys, "plan", "--county", "532327", "--time-limit", "3", "--out",
        str(tmp_path / "out"), "--dump-problems", str(dump),
    )  # fmt: skip
    assert code == 0, err
    names = sorted(p.name for p in dump.glob("*.json"))
    assert "shared-county-532327.json" in names and "shared-trunk-down.json" in names
    assert any(n.startswith("alone-") for n in names)
    doc = json.loads((dump / "shared-county-532327.json").read_text(encoding="utf-8"))
    meta = doc["meta"]
    assert meta["stage"] == "shared/county/532327" and 0 < meta["time_limit"] <= 3
    assert meta["places"][0] and len(meta["places"]) == len(doc["matrices"]["van"]["durations"])
    problem = parse_problem(doc)  # our own reader takes it back, as VROOM's would
    assert len(problem.shipments) == meta["lots"] and problem.vehicles[0].max_travel_time
    again = solve(problem, meta["time_limit"], meta["seed"])
    assert again.is_feasible()


def write_orders(path: Path, rows: list[str]) -> Path:
    header = (
        "order_id,party,direction,origin,destination,weight_kg,volume_m3,pieces,"
        "temperature,ready_time,due_time,live_animal,tracking_numbers,goods"
    )
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


GOOD = "A1,ZTO,down,HUB-532327,532327102,12.5,0.06,2,ambient,08:00,18:00,false,ZT1;ZT2,包裹"
BAD = "A2,ZTO,down,HUB-532327,532327102,-3,0.06,1,ambient,08:00,18:00,false,ZT3,包裹"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--county", "999999"], "--county: 999999 is not a served county"),
        (["--date", "2026-13-01"], "--date: not a date"),
        (["--date", "2026-01-01"], "no bundled sample orders for 2026-01-01"),
        (["--orders", "/nonexistent/orders.csv"], "orders.csv"),
        (["--time-limit", "0"], "--time-limit must be > 0"),
    ],
)
def test_bad_input_one_line_exit_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], message: str
) -> None:
    code, _out, err = run(capsys, "plan", "--out", str(tmp_path), *argv)
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_bad_order_row_names_line_and_column(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    orders = write_orders(tmp_path / "orders.csv", [GOOD, BAD])
    code, _, err = run(
        capsys, "plan", "--orders", str(orders), "--date", "2026-09-15", "--out",
        str(tmp_path / "out"),
    )  # fmt: skip
    assert code == 2
    assert "line 3, column weight_kg" in err
    assert not (tmp_path / "out" / "summary.json").exists()  # nothing planned or written


def test_skip_bad_plans_the_good_rows(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    orders = write_orders(tmp_path / "orders.csv", [GOOD, BAD])
    code, out, err = run(
        capsys, "plan", "--orders", str(orders), "--date", "2026-09-15", "--skip-bad",
        "--time-limit", "2", "--out", str(tmp_path / "out"), "--json",
    )  # fmt: skip
    assert code == 0, err
    doc = json.loads(out)
    assert doc["orders"] == 1 and doc["assigned"] == 1
    assert "skipped line 3, column weight_kg" in err
