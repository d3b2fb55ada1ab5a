"""Benchmark readers and runner, on tiny hand-written instances (tests/data/bench)."""

from __future__ import annotations

import math
import shutil
from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from routing.bench import (
    BenchInstance,
    default_cvrp_fleet,
    hierarchical_fixed_cost,
    read_bks,
    read_instance,
    run_bench,
)
from routing.errors import InputError
from routing.model import MAX_TIME, Problem, Step, TimeWindow
from routing.solution import RoutePlan, Solution, Unassigned

DATA = Path(__file__).parents[1] / "data" / "bench"
VRPTW = DATA / "tiny5.vrptw"
SOLOMON_TXT = DATA / "tiny5.txt"
LILIM = DATA / "tiny3pairs.txt"
CVRP = DATA / "tiny6.vrp"

# floor(10 * euclid) between depot (0,0) and (3,4) (1,1) (2,3) (10,0) (5,5)
FLOOR10 = np.array(
    [
        [0, 50, 14, 36, 100, 70],
        [50, 0, 36, 14, 80, 22],
        [14, 36, 0, 22, 90, 56],
        [36, 14, 22, 0, 85, 36],
        [100, 80, 90, 85, 0, 70],
        [70, 22, 56, 36, 70, 0],
    ]
)
# nint(euclid) between depot (0,0) and (3,4) (1,1) (2,3) (10,0) (5,5) (6,8)
NINT = np.array(
    [
        [0, 5, 1, 4, 10, 7, 10],
        [5, 0, 4, 1, 8, 2, 5],
        [1, 4, 0, 2, 9, 6, 9],
        [4, 1, 2, 0, 9, 4, 6],
        [10, 8, 9, 9, 0, 7, 9],
        [7, 2, 6, 4, 7, 0, 3],
        [10, 5, 9, 6, 9, 3, 0],
    ]
)


def job(problem: Problem, job_id: int) -> int:
    return next(t.index for t in problem.tasks if t.kind == "job" and t.id == job_id)


def route(vehicle: int, kinds_refs: Sequence[tuple[str, int]]) -> RoutePlan:
    return RoutePlan(vehicle, tuple(Step(kind, ref) for kind, ref in kinds_refs))


# ---- Solomon ------------------------------------------------------------------------------
def test_vrptw_floor_scale10_matrix_windows_and_fleet() -> None:
    inst = read_instance(VRPTW)
    p = inst.problem
    assert (inst.name, inst.kind, inst.scale, inst.objective) == (
        "tiny5",
        "vrptw",
        10,
        "distance",
    )
    np.testing.assert_array_equal(p.distances["car"], FLOOR10)
    np.testing.assert_array_equal(p.durations["car"], FLOOR10)  # travel time = distance
    np.testing.assert_array_equal(inst.coords[:3], [[0, 0], [3, 4], [1, 1]])
    assert [t.id for t in p.tasks] == [2, 3, 4, 5, 6]  # the file's node ids
    assert [t.location for t in p.tasks] == [1, 2, 3, 4, 5]
    assert [t.delivery for t in p.tasks] == [(10,), (5,), (7,), (12,), (8,)]
    assert all(t.kind == "job" and t.pickup == (0,) for t in p.tasks)
    assert [t.service_s for t in p.tasks] == [20] * 5  # SERVICE_TIME 2 x 10
    assert p.tasks[1].time_windows == (TimeWindow(50, 300),)  # [5, 30] x 10
    assert len(p.vehicles) == 3
    for v in p.vehicles:
        assert (v.start, v.end, v.capacity) == (0, 0, (30,))
        assert v.time_window == TimeWindow(0, 1000)
        assert (v.fixed_cost, v.per_hour, v.per_km) == (0, 0, 1000)
    # a route's model cost is its distance in matrix units
    assert p.route_cost(p.vehicles[0], 123, 456) == 456
    assert len(read_instance(VRPTW, vehicles=7).problem.vehicles) == 7


def test_solomon_txt_same_convention_as_vrptw() -> None:
    inst = read_instance(SOLOMON_TXT)
    ref = read_instance(VRPTW).problem
    p = inst.problem
    assert (inst.name, inst.kind, inst.scale) == ("tiny5", "vrptw", 10)
    np.testing.assert_array_equal(p.distances["car"], FLOOR10)
    np.testing.assert_array_equal(p.durations["car"], FLOOR10)
    assert [t.id for t in p.tasks] == [1, 2, 3, 4, 5]  # CUST NO.
    for a, b in zip(p.tasks, ref.tasks, strict=True):
        assert (a.location, a.delivery, a.service_s, a.time_windows) == (
            b.location,
            b.delivery,
            b.service_s,
            b.time_windows,
        )
    assert len(p.vehicles) == 3
    assert p.vehicles[0].time_window == TimeWindow(0, 1000)
    assert p.vehicles[0].capacity == (30,)


