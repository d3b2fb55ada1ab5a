"""VROOM documents: bad input named by field, output shape, road-network locations, plan mode."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from dispatch.cli import main
from routing.errors import InputError
from routing.network import RoadNetwork
from routing.run import answer
from routing.vroom_io import parse_problem

DATA = Path(__file__).parents[1] / "data" / "vroom"


def base() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((DATA / "line_three_jobs.json").read_text(encoding="utf-8"))
    return doc


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (lambda d: d["jobs"][0].update(delivery=[-1]), "jobs[0].delivery[0]", ">= 0"),
        (lambda d: d["jobs"][1].update(time_windows=[[500, 100]]), "jobs[1].time_windows[0]",
         "after its end"),
        (lambda d: d["vehicles"][0].update(profile="bicycle"), "vehicles[0].profile",
         "unknown profile 'bicycle'"),
        (lambda d: d["matrices"]["car"]["durations"].pop(), "matrices.car.durations",
         "square matrix"),
        (lambda d: d["jobs"][2].update(location_index=9), "job 3.location_index",
         "outside the 4x4 matrix"),
        (lambda d: d["jobs"][1].update(id=1), "jobs[1].id", "duplicate job id 1"),
        (lambda d: d["jobs"][0].update(delivery=[1, 2]), "jobs[0].delivery",
         "has 2 dimensions"),
        (lambda d: d.update(vehicles=[]), "vehicles", "at least one vehicle"),
        (lambda d: d["vehicles"][0].update(steps=[{"type": "job", "id": 99}]),
         "vehicles[0].steps[0].id", "no job with id 99"),
        (lambda d: d["jobs"][0].update(service="long"), "jobs[0].service", "integer"),
    ],
)  # fmt: skip
def test_bad_input_names_the_field(change: Any, field: str, reason: str) -> None:
    doc = base()
    change(doc)
    with pytest.raises(InputError) as err:
        parse_problem(doc)
    assert err.value.field == field
    assert reason in err.value.reason


def test_output_has_vroom_shape_and_consistent_totals() -> None:
    doc = base()
    doc["jobs"].append({"id": 4, "location_index": 2, "delivery": [50]})
    result = answer(doc, time_limit=1)
    assert result["code"] == 0
    summary = result["summary"]
    assert summary["unassigned"] == 1
    assert result["unassigned"][0] == {
        "id": 4,
        "type": "job",
        "location_index": 2,
        "reason": "capacity",
        "detail": "it needs 50, more than the largest able vehicle carries (10)",
    }
    routes = result["routes"]
    assert summary["cost"] == sum(r["cost"] for r in routes)
    assert summary["distance"] == sum(r["distance"] for r in routes)
    for r in routes:
        assert r["steps"][0]["type"] == "start"
        assert r["steps"][-1]["type"] == "end"
        for step in r["steps"]:
            assert {"type", "arrival", "duration", "distance", "load"} <= step.keys()


def test_plan_mode_reports_without_optimising() -> None:
    doc = base()
    doc["vehicles"][0]["steps"] = [
        {"type": "job", "id": 3},
        {"type": "job", "id": 1},
        {"type": "job", "id": 2, "service_before": 100},
    ]
    result = answer(doc, plan=True)
    steps = result["routes"][0]["steps"]
    assert [s.get("id") for s in steps[1:-1]] == [3, 1, 2]
    assert steps[1]["arrival"] == 300  # 0 -> 3 is three blocks forward
    assert steps[3]["violations"] == [{"cause": "delay"}]
    assert result["summary"]["violations"] == []


def test_locations_on_the_road_network(network: RoadNetwork) -> None:
    hub, town, village = (network.place(i) for i in ("HUB-532326", "532326102", "532326101003"))
    doc = {
        "vehicles": [
            {"id": 1, "profile": "van", "start": [hub.lon, hub.lat], "end": [hub.lon, hub.lat],
             "capacity": [100]}
        ],
        "jobs": [
            {"id": 1, "location": [town.lon, town.lat], "delivery": [5]},
            {"id": 2, "location": [village.lon, village.lat], "pickup": [3]},
        ],
    }  # fmt: skip
    result = answer(doc, time_limit=1, network=network)
    route = result["routes"][0]
    assert route["geometry"]["type"] == "LineString"
    assert route["steps"][1]["location"] in ([town.lon, town.lat], [village.lon, village.lat])
    assert route["distance"] > 60_000  # Dayao seat -> 石羊镇 is 35 km by road, and back

    outside = copy.deepcopy(doc)
    outside["jobs"][1]["location"] = [116.4, 39.9]
    with pytest.raises(InputError) as err:
        answer(outside, network=network)
    assert err.value.field == "jobs[1].location"


def test_cli_solve_writes_error_document_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = base()
    doc["jobs"][0]["delivery"] = [-5]
    path = tmp_path / "p.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    assert main(["solve", str(path), "--json"]) == 2
    out, err = capsys.readouterr()
    assert json.loads(out) == {"code": 2, "error": "jobs[0].delivery[0]: must be >= 0, got -5"}
    assert err.count("\n") == 1 and "jobs[0].delivery[0]" in err
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    assert main(["solve", str(tmp_path / "bad.json")]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def test_cli_solve_to_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out_file = tmp_path / "out" / "solution.json"
    code = main(["solve", str(DATA / "line_three_jobs.json"), "--time-limit", "0.5", "-o",
                 str(out_file)])  # fmt: skip
    assert code == 0
    assert json.loads(out_file.read_text(encoding="utf-8"))["summary"]["cost"] == 300
    assert "1 routes, 0 unassigned, cost 300" in capsys.readouterr().out
