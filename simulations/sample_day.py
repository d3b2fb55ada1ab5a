"""Seeded generator of one day's orders for the six served counties (sample data).

``generate_day(date(2026, 9, 15), seed=1)`` returns the consignments of one plan day:
parcels going down from the public warehouse WH-CX (or a county hub) to township
stations and village service points, and farm produce coming up from townships and
villages to the county hub or the warehouse. Same date, seed and scale: same orders.

Command line::

    python -m simulations.sample_day --date 2026-09-15 --seed 1 -o data/sample/orders-2026-09-15.csv

Every number lives in :class:`Assumptions`; the sourced ones are read from
``data/demand/facts.csv`` (derived from the shared facts by ``scripts/derive_demand.py``),
resident population from ``data/demand/population.csv``. The rules, each an
**assumption** resting on the figures named (also in ``data/dispatch/ASSUMPTIONS.md``):

Down parcels
    * Inbound parcels per resident per day = 武定's 2万余 parcels sorted a day (2025, 6
      brands) ÷ 239,059 residents (2020 census), times the inbound share of the 石屏
      comparator (进港 3.9万 : 出港 1.07万 a day, so inbound = 3.9 / 4.97 = 78.5 %)
      ≈ 0.0656. Applied to every township's resident population (census for 姚安 and
      永仁, estimated elsewhere: see data/demand/SOURCES.md), times ``scale``.
    * Half of a township's parcels go to its village service points (村委会, equal
      weights), half to the township station; a 社区居委会 lies in the town itself and its
      parcels are handed out at the station. SF and JD deliver to township stations only
      (their village customers collect there, as at the 南华 五街镇 station SF serves).
    * Carriers by share: ZTO 22.9 % (sourced, national 2023); YTO 16, YUNDA 14, STO 13,
      JT 12, EMS 12, SF 7, JD 3.1 % (assumed: no sourced share); 武定 has only the six
      brands of its co-delivery article (no SF, JD), shares renormalised.
    * One order = one carrier's parcels for one destination; the count is Poisson around
      the expected value (the day's noise); zero-parcel orders are skipped. 5 % of SF/JD
      station parcels are chilled fresh-food parcels (own orders, ~3 kg / 15 L each); they
      come on the carrier's own cold-chain line-haul straight to the county hub.
    * A parcel weighs lognormal, mean 1.2 kg (0.05–30 kg); its volume is weight ÷ a
      lognormal density around 200 kg/m³, so ~6 L on average.
    * 85 % of orders start at WH-CX (ready 05:30, sorted overnight), 15 % at the county
      hub (the carrier's own line-haul went straight to the county; ready 07:00). Due
      18:00 the same day. Tracking numbers: brand prefix (E, ZT, YT, ST, YD, JT, SF, JD) +
      yymmdd + a serial from a seeded start, so unique within a day.

Up produce (by the season of the date)
    * Wild mushrooms 野生菌, June–September (monthly weights 0.5/1.4/1.4/0.7, peak
      July–August as sourced): 6万 t a year prefecture-wide × the six counties' share of
      the prefecture's residents (~41 %) over the ~122-day season, of which the shared
      routes carry 1 %; 双柏 (哀牢山 forests) weighted ×1.5. Lots 20–300 kg, chilled
      (1–4 °C), ready 09:00–12:00, to WH-CX, due ready + 24 h (the sourced 24 h rule).
    * Walnuts 核桃, September–November (weights 0.6/1.6/0.8, October peak): 大姚
      3.67万 t a year; the other counties 15 % of 大姚's output per resident; 0.5 %
      carried. Lots 50–500 kg, ambient, half to WH-CX, half to the hub, due 20:00.
    * Honey 蜂蜜 (0.5 lots/county/day, 20–100 kg) to WH-CX and brown sugar 红糖 (永仁 1.0,
      牟定 0.6, others 0.15 lots/day, 30–200 kg) to the hub, year round, due 20:00.
    * Black goats 黑山羊: 0.45 lots/county/day (about 3 a week), 4–15 head of ~35 kg, live,
      to the hub, ready 07:00–09:00, due 18:00. Free-range chicken 武定鸡: 1.5 lots/day in
      武定, 0.2 elsewhere, 20–80 birds of ~2.2 kg in crates of 8, live, to WH-CX, due 20:00.
    * A lot starts at a township station or (half the time) one of its villages; the
      township is drawn by population. Unlocated places are allowed (the planner collects
      them at their township station).
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from pathlib import Path

import numpy as np

from dispatch.domain import TZ, Order, Party
from dispatch.io.orders import COLUMNS
from routing.errors import InputError
from routing.network.graph import Place

DATA = Path(__file__).resolve().parents[1] / "data"
FACTS_PATH = DATA / "demand" / "facts.csv"
POPULATION_PATH = DATA / "demand" / "population.csv"

ORDER_COLUMNS = COLUMNS  # the documented order format of dispatch.io.orders

WAREHOUSE = "WH-CX"
CARRIERS = ("EMS", "ZTO", "YTO", "STO", "YUNDA", "JT", "SF", "JD")


@dataclass(frozen=True)
class Lot:
    """How one kind of produce lot is sized: lognormal mass, clipped, in pieces."""

    mean_kg: float
    sigma: float
    min_kg: float
    max_kg: float
    kg_per_piece: float  # a crate, sack or case
    m3_per_kg: float


@dataclass(frozen=True)
class Assumptions:
    """Every number the generator uses. The first block is sourced (data/demand/facts.csv,
    see data/demand/SOURCES.md); the rest are assumptions (data/dispatch/ASSUMPTIONS.md)."""

    # ---- sourced -------------------------------------------------------------------------
    wuding_parcels_per_day: float  # 武定 county centre: 日分拣量达2万余件, 6 brands (2025)
    wuding_residents: int  # 武定 2020 census: 239,059
    shiping_inbound_per_day: float  # 石屏 comparator: 日均进港 3.9万件 (2025)
    shiping_outbound_per_day: float  # 石屏 comparator: 出港 1.07万件 (2025)
    zto_share_pct: float  # ZTO national market share 2023: 22.9 %
    prefecture_residents: int  # 楚雄州 2020 census: 2,416,747
    mushrooms_t_per_year: float  # 楚雄州 wild mushrooms: 6万 t a year (2024)
    mushroom_max_hours: float  # fresh mushrooms: at most 24 h from arrival to sale
    walnuts_dayao_t_per_year: float  # 大姚 walnuts: 3.67万 t (2018)

    # ---- parcels (assumptions) -----------------------------------------------------------
    other_shares_pct: tuple[tuple[str, float], ...] = (
        ("YTO", 16.0),
        ("YUNDA", 14.0),
        ("STO", 13.0),
        ("JT", 12.0),
        ("EMS", 12.0),  # the universal-service network is strong in villages
        ("SF", 7.0),
        ("JD", 3.1),
    )  # no sourced share; with ZTO's 22.9 they sum to 100
    absent: tuple[tuple[str, tuple[str, ...]], ...] = (("532329", ("SF", "JD")),)  # 武定 article
    township_only: tuple[str, ...] = ("SF", "JD")  # village customers collect at the station
    village_share: float = 0.5  # of a township's parcels, to its village service points
    hub_origin_share: float = 0.15  # of orders: carrier's own line-haul straight to the county
    chilled_share: float = 0.05  # of SF/JD station parcels: fresh food, chilled, from the hub
    parcel_mean_kg: float = 1.2
    parcel_sigma: float = 0.9  # lognormal sigma of a parcel's weight
    parcel_min_kg: float = 0.05
    parcel_max_kg: float = 30.0
    parcel_mean_m3: float = 0.006  # ~6 L: density ~200 kg/m³
    density_sigma: float = 0.35  # lognormal sigma of kg/m³ around the mean density
    chilled_mean_kg: float = 3.0  # foam box with ice packs
    chilled_mean_m3: float = 0.015
    warehouse_ready: time = time(5, 30)  # sorted overnight at WH-CX
    hub_ready: time = time(7, 0)
    parcel_due: time = time(18, 0)
    prefixes: tuple[tuple[str, str], ...] = (
        ("EMS", "E"),
        ("ZTO", "ZT"),
        ("YTO", "YT"),
        ("STO", "ST"),
        ("YUNDA", "YD"),
        ("JT", "JT"),
        ("SF", "SF"),
        ("JD", "JD"),
    )

    # ---- produce (assumptions) -----------------------------------------------------------
    up_village_share: float = 0.5  # lots starting at a village rather than the station
    mushroom_months: tuple[tuple[int, float], ...] = ((6, 0.5), (7, 1.4), (8, 1.4), (9, 0.7))
    mushroom_platform_share: float = 0.01  # of the six counties' harvest on shared routes
    mushroom_county_weight: tuple[tuple[str, float], ...] = (("532322", 1.5),)  # 双柏 forests
    mushroom_lot: Lot = Lot(60.0, 0.6, 20.0, 300.0, 10.0, 0.004)  # 10 kg foam boxes
    mushroom_ready: tuple[time, time] = (time(9, 0), time(12, 0))
    walnut_months: tuple[tuple[int, float], ...] = ((9, 0.6), (10, 1.6), (11, 0.8))
    walnut_platform_share: float = 0.005
    walnut_other_per_capita: float = 0.15  # other counties' output per resident vs 大姚
    walnut_lot: Lot = Lot(150.0, 0.6, 50.0, 500.0, 50.0, 0.0025)  # 50 kg sacks, in shell
    walnut_to_warehouse: float = 0.5  # the rest to the county hub
    produce_ready: tuple[time, time] = (time(8, 0), time(12, 0))
    produce_due: time = time(20, 0)
    honey_lots_per_day: float = 0.5  # per county
    honey_lot: Lot = Lot(40.0, 0.5, 20.0, 100.0, 12.0, 0.0016)  # cases of 12 x 1 kg jars
    sugar_lots_per_day: tuple[tuple[str, float], ...] = (("532327", 1.0), ("532323", 0.6))
    sugar_lots_elsewhere: float = 0.15
    sugar_lot: Lot = Lot(80.0, 0.5, 30.0, 200.0, 25.0, 0.001)  # 25 kg bags
    goat_lots_per_day: float = 0.45  # per county, about 3 a week
    goat_head: tuple[int, int] = (4, 15)
    goat_kg: tuple[float, float] = (28.0, 42.0)  # live weight per head
    goat_m3_per_head: float = 0.35  # standing room on the deck
    goat_ready: tuple[time, time] = (time(7, 0), time(9, 0))
    goat_due: time = time(18, 0)
    chicken_lots_per_day: tuple[tuple[str, float], ...] = (("532329", 1.5),)
    chicken_lots_elsewhere: float = 0.2
    chicken_birds: tuple[int, int] = (20, 80)
    chicken_kg: float = 2.2  # live weight per bird
    birds_per_crate: int = 8
    crate_m3: float = 0.12
    chicken_ready: tuple[time, time] = (time(7, 0), time(9, 0))
    chicken_due: time = time(20, 0)

    @property
    def inbound_per_resident_day(self) -> float:
        """Parcels delivered per resident per day (武定 sorting x 石屏 inbound share)."""
        inbound = self.shiping_inbound_per_day / (
            self.shiping_inbound_per_day + self.shiping_outbound_per_day
        )
        return self.wuding_parcels_per_day / self.wuding_residents * inbound

    def carrier_shares(self, county: str) -> dict[str, float]:
        """Share (sums to 1) of each carrier present in the county."""
        pct = {"ZTO": self.zto_share_pct, **dict(self.other_shares_pct)}
        gone = dict(self.absent).get(county, ())
        present = {c: pct[c] for c in CARRIERS if c not in gone}
        total = sum(present.values())
        return {c: v / total for c, v in present.items()}

    def prefix(self, carrier: str) -> str:
        return dict(self.prefixes)[carrier]


def _read_csv(path: Path) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8", newline="") as f:
            return list(csv.DictReader(f))
    except OSError as e:
        raise InputError(str(path), f"cannot read file ({e.strerror})") from None


def load_assumptions(path: Path | None = None) -> Assumptions:
    """The assumptions with their sourced figures filled from ``facts.csv``."""
    path = path or FACTS_PATH
    figures = {r["key"]: r["figure"] for r in _read_csv(path) if r.get("key")}

    def number(key: str) -> float:
        text = figures.get(key, "")
        try:
            return float(text)
        except ValueError:
            raise InputError(
                f"{path.name} key {key}", f"missing or not a number: {text!r}"
            ) from None

    return Assumptions(
        wuding_parcels_per_day=number("wuding_parcels_sorted_per_day"),
        wuding_residents=round(number("wuding_population")),
        shiping_inbound_per_day=number("shiping_inbound_per_day"),
        shiping_outbound_per_day=number("shiping_outbound_per_day"),
        zto_share_pct=number("zto_share_pct"),
        prefecture_residents=round(number("prefecture_population")),
        mushrooms_t_per_year=number("mushrooms_t_per_year"),
        mushroom_max_hours=number("mushroom_max_hours"),
        walnuts_dayao_t_per_year=number("walnuts_dayao_10k_t") * 10_000,
    )


def load_population(path: Path | None = None) -> dict[str, int]:
    """Resident population by place id: county codes (6 digits) and townships (9 digits)."""
    path = path or POPULATION_PATH
    out: dict[str, int] = {}
    for line, row in enumerate(_read_csv(path), start=2):
        try:
            out[row["id"]] = int(row["population"])
        except (KeyError, ValueError):
            raise InputError(f"{path.name} line {line}", "bad id or population") from None
    return out


# ---- helpers -------------------------------------------------------------------------------
def _season_factor(months: tuple[tuple[int, float], ...], day: date) -> float:
    """Weight of the day's month relative to the season's mean day (0 out of season)."""
    weights = dict(months)
    if day.month not in weights:
        return 0.0
    days_in = {m: (date(2025 + m // 12, m % 12 + 1, 1) - date(2025, m, 1)).days for m in weights}
    mean = sum(weights[m] * days_in[m] for m in weights) / sum(days_in.values())
    return weights[day.month] / mean


def season_days(months: tuple[tuple[int, float], ...]) -> int:
    return sum((date(2025 + m // 12, m % 12 + 1, 1) - date(2025, m, 1)).days for m, _ in months)


def _at(day: date, clock: time) -> datetime:
    return datetime.combine(day, clock, tzinfo=TZ)


def _number(value: float) -> str:
    """At most three decimals, no trailing zeros."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


