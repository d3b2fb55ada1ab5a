"""The simulation report (simulations.report): figures from synthetic day records with
known numbers, the files it writes (HTML, PNG, CSV with BOM, XLSX) and that two runs give
the same files."""

from __future__ import annotations

import csv
import io
import json
import os
import re
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from markupsafe import escape
from openpyxl import load_workbook

from simulations import report
from simulations.report import (
    BASELINES,
    COLOURS,
    PUBLISHED,
    STEPS,
    ReportInputError,
    Totals,
    aggregate,
    band_range,
    saving,
    savings_band,
    write_report,
)

START = date(2026, 8, 10)  # 40 days: 22 in August, 18 in September
DAYS = 40
COUNTIES = {
    "532329": ("武定县", "Wuding"),
    "532326": ("大姚县", "Dayao"),
}
PARTIES = {
    "ZTO": ("中通快递", 600),
    "YTO": ("圆通速递", 300),
    "EMS": ("中国邮政", 100),
}
# per baseline: cost at i=0, cost growth a day, fixed part, orders not served
SHAPE = {
    "alone": (500_000, 1_000, 200_000, 100),
    "county_pool": (420_000, 800, 150_000, 50),
    "shared": (350_000, 700, 120_000, 20),
}


def make_day(i: int, scenario: str = "base") -> dict[str, Any]:
    """Day ``i`` of a synthetic scenario: every figure a simple function of ``i``."""
    day = START + timedelta(days=i)
    orders = 1_000 + 10 * i
    baselines = {}
    for b, (cost, growth, fixed, unserved) in SHAPE.items():
        served = orders - unserved
        baselines[b] = {
            "cost_fen": cost + growth * i,
            "fixed_fen": fixed,
            "orders_served": served,
            "parcels_served": 5 * served,
            "km": 2_000.0 - 300.0 * BASELINES.index(b) + i,
            "vehicle_hours": 100.0,
            "vehicles": 60 - 10 * BASELINES.index(b),
            "co2_kg": 400.0 - 50.0 * BASELINES.index(b),
            "on_time_orders": served - 30,
            "deferred_orders": unserved,
        }
    season = day.month == 9
    return {
        "scenario": scenario,
        "date": day.isoformat(),
        "seed": 1,
        "demand": {"scale": 1.0, "factors": {"weekday": 1.0}},
        "orders": orders,
        "parcels": 5 * orders,
        "baselines": baselines,
        "by_county": {
            code: {
                "name_zh": zh,
                "name_en": en,
                "orders": orders // 2,
                "parcels": 5 * orders // 2,
                "alone_fen": 200_000 + k,
                "county_pool_fen": 150_000,
                "shared_fen": 120_000,
                "alone_km": 800.0,
                "shared_km": 500.0,
            }
            for k, (code, (zh, en)) in enumerate(COUNTIES.items())
        },
        "cold_chain": {
            "mushroom_orders": 40 if season else 0,
            "mushroom_in_24h": 38 if season else 0,
        },
        "villages": {
            "villages": 579,
            "located": 200 + 3 * i,
            "synthetic": 198 + 3 * i,
            "pct": round(100 * (200 + 3 * i) / 579, 1),
            "target_pct": 50.0,
            "served": 150,
        },
        "parties": {
            code: {"name_zh": zh, "allocated_fen": 10 * vol, "alone_fen": 15 * vol + (i % 3)}
            for code, (zh, vol) in PARTIES.items()
        },
        "solve": {"seconds": 6.2, "capped_stages": 0, "stages": 80},
    }


def sensitivity() -> dict[str, Any]:
    def totals(alone: int, pool: int, shared: int) -> dict[str, Any]:
        return {
            "alone": {"cost_fen": alone, "orders_served": 1_000},
            "county_pool": {"cost_fen": pool, "orders_served": 1_000},
            "shared": {"cost_fen": shared, "orders_served": 1_000},
        }

    return {
        "sample_days": ["2026-08-12", "2026-09-02"],
        "central": {"totals": totals(1_000_000, 800_000, 700_000)},
        "variants": [
            {
                "parameter": "demand_scale",
                "label_zh": "需求量",
                "label_en": "demand",
                "value": 1.4,
                "totals": totals(1_000_000, 800_000, 600_000),
            },
            {
                "parameter": "demand_scale",
                "label_zh": "需求量",
                "label_en": "demand",
                "value": 0.6,
                "totals": totals(1_000_000, 850_000, 800_000),
            },
            {
                "parameter": "frequency_alone",
                "label_zh": "各自配送频次",
                "label_en": "frequency alone",
                "value": 7,
                "totals": totals(1_000_000, 800_000, 760_000),
            },
        ],
    }


