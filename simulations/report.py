"""The prefecture's simulation report (issue 15): one HTML page, its plots and the daily
figures (CSV and XLSX), built from the day records that ``codist simulate`` writes.

Input, per scenario folder ``OUT/<scenario>/``: ``run.json``, ``days/YYYY-MM-DD.json`` (one
record per simulated day) and, optionally, ``sensitivity.json`` (re-solved variants on
sample days). Output: ``OUT/report/`` with ``index.html``, ``report.css``, ``img/*.png``,
``daily.csv`` (UTF-8 with BOM, for Chinese Excel) and ``daily.xlsx`` (the same rows and a
monthly sheet). No HTTP, no database: this module reads JSON files only.

The figures are pure functions of the records (:func:`aggregate`, :func:`saving`,
:func:`savings_band`, :func:`band_range`) so tests can check them. Savings are taken on
period totals of cost per order served, ``1 - (cost_b/served_b) / (cost_a/served_a)``, never
by averaging daily percentages. The band re-prices every day's routes (vehicle fixed cost
x0.7 and x1.3, running cost x0.8 and x1.2; the costs are linear in both parts, so
re-pricing the period totals is the same as re-pricing each day) and applies the re-solved
variants of ``sensitivity.json`` as the ratio of the variant's saving to the central saving
on the sample days.

Deterministic: the same inputs give byte-identical CSV and PNG files and the same HTML but
for its footer line (the generation time, +08:00).
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import zipfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2
import matplotlib
from matplotlib import font_manager
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from openpyxl import Workbook

__all__ = [
    "BASELINES",
    "PUBLISHED",
    "STEPS",
    "BandRow",
    "Figures",
    "PublishedRange",
    "ReportInputError",
    "Totals",
    "aggregate",
    "band_range",
    "daily_rows",
    "find_cjk_font",
    "load_scenario",
    "monthly_rows",
    "saving",
    "savings_band",
    "write_report",
]

TZ = ZoneInfo("Asia/Shanghai")
TEMPLATES = Path(__file__).parent / "templates"
BASELINES = ("alone", "county_pool", "shared")
BASELINE_NAMES = {
    "alone": ("各自配送", "each carrier alone"),
    "county_pool": ("县级统仓共配", "county pool"),
    "shared": ("全域共同配送", "shared platform"),
}
STEPS = (("alone", "county_pool"), ("county_pool", "shared"), ("alone", "shared"))
COLOURS = {"alone": "#D55E00", "county_pool": "#009E73", "shared": "#0072B2"}  # Okabe-Ito
STEP_COLOURS = ("#009E73", "#56B4E9", "#0072B2")  # in STEPS order: towards the step's end
FIXED_FACTORS = (0.7, 1.3)  # vehicle fixed cost (the fixed_fen part of cost_fen)
RUNNING_FACTORS = (0.8, 1.2)  # running cost (cost_fen - fixed_fen)
CJK_FONTS = (
    "WenQuanYi Micro Hei",
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
CJK_FILES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
DPI = 200  # 7 in wide figures: 1400 px, sharp on an A4 page


@dataclass(frozen=True)
class PublishedRange:
    """A published range of savings from horizontal cooperation, drawn beside the band."""

    cite: str
    reference: str
    what_zh: str
    what_en: str
    low_pct: float
    high_pct: float


# The citations, in one place so they can be corrected.
PUBLISHED = (
    PublishedRange(
        cite="Cruijssen et al. 2007",
        reference=(
            "Cruijssen, F., Bräysy, O., Dullaert, W., Fleuren, H. & Salomon, M. (2007). "
            "Joint route planning under varying market conditions. International Journal "
            "of Physical Distribution & Logistics Management 37(4), 287–304."
        ),
        what_zh="联合路线规划研究",
        what_en="joint route planning studies",
        low_pct=9.0,
        high_pct=30.0,
    ),
    PublishedRange(
        cite="TU Delft",
        reference=(
            "A TU Delft study of carrier collaboration, mean saving 14.4 % (as the office's "
            "brief cites it; the full reference could not be confirmed here)."
        ),
        what_zh="承运商协作平均",
        what_en="carrier collaboration, mean",
        low_pct=14.4,
        high_pct=14.4,
    ),
)

BAND_TEXT_ZH = (
    "中间值是整个期间的节约率（按总成本与总服务单量计算）；区间是把每个不确定参数单独调到低值和"
    "高值后节约率的最小值到最大值：车辆固定成本 ×0.7–1.3、运行成本 ×0.8–1.2 对每天的路线重新计价，"
    "需求量、各自配送的服务频次等按样本日重新求解后的节约率比例换算。"
    "灰色阴影是已发表的范围：区间落在阴影内说明结果与文献一致，表中某一行两端相差越大，"
    "这个参数对结论的影响越大。"
)
BAND_TEXT_EN = (
    "The central figure is the saving over the whole period (total cost over total orders "
    "served); the band runs from the lowest to the highest saving found when each uncertain "
    "parameter alone is set to its low and its high value: vehicle fixed cost x0.7-1.3 and "
    "running cost x0.8-1.2 re-price every day's routes, while demand, the service frequency "
    "of carriers alone and the other re-solved variants scale the saving by their ratio to "
    "the central saving on the sample days. The grey shading is the published range: a band "
    "inside it agrees with the literature, and the wider a row of the table, the more that "
    "parameter moves the figure."
)


class ReportInputError(ValueError):
    """A scenario folder or record the report cannot read; the message names the file and
    the key."""


# --- the figures ----------------------------------------------------------------------


@dataclass(frozen=True)
class Totals:
    """One baseline's figures, for a day or summed over days."""

    cost_fen: int = 0
    fixed_fen: int = 0
    orders_served: int = 0
    parcels_served: int = 0
    km: float = 0.0
    vehicle_hours: float = 0.0
    vehicles: int = 0
    co2_kg: float = 0.0
    on_time_orders: int = 0
    deferred_orders: int = 0

    def __add__(self, other: Totals) -> Totals:
        return Totals(*(getattr(self, f.name) + getattr(other, f.name) for f in fields(self)))

    @property
    def per_order_fen(self) -> float | None:
        return self.cost_fen / self.orders_served if self.orders_served else None

    @property
    def per_parcel_fen(self) -> float | None:
        return self.cost_fen / self.parcels_served if self.parcels_served else None

    def repriced(self, fixed: float = 1.0, running: float = 1.0) -> Totals:
        """The same routes with the fixed and the running part of the cost scaled."""
        cost = self.fixed_fen * fixed + (self.cost_fen - self.fixed_fen) * running
        return Totals(
            **{**_asdict(self), "cost_fen": round(cost), "fixed_fen": round(self.fixed_fen * fixed)}
        )