def test_vrptw_cost_truncates_each_leg_to_one_decimal() -> None:
    inst = read_instance(VRPTW)
    p = inst.problem
    routes = [
        route(0, [("job", job(p, 2)), ("job", job(p, 3))]),  # 5.0 + 3.6 + 1.4
        route(1, [("job", job(p, 6))]),  # 7.0 + 7.0
        route(2, []),  # unused vehicle
    ]
    assert inst.cost(routes) == pytest.approx(24.0)
    # real Euclid would be 5 + sqrt(13) + sqrt(2) + 2 sqrt(50) > 24.1
    assert inst.cost(routes) < 5 + math.sqrt(13) + math.sqrt(2) + 2 * math.sqrt(50) - 0.1


# ---- Li & Lim -----------------------------------------------------------------------------
def test_lilim_shipments_and_scale100_matrices() -> None:
    inst = read_instance(LILIM)
    p = inst.problem
    assert (inst.kind, inst.scale, inst.objective) == ("pdptw", 100, "vehicles_then_distance")
    pairs = [(p.tasks[s.pickup].id, p.tasks[s.delivery].id, s.amount) for s in p.shipments]
    assert pairs == [(1, 4, (10,)), (3, 6, (6,)), (5, 2, (7,))]
    assert [p.tasks[s.pickup].kind for s in p.shipments] == ["pickup"] * 3
    assert [p.tasks[s.delivery].kind for s in p.shipments] == ["delivery"] * 3
    # locations follow the file's rows: 0 depot, task k at location k
    assert all(t.location == t.id for t in p.tasks)
    dur, dist = p.durations["car"], p.distances["car"]
    # 100 * sqrt(2) = 141.42: duration rounded up, distance to nearest
    assert (dur[0, 1], dist[0, 1]) == (142, 141)
    assert (dur[0, 5], dist[0, 5]) == (708, 707)  # 707.107
    assert (dur[1, 4], dist[1, 4]) == (906, 906)  # 100 * sqrt(82) = 905.54
    assert (dur[0, 2], dist[0, 2]) == (500, 500)  # exact, no rounding up
    assert (dur[2, 5], dist[2, 5]) == (224, 224)  # 100 * sqrt(5) = 223.61
    assert (dur >= dist).all()
    assert (dur - dist <= 1).all()
    pickup1 = next(t for t in p.tasks if t.kind == "pickup" and t.id == 1)
    assert pickup1.time_windows == (TimeWindow(0, 10000),)
    assert pickup1.service_s == 500
    v = p.vehicles[0]
    assert len(p.vehicles) == 3
    assert (v.capacity, v.time_window, v.per_km, v.per_hour) == (
        (50,),
        TimeWindow(0, 20000),
        1000,
        0,
    )
    row_max = dist.max(axis=1)
    assert v.fixed_cost == hierarchical_fixed_cost(dist, 3)
    assert v.fixed_cost > row_max.sum() + 3 * row_max[0]  # above any solution's distance


def test_lilim_cost_is_real_euclid() -> None:
    inst = read_instance(LILIM)
    p = inst.problem
    s0 = p.shipments[0]
    routes = [route(0, [("pickup", s0.pickup), ("delivery", s0.delivery)])]
    # depot (0,0) -> (1,1) -> (10,0) -> depot
    assert inst.cost(routes) == pytest.approx(math.sqrt(2) + math.sqrt(82) + 10, abs=1e-12)


# ---- X / VRPLIB ---------------------------------------------------------------------------
def test_cvrp_nint_matrix_and_default_fleet() -> None:
    inst = read_instance(CVRP)
    p = inst.problem
    assert (inst.name, inst.kind, inst.scale, inst.objective) == ("tiny6", "cvrp", 1, "distance")
    np.testing.assert_array_equal(p.distances["car"], NINT)
    np.testing.assert_array_equal(p.durations["car"], NINT)
    assert [t.delivery for t in p.tasks] == [(4,), (3,), (5,), (2,), (6,), (1,)]
    assert [t.id for t in p.tasks] == [2, 3, 4, 5, 6, 7]
    assert all(t.time_windows == (TimeWindow(0, MAX_TIME),) for t in p.tasks)
    # total demand 21, capacity 10: k = 3, + max(3, ceil(0.3)) = 6
    assert len(p.vehicles) == 6 == default_cvrp_fleet(21, 10)
    assert p.vehicles[0].time_window == TimeWindow(0, MAX_TIME)
    assert p.vehicles[0].capacity == (10,)
    assert default_cvrp_fleet(2000, 100) == 20 + 3
    assert default_cvrp_fleet(5001, 100) == 51 + 6
    assert len(read_instance(CVRP, vehicles=2).problem.vehicles) == 2