@dataclass
class _Geography:
    """The served counties' places, as the generator needs them."""

    counties: list[str]  # codes, sorted
    townships: dict[str, list[Place]]  # county -> townships, by id
    villages: dict[str, list[Place]]  # township -> its village service points (村委会)
    population: dict[str, int]  # township id -> residents


def _is_village_committee(place: Place) -> bool:
    """NBS rule: the last three digits 200-399 are a 村委会; 001-199 a 社区居委会."""
    return place.kind == "village" and int(place.id[-3:]) >= 200


def _geography(places: Sequence[Place], population: Mapping[str, int]) -> _Geography:
    hubs = sorted(p.county_code for p in places if p.kind == "hub")
    if not hubs:
        raise InputError("places", "no county hubs")
    if not any(p.id == WAREHOUSE for p in places):
        raise InputError("places", f"no warehouse {WAREHOUSE}")
    townships: dict[str, list[Place]] = {c: [] for c in hubs}
    villages: dict[str, list[Place]] = {}
    for p in sorted(places, key=lambda p: p.id):
        if p.kind == "township" and p.county_code in townships:
            townships[p.county_code].append(p)
            villages.setdefault(p.id, [])
    for p in sorted(places, key=lambda p: p.id):
        if _is_village_committee(p) and p.township_code in villages:
            villages[p.township_code].append(p)
    pop: dict[str, int] = {}
    for county, towns in townships.items():
        if not towns:
            raise InputError("places", f"county {county} has a hub but no townships")
        for t in towns:
            if t.id not in population:
                raise InputError("population", f"no resident population for township {t.id}")
            pop[t.id] = population[t.id]
    return _Geography(hubs, townships, villages, pop)