def _asdict(t: Totals) -> dict[str, Any]:
    return {f.name: getattr(t, f.name) for f in fields(t)}


def saving(a: Totals, b: Totals) -> float | None:
    """The saving of running as ``b`` instead of ``a``: ``1 - (cost_b/served_b) /
    (cost_a/served_a)`` (a fraction), or None when either serves nothing or ``a`` costs
    nothing."""
    pa, pb = a.per_order_fen, b.per_order_fen
    if pa is None or pb is None or pa == 0:
        return None
    return 1.0 - pb / pa


@dataclass(frozen=True)
class DayFigures:
    """One day record, read."""

    day: date
    orders: int
    parcels: int
    baselines: dict[str, Totals]
    mushroom_orders: int
    mushroom_in_24h: int
    villages: int
    villages_located: int
    villages_synthetic: int
    villages_pct: float
    villages_target_pct: float


@dataclass(frozen=True)
class StepSaving:
    """The saving of one step (``a`` -> ``b``) over the period, with its band."""

    a: str
    b: str
    central: float | None
    low: float | None
    high: float | None


@dataclass(frozen=True)
class BandRow:
    """One uncertain parameter: its low and high value and the saving of each step (in
    :data:`STEPS` order) at either."""

    parameter: str
    label_zh: str
    label_en: str
    kind: str  # "repriced" (every day's routes re-priced) or "resolved" (sensitivity.json)
    low_value: str
    high_value: str
    at_low: tuple[float | None, ...]
    at_high: tuple[float | None, ...]
    between: tuple[tuple[float | None, ...], ...] = ()  # values between low and high


@dataclass(frozen=True)
class MonthRow:
    month: str  # YYYY-MM
    days: int
    orders: int
    parcels: int
    totals: dict[str, Totals]
    mushroom_orders: int
    mushroom_in_24h: int
    villages_pct: float  # on the month's last day
    villages_target_pct: float

    @property
    def km_saved(self) -> float:
        return self.totals["alone"].km - self.totals["shared"].km

    @property
    def co2_saved_kg(self) -> float:
        return self.totals["alone"].co2_kg - self.totals["shared"].co2_kg

    @property
    def cold_chain(self) -> float | None:
        return self.mushroom_in_24h / self.mushroom_orders if self.mushroom_orders else None

    def on_time(self, baseline: str) -> float | None:
        return self.totals[baseline].on_time_orders / self.orders if self.orders else None

    def vehicles_per_day(self, baseline: str) -> float:
        return self.totals[baseline].vehicles / self.days


@dataclass(frozen=True)
class CountyRow:
    code: str
    name_zh: str
    name_en: str
    orders: int
    parcels: int
    fen: dict[str, int]  # per baseline
    alone_km: float
    shared_km: float

    def per_order_fen(self, baseline: str) -> float | None:
        return self.fen[baseline] / self.orders if self.orders else None


@dataclass(frozen=True)
class PartyRow:
    code: str
    name_zh: str
    name_en: str
    allocated_fen: int
    alone_fen: int
    volume: int  # orders when the records give them, else 0 (then sorted by cost alone)

    @property
    def saving(self) -> float | None:
        return 1.0 - self.allocated_fen / self.alone_fen if self.alone_fen else None


@dataclass
class Figures:
    """Everything the report shows of one scenario."""

    scenario: str
    title_zh: str = ""
    title_en: str = ""
    description_zh: str = ""
    description_en: str = ""
    date_from: str = ""
    date_to: str = ""
    days_total: int = 0
    days: list[DayFigures] = field(default_factory=list)
    totals: dict[str, Totals] = field(default_factory=dict)
    steps: list[StepSaving] = field(default_factory=list)
    band: list[BandRow] = field(default_factory=list)
    sample_days: int = 0
    months: list[MonthRow] = field(default_factory=list)
    counties: list[CountyRow] = field(default_factory=list)
    parties: list[PartyRow] = field(default_factory=list)
    images: dict[str, str] = field(default_factory=dict)  # kind -> img/<file>.png

    @property
    def days_done(self) -> int:
        return len(self.days)

    @property
    def orders(self) -> int:
        return sum(d.orders for d in self.days)

    @property
    def parcels(self) -> int:
        return sum(d.parcels for d in self.days)

    @property
    def mushroom_orders(self) -> int:
        return sum(d.mushroom_orders for d in self.days)

    @property
    def mushroom_in_24h(self) -> int:
        return sum(d.mushroom_in_24h for d in self.days)

    @property
    def cold_chain(self) -> float | None:
        return self.mushroom_in_24h / self.mushroom_orders if self.mushroom_orders else None

    @property
    def km_saved(self) -> float:
        return self.totals["alone"].km - self.totals["shared"].km if self.days else 0.0

    @property
    def co2_saved_kg(self) -> float:
        return self.totals["alone"].co2_kg - self.totals["shared"].co2_kg if self.days else 0.0

    @property
    def last_day(self) -> DayFigures | None:
        return self.days[-1] if self.days else None

    def vehicles_per_day(self, baseline: str) -> float | None:
        return self.totals[baseline].vehicles / len(self.days) if self.days else None

    def on_time(self, baseline: str) -> float | None:
        return self.totals[baseline].on_time_orders / self.orders if self.orders else None

    def step(self, a: str, b: str) -> StepSaving | None:
        return next((s for s in self.steps if (s.a, s.b) == (a, b)), None)