def write_scenario(
    out: Path, name: str, days: int = DAYS, with_sensitivity: bool = True, total: int = DAYS
) -> list[dict[str, Any]]:
    folder = out / name
    (folder / "days").mkdir(parents=True)
    run = {
        "scenario": name,
        "title_zh": f"情景 {name}",
        "title_en": f"Scenario {name}",
        "description_zh": "测试用的合成记录",
        "description_en": "synthetic records for the tests",
        "from": START.isoformat(),
        "to": (START + timedelta(days=total - 1)).isoformat(),
        "seed": 1,
        "days_total": total,
        "days_done": days,
        "workers": 2,
    }
    (folder / "run.json").write_text(json.dumps(run, ensure_ascii=False), encoding="utf-8")
    records = [make_day(i, name) for i in range(days)]
    for r in records:
        path = folder / "days" / f"{r['date']}.json"
        path.write_text(json.dumps(r, ensure_ascii=False), encoding="utf-8")
    if with_sensitivity:
        (folder / "sensitivity.json").write_text(json.dumps(sensitivity()), encoding="utf-8")
    return records


def _period(records: list[dict[str, Any]], b: str, key: str) -> int:
    return sum(r["baselines"][b][key] for r in records)


def _hand_saving(records: list[dict[str, Any]], a: str, b: str) -> float:
    per = {
        x: _period(records, x, "cost_fen") / _period(records, x, "orders_served") for x in (a, b)
    }
    return 1 - per[b] / per[a]