def expected_parcels(
    assumptions: Assumptions,
    places: Sequence[Place],
    population: Mapping[str, int],
    *,
    scale: float = 1.0,
) -> dict[tuple[str, str], float]:
    """Expected down parcels per day by (county, carrier), before the day's noise."""
    geo = _geography(places, population)
    rate = assumptions.inbound_per_resident_day * scale
    out: dict[tuple[str, str], float] = {}
    for county in geo.counties:
        residents = sum(geo.population[t.id] for t in geo.townships[county])
        for carrier, share in assumptions.carrier_shares(county).items():
            out[county, carrier] = residents * rate * share
    return out


# ---- the generator -------------------------------------------------------------------------
class _Tracking:
    """Unique tracking numbers per carrier: prefix + yymmdd + serial from a seeded start."""

    def __init__(self, rng: np.random.Generator, day: date, assumptions: Assumptions) -> None:
        self.day = day.strftime("%y%m%d")
        self.next = {c: int(rng.integers(0, 9_000_000)) for c in CARRIERS}
        self.assumptions = assumptions

    def take(self, carrier: str, count: int) -> tuple[str, ...]:
        start = self.next[carrier]
        self.next[carrier] = start + count
        head = self.assumptions.prefix(carrier) + self.day
        return tuple(f"{head}{n:07d}" for n in range(start, start + count))