# --- reading --------------------------------------------------------------------------


def _req(d: Mapping[str, Any], key: str, where: str) -> Any:
    if not isinstance(d, Mapping) or key not in d:
        raise ReportInputError(f"{where}: missing key {key!r}")
    return d[key]


def _num(d: Mapping[str, Any], key: str, where: str, kind: type = int) -> Any:
    value = _req(d, key, where)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ReportInputError(f"{where}: {key!r} is not a number: {value!r}")
    return kind(value)


def _totals(d: Mapping[str, Any], where: str) -> Totals:
    ints = {"cost_fen", "fixed_fen", "orders_served", "parcels_served", "vehicles"}
    ints |= {"on_time_orders", "deferred_orders"}
    return Totals(
        **{f.name: _num(d, f.name, where, int if f.name in ints else float) for f in fields(Totals)}
    )


def read_day(record: Mapping[str, Any], where: str = "day record") -> DayFigures:
    """One day record (see the module docstring) as :class:`DayFigures`."""
    try:
        day = date.fromisoformat(str(_req(record, "date", where)))
    except ValueError as e:
        raise ReportInputError(f"{where}: 'date' is not YYYY-MM-DD: {e}") from e
    base = _req(record, "baselines", where)
    cold = _req(record, "cold_chain", where)
    vil = _req(record, "villages", where)
    return DayFigures(
        day=day,
        orders=_num(record, "orders", where),
        parcels=_num(record, "parcels", where),
        baselines={b: _totals(_req(base, b, where), f"{where}: baselines.{b}") for b in BASELINES},
        mushroom_orders=_num(cold, "mushroom_orders", f"{where}: cold_chain"),
        mushroom_in_24h=_num(cold, "mushroom_in_24h", f"{where}: cold_chain"),
        villages=_num(vil, "villages", f"{where}: villages"),
        villages_located=_num(vil, "located", f"{where}: villages"),
        villages_synthetic=_num(vil, "synthetic", f"{where}: villages"),
        villages_pct=_num(vil, "pct", f"{where}: villages", float),
        villages_target_pct=_num(vil, "target_pct", f"{where}: villages", float),
    )


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ReportInputError(f"{path}: cannot read JSON: {e}") from e


def load_scenario(folder: Path) -> tuple[dict[str, Any], list[dict[str, Any]], Any]:
    """``(run, day records sorted by date, sensitivity or None)`` of a scenario folder."""
    run_path = folder / "run.json"
    if not run_path.is_file():
        raise ReportInputError(f"{folder}: no run.json (not a scenario folder)")
    run = _read_json(run_path)
    records = []
    first, last = str(run.get("from") or ""), str(run.get("to") or "9999")
    for path in sorted((folder / "days").glob("*.json")):
        if not first <= path.stem <= last:
            continue  # a day of an earlier run over another range
        record = _read_json(path)
        if not isinstance(record, dict):
            raise ReportInputError(f"{path}: not a JSON object")
        if run.get("digest") and record.get("digest", run["digest"]) != run["digest"]:
            continue  # made by another version of the scenario
        record.setdefault("_file", str(path))
        records.append(record)
    sens_path = folder / "sensitivity.json"
    sensitivity = _read_json(sens_path) if sens_path.is_file() else None
    return run, records, sensitivity


# --- aggregating ----------------------------------------------------------------------


def _sum(days: Sequence[DayFigures], baseline: str) -> Totals:
    total = Totals()
    for d in days:
        total = total + d.baselines[baseline]
    return total


def _months(days: Sequence[DayFigures]) -> list[MonthRow]:
    by_month: dict[str, list[DayFigures]] = {}
    for d in days:
        by_month.setdefault(d.day.strftime("%Y-%m"), []).append(d)
    return [
        MonthRow(
            month=month,
            days=len(ds),
            orders=sum(d.orders for d in ds),
            parcels=sum(d.parcels for d in ds),
            totals={b: _sum(ds, b) for b in BASELINES},
            mushroom_orders=sum(d.mushroom_orders for d in ds),
            mushroom_in_24h=sum(d.mushroom_in_24h for d in ds),
            villages_pct=ds[-1].villages_pct,
            villages_target_pct=ds[-1].villages_target_pct,
        )
        for month, ds in sorted(by_month.items())
    ]


def _counties(records: Sequence[Mapping[str, Any]]) -> list[CountyRow]:
    acc: dict[str, dict[str, Any]] = {}
    for record in records:
        where = f"{record.get('_file', record.get('date'))}: by_county"
        for code, c in sorted(_req(record, "by_county", where).items()):
            w = f"{where}.{code}"
            row = acc.setdefault(
                code,
                {"name_zh": _req(c, "name_zh", w), "name_en": _req(c, "name_en", w)}
                | {k: 0 for k in ("orders", "parcels", "alone_km", "shared_km")}
                | {f"{b}_fen": 0 for b in BASELINES},
            )
            for key in ("orders", "parcels", *(f"{b}_fen" for b in BASELINES)):
                row[key] += _num(c, key, w)
            for key in ("alone_km", "shared_km"):
                row[key] += _num(c, key, w, float)
    return [
        CountyRow(
            code=code,
            name_zh=r["name_zh"],
            name_en=r["name_en"],
            orders=r["orders"],
            parcels=r["parcels"],
            fen={b: r[f"{b}_fen"] for b in BASELINES},
            alone_km=r["alone_km"],
            shared_km=r["shared_km"],
        )
        for code, r in sorted(acc.items())
    ]