GENERATED = datetime(2026, 12, 3, 18, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


@pytest.fixture
def out(tmp_path: Path) -> Path:
    write_scenario(tmp_path, "base")
    write_scenario(tmp_path, "empty", days=0, with_sensitivity=False, total=30)
    return tmp_path


def test_savings_are_taken_on_period_totals_not_daily_means() -> None:
    records = [make_day(i) for i in range(DAYS)]
    fig = aggregate(list(reversed(records)), {"scenario": "base"})
    for a, b in STEPS:
        step = fig.step(a, b)
        assert step is not None and step.central == pytest.approx(_hand_saving(records, a, b))
    daily_mean = sum(
        saving(aggregate([r]).totals["alone"], aggregate([r]).totals["shared"]) or 0
        for r in records
    ) / len(records)
    assert fig.step("alone", "shared").central != pytest.approx(daily_mean, abs=1e-9)  # type: ignore[union-attr]
    assert [d.day for d in fig.days] == sorted(d.day for d in fig.days)
    assert fig.orders == sum(r["orders"] for r in records)
    assert [m.month for m in fig.months] == ["2026-08", "2026-09"]
    assert [m.days for m in fig.months] == [22, 18]
    sept = fig.months[1]
    assert (sept.mushroom_orders, sept.mushroom_in_24h) == (18 * 40, 18 * 38)
    assert fig.months[0].cold_chain is None and sept.cold_chain == pytest.approx(38 / 40)
    assert fig.on_time("shared") == pytest.approx(
        _period(records, "shared", "on_time_orders") / sum(r["orders"] for r in records)
    )


def test_the_band_reprices_fixed_and_running_cost() -> None:
    records = [make_day(i) for i in range(DAYS)]
    fig = aggregate(records)
    fixed = next(r for r in fig.band if r.parameter == "fixed_cost")
    running = next(r for r in fig.band if r.parameter == "running_cost")
    assert (fixed.low_value, fixed.high_value) == ("×0.7", "×1.3")
    assert (running.low_value, running.high_value) == ("×0.8", "×1.2")

    def by_hand(b: str, f_fixed: float, f_running: float) -> float:
        cost = sum(
            r["baselines"][b]["fixed_fen"] * f_fixed
            + (r["baselines"][b]["cost_fen"] - r["baselines"][b]["fixed_fen"]) * f_running
            for r in records
        )
        return cost / _period(records, b, "orders_served")

    i = STEPS.index(("alone", "shared"))
    expected = 1 - by_hand("shared", 0.7, 1) / by_hand("alone", 0.7, 1)
    assert fixed.at_low[i] == pytest.approx(expected, abs=1e-6)
    expected = 1 - by_hand("shared", 1, 1.2) / by_hand("alone", 1, 1.2)
    assert running.at_high[i] == pytest.approx(expected, abs=1e-6)
    # the alone baseline has the larger fixed share: cheaper vehicles shrink the saving
    assert fixed.at_low[i] is not None and fixed.at_low[i] < fig.steps[i].central  # type: ignore[operator]
    low, high = band_range(fig, i)
    values = [fig.steps[i].central] + [x for r in fig.band for x in (r.at_low[i], r.at_high[i])]
    assert (low, high) == (min(values), max(values))  # type: ignore[type-var]


def test_resolved_variants_scale_the_saving_by_their_ratio_on_the_sample_days() -> None:
    records = [make_day(i) for i in range(DAYS)]
    totals = aggregate(records).totals
    rows = savings_band(totals, sensitivity())
    demand = next(r for r in rows if r.parameter == "demand_scale")
    assert (demand.low_value, demand.high_value, demand.kind) == ("0.6", "1.4", "resolved")
    i = STEPS.index(("alone", "shared"))
    central = saving(totals["alone"], totals["shared"])
    assert central is not None
    assert demand.at_low[i] == pytest.approx(central * 0.2 / 0.3)
    assert demand.at_high[i] == pytest.approx(central * 0.4 / 0.3)
    single = next(r for r in rows if r.parameter == "frequency_alone")
    assert single.at_low == single.at_high
    assert single.at_low[i] == pytest.approx(central * 0.24 / 0.3)
    # a value between the extremes still counts in the band (savings need not be monotonic)
    middle = sensitivity()
    middle["variants"].append(dict(middle["variants"][0], value=1.0))
    middle["variants"][-1]["totals"] = dict(
        middle["central"]["totals"], shared={"cost_fen": 100_000, "orders_served": 1_000}
    )
    fig = aggregate(records, sensitivity=middle)
    demand = next(r for r in fig.band if r.parameter == "demand_scale")
    assert len(demand.between) == 1 and demand.between[0][i] == pytest.approx(central * 0.9 / 0.3)
    assert fig.steps[i].high == pytest.approx(central * 3)
    # a step whose central saving on the sample days is nil cannot be scaled
    flat = sensitivity()
    flat["central"]["totals"]["county_pool"]["cost_fen"] = 1_000_000
    rows = savings_band(totals, flat)
    assert next(r for r in rows if r.parameter == "demand_scale").at_low[0] is None


def test_repricing_and_saving_by_hand() -> None:
    a = Totals(cost_fen=1_000, fixed_fen=400, orders_served=10)
    assert a.repriced(fixed=0.5).cost_fen == 800
    assert a.repriced(running=2.0).cost_fen == 1_600
    assert saving(a, Totals(cost_fen=450, orders_served=5)) == pytest.approx(0.1)
    assert saving(a, Totals()) is None


def test_the_report_files(out: Path) -> None:
    records = [make_day(i, "base") for i in range(DAYS)]
    html_path = write_report(out, generated=GENERATED)
    assert html_path == out / "report" / "index.html"
    html = html_path.read_text(encoding="utf-8")
    expected = _hand_saving(records, "alone", "shared")
    assert f"{100 * expected:.1f} %" in html
    assert "尚无完成的模拟日" in html and "No finished day yet" in html  # the empty scenario
    assert "2026-12-03T18:00:00+08:00" in html
    for p in PUBLISHED:
        assert p.cite in html
    assert "9–30 %" in html and "14.4 %" in html
    assert "synthetic" in html and "合成" in html
    assert escape(report.BAND_TEXT_ZH) in html and escape(report.BAND_TEXT_EN) in html
    images = re.findall(r'<img src="([^"]+)"', html)
    assert len(images) == 8  # seven plots of the scenario with days, the comparison
    for src in images:
        data = (out / "report" / src).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        width = int.from_bytes(data[16:20], "big")
        assert width == 1400
    css = (out / "report" / "report.css").read_text(encoding="utf-8")
    for colour in COLOURS.values():
        assert colour in css


def test_the_csv_and_xlsx_hold_the_inputs(out: Path) -> None:
    records = [make_day(i, "base") for i in range(DAYS)]
    write_report(out, generated=GENERATED)
    raw = (out / "report" / "daily.csv").read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert len(rows) == DAYS
    assert {r["scenario"] for r in rows} == {"base"}
    for b in BASELINES:
        assert sum(int(r[f"{b}_cost_fen"]) for r in rows) == _period(records, b, "cost_fen")
        assert sum(int(r[f"{b}_orders_served"]) for r in rows) == _period(
            records, b, "orders_served"
        )
    assert sum(int(r["orders"]) for r in rows) == sum(r["orders"] for r in records)
    first = rows[0]
    assert first["alone_cost_per_order_yuan"] == f"{500_000 / 900 / 100:.2f}"

    wb = load_workbook(out / "report" / "daily.xlsx", read_only=True)
    daily, monthly = wb.worksheets
    values = list(daily.iter_rows(values_only=True))
    assert list(values[0]) == report.daily_header()
    assert len(values) == DAYS + 1
    col = report.daily_header().index("shared_cost_fen")
    assert sum(int(v[col]) for v in values[1:]) == _period(records, "shared", "cost_fen")
    months = list(monthly.iter_rows(values_only=True))
    assert [m[1] for m in months[1:]] == ["2026-08", "2026-09"]
    col = report.monthly_header().index("alone_cost_fen")
    assert sum(int(m[col]) for m in months[1:]) == _period(records, "alone", "cost_fen")
    wb.close()


def test_two_runs_give_the_same_files(out: Path) -> None:
    first = write_report(out, generated=GENERATED)
    saved = {p.name: p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()}
    write_report(out, generated=datetime(2027, 1, 1, tzinfo=ZoneInfo("Asia/Shanghai")))
    again = {p.name: p.read_bytes() for p in (out / "report").rglob("*") if p.is_file()}
    assert saved.keys() == again.keys()
    for name in saved:
        if name == "index.html":
            continue
        assert saved[name] == again[name], name
    old = saved["index.html"].decode().splitlines()
    new = first.read_text(encoding="utf-8").splitlines()
    assert len(old) == len(new)
    differ = [(a, b) for a, b in zip(old, new, strict=True) if a != b]
    assert len(differ) == 1 and "Generated" in differ[0][0]  # the footer line alone


def test_scenarios_named_and_zero_days(tmp_path: Path) -> None:
    write_scenario(tmp_path, "empty", days=0, with_sensitivity=False, total=30)
    html = write_report(tmp_path, ["empty"]).read_text(encoding="utf-8")
    assert "0 of 30 days" in html
    assert "<img" not in html
    rows = (tmp_path / "report" / "daily.csv").read_bytes().decode("utf-8-sig").splitlines()
    assert len(rows) == 1  # the header alone
    with pytest.raises(ReportInputError, match=r"run\.json"):
        write_report(tmp_path, ["missing"])
    with pytest.raises(ReportInputError, match="no such folder"):
        write_report(tmp_path / "nowhere")


def test_a_bad_record_names_its_file_and_key_and_keeps_the_old_report(out: Path) -> None:
    write_report(out, generated=GENERATED)
    before = (out / "report" / "daily.csv").read_bytes()
    path = out / "base" / "days" / "2026-08-11.json"
    record = json.loads(path.read_text(encoding="utf-8"))
    del record["baselines"]["shared"]["fixed_fen"]
    path.write_text(json.dumps(record), encoding="utf-8")
    with pytest.raises(ReportInputError, match=r"2026-08-11\.json.*baselines\.shared.*fixed_fen"):
        write_report(out)
    assert (out / "report" / "daily.csv").read_bytes() == before
    assert not list(out.glob(".report-*"))


def test_without_a_cjk_font_the_plots_are_in_english(
    out: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report, "find_cjk_font", lambda: None)
    html = write_report(out, generated=GENERATED).read_text(encoding="utf-8")
    assert "No CJK font was found" in html
    labels = report.Labels(cjk=False)
    assert labels("每单成本", "Cost per order") == "Cost per order"
    assert not re.search(r"[\u4e00-\u9fff]", labels.step("alone", "shared"))


def test_a_cjk_font_is_found_here() -> None:
    font = report.find_cjk_font()
    if font is None:
        reason = "no CJK font installed (apt-get install fonts-wqy-microhei)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    assert font in report.CJK_FONTS