class _Generator:
    def __init__(
        self,
        plan_date: date,
        seed: int,
        scale: float,
        geo: _Geography,
        parties: Mapping[str, Party],
        a: Assumptions,
    ) -> None:
        self.day = plan_date
        self.rng = np.random.default_rng(np.random.SeedSequence([seed, plan_date.toordinal()]))
        self.scale = scale
        self.produce_scale = scale
        self.geo = geo
        self.parties = parties
        self.a = a
        self.tracking = _Tracking(self.rng, plan_date, a)
        self.orders: list[Order] = []
        self.numbers: Counter[str] = Counter()

    # -- parcels --
    def _parcels(self, n: int, mean_kg: float, mean_m3: float) -> tuple[float, float]:
        a = self.a
        mu = math.log(mean_kg) - a.parcel_sigma**2 / 2
        kg = np.clip(self.rng.lognormal(mu, a.parcel_sigma, n), a.parcel_min_kg, a.parcel_max_kg)
        # density (kg/m³) lognormal so that E[kg / density] = mean_m3 for the mean weight
        d_mu = math.log(mean_kg / mean_m3) + a.density_sigma**2 / 2
        m3 = np.maximum(kg / self.rng.lognormal(d_mu, a.density_sigma, n), 0.0005)
        return float(kg.sum()), float(m3.sum())

    def _down(self, county: str, carrier: str, dest: str, n: int, chilled: bool) -> None:
        a = self.a
        if chilled or self.rng.random() < a.hub_origin_share:
            origin, ready = f"HUB-{county}", a.hub_ready
        else:
            origin, ready = WAREHOUSE, a.warehouse_ready
        if chilled:
            kg, m3 = self._parcels(n, a.chilled_mean_kg, a.chilled_mean_m3)
        else:
            kg, m3 = self._parcels(n, a.parcel_mean_kg, a.parcel_mean_m3)
        self._add(
            "D",
            party=carrier,
            direction="down",
            origin=origin,
            destination=dest,
            kg=kg,
            m3=m3,
            pieces=n,
            temperature="chilled" if chilled else "ambient",
            ready=_at(self.day, ready),
            due=_at(self.day, a.parcel_due),
            tracking=self.tracking.take(carrier, n),
            goods="生鲜包裹" if chilled else "包裹",
        )

    def down(self) -> None:
        a = self.a
        rate = a.inbound_per_resident_day * self.scale
        for county in self.geo.counties:
            shares = a.carrier_shares(county)
            for town in self.geo.townships[county]:
                parcels = self.geo.population[town.id] * rate
                villages = self.geo.villages[town.id]
                to_villages = parcels * a.village_share if villages else 0.0
                for carrier, share in shares.items():
                    at_station = (parcels - to_villages) * share
                    per_village = to_villages * share / len(villages) if villages else 0.0
                    if carrier in a.township_only:
                        at_station += per_village * len(villages)
                        per_village = 0.0
                        chilled = int(self.rng.poisson(at_station * a.chilled_share))
                        at_station *= 1 - a.chilled_share
                        if chilled:
                            self._down(county, carrier, town.id, chilled, chilled=True)
                    n = int(self.rng.poisson(at_station))
                    if n:
                        self._down(county, carrier, town.id, n, chilled=False)
                    if per_village > 0:
                        for village in villages:
                            n = int(self.rng.poisson(per_village))
                            if n:
                                self._down(county, carrier, village.id, n, chilled=False)

    # -- produce --
    def _origin(self, county: str) -> str:
        towns = self.geo.townships[county]
        weights = np.array([self.geo.population[t.id] for t in towns], dtype=float)
        town = towns[int(self.rng.choice(len(towns), p=weights / weights.sum()))]
        villages = self.geo.villages[town.id]
        if villages and self.rng.random() < self.a.up_village_share:
            return villages[int(self.rng.integers(len(villages)))].id
        return town.id

    def _ready(self, window: tuple[time, time]) -> datetime:
        start, end = _at(self.day, window[0]), _at(self.day, window[1])
        slots = int((end - start).total_seconds() // 900)
        return start + timedelta(minutes=15 * int(self.rng.integers(0, slots + 1)))

    def _lot_kg(self, lot: Lot) -> float:
        mu = math.log(lot.mean_kg) - lot.sigma**2 / 2
        return float(np.clip(self.rng.lognormal(mu, lot.sigma), lot.min_kg, lot.max_kg))

    def _produce(
        self,
        county: str,
        party: str,
        lot: Lot,
        *,
        goods: str,
        destination: str,
        window: tuple[time, time],
        due: time | None = None,
        temperature: str = "ambient",
        due_after: timedelta | None = None,
    ) -> None:
        kg = round(self._lot_kg(lot), 1)
        ready = self._ready(window)
        self._add(
            "U",
            party=party,
            direction="up",
            origin=self._origin(county),
            destination=destination,
            kg=kg,
            m3=kg * lot.m3_per_kg,
            pieces=max(1, math.ceil(kg / lot.kg_per_piece)),
            temperature=temperature,
            ready=ready,
            due=ready + due_after if due_after is not None else _at(self.day, due or time(20)),
            goods=goods,
        )

    def _lots(self, mean: float) -> int:
        return int(self.rng.poisson(mean * self.produce_scale)) if mean > 0 else 0

    def up(self) -> None:
        """The produce of the day, bound for the hubs and WH-CX: wild mushrooms and walnuts
        by season, then in each county honey, brown sugar, black goats and Wuding chickens
        (in this order: the random stream depends on it)."""
        geo = self.geo
        residents = {c: sum(geo.population[t.id] for t in geo.townships[c]) for c in geo.counties}
        self._mushrooms(residents)
        self._walnuts(residents)
        for c in geo.counties:
            self._honey_and_sugar(c)
            self._goats(c)
            self._chickens(c)

    def _mushrooms(self, residents: Mapping[str, int]) -> None:
        """Wild mushrooms in season: the prefecture's harvest -> the six counties -> the
        day -> the platform's share, spread by residents and each county's weight."""
        a, geo = self.a, self.geo
        factor = _season_factor(a.mushroom_months, self.day)
        if not factor > 0:
            return
        six_share = sum(residents.values()) / a.prefecture_residents
        daily_t = (
            a.mushrooms_t_per_year
            * six_share
            * factor
            / season_days(a.mushroom_months)
            * a.mushroom_platform_share
        )
        boost = dict(a.mushroom_county_weight)
        weight = {c: residents[c] * boost.get(c, 1.0) for c in geo.counties}
        total = sum(weight.values())
        for c in geo.counties:
            kg = daily_t * 1000 * weight[c] / total
            party = "buyer-yaoan-mushroom" if c in _YAOAN_BUYER else "buyer-shuangbai-mushroom"
            for _ in range(self._lots(kg / a.mushroom_lot.mean_kg)):
                self._produce(
                    c,
                    party,
                    a.mushroom_lot,
                    goods="野生菌",
                    destination=WAREHOUSE,
                    window=a.mushroom_ready,
                    temperature="chilled",
                    due_after=timedelta(hours=a.mushroom_max_hours),
                )

    def _walnuts(self, residents: Mapping[str, int]) -> None:
        """Walnuts in season: 大姚's output; elsewhere a fraction of it per resident."""
        a, geo = self.a, self.geo
        factor = _season_factor(a.walnut_months, self.day)
        if not factor > 0:
            return
        per_day = a.walnuts_dayao_t_per_year * factor / season_days(a.walnut_months)
        per_day *= a.walnut_platform_share
        dayao_per_resident = per_day / residents.get(_DAYAO, 1) if _DAYAO in residents else 0
        for c in geo.counties:
            if c == _DAYAO:
                kg, party = per_day * 1000, "coop-dayao-walnut"
            else:
                kg = dayao_per_resident * a.walnut_other_per_capita * residents[c] * 1000
                party = "buyer-walnut"
            for _ in range(self._lots(kg / a.walnut_lot.mean_kg)):
                to_wh = self.rng.random() < a.walnut_to_warehouse
                self._produce(
                    c,
                    party,
                    a.walnut_lot,
                    goods="核桃",
                    destination=WAREHOUSE if to_wh else f"HUB-{c}",
                    window=a.produce_ready,
                    due=a.produce_due,
                )

    def _honey_and_sugar(self, c: str) -> None:
        """One county's honey (to WH-CX) and brown sugar (to its hub)."""
        a = self.a
        for _ in range(self._lots(a.honey_lots_per_day)):
            self._produce(
                c,
                "coop-honey",
                a.honey_lot,
                goods="蜂蜜",
                destination=WAREHOUSE,
                window=a.produce_ready,
                due=a.produce_due,
            )
        for _ in range(self._lots(dict(a.sugar_lots_per_day).get(c, a.sugar_lots_elsewhere))):
            self._produce(
                c,
                "maker-yongren-sugar",
                a.sugar_lot,
                goods="红糖",
                destination=f"HUB-{c}",
                window=a.produce_ready,
                due=a.produce_due,
            )

    def _goats(self, c: str) -> None:
        """One county's black goats, live, to its hub."""
        a = self.a
        for _ in range(self._lots(a.goat_lots_per_day)):
            head = int(self.rng.integers(a.goat_head[0], a.goat_head[1] + 1))
            kg = float(self.rng.uniform(*a.goat_kg, size=head).sum())
            ready = self._ready(a.goat_ready)
            self._add(
                "U",
                party="coop-black-goat",
                direction="up",
                origin=self._origin(c),
                destination=f"HUB-{c}",
                kg=kg,
                m3=head * a.goat_m3_per_head,
                pieces=head,
                ready=ready,
                due=_at(self.day, a.goat_due),
                live_animal=True,
                goods=f"黑山羊 {head} 只",
            )

    def _chickens(self, c: str) -> None:
        """One county's Wuding chickens, live in crates, to WH-CX."""
        a = self.a
        for _ in range(self._lots(dict(a.chicken_lots_per_day).get(c, a.chicken_lots_elsewhere))):
            birds = int(self.rng.integers(a.chicken_birds[0], a.chicken_birds[1] + 1))
            crates = math.ceil(birds / a.birds_per_crate)
            ready = self._ready(a.chicken_ready)
            self._add(
                "U",
                party="coop-wuding-chicken",
                direction="up",
                origin=self._origin(c),
                destination=WAREHOUSE,
                kg=birds * a.chicken_kg,
                m3=crates * a.crate_m3,
                pieces=crates,
                ready=ready,
                due=_at(self.day, a.chicken_due),
                live_animal=True,
                goods=f"武定鸡 {birds} 只 {crates} 笼",
            )

    def _add(
        self,
        kind: str,
        *,
        party: str,
        direction: str,
        origin: str,
        destination: str,
        kg: float,
        m3: float,
        pieces: int,
        ready: datetime,
        due: datetime,
        temperature: str = "ambient",
        live_animal: bool = False,
        tracking: tuple[str, ...] = (),
        goods: str = "",
    ) -> None:
        if party not in self.parties:
            raise InputError("parties", f"the generator needs party {party!r}, which is unknown")
        self.numbers[kind] += 1
        number = self.numbers[kind]
        self.orders.append(
            Order(
                id=f"{self.day:%Y%m%d}-{kind}{number:05d}",
                party=party,
                direction=direction,
                origin=origin,
                destination=destination,
                weight_kg=max(0.001, round(kg, 3)),
                volume_m3=max(0.001, round(m3, 3)),
                pieces=pieces,
                temperature=temperature,
                ready=ready,
                due=due,
                live_animal=live_animal,
                tracking=tracking,
                goods=goods,
            )
        )


_DAYAO = "532326"
_YAOAN_BUYER = ("532325", "532326", "532327")  # 姚安, 大姚, 永仁; 双柏's buyer the rest


def generate_day(
    plan_date: date,
    *,
    seed: int = 0,
    scale: float = 1.0,
    places: Sequence[Place] | None = None,
    parties: Mapping[str, Party] | None = None,
    population: Mapping[str, int] | None = None,
    assumptions: Assumptions | None = None,
    produce_scale: float | None = None,
) -> list[Order]:
    """The orders of one plan day: parcels down first, then produce up.

    ``scale`` multiplies every expected count (1.0 = the stated demand);
    ``produce_scale``, when given, the produce lots' instead (a parcel peak such as
    双十一 does not bring more goats down the mountain). ``places``,
    ``parties`` and ``population`` default to the bundled data (places.csv,
    data/dispatch/parties.csv, data/demand/population.csv by township id).
    """
    if not (isinstance(scale, int | float) and math.isfinite(scale) and scale > 0):
        raise InputError("scale", f"must be a number > 0, got {scale!r}")
    if places is None:
        from routing.network.places import load_places

        places = load_places()
    if parties is None:
        from dispatch.io.fleet import load_parties

        parties = load_parties()
    geo = _geography(places, load_population() if population is None else population)
    gen = _Generator(plan_date, seed, scale, geo, parties, assumptions or load_assumptions())
    if produce_scale is not None:
        if not (math.isfinite(produce_scale) and produce_scale > 0):
            raise InputError("produce_scale", f"must be a number > 0, got {produce_scale!r}")
        gen.produce_scale = produce_scale
    gen.down()
    gen.up()
    return gen.orders


# ---- output --------------------------------------------------------------------------------
def order_rows(orders: Sequence[Order]) -> Iterator[list[str]]:
    """The CSV rows (header first) of the sample-orders format."""
    yield list(ORDER_COLUMNS)
    for o in orders:
        yield [
            o.id,
            o.party,
            o.direction,
            o.origin,
            o.destination,
            _number(o.weight_kg),
            _number(o.volume_m3),
            str(o.pieces),
            o.temperature,
            o.ready.isoformat() if o.ready else "",
            o.due.isoformat() if o.due else "",
            "true" if o.live_animal else "false",
            ";".join(o.tracking),
            o.goods,
        ]


def write_orders(orders: Sequence[Order], path: Path) -> None:
    """Write the orders as UTF-8 CSV (header row, one order per row)."""
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f, lineterminator="\n").writerows(order_rows(orders))