def _parties(records: Sequence[Mapping[str, Any]]) -> list[PartyRow]:
    acc: dict[str, dict[str, Any]] = {}
    for record in records:
        where = f"{record.get('_file', record.get('date'))}: parties"
        for code, p in sorted(_req(record, "parties", where).items()):
            w = f"{where}.{code}"
            row = acc.setdefault(
                code,
                {"name_zh": _req(p, "name_zh", w), "name_en": str(p.get("name_en", code))}
                | {"allocated_fen": 0, "alone_fen": 0, "volume": 0},
            )
            row["allocated_fen"] += _num(p, "allocated_fen", w)
            row["alone_fen"] += _num(p, "alone_fen", w)
            row["volume"] += int(p.get("orders", 0) or 0)  # optional: volume to sort by
    rows = [PartyRow(code=code, **r) for code, r in acc.items()]
    return sorted(rows, key=lambda r: (-r.volume, -r.alone_fen, r.code))


def aggregate(
    records: Sequence[Mapping[str, Any]],
    run: Mapping[str, Any] | None = None,
    sensitivity: Mapping[str, Any] | None = None,
) -> Figures:
    """The report's figures of one scenario from its day records (any order), its run
    info and its optional sensitivity file. Zero records give empty figures."""
    run = run or {}
    days = sorted(
        (read_day(r, str(r.get("_file", r.get("date", "day record")))) for r in records),
        key=lambda d: d.day,
    )
    dates = [d.day for d in days]
    if len(set(dates)) != len(dates):
        raise ReportInputError(f"{run.get('scenario', '?')}: two records of the same day")
    fig = Figures(
        scenario=str(run.get("scenario", "")),
        title_zh=str(run.get("title_zh", "")),
        title_en=str(run.get("title_en", "")),
        description_zh=str(run.get("description_zh", "")),
        description_en=str(run.get("description_en", "")),
        date_from=str(run.get("from", "")),
        date_to=str(run.get("to", "")),
        days_total=int(run.get("days_total", len(days))),
        days=days,
        totals={b: _sum(days, b) for b in BASELINES},
        months=_months(days),
        counties=_counties(records),
        parties=_parties(records),
    )
    fig.band = savings_band(fig.totals, sensitivity)
    fig.sample_days = len(sensitivity.get("sample_days", [])) if sensitivity else 0
    fig.steps = [
        StepSaving(a, b, saving(fig.totals[a], fig.totals[b]), *band_range(fig, i))
        for i, (a, b) in enumerate(STEPS)
    ]
    return fig


def _step_savings(totals: Mapping[str, Totals]) -> tuple[float | None, ...]:
    return tuple(saving(totals[a], totals[b]) for a, b in STEPS)


def _repriced_rows(totals: Mapping[str, Totals]) -> list[BandRow]:
    rows = []
    for parameter, zh, en, factors in (
        ("fixed_cost", "车辆固定成本", "vehicle fixed cost", FIXED_FACTORS),
        ("running_cost", "运行成本", "running cost", RUNNING_FACTORS),
    ):
        at = []
        for f in factors:
            kw = {"fixed": f} if parameter == "fixed_cost" else {"running": f}
            at.append(_step_savings({b: t.repriced(**kw) for b, t in totals.items()}))
        rows.append(
            BandRow(
                parameter, zh, en, "repriced", f"×{factors[0]:g}", f"×{factors[1]:g}", at[0], at[1]
            )
        )
    return rows


def _sens_totals(d: Mapping[str, Any], where: str) -> dict[str, Totals]:
    totals = _req(d, "totals", where)
    out = {}
    for b in BASELINES:
        t = _req(totals, b, f"{where}.totals")
        w = f"{where}.totals.{b}"
        out[b] = Totals(cost_fen=_num(t, "cost_fen", w), orders_served=_num(t, "orders_served", w))
    return out


def _resolved_rows(
    central: tuple[float | None, ...], sensitivity: Mapping[str, Any]
) -> list[BandRow]:
    where = "sensitivity.json"
    sample = _step_savings(_sens_totals(_req(sensitivity, "central", where), f"{where}: central"))
    groups: dict[str, list[tuple[float, Mapping[str, Any], tuple[float | None, ...]]]] = {}
    for i, v in enumerate(_req(sensitivity, "variants", where)):
        w = f"{where}: variants[{i}]"
        at = _step_savings(_sens_totals(v, w))
        groups.setdefault(str(_req(v, "parameter", w)), []).append(
            (_num(v, "value", w, float), v, at)
        )

    def scaled(at: tuple[float | None, ...]) -> tuple[float | None, ...]:
        return tuple(
            None if c is None or s is None or x is None or s == 0 else c * x / s
            for c, s, x in zip(central, sample, at, strict=True)
        )

    rows = []
    for parameter, variants in groups.items():
        variants.sort(key=lambda t: t[0])
        (lo, v, at_lo), (hi, _, at_hi) = variants[0], variants[-1]
        rows.append(
            BandRow(
                parameter,
                str(v.get("label_zh", parameter)),
                str(v.get("label_en", parameter)),
                "resolved",
                f"{lo:g}",
                f"{hi:g}",
                scaled(at_lo),
                scaled(at_hi),
                tuple(scaled(at) for _, _, at in variants[1:-1]),
            )
        )
    return rows


def savings_band(
    totals: Mapping[str, Totals], sensitivity: Mapping[str, Any] | None = None
) -> list[BandRow]:
    """The uncertain parameters, each at its low and high value, with the saving of every
    step there: the re-priced rows (fixed and running cost) and, when ``sensitivity`` is
    given, one row per re-solved parameter (its lowest and highest value), applied as the
    ratio of that variant's saving to the central saving on the sample days."""
    rows = _repriced_rows(totals)
    if sensitivity:
        rows += _resolved_rows(_step_savings(totals), sensitivity)
    return rows