def test_cvrp_cost_rounds_each_leg() -> None:
    inst = read_instance(CVRP)
    p = inst.problem
    routes = [
        route(0, [("job", job(p, 3)), ("job", job(p, 4))]),  # 1 + nint(2.24) + nint(3.61)
        route(1, [("job", job(p, 7))]),  # 10 + 10
    ]
    assert inst.cost(routes) == 27.0


# ---- format detection and malformed files -------------------------------------------------
@pytest.mark.parametrize(
    ("source", "kind"), [(VRPTW, "vrptw"), (SOLOMON_TXT, "vrptw"), (LILIM, "pdptw"), (CVRP, "cvrp")]
)
def test_format_detected_from_content(tmp_path: Path, source: Path, kind: str) -> None:
    renamed = tmp_path / "renamed.dat"
    shutil.copy(source, renamed)
    inst = read_instance(renamed)
    assert (inst.kind, inst.name) == (kind, "renamed")


def write(tmp_path: Path, source: Path, old: str, new: str) -> Path:
    data = source.read_bytes()
    assert old.encode() in data
    out = tmp_path / source.name
    out.write_bytes(data.replace(old.encode(), new.encode(), 1))
    return out


@pytest.mark.parametrize(
    ("source", "old", "new", "message"),
    [
        (VRPTW, "4 2 3\n", "4 2 x\n", "line 14"),
        (VRPTW, "DIMENSION : 6", "DIMENSION : 7", "DIMENSION is 7"),
        (VRPTW, "3 5 30\n", "3 50 30\n", "line 27"),
        (VRPTW, "DEPOT_SECTION\n1\n-1\n", "", "missing DEPOT_SECTION"),
        (VRPTW, "TYPE : CVRPTW", "TYPE : TSP", "line 3"),
        (VRPTW, "EDGE_WEIGHT_TYPE : FLOOR_2D", "EDGE_WEIGHT_TYPE : EUC_2D", "line 9"),
        (VRPTW, "6 8\nTIME", "9 8\nTIME", "line 23"),
        (SOLOMON_TXT, "80          2\n", "80\n", "line 14"),
        (SOLOMON_TXT, "   3          30", "   3", "line 5"),
        (CVRP, "5\t2\t\r", "5\t-2\t\r", "line 20"),
    ],
)
def test_malformed_files_name_the_line(
    tmp_path: Path, source: Path, old: str, new: str, message: str
) -> None:
    bad = write(tmp_path, source, old, new)
    with pytest.raises(InputError) as err:
        read_instance(bad)
    assert err.value.field == "file"
    assert message in err.value.reason
    assert bad.name in err.value.reason


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("4\t10\t0\t-10\t20\t150\t5\t1\t0", "4\t10\t0\t-10\t20\t150\t5\t3\t0", "line 6"),
        ("4\t10\t0\t-10\t", "4\t10\t0\t-9\t", "line 6"),
        ("2\t3\t4\t-7\t10\t120\t5\t5\t0", "2\t3\t4\t-7\t10\t120\t5\t0\t0", "line 4"),
        ("3\t50\t1", "3\t50", "line 1"),
        ("0\t0\t0\t0\t0\t200", "0\t0\t0\t0\t300\t200", "line 2"),
    ],
)
def test_malformed_lilim(tmp_path: Path, old: str, new: str, message: str) -> None:
    bad = write(tmp_path, LILIM, old, new)
    with pytest.raises(InputError, match=message):
        read_instance(bad)


def test_unrecognised_and_empty_files(tmp_path: Path) -> None:
    junk = tmp_path / "junk.txt"
    junk.write_text("hello world\nthis is not a routing instance\n")
    with pytest.raises(InputError, match="unrecognised format"):
        read_instance(junk)
    empty = tmp_path / "empty.vrp"
    empty.write_text("\n\n")
    with pytest.raises(InputError, match="empty"):
        read_instance(empty)
    with pytest.raises(InputError, match="cannot read"):
        read_instance(tmp_path / "missing.vrp")
    with pytest.raises(InputError) as err:
        read_instance(VRPTW, vehicles=0)
    assert err.value.field == "vehicles"