def summarize(orders: Sequence[Order]) -> dict[tuple[str, str], tuple[int, int, float]]:
    """(county, direction) -> (orders, pieces, kg); county from the local place's code."""
    out: dict[tuple[str, str], tuple[int, int, float]] = {}
    for o in orders:
        local = o.destination if o.direction == "down" else o.origin
        key = (local[:6], o.direction)
        n, p, kg = out.get(key, (0, 0, 0.0))
        out[key] = (n + 1, p + o.pieces, kg + o.weight_kg)
    return dict(sorted(out.items()))


def _parse_date(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a date YYYY-MM-DD: {text!r}") from None


def _parse_scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text!r}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m simulations.sample_day",
        description="Generate one day of sample orders (seeded) as the order CSV format.",
    )
    parser.add_argument("--date", required=True, type=_parse_date, help="plan date YYYY-MM-DD")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--scale", type=_parse_scale, default=1.0, help="demand multiplier")
    parser.add_argument("-o", "--output", type=Path, required=True, help="CSV file to write")
    args = parser.parse_args(argv)
    try:
        if not args.output.parent.is_dir():
            raise InputError("--output", f"directory {args.output.parent} does not exist")
        orders = generate_day(args.date, seed=args.seed, scale=args.scale)
        write_orders(orders, args.output)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"error: --output: cannot write {args.output} ({e.strerror})", file=sys.stderr)
        return 2
    totals = Counter[str]()
    for (_, direction), (n, pieces, kg) in summarize(orders).items():
        totals[f"{direction}_orders"] += n
        totals[f"{direction}_pieces"] += pieces
        totals[f"{direction}_kg"] += round(kg)
    print(
        f"wrote {len(orders)} orders to {args.output}: "
        f"down {totals['down_orders']} orders / {totals['down_pieces']} parcels / "
        f"{totals['down_kg']} kg, up {totals['up_orders']} lots / {totals['up_kg']} kg",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