def band_range(fig: Figures, step: int) -> tuple[float | None, float | None]:
    """The band of step ``step`` (index in :data:`STEPS`): the lowest and the highest
    saving over the central figure and every parameter at each of its values."""
    a, b = STEPS[step]
    central = saving(fig.totals[a], fig.totals[b])
    values = [central] + [
        x
        for r in fig.band
        for x in (r.at_low[step], r.at_high[step], *(b[step] for b in r.between))
    ]
    found = [v for v in values if v is not None]
    return (min(found), max(found)) if found else (None, None)


# --- daily and monthly rows (CSV, XLSX) --------------------------------------------------

TOTAL_COLUMNS = (
    "cost_fen",
    "fixed_fen",
    "orders_served",
    "parcels_served",
    "km",
    "vehicles",
    "co2_kg",
    "on_time_orders",
    "deferred_orders",
)


def _yuan(fen: float | None) -> str:
    return "" if fen is None else f"{fen / 100:.2f}"


def _baseline_cells(t: Totals) -> list[Any]:
    cells: list[Any] = [getattr(t, c) for c in TOTAL_COLUMNS]
    cells[TOTAL_COLUMNS.index("km")] = round(t.km, 1)
    cells[TOTAL_COLUMNS.index("co2_kg")] = round(t.co2_kg, 1)
    return [*cells, _yuan(t.per_order_fen), _yuan(t.per_parcel_fen)]


def daily_header() -> list[str]:
    per = [*TOTAL_COLUMNS, "cost_per_order_yuan", "cost_per_parcel_yuan"]
    return [
        "scenario",
        "date",
        "orders",
        "parcels",
        *(f"{b}_{c}" for b in BASELINES for c in per),
        "saving_alone_to_shared_pct",
        "mushroom_orders",
        "mushroom_in_24h",
        "villages_pct",
        "villages_target_pct",
        "villages_synthetic",
    ]


def _pct_cell(x: float | None) -> str:
    return "" if x is None else f"{100 * x:.2f}"


def daily_rows(figs: Sequence[Figures]) -> list[list[Any]]:
    """One row per scenario and day, in :func:`daily_header` order."""
    rows = []
    for fig in figs:
        for d in fig.days:
            rows.append(
                [
                    fig.scenario,
                    d.day.isoformat(),
                    d.orders,
                    d.parcels,
                    *(c for b in BASELINES for c in _baseline_cells(d.baselines[b])),
                    _pct_cell(saving(d.baselines["alone"], d.baselines["shared"])),
                    d.mushroom_orders,
                    d.mushroom_in_24h,
                    d.villages_pct,
                    d.villages_target_pct,
                    d.villages_synthetic,
                ]
            )
    return rows


def monthly_header() -> list[str]:
    return [
        "scenario",
        "month",
        "days",
        "orders",
        "parcels",
        *(
            f"{b}_{c}"
            for b in BASELINES
            for c in (
                "cost_fen",
                "orders_served",
                "cost_per_order_yuan",
                "cost_per_parcel_yuan",
                "km",
                "co2_kg",
                "vehicles_per_day",
                "on_time_pct",
            )
        ),
        "km_saved",
        "co2_saved_kg",
        "mushroom_orders",
        "mushroom_in_24h",
        "villages_pct",
    ]


def monthly_rows(figs: Sequence[Figures]) -> list[list[Any]]:
    """One row per scenario and month, in :func:`monthly_header` order."""
    rows = []
    for fig in figs:
        for m in fig.months:
            cells: list[Any] = [fig.scenario, m.month, m.days, m.orders, m.parcels]
            for b in BASELINES:
                t = m.totals[b]
                cells += [
                    t.cost_fen,
                    t.orders_served,
                    _yuan(t.per_order_fen),
                    _yuan(t.per_parcel_fen),
                    round(t.km, 1),
                    round(t.co2_kg, 1),
                    round(t.vehicles / m.days, 1),
                    _pct_cell(t.on_time_orders / m.orders if m.orders else None),
                ]
            cells += [
                round(m.km_saved, 1),
                round(m.co2_saved_kg, 1),
                m.mushroom_orders,
                m.mushroom_in_24h,
                m.villages_pct,
            ]
            rows.append(cells)
    return rows


def write_csv(path: Path, figs: Sequence[Figures]) -> None:
    """The daily rows as CSV, UTF-8 with BOM (Chinese Excel reads it), CRLF line ends."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(daily_header())
    writer.writerows(daily_rows(figs))
    path.write_bytes(buffer.getvalue().encode("utf-8-sig"))


def _xlsx_value(v: Any) -> Any:
    if isinstance(v, str) and v and v.replace(".", "", 1).lstrip("-").isdigit():
        return float(v)  # yuan and percentages as numbers in the sheet
    return v


def write_xlsx(path: Path, figs: Sequence[Figures]) -> None:
    """The daily rows (sheet 每日 daily) and the monthly rows (sheet 每月 monthly)."""
    wb = Workbook()
    daily = wb.active
    assert daily is not None
    daily.title = "每日 daily"
    monthly = wb.create_sheet("每月 monthly")
    for ws, header, rows in (
        (daily, daily_header(), daily_rows(figs)),
        (monthly, monthly_header(), monthly_rows(figs)),
    ):
        ws.append(header)
        for row in rows:
            ws.append([_xlsx_value(v) for v in row])
        ws.freeze_panes = "C2"
    wb.properties.created = datetime(2026, 1, 1)
    wb.properties.creator = "codist simulate report"
    buffer = io.BytesIO()
    wb.save(buffer)
    path.write_bytes(_without_dates(buffer.getvalue()))


def _without_dates(xlsx: bytes) -> bytes:
    """The workbook with a fixed modification time (openpyxl stamps "now") and fixed zip
    entry times, so that the same figures give the same bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(xlsx)) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>2026-01-01T00:00:00Z", body
                )
            entry = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            entry.external_attr = info.external_attr
            dst.writestr(entry, body, compress_type=zipfile.ZIP_DEFLATED)
    return out.getvalue()


