"""Simulated days and runs: reproducible figures, resume after a kill, RQ fan-out on a
real ``codist worker``, scenario errors that name the key."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from routing.errors import InputError
from simulations.demand import Calendar, day_demand
from simulations.run import run_scenario, sample_days
from simulations.scenario import load_scenario, scenario_from_dict

ROOT = Path(__file__).resolve().parents[2]

# 永仁 alone (the smallest county), a light search: a day takes about a second
SMALL = """
title_zh = "测试：永仁"
title_en = "Test: Yongren"
seed = 7
from = 2026-09-14
to = 2026-09-16

[build]
counties = ["532327"]
village_coverage = 0.5

[carriers]
joined = 6
sparse_threshold = 30.0
sparse_days = [0, 2, 4]

[effort]
iterations_per_lot = 8
time_limit = 60.0
"""


def _scenario(tmp_path: Path, text: str = SMALL, name: str = "small") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _figures(folder: Path) -> dict[str, Any]:
    """Every day record without the time it took."""
    out = {}
    for path in sorted((folder / "days").glob("*.json")):
        doc = json.loads(path.read_text(encoding="utf-8"))
        doc["solve"].pop("seconds")
        out[path.name] = doc
    return out


def test_same_seed_gives_the_same_figures(tmp_path: Path) -> None:
    scenario = load_scenario(str(_scenario(tmp_path)))
    a = run_scenario(scenario, tmp_path / "a", end=date(2026, 9, 15), workers=1)
    b = run_scenario(scenario, tmp_path / "b", end=date(2026, 9, 15), workers=2)
    assert a["days_done"] == b["days_done"] == 2
    first, second = _figures(tmp_path / "a" / "small"), _figures(tmp_path / "b" / "small")
    assert first == second
    day = first["2026-09-15.json"]
    assert day["orders"] > 0
    for name in ("alone", "county_pool", "shared"):
        assert day["baselines"][name]["cost_fen"] > 0
    assert day["solve"]["capped_stages"] == 0  # bounded by iterations, not the clock
    assert day["villages"]["synthetic"] > 0  # synthetic points, counted apart
    # 6 of 8 carriers joined: the two smallest (SF, JD) stay alone, on no shared route
    parties = day["parties"]
    assert parties["SF"]["allocated_fen"] == parties["JD"]["allocated_fen"] == 0
    assert parties["ZTO"]["allocated_fen"] > 0 and parties["SF"]["alone_fen"] > 0


def test_a_killed_run_resumes_without_redoing_days(tmp_path: Path) -> None:
    scenario = load_scenario(str(_scenario(tmp_path)))
    seen: list[int] = []

    def kill_after_one(done: int, total: int, label: str) -> None:
        seen.append(done)
        if done == 1:
            raise KeyboardInterrupt  # as Ctrl-C or a killed coordinator

    with pytest.raises(KeyboardInterrupt):
        run_scenario(scenario, tmp_path, workers=1, progress=kill_after_one)
    days = sorted((tmp_path / "small" / "days").glob("*.json"))
    assert [p.name for p in days] == ["2026-09-14.json"]
    kept = days[0].stat().st_mtime_ns
    info = run_scenario(scenario, tmp_path, workers=1)
    assert info["resumed_days"] == 1 and info["computed"] == 2
    assert info["days_done"] == 3
    assert days[0].stat().st_mtime_ns == kept  # not written again
    # a changed scenario (another seed) does not reuse the old days
    other = load_scenario(str(_scenario(tmp_path, SMALL.replace("seed = 7", "seed = 8"))))
    assert other.digest() != scenario.digest()


def test_a_scenario_round_trips_through_a_job() -> None:
    scenario = load_scenario("phase2")
    assert scenario_from_dict(scenario.as_dict()) == scenario


@pytest.mark.parametrize(
    ("text", "key"),
    [
        ('title_zh = "x"\n[build]\nhubs = ["999999"]\n', "build.hubs"),
        ('title_zh = "x"\n[carriers]\njoined = "some"\n', "carriers.joined"),
        ('title_zh = "x"\n[build]\nvillage_coverage = 2\n', "build.village_coverage"),
        ('title_zh = "x"\ncolour = 1\n', "colour"),
        ('title_en = "no Chinese title"\n', "title_zh"),
        ('title_zh = "x"\n[[closures]]\nfrom_place = "A"\nmonths = [13]\n', "closures[0]"),
    ],
)
def test_bad_scenarios_name_the_key(tmp_path: Path, text: str, key: str) -> None:
    path = _scenario(tmp_path, text, "bad")
    with pytest.raises(InputError) as e:
        scenario = load_scenario(str(path))
        from simulations.day import world_for

        world_for(scenario)
    assert key in str(e.value)


def test_cli_refuses_bad_input_with_exit_2(tmp_path: Path) -> None:
    env = {**os.environ, "CODIST_HOME": str(tmp_path)}
    env.pop("REDIS_URL", None)
    codist = [sys.executable, "-m", "api.cli"]
    cases = [
        ["simulate", "no-such-scenario", "--out", str(tmp_path)],
        ["simulate", "phase2", "--from", "2026-13-01", "--out", str(tmp_path)],
        [
            "simulate",
            "phase2",
            "--from",
            "2026-05-02",
            "--to",
            "2026-05-01",
            "--out",
            str(tmp_path),
        ],
    ]
    for args in cases:
        done = subprocess.run(codist + args, capture_output=True, text=True, env=env, cwd=ROOT)
        assert done.returncode == 2, (args, done.stderr)
        assert "Traceback" not in done.stderr
        assert "error" in done.stderr


def test_demand_calendar_peaks_and_festival() -> None:
    cal = Calendar(growth=0.0)
    ordinary = day_demand(date(2026, 10, 14), cal).parcels  # a Wednesday
    assert day_demand(date(2026, 11, 13), cal).factors["peak"] == pytest.approx(1.77)
    assert day_demand(date(2026, 11, 20), cal).factors["peak"] == 1.0
    assert day_demand(date(2026, 2, 18), cal).factors["festival"] == 0.45  # 春节 2026-02-17
    assert day_demand(date(2026, 10, 18), cal).parcels < ordinary  # a Sunday
    grown = day_demand(date(2028, 10, 11), Calendar(growth=0.10)).factors["growth"]
    assert grown == pytest.approx(1.1 ** (2 + 284 / 365), rel=1e-3)


def test_sample_days_spread_over_the_range() -> None:
    days = sample_days(date(2026, 1, 1), date(2026, 12, 31), 6)
    assert len(days) == 6 and len({d.month for d in days}) == 6
    assert sample_days(date(2026, 1, 1), date(2026, 1, 2), 6) == [
        date(2026, 1, 1),
        date(2026, 1, 2),
    ]


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("CODIST_TEST_REDIS_URL", "redis://127.0.0.1:6379/13")
    try:
        from redis import Redis

        Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception as e:  # any failure means no Redis here
        if os.environ.get("CI") == "true":
            pytest.fail(f"Redis at {url} is needed under CI=true: {e}")
        pytest.skip(f"no Redis at {url}: {e}")
    return url


def test_days_fan_out_to_a_real_codist_worker(tmp_path: Path, redis_url: str) -> None:
    from redis import Redis

    Redis.from_url(redis_url).flushdb()
    scenario = load_scenario(str(_scenario(tmp_path)))
    env = {**os.environ, "REDIS_URL": redis_url, "CODIST_HOME": str(tmp_path / "home")}
    codist = shutil.which("codist", path=str(Path(sys.executable).parent)) or "codist"
    worker = subprocess.Popen(
        [codist, "worker"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    try:
        started = time.monotonic()
        info = run_scenario(scenario, tmp_path / "rq", redis_url=redis_url)
        assert time.monotonic() - started < 300
    finally:
        worker.terminate()
        _, err = worker.communicate(timeout=30)
    assert info["fan_out"] == "rq" and info["days_done"] == 3, err.decode()[-2000:]
    # the worker's records are the local ones: the same figures either way
    local = run_scenario(scenario, tmp_path / "local", workers=1)
    assert local["days_done"] == 3
    assert _figures(tmp_path / "rq" / "small") == _figures(tmp_path / "local" / "small")


def test_every_bundled_scenario_loads() -> None:
    from simulations.scenario import SCENARIOS

    names = sorted(p.stem for p in SCENARIOS.glob("*.toml"))
    assert {"phase1", "phase2", "villages-0", "villages-100", "rainy-closures"} <= set(names)
    for name in names:
        scenario = load_scenario(name)
        assert scenario.title_zh and scenario.title_en
    assert load_scenario("carriers-3").joined == 3
    assert load_scenario("phase1").townships == "largest:38"


def test_the_report_reads_the_days_of_the_last_run_only(tmp_path: Path) -> None:
    from simulations.report import load_scenario as read_folder

    scenario = load_scenario(str(_scenario(tmp_path)))
    run_scenario(scenario, tmp_path, end=date(2026, 9, 15), workers=1)
    info = run_scenario(scenario, tmp_path, end=date(2026, 9, 14), workers=1)
    assert info["computed"] == 0 and info["resumed_days"] == 1
    _, records, _ = read_folder(tmp_path / "small")
    assert [r["date"] for r in records] == ["2026-09-14"]