# ---- best-known values ---------------------------------------------------------------------
def test_read_bks_column_variants(tmp_path: Path) -> None:
    plain = tmp_path / "plain.csv"
    plain.write_text("instance,vehicles,cost\nX-n101-k25,26,27591\nfoo,,12.5\n")
    assert read_bks(plain) == {"X-n101-k25": (26, 27591.0), "foo": (None, 12.5)}
    solomon = tmp_path / "solomon.csv"
    solomon.write_text(
        "instance,bks_vehicles,bks_distance,source\nC101,10,827.3,LKH3 tour\n"
        'C102,10,827.3,"a, quoted source"\n'
    )
    assert read_bks(solomon) == {"C101": (10, 827.3), "C102": (10, 827.3)}
    lilim = tmp_path / "lilim.csv"
    lilim.write_text(
        "benchmark,clients,instance,when,routes,distance,who\n"
        "LiLim,100,lc103,2003-06-27,9,1035.3499,BVH\n"
    )
    assert read_bks(lilim) == {"lc103": (9, 1035.3499)}
    no_vehicles = tmp_path / "nv.csv"
    no_vehicles.write_text("# comment\ninstance,cost\na,1\n")
    assert read_bks(no_vehicles) == {"a": (None, 1.0)}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("instance,vehicles,cost\na,1,xx\n", "line 2"),
        ("instance,vehicles\na,1\n", "line 1"),
        ("instance,vehicles,cost\na,1,5\nb,2\n", "line 3"),
        ("", "empty"),
    ],
)
def test_read_bks_malformed(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bks.csv"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        read_bks(path)
    assert err.value.field == "bks"
    assert message in err.value.reason


# ---- the runner ----------------------------------------------------------------------------
def one_route_per_request(problem: Problem, time_limit: float, seed: int) -> Solution:
    """A trivial solver: one vehicle per job or shipment, in order, while vehicles last."""
    requests: list[list[Step]] = []
    for t in problem.tasks:
        if t.kind == "job":
            requests.append([Step("job", t.index)])
        elif t.kind == "pickup":
            s = problem.shipments[t.shipment]
            requests.append([Step("pickup", s.pickup), Step("delivery", s.delivery)])
    n = len(problem.vehicles)
    routes = tuple(RoutePlan(k, tuple(steps)) for k, steps in enumerate(requests[:n]))
    left = tuple(
        Unassigned(s.ref, "no_vehicle", "no vehicle left") for r in requests[n:] for s in r
    )
    return Solution(routes, left, {"time_limit": time_limit, "seed": seed})


def test_run_bench_scores_in_each_convention() -> None:
    bks = {"TINY6": (3, 50.0), "tiny3pairs": (2, 40.0)}
    rows = {
        r["instance"]: r
        for r in run_bench([CVRP, LILIM, VRPTW], 1.0, 7, bks, one_route_per_request)
    }
    x = rows["tiny6"]
    # every customer alone: 2 * (5 + 1 + 4 + 10 + 7 + 10)
    assert (x["cost"], x["vehicles"], x["feasible"]) == (74.0, 6, True)
    assert (x["bks"], x["bks_vehicles"], x["gap_pct"]) == (50.0, 3, 48.0)
    assert x["seconds"] >= 0
    ll = rows["tiny3pairs"]
    expected = (
        (math.sqrt(2) + math.sqrt(82) + 10)
        + (math.sqrt(13) + math.sqrt(13) + 4)
        + (math.sqrt(50) + math.sqrt(5) + 5)
    )
    assert ll["cost"] == round(expected, 4)
    assert (ll["vehicles"], ll["feasible"]) == (3, True)
    assert ll["gap_pct"] == round(100 * (ll["cost"] - 40.0) / 40.0, 2)
    sol = rows["tiny5"]
    assert (sol["vehicles"], sol["feasible"]) == (3, False)  # 3 vehicles, 5 jobs
    assert sol["cost"] == 20.0  # 2 * (5.0 + 1.4 + 3.6)
    assert "bks" not in sol and "gap_pct" not in sol


def test_run_bench_uses_the_checker() -> None:
    seen: list[Any] = []

    def check(problem: Problem, routes: Sequence[RoutePlan], unassigned: Sequence[int]) -> Any:
        seen.append((problem, len(routes), list(unassigned)))
        return SimpleNamespace(feasible=False)

    (row,) = run_bench([CVRP], 1.0, 0, None, one_route_per_request, check)
    assert row["feasible"] is False
    assert set(row) == {"instance", "cost", "vehicles", "feasible", "seconds"}
    assert seen[0][1:] == (6, [])
    assert isinstance(seen[0][0], Problem)

    (row,) = run_bench(
        [CVRP], 1.0, 0, {}, one_route_per_request, lambda *a: SimpleNamespace(feasible=True)
    )
    assert row["feasible"] is True


def test_bench_instance_is_frozen() -> None:
    inst = read_instance(CVRP)
    assert isinstance(inst, BenchInstance)
    with pytest.raises(AttributeError):
        inst.name = "other"  # type: ignore[misc]


def test_unsupported_section_is_named(tmp_path: Path) -> None:
    bad = write(tmp_path, CVRP, "DEPOT_SECTION", "EDGE_WEIGHT_SECTION\t\t\r\n1 2\r\nDEPOT_SECTION")
    with pytest.raises(InputError, match="line 23: unsupported section EDGE_WEIGHT_SECTION"):
        read_instance(bad)