# --- plots ----------------------------------------------------------------------------


def find_cjk_font() -> str | None:
    """The name of an installed font with Chinese glyphs (WenQuanYi Micro Hei, Noto Sans
    CJK, Source Han Sans, SimHei, ...), or None when there is none."""
    known = {f.fname for f in font_manager.fontManager.ttflist}
    for path in CJK_FILES:
        if path.is_file() and str(path) not in known:
            try:
                font_manager.fontManager.addfont(str(path))
            except (OSError, RuntimeError, ValueError):
                continue
    installed = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for name in CJK_FONTS:
        if name in installed and _has_glyphs(installed[name]):
            return name
    return None


def _has_glyphs(path: str) -> bool:
    from matplotlib.ft2font import FT2Font

    try:
        font = FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(c)) for c in "每单成本节约县")


@dataclass(frozen=True)
class Labels:
    """Bilingual labels (中文 English) where a CJK font is found, English alone otherwise."""

    cjk: bool

    def __call__(self, zh: str, en: str) -> str:
        return f"{zh} {en}" if self.cjk else en

    def baseline(self, b: str) -> str:
        return self(*BASELINE_NAMES[b])

    def step(self, a: str, b: str) -> str:
        if self.cjk:
            return f"{BASELINE_NAMES[a][0]}→{BASELINE_NAMES[b][0]}"
        return f"{BASELINE_NAMES[a][1]} → {BASELINE_NAMES[b][1]}"


def _figure(height: float, rows: int = 1, cols: int = 1) -> tuple[Figure, list[Axes]]:
    fig = Figure(figsize=(7.0, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False)
    return fig, [ax for row in axes for ax in row]


def _save(fig: Figure, path: Path) -> None:
    fig.savefig(path, format="png", dpi=DPI, metadata={"Software": None})


def _published(ax: Axes, L: Labels, vertical: bool = True) -> None:
    span = ax.axvspan if vertical else ax.axhspan
    line = ax.axvline if vertical else ax.axhline
    for p in PUBLISHED:
        label = f"{L(p.what_zh, p.what_en)} ({p.cite})"
        if p.high_pct > p.low_pct:
            span(p.low_pct, p.high_pct, color="#999999", alpha=0.22, lw=0, label=label)
        else:
            line(p.low_pct, color="#555555", ls="--", lw=1, label=label)


def _pct(x: float | None) -> float:
    return 100.0 * x if x is not None else float("nan")


def plot_band(fig: Figures, path: Path, L: Labels) -> None:
    """Range bars of the band per step, central saving marked, published ranges shaded."""
    figure, (ax,) = _figure(2.8)
    _published(ax, L)
    for y, (step, colour) in enumerate(zip(fig.steps[::-1], STEP_COLOURS[::-1], strict=True)):
        if step.low is not None and step.high is not None:
            ax.barh(
                y,
                _pct(step.high) - _pct(step.low),
                left=_pct(step.low),
                height=0.5,
                color=colour,
                alpha=0.75,
            )
        ax.plot([_pct(step.central)], [y], "o", color="black", ms=5)
    ax.set_yticks(range(len(fig.steps)), [L.step(s.a, s.b) for s in reversed(fig.steps)])
    ax.set_xlabel(L("节约率 %", "saving %"))
    ax.set_title(L("节约区间（点：中间值）", "Savings band (dot: central)"), fontsize=10)
    figure.legend(loc="outside lower center", fontsize=7, ncols=2, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    _save(figure, path)


def plot_tornado(fig: Figures, path: Path, L: Labels) -> None:
    """For each step, each parameter's saving at its low and high value (a tornado)."""
    rows = fig.band
    figure, axes = _figure(1.0 + 0.45 * len(rows) * len(STEPS), rows=len(STEPS))
    for i, (ax, step) in enumerate(zip(axes, fig.steps, strict=True)):
        _published(ax, L)
        central = _pct(step.central)
        for y, r in enumerate(reversed(rows)):
            for value, colour in ((r.at_low[i], "#56B4E9"), (r.at_high[i], "#E69F00")):
                if value is not None and step.central is not None:
                    ax.barh(y, _pct(value) - central, left=central, height=0.6, color=colour)
        ax.axvline(central, color="black", lw=1)
        ax.set_yticks(
            range(len(rows)), [L(r.label_zh, r.label_en) for r in reversed(rows)], fontsize=7
        )
        ax.set_title(L.step(step.a, step.b), fontsize=9)
        ax.grid(axis="x", alpha=0.3)
    axes[-1].set_xlabel(L("节约率 %（蓝：低值，橙：高值）", "saving % (blue: low, orange: high)"))
    _save(figure, path)


def plot_cost(fig: Figures, path: Path, L: Labels) -> None:
    """Cost per order and per parcel by month (lines), one colour per baseline."""
    figure, (ax1, ax2) = _figure(4.6, rows=2)
    months = [m.month for m in fig.months]
    for b in BASELINES:
        per_order = [_yuan_f(m.totals[b].per_order_fen) for m in fig.months]
        per_parcel = [_yuan_f(m.totals[b].per_parcel_fen) for m in fig.months]
        ax1.plot(months, per_order, "o-", color=COLOURS[b], label=L.baseline(b))
        ax2.plot(months, per_parcel, "o-", color=COLOURS[b], label=L.baseline(b))
    ax1.set_ylabel(L("元/单", "yuan/order"))
    ax2.set_ylabel(L("元/件", "yuan/parcel"))
    ax1.set_title(L("每单成本（按月）", "Cost per order by month"), fontsize=10)
    ax2.set_title(L("每件成本（按月）", "Cost per parcel by month"), fontsize=10)
    for ax in (ax1, ax2):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.tick_params(axis="x", labelsize=7, rotation=0 if len(months) <= 12 else 45)
    ax1.legend(fontsize=7, loc="lower left")
    _save(figure, path)


def _yuan_f(fen: float | None) -> float:
    return fen / 100 if fen is not None else float("nan")


def plot_counties(fig: Figures, path: Path, L: Labels) -> None:
    """Cost per order by county, grouped bars, one colour per baseline."""
    figure, (ax,) = _figure(3.2)
    n = len(fig.counties)
    width = 0.8 / len(BASELINES)
    for k, b in enumerate(BASELINES):
        values = [c.fen[b] / c.orders / 100 if c.orders else 0.0 for c in fig.counties]
        xs = [i + (k - 1) * width for i in range(n)]
        ax.bar(xs, values, width=width, color=COLOURS[b], label=L.baseline(b))
    names = [c.name_zh if L.cjk else c.name_en for c in fig.counties]
    ax.set_xticks(range(n), names, fontsize=8)
    ax.set_ylabel(L("元/单", "yuan/order"))
    ax.set_title(L("各县每单成本", "Cost per order by county"), fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7)
    _save(figure, path)


def plot_vehicles(fig: Figures, path: Path, L: Labels) -> None:
    """Vehicles per day over the days, one line per baseline."""
    from matplotlib.dates import AutoDateLocator, DateFormatter, date2num

    figure, (ax,) = _figure(2.8)
    days = date2num([d.day for d in fig.days])
    for b in BASELINES:
        ax.plot(
            days,
            [d.baselines[b].vehicles for d in fig.days],
            color=COLOURS[b],
            lw=1.2,
            marker="o" if len(days) < 40 else None,
            ms=2,
            label=L.baseline(b),
        )
    ax.xaxis.set_major_locator(AutoDateLocator(maxticks=12))
    ax.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    ax.set_ylim(bottom=0)
    ax.set_ylabel(L("车辆数", "vehicles"))
    ax.set_title(L("每日用车", "Vehicles per day"), fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left", ncols=3)
    _save(figure, path)


def plot_km_co2(fig: Figures, path: Path, L: Labels) -> None:
    """Vehicle-km and CO2 saved (shared vs alone) by month, bars."""
    figure, (ax1, ax2) = _figure(4.2, rows=2)
    months = [m.month for m in fig.months]
    ax1.bar(months, [m.km_saved for m in fig.months], color=COLOURS["shared"])
    ax2.bar(months, [m.co2_saved_kg / 1000 for m in fig.months], color="#009E73")
    ax1.set_ylabel(L("公里", "km"))
    ax2.set_ylabel(L("吨", "t"))
    ax1.set_title(
        L("节约车公里（共同配送对各自配送，按月）", "Vehicle-km saved, shared vs alone"),
        fontsize=10,
    )
    ax2.set_title(L("减少二氧化碳（吨，按月）", "CO2 saved (t) by month"), fontsize=10)
    for ax in (ax1, ax2):
        ax.axhline(0, color="black", lw=0.6)
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7, rotation=0 if len(months) <= 12 else 45)
    _save(figure, path)


def plot_service(fig: Figures, path: Path, L: Labels) -> None:
    """On-time share by month per baseline (bars), cold-chain compliance by month in the
    mushroom season, village coverage over the days against its target."""
    from matplotlib.dates import AutoDateLocator, DateFormatter, date2num

    figure, (ax1, ax2, ax3) = _figure(6.4, rows=3)
    months = [m.month for m in fig.months]
    width = 0.8 / len(BASELINES)
    for k, b in enumerate(BASELINES):
        share = [_pct(m.on_time(b)) for m in fig.months]
        xs = [i + (k - 1) * width for i in range(len(months))]
        ax1.bar(xs, share, width=width, color=COLOURS[b], label=L.baseline(b))
    ax1.set_xticks(range(len(months)), months)
    ax1.set_xlim(-0.6, max(len(months), 3) - 0.4)
    ax1.set_ylim(0, 105)
    ax1.set_title(L("准时率 %（准时单/订单）", "On-time share % (on time / orders)"), fontsize=10)
    ax1.legend(fontsize=7, loc="lower left", ncols=3, framealpha=0.9)
    _cold_chain(ax2, [m for m in fig.months if m.mushroom_orders], L)
    days = date2num([d.day for d in fig.days])
    ax3.plot(
        days,
        [d.villages_pct for d in fig.days],
        color="#CC79A7",
        lw=1.5,
        label=L("已定位村 %", "villages located %"),
    )
    ax3.plot(
        days,
        [d.villages_target_pct for d in fig.days],
        "--",
        color="black",
        lw=1,
        label=L("目标", "target"),
    )
    ax3.xaxis.set_major_locator(AutoDateLocator(maxticks=12))
    ax3.xaxis.set_major_formatter(DateFormatter("%m-%d"))
    ax3.set_ylim(0, 105)
    ax3.set_title(L("村级覆盖率 %", "Village coverage %"), fontsize=10)
    ax3.legend(fontsize=7, loc="lower right")
    for ax in (ax1, ax2, ax3):
        ax.grid(axis="y", alpha=0.3)
        ax.tick_params(axis="x", labelsize=7)
    ax1.tick_params(axis="x", rotation=0 if len(months) <= 12 else 45)
    _save(figure, path)


def _cold_chain(ax: Axes, season: Sequence[MonthRow], L: Labels) -> None:
    ax.set_title(
        L("冷链：野生菌 24 小时内到仓 %", "Cold chain: mushrooms at WH within 24 h %"), fontsize=10
    )
    if not season:
        ax.text(
            0.5,
            0.5,
            L("本期无野生菌订单", "no wild-mushroom orders in the period"),
            ha="center",
            va="center",
            transform=ax.transAxes,
        )
        ax.set_xticks([])
        ax.set_yticks([])
        return
    ax.bar(range(len(season)), [_pct(m.cold_chain) for m in season], width=0.6, color="#8C564B")
    ax.set_xticks(range(len(season)), [m.month for m in season])
    ax.set_xlim(-0.6, max(len(season), 3) - 0.4)
    ax.set_ylim(0, 105)


def plot_comparison(figs: Sequence[Figures], path: Path, L: Labels) -> None:
    """The saving of each step per scenario, bars, published ranges shaded."""
    figure, (ax,) = _figure(1.4 + 0.5 * len(figs))
    _published(ax, L)
    height = 0.8 / len(STEPS)
    names = [f.scenario for f in figs]
    for k, (a, b) in enumerate(STEPS):
        ys = [i + (1 - k) * height for i in range(len(figs))]
        values = [_pct(s.central) if (s := f.step(a, b)) else float("nan") for f in figs]
        ax.barh(ys, values, height=height, color=STEP_COLOURS[k], label=L.step(a, b))
    ax.set_yticks(range(len(figs)), names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(L("节约率 %", "saving %"))
    ax.set_title(L("各情景节约率", "Saving per scenario"), fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    figure.legend(loc="outside lower center", fontsize=7, ncols=2, frameon=False)
    _save(figure, path)


PLOTS: dict[str, Callable[[Figures, Path, Labels], None]] = {
    "band": plot_band,
    "tornado": plot_tornado,
    "cost": plot_cost,
    "counties": plot_counties,
    "vehicles": plot_vehicles,
    "km_co2": plot_km_co2,
    "service": plot_service,
}


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "scenario"


def draw_plots(figs: Sequence[Figures], img: Path, cjk: str | None) -> str | None:
    """Every plot of every scenario with days into ``img``; returns the comparison plot's
    file name (``img/...``) when there is more than one scenario."""
    img.mkdir(parents=True, exist_ok=True)
    L = Labels(cjk is not None)
    with matplotlib.rc_context(
        {
            "font.family": [cjk, "DejaVu Sans"] if cjk else ["DejaVu Sans"],
            "axes.unicode_minus": False,
            "font.size": 8,
            "svg.hashsalt": "codist",
            "path.simplify": True,
        }
    ):
        for fig in figs:
            if not fig.days:
                continue
            for kind, plot in PLOTS.items():
                if kind == "counties" and not fig.counties:
                    continue
                name = f"{_slug(fig.scenario)}-{kind}.png"
                plot(fig, img / name, L)
                fig.images[kind] = f"img/{name}"
        done = [f for f in figs if f.days]
        if len(figs) > 1 and done:
            plot_comparison(done, img / "comparison.png", L)
            return "img/comparison.png"
    return None


# --- the page -------------------------------------------------------------------------


def _fmt_yuan(fen: float | None) -> str:
    return "—" if fen is None else f"{fen / 100:,.2f}"


def _fmt_pct(x: float | None, digits: int = 1) -> str:
    return "—" if x is None else f"{100 * x:.{digits}f} %"


def _fmt_num(x: float | None, digits: int = 0) -> str:
    return "—" if x is None else f"{x:,.{digits}f}"


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(yuan=_fmt_yuan, pct=_fmt_pct, num=_fmt_num)
    return env


def render_html(
    figs: Sequence[Figures], cjk: str | None, comparison: str | None, generated: datetime
) -> str:
    """The report page (template ``report.html``)."""
    synthetic = [f for f in figs if f.last_day and f.last_day.villages_synthetic]
    return (
        _environment()
        .get_template("report.html")
        .render(
            figs=figs,
            baselines=BASELINES,
            names=BASELINE_NAMES,
            colours=COLOURS,
            steps=STEPS,
            published=PUBLISHED,
            band_zh=BAND_TEXT_ZH,
            band_en=BAND_TEXT_EN,
            cjk=cjk,
            comparison=comparison,
            synthetic=synthetic,
            generated=generated.astimezone(TZ).isoformat(timespec="seconds"),
        )
    )


def _scenario_names(out: Path, scenarios: Sequence[str] | None) -> list[str]:
    if scenarios is not None:
        return list(scenarios)
    if not out.is_dir():
        raise ReportInputError(f"{out}: no such folder")
    return sorted(
        p.name
        for p in out.iterdir()
        if p.is_dir() and p.name != "report" and (p / "run.json").is_file()
    )


def write_report(
    out: Path, scenarios: Sequence[str] | None = None, *, generated: datetime | None = None
) -> Path:
    """Read ``out/<scenario>/`` for each named scenario (default: every folder of ``out``
    with a run.json), write ``out/report/`` (index.html, report.css, img/, daily.csv,
    daily.xlsx) and return the HTML path. The folder is built aside and then put in place,
    so a failure leaves the previous report whole."""
    out = Path(out)
    figs = []
    for name in _scenario_names(out, scenarios):
        run, records, sensitivity = load_scenario(out / name)
        fig = aggregate(records, run, sensitivity)
        fig.scenario = fig.scenario or name
        figs.append(fig)
    target = out / "report"
    work = out / f".report-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir(parents=True)
        cjk = find_cjk_font()
        comparison = draw_plots(figs, work / "img", cjk)
        shutil.copyfile(TEMPLATES / "report.css", work / "report.css")
        write_csv(work / "daily.csv", figs)
        write_xlsx(work / "daily.xlsx", figs)
        html = render_html(figs, cjk, comparison, generated or datetime.now(TZ))
        (work / "index.html").write_text(html, encoding="utf-8")
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return target / "index.html"
