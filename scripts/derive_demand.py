"""Derive the demand and fleet data files from the shared facts.

Run by a developer when the shared facts or the assumptions change::

    .venv/bin/python scripts/derive_demand.py [--shared ../shared/data]
    .venv/bin/python scripts/derive_demand.py --fleet-only   # data/dispatch only

Writes
    data/demand/population.csv   county and township resident population, with basis
    data/demand/facts.csv        the sourced facts the generator and the fleet costs use
    data/demand/SOURCES.md       what each figure is, where it comes from, its licence
    data/dispatch/parties.csv    carriers, (fictional) shippers, hub operators
    data/dispatch/fleet.csv      vehicles sized to the expected demand, costs in fen

Only this script reads ../shared; nothing at run time or in tests does. ``--fleet-only``
rebuilds parties.csv and fleet.csv from the files already in data/demand/. The vehicle
catalogue and cost formulas below are documented in data/dispatch/ASSUMPTIONS.md.
"""

from __future__ import annotations

import argparse
import csv
import math
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEMAND = ROOT / "data" / "demand"
DISPATCH = ROOT / "data" / "dispatch"
ROAD = ROOT / "data" / "road_network"

SCOPE = ("532329", "532326", "532322", "532323", "532325", "532327")
COUNTY_ZH = {
    "532329": "武定县",
    "532326": "大姚县",
    "532322": "双柏县",
    "532323": "牟定县",
    "532325": "姚安县",
    "532327": "永仁县",
}
TOWNSHIP_ALIASES = {("532327", "永兴乡"): "永兴傣族乡"}  # the census table's short name
DAYAO = "532326"


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict[str, object]], fields: list[str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})


# ---- facts ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Pick:
    """One sourced fact: which shared row, and what it is called here."""

    key: str
    topic: str
    entity: str
    unit_has: str  # substring of the shared row's unit
    use: str  # what the generator or the fleet does with it
    figure: str | None = None  # another figure of the same quote (e.g. outbound next to inbound)
    unit: str | None = None  # the unit of that figure
    entity_as: str | None = None


PICKS = (
    Pick(
        "prefecture_population",
        "population",
        "楚雄州 532300",
        "persons (resident, census)",
        "the six counties' share of the prefecture's residents scales the prefecture-wide "
        "produce figures",
    ),
    Pick(
        "wuding_population",
        "population",
        "武定县 532329",
        "persons",
        "denominator of the parcels-per-resident rate",
    ),
    Pick(
        "mouding_resident_10k",
        "population",
        "牟定县 532323",
        "10k persons (resident)",
        "resident/registered ratio used to estimate 大姚's residents",
    ),
    Pick(
        "mouding_registered_10k",
        "population",
        "牟定县 532323",
        "10k persons (resident)",
        "resident/registered ratio used to estimate 大姚's residents",
        figure="20.05",
        unit="10k persons (registered, 户籍 总人口)",
    ),
    Pick(
        "dayao_population_10k",
        "population",
        "大姚县 532326",
        "10k persons",
        "大姚's registered population, the base of its resident estimate",
    ),
    Pick(
        "wuding_parcels_sorted_per_day",
        "parcel_volume",
        "武定县 532329",
        "parcels sorted",
        "numerator of the parcels-per-resident rate",
    ),
    Pick(
        "wuding_express_brands",
        "carrier_market",
        "武定县 532329",
        "express brands",
        "carriers present in 武定: only these six (no SF, JD)",
    ),
    Pick(
        "shiping_inbound_per_day",
        "parcel_volume",
        "石屏县 (红河州, Yunnan comparator)",
        "inbound",
        "inbound share of a county's parcels = in / (in + out)",
    ),
    Pick(
        "shiping_outbound_per_day",
        "parcel_volume",
        "石屏县 (红河州, Yunnan comparator)",
        "inbound",
        "inbound share of a county's parcels = in / (in + out)",
        figure="10700",
        unit="outbound parcels per day (出港量, 1.07万件 in the same quote)",
    ),
    Pick(
        "zto_share_pct",
        "carrier_market",
        "中通 ZTO",
        "% national parcel market share",
        "ZTO's share of the parcels (the other carriers' shares are assumptions)",
    ),
    Pick(
        "sf_township_station",
        "carrier_market",
        "南华县 五街镇 (楚雄州)",
        "顺丰",
        "supports the assumption that SF (and JD) deliver to township stations",
    ),
    Pick(
        "mushrooms_t_per_year",
        "produce",
        "楚雄州 wild mushrooms 野生菌",
        "tonnes",
        "base of the daily mushroom lots",
    ),
    Pick(
        "mushroom_peak_months",
        "produce",
        "云南 wild mushrooms",
        "peak months",
        "monthly weights of the mushroom season (peak July-August)",
    ),
    Pick(
        "mushroom_season_months",
        "produce",
        "楚雄 松茸 matsutake",
        "picking months",
        "mushroom season (with the June start of the 宜良 comparator)",
    ),
    Pick(
        "mushroom_cold_store_c",
        "cold_chain",
        "fresh mushrooms (香菇 guidance)",
        "cold-store",
        "mushroom lots are chilled (1-4 °C)",
    ),
    Pick(
        "mushroom_max_hours",
        "cold_chain",
        "fresh mushrooms at market",
        "max hours",
        "mushroom lots are due 24 h after they are ready",
    ),
    Pick(
        "walnuts_dayao_10k_t",
        "produce",
        "大姚县 walnuts 核桃",
        "10k tonnes",
        "base of the daily walnut lots",
    ),
    Pick(
        "walnut_harvest_months",
        "produce",
        "云南 walnuts",
        "harvest months",
        "walnut season September-November, October peak",
    ),
    Pick(
        "sheep_goats_stock_10k",
        "produce",
        "楚雄州 sheep+goats 羊",
        "in stock",
        "cross-check of the goat lots",
    ),
    Pick(
        "sheep_goats_sold_10k_per_year",
        "produce",
        "楚雄州 poultry 家禽",
        "slaughtered",
        "cross-check of the goat lots",
        figure="107.27",
        unit="10k head slaughtered/sold (出栏), sheep and goats",
        entity_as="楚雄州 sheep+goats 羊",
    ),
    Pick(
        "poultry_sold_10k_per_year",
        "produce",
        "楚雄州 poultry 家禽",
        "slaughtered",
        "cross-check of the chicken lots",
    ),
    Pick(
        "wuding_chicken_kept_10k_1981",
        "produce",
        "武定鸡 (free-range chicken)",
        "birds kept",
        "武定 is the main chicken county",
    ),
    Pick(
        "diesel_rmb_per_l",
        "cost",
        "云南省 diesel 0#",
        "RMB per litre",
        "fuel cost per km of diesel vehicles",
    ),
    Pick(
        "petrol92_rmb_per_l",
        "cost",
        "云南省 diesel 0#",
        "RMB per litre",
        "fuel cost per km of petrol vans and motorbikes",
        figure="7.26",
        unit="RMB per litre (retail, 92# petrol, same quote)",
        entity_as="云南省 petrol 92#",
    ),
    Pick(
        "wage_rmb_per_year", "cost", "楚雄州 average wage", "RMB per year", "driver cost per hour"
    ),
    Pick(
        "toll_chuyao_rmb",
        "cost",
        "楚姚高速 toll (class-1 vehicle)",
        "RMB",
        "scale of expressway tolls (not included in the per-km costs)",
    ),
)


def pick_facts(shared: list[dict[str, str]]) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for p in PICKS:
        rows = [
            r
            for r in shared
            if r["topic"] == p.topic and r["entity"] == p.entity and p.unit_has in r["unit"]
        ]
        if len(rows) != 1:
            raise SystemExit(f"fact {p.key}: {len(rows)} shared rows match, expected 1")
        r = rows[0]
        out.append(
            {
                "key": p.key,
                "topic": r["topic"],
                "entity": p.entity_as or r["entity"],
                "figure": p.figure if p.figure is not None else r["figure"],
                "unit": p.unit or r["unit"],
                "year": r["year"],
                "quote": r["quote"],
                "source_url": r["source_url"],
                "notes": r["notes"],
                "used_for": p.use,
            }
        )
    return out


# ---- population ----------------------------------------------------------------------------
def township_tables(shared: list[dict[str, str]]) -> dict[str, dict[str, dict[str, str]]]:
    """county code -> township name -> census row (姚安 and 永仁 only)."""
    out: dict[str, dict[str, dict[str, str]]] = defaultdict(dict)
    zh_to_code = {v: k for k, v in COUNTY_ZH.items()}
    for r in shared:
        if r["topic"] != "population" or r["figure"] == "":
            continue
        if r["unit"] != "persons (resident, census)" or " " not in r["entity"]:
            continue
        county_zh, town = r["entity"].split(" ", 1)
        code = zh_to_code.get(county_zh)
        if code and not town.isdigit():
            out[code][TOWNSHIP_ALIASES.get((code, town), town)] = r
    return out


def county_row(shared: list[dict[str, str]], code: str) -> dict[str, str] | None:
    for r in shared:
        entity = f"{COUNTY_ZH[code]} {code}"
        if (
            r["topic"] == "population"
            and r["entity"] == entity
            and r["unit"].startswith("persons")
            and r["unit"] != "persons per family household"
            and r["figure"]
        ):
            return r
    return None


def apportion(total: int, weights: dict[str, float]) -> dict[str, int]:
    """Integers proportional to weights summing to total (largest remainder)."""
    wsum = sum(weights.values())
    raw = {k: total * w / wsum for k, w in weights.items()}
    out = {k: math.floor(v) for k, v in raw.items()}
    rest = total - sum(out.values())
    for k in sorted(raw, key=lambda k: (out[k] - raw[k], k))[:rest]:
        out[k] += 1
    return out


@dataclass
class PopulationResult:
    rows: list[dict[str, object]]
    seat_share: float
    seat_shares: dict[str, float]
    errors: dict[str, dict[str, float]]  # rule -> county -> mean abs % error
    dayao: dict[str, float]


def derive_population(shared: list[dict[str, str]]) -> PopulationResult:
    places = read_csv(ROAD / "places.csv")
    counties = {r["county_code"]: r for r in read_csv(ROAD / "counties.csv")}
    towns: dict[str, list[dict[str, str]]] = defaultdict(list)
    n_villages: dict[str, int] = defaultdict(int)
    for p in places:
        if p["kind"] == "township" and p["county_code"] in SCOPE:
            towns[p["county_code"]].append(p)
        elif p["kind"] == "village":
            n_villages[p["township_code"]] += 1
    tables = township_tables(shared)

    # 大姚: no census figure; registered 27.96万 x 牟定's resident / registered ratio.
    def fact(entity: str, unit: str) -> dict[str, str]:
        rows = [r for r in shared if r["entity"] == entity and r["unit"] == unit]
        assert len(rows) == 1, (entity, unit)
        return rows[0]

    mouding = fact("牟定县 532323", "10k persons (resident)")
    dayao_reg = fact("大姚县 532326", "10k persons")
    ratio = 14.48 / 20.05
    assert mouding["figure"] == "14.48" and "20.05万" in mouding["quote"]
    dayao_total = round(float(dayao_reg["figure"]) * 10_000 * ratio)

    rows: list[dict[str, object]] = []
    county_pop: dict[str, int] = {}
    for code in SCOPE:
        r = county_row(shared, code)
        if r is not None:
            basis = "census" if "census" in r["unit"] else "census (as published; see notes)"
            notes = r["notes"]
            if code == "532329":
                basis = "census (2020 count via encyclopedia infobox, confirmed as 常住人口)"
            if code == "532323":
                basis = "census (year inferred: listed with 2020 census counts)"
            county_pop[code] = int(r["figure"])
            rows.append(
                {
                    "level": "county",
                    "id": code,
                    "county_code": code,
                    "name_zh": COUNTY_ZH[code],
                    "population": county_pop[code],
                    "year": r["year"] or "2020",
                    "basis": basis,
                    "source_url": r["source_url"],
                    "quote": r["quote"],
                    "notes": notes,
                }
            )
        else:
            county_pop[code] = dayao_total
            rows.append(
                {
                    "level": "county",
                    "id": code,
                    "county_code": code,
                    "name_zh": COUNTY_ZH[code],
                    "population": dayao_total,
                    "year": "",
                    "basis": (
                        "estimated: registered 27.96万 (probably 户籍, year not stated) x 牟定's "
                        f"resident/registered ratio 14.48/20.05 = {ratio:.4f} (2023)"
                    ),
                    "source_url": f"{dayao_reg['source_url']} ; {mouding['source_url']}",
                    "quote": f"{dayao_reg['quote']} | {mouding['quote']}",
                    "notes": (
                        "ASSUMPTION: no 2020 census figure for 大姚 was found; its resident "
                        "population is taken to stand to its registered population as 牟定's does"
                    ),
                }
            )

    # Township split rule, checked on the two counties with census township tables.
    seat_shares: dict[str, float] = {}
    errors: dict[str, dict[str, float]] = {"equal": {}, "villages": {}}
    for code, table in tables.items():
        seat = counties[code]["seat_township_code"]
        by_name = {t["name_zh"]: t for t in towns[code]}
        assert set(table) == set(by_name), (code, set(table) ^ set(by_name))
        actual = {by_name[n]["id"]: int(r["figure"]) for n, r in table.items()}
        assert sum(actual.values()) == county_pop[code], code
        seat_shares[code] = actual[seat] / county_pop[code]
        others = {k: v for k, v in actual.items() if k != seat}
        rest = sum(others.values())
        for rule in errors:
            w = {k: 1.0 if rule == "equal" else float(n_villages[k]) for k in others}
            wsum = sum(w.values())
            errs = [abs(rest * w[k] / wsum - v) / v for k, v in others.items()]
            errors[rule][code] = 100 * sum(errs) / len(errs)
    seat_share = sum(seat_shares.values()) / len(seat_shares)

    for code in SCOPE:
        seat = counties[code]["seat_township_code"]
        table = tables.get(code, {})
        for t in sorted(towns[code], key=lambda t: t["id"]):
            r = table.get(t["name_zh"])
            if r is not None:
                rows.append(
                    {
                        "level": "township",
                        "id": t["id"],
                        "county_code": code,
                        "name_zh": t["name_zh"],
                        "population": int(r["figure"]),
                        "year": r["year"],
                        "basis": "census",
                        "source_url": r["source_url"],
                        "quote": r["quote"],
                        "notes": r["notes"],
                    }
                )
        if table:
            continue
        seat_pop = round(county_pop[code] * seat_share)
        weights = {t["id"]: float(n_villages[t["id"]]) for t in towns[code] if t["id"] != seat}
        split = apportion(county_pop[code] - seat_pop, weights)
        split[seat] = seat_pop
        for t in sorted(towns[code], key=lambda t: t["id"]):
            is_seat = t["id"] == seat
            rows.append(
                {
                    "level": "township",
                    "id": t["id"],
                    "county_code": code,
                    "name_zh": t["name_zh"],
                    "population": split[t["id"]],
                    "year": "",
                    "basis": (
                        f"estimated: county seat town takes {100 * seat_share:.1f} % of the county"
                        if is_seat
                        else "estimated: rest of the county split by number of village units "
                        f"({n_villages[t['id']]} of {int(sum(weights.values()))})"
                    ),
                    "source_url": "",
                    "quote": "",
                    "notes": "ASSUMPTION: no township census table found for this county; "
                    "rule checked on 姚安 and 永仁 (see SOURCES.md)",
                }
            )
    return PopulationResult(
        rows,
        seat_share,
        seat_shares,
        errors,
        {"registered": float(dayao_reg["figure"]) * 10_000, "ratio": ratio, "total": dayao_total},
    )


# ---- SOURCES.md ----------------------------------------------------------------------------
def sources_md(facts: list[dict[str, object]], pop: PopulationResult) -> str:
    fact_rows = "\n".join(
        f"| `{f['key']}` | {f['entity']} | {f['figure'] or '(qualitative)'} {f['unit']} | "
        f"{f['year'] or 'n.d.'} | {f['used_for']} | {f['source_url']} |"
        for f in facts
    )
    e = pop.errors
    err = "; ".join(
        f"{COUNTY_ZH[c]} {e['equal'][c]:.0f} % split equally, {e['villages'][c]:.0f} % split by "
        "village units"
        for c in sorted(e["equal"])
    )
    mean = {rule: sum(v.values()) / len(v) for rule, v in e.items()}
    shares = " and ".join(
        f"{COUNTY_ZH[c]} {100 * s:.1f} %" for c, s in sorted(pop.seat_shares.items())
    )
    totals = {r["id"]: r["population"] for r in pop.rows if r["level"] == "county"}
    six = sum(int(str(v)) for v in totals.values())
    files = [
        (
            "`population.csv`",
            f"resident population of the 6 served counties ({six:,} together) and their 54 "
            "townships; `basis` says census or estimated and how",
            "county and township census bulletins (第七次全国人口普查主要数据公报 of 楚雄州, 双柏, "
            "姚安, 永仁 via mirrors), encyclopedia and gazetteer pages, a county government page; "
            "page and short quote per row",
            "published facts quoted for reference (short citations, see `source_url`); the "
            "estimates are this project's (MIT)",
        ),
        (
            "`facts.csv`",
            f"the {len(facts)} sourced facts the generator and the fleet costs use, each with its "
            "exact short quote, page and year, and what it is used for (`key` is the name the "
            "code reads)",
            "public web pages (州/县统计局 bulletins, 云南省邮政管理局, county government pages, "
            "news reprints, company results), one public GitHub file (fuel prices); see "
            "`source_url` per row",
            "short quotes for reference; no page text beyond them is redistributed. "
            "Lower-authority rows (content farms, user Q&A, a third-party scraper) are flagged "
            "in `notes` as upstream",
        ),
    ]
    files_table = "\n".join("| " + " | ".join(row) + " |" for row in files)
    return f"""# data/demand: what each file is, where it comes from, and its licence

These files are derived once from the project's shared facts
(`../shared/data/chuxiong_demand_facts.csv`) by `scripts/derive_demand.py`; nothing at run
time or in tests reads anything outside `data/`. The sample-day generator
(`simulations/sample_day.py`) and the fleet costs (`data/dispatch/fleet.csv`) rest on them;
their rules and every assumed number are in `data/dispatch/ASSUMPTIONS.md`.

**Figures marked ASSUMPTION or "estimated" are this project's choices, not published
numbers.**

| file | contents | source | licence / attribution |
|---|---|---|---|
{files_table}

## Facts used

| key | entity | figure | year | used for | source |
|---|---|---|---|---|---|
{fact_rows}

Four rows take a second figure from the quote of a shared row (the quote shows both):
石屏's outbound 1.07万件 (next to its inbound 3.9万件), 牟定's registered 20.05万 (next to its
resident 14.48万), Yunnan's 92# petrol price 7.26 RMB/L (next to diesel 6.83) and the 羊 出栏
107.27万只 of the poultry row's sentence.

## Population: what is census and what is estimated

- **Census (2020)**: 双柏 133,884, 姚安 164,165, 永仁 97,985 (county bulletins); 武定
  239,059 (2020 count via 云南百科, confirmed as 常住人口 by a second page); 牟定 149,437
  (gazetteer page listing it with the other 2020 census counts; year inferred, as the
  upstream note says — verify). Townships of 姚安 (9) and 永仁 (7): census tables of their
  bulletins (永仁's 永兴乡 = 永兴傣族乡); they sum exactly to the county totals.
- **大姚 (ESTIMATE)**: no 2020 census figure was found. The prefecture total minus the
  known counties cannot isolate it (禄丰, 元谋 and 南华 are missing too). Taken instead:
  the gazetteer's 27.96万 (year and definition not stated, probably registered 户籍) ×
  牟定's resident/registered ratio 14.48万 / 20.05万 = {pop.dayao["ratio"]:.4f} (2023, county
  government page) = **{int(pop.dayao["total"]):,}** residents. Assumption: 大姚's residents
  stand to its registered population as 牟定's do.
- **Townships of 武定, 大姚, 双柏, 牟定 (ESTIMATE)**: no township census table was found.
  Rule: the county seat town takes {100 * pop.seat_share:.1f} % of the county (the mean of
  the seat shares observed in {shares}); the rest is split among the other townships in
  proportion to their number of village units (村委会 + 居委会 in `places.csv`). Checked on
  the two counties with tables, the mean absolute error of the non-seat townships is
  {err}. The village-count split is better on average ({mean["villages"]:.0f} % against
  {mean["equal"]:.0f} %; an equal split fits 永仁 better but is far off in 姚安, where small
  乡 such as 适中 and 左门 have about a third of an average township's people), so it was
  chosen.
  Either way a single township's estimate can be off by a third or more: treat them as rough.
- Resident (常住) population is used throughout; the 2020 census is 5–6 years older than the
  parcel figures it is combined with (assumption: no change since).

## Not found (said plainly)

Township census tables for 武定, 大姚, 双柏, 牟定; 大姚's census count; any 楚雄州 or county
parcel volume other than 武定's sorting figure; market shares of carriers other than ZTO;
honey, brown-sugar and black-goat figures; rural driver wages; vehicle operating costs per
km. Each stand-in is an assumption in `data/dispatch/ASSUMPTIONS.md`.
"""


# ---- parties -------------------------------------------------------------------------------
FICTIONAL = "示例 fictional sample shipper (invented name, not a real firm)"
PARTIES: tuple[tuple[str, str, str, str, str], ...] = (
    ("EMS", "carrier", "中国邮政/EMS", "China Post / EMS", "present in all six counties"),
    ("ZTO", "carrier", "中通快递", "ZTO Express", "national share 22.9 % (2023, sourced)"),
    ("YTO", "carrier", "圆通速递", "YTO Express", ""),
    ("STO", "carrier", "申通快递", "STO Express", ""),
    ("YUNDA", "carrier", "韵达快递", "Yunda Express", ""),
    ("JT", "carrier", "极兔速递", "J&T Express", ""),
    (
        "SF",
        "carrier",
        "顺丰速运",
        "SF Express",
        "not in 武定's co-delivery; township stations only",
    ),
    (
        "JD",
        "carrier",
        "京东物流",
        "JD Logistics",
        "not in 武定's co-delivery; township stations only",
    ),
    (
        "coop-dayao-walnut",
        "shipper",
        "大姚县示例核桃专业合作社",
        "Dayao sample walnut cooperative",
        f"{FICTIONAL}; walnuts 核桃 of 大姚",
    ),
    (
        "buyer-walnut",
        "shipper",
        "楚雄示例核桃收购行",
        "Chuxiong sample walnut buyer",
        f"{FICTIONAL}; walnuts of the other five counties",
    ),
    (
        "coop-wuding-chicken",
        "shipper",
        "武定县示例武定鸡养殖合作社",
        "Wuding sample free-range chicken cooperative",
        f"{FICTIONAL}; live 武定鸡",
    ),
    (
        "buyer-shuangbai-mushroom",
        "shipper",
        "双柏县示例野生菌收购站",
        "Shuangbai sample wild-mushroom buyer",
        f"{FICTIONAL}; 野生菌 of 双柏, 武定, 牟定",
    ),
    (
        "buyer-yaoan-mushroom",
        "shipper",
        "姚安县示例野生菌收购站",
        "Yao'an sample wild-mushroom buyer",
        f"{FICTIONAL}; 野生菌 of 姚安, 大姚, 永仁",
    ),
    (
        "coop-honey",
        "shipper",
        "楚雄示例蜂蜜专业合作社",
        "Chuxiong sample honey cooperative",
        f"{FICTIONAL}; honey 蜂蜜, members in all six counties",
    ),
    (
        "maker-yongren-sugar",
        "shipper",
        "永仁县示例红糖厂",
        "Yongren sample brown-sugar maker",
        f"{FICTIONAL}; brown sugar 红糖, mostly 永仁 and 牟定",
    ),
    (
        "coop-black-goat",
        "shipper",
        "楚雄示例黑山羊养殖合作社",
        "Chuxiong sample black-goat cooperative",
        f"{FICTIONAL}; live 黑山羊, members in all six counties",
    ),
    (
        "HUB",
        "hub",
        "县物流中心运营方",
        "county logistics hub operator",
        "operates the six county hubs (县级物流中心) and their shared vehicles",
    ),
    (
        "PLATFORM",
        "hub",
        "州公共仓运营方",
        "prefecture public warehouse operator",
        "operates the public warehouse WH-CX (楚雄州公共仓) and the shared trunk trucks",
    ),
)


# ---- fleet ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class VehicleType:
    """A vehicle model with the figures its costs are computed from (ASSUMPTIONS.md)."""

    code: str
    label_zh: str
    kind: str
    profile: str
    capacity_kg: int
    capacity_m3: float
    price_rmb: float
    life_years: float
    residual: float  # share of the price left at the end of its life
    insurance_rmb_year: float  # compulsory + commercial insurance, plates, inspection
    litres_per_100km: float  # incl. the refrigeration unit where there is one
    fuel: str  # "diesel" | "petrol92"
    upkeep_rmb_km: float  # maintenance + tyres
    driver: str  # "urban" | "rural"
    echelon: str  # "trunk" | "county"
    refrigerated: bool = False
    freezer: bool = False
    livestock: bool = False


TYPES = {
    t.code: t
    for t in (
        VehicleType(
            "box8",
            "8吨厢式货车",
            "truck",
            "truck",
            8000,
            40.0,
            230_000,
            8,
            0.05,
            10_000,
            20.0,
            "diesel",
            0.50,
            "urban",
            "trunk",
        ),
        VehicleType(
            "box5",
            "5吨厢式货车",
            "truck",
            "truck",
            5000,
            25.0,
            170_000,
            8,
            0.05,
            8_000,
            16.0,
            "diesel",
            0.40,
            "urban",
            "trunk",
        ),
        VehicleType(
            "reefer5",
            "5吨冷藏车",
            "reefer_truck",
            "truck",
            5000,
            22.0,
            300_000,
            8,
            0.05,
            11_000,
            20.0,
            "diesel",
            0.60,
            "urban",
            "trunk",
            refrigerated=True,
            freezer=True,
        ),
        VehicleType(
            "stock5",
            "5吨畜禽运输车",
            "livestock_truck",
            "truck",
            5000,
            25.0,
            160_000,
            8,
            0.05,
            8_000,
            17.0,
            "diesel",
            0.45,
            "urban",
            "trunk",
            livestock=True,
        ),
        VehicleType(
            "van15",
            "1.5吨厢式货车",
            "van",
            "van",
            1500,
            8.0,
            95_000,
            6,
            0.05,
            4_000,
            10.0,
            "diesel",
            0.25,
            "rural",
            "county",
        ),
        VehicleType(
            "van12",
            "1.2吨面包车",
            "van",
            "van",
            1200,
            6.0,
            75_000,
            6,
            0.05,
            3_500,
            9.0,
            "petrol92",
            0.22,
            "rural",
            "county",
        ),
        VehicleType(
            "reefervan",
            "1吨冷藏车",
            "reefer_van",
            "van",
            1000,
            5.0,
            140_000,
            6,
            0.05,
            5_000,
            12.0,
            "petrol92",
            0.30,
            "rural",
            "county",
            refrigerated=True,
        ),
        VehicleType(
            "stock2",
            "2吨畜禽运输轻卡",
            "livestock_truck",
            "truck",
            2000,
            12.0,
            100_000,
            8,
            0.05,
            4_500,
            12.0,
            "diesel",
            0.28,
            "rural",
            "county",
            livestock=True,
        ),
        VehicleType(
            "trike",
            "0.2吨三轮摩托",
            "motorbike",
            "motorbike",
            200,
            1.0,
            12_000,
            5,
            0.0,
            600,
            3.5,
            "petrol92",
            0.06,
            "rural",
            "county",
        ),
    )
}
# JT/T 1178.1-2018 (营运货车安全技术条件) and the road-transport rules: a truck driver drives
# at most 8 h in 24 h; the planner keeps every vehicle's day of driving within it
MAX_DRIVING_H = 8.0
WORKING_DAYS = 300
HOURS_PER_YEAR = 2000
RURAL_WAGE_FACTOR = 0.70
SHIFTS = {"trunk": ("05:00", "21:00", 12.0), "county": ("08:00", "20:00", 12.0)}
# the warehouse's produce (first-mile) runs: out at midday, back with the day's produce
EVENING_SHIFT = ("09:00", "21:00", 12.0)
EVENING_TRUCKS = 2  # 8 t box trucks on the evening shift, besides the refrigerated ones
MARGIN = 1.15  # capacity over expected tonnage: day-to-day noise and imperfect loading
CARRIER_ZH = {p[0]: p[2] for p in PARTIES if p[1] == "carrier"}


def costs(t: VehicleType, facts: dict[str, float]) -> dict[str, int]:
    fuel = facts["diesel_rmb_per_l"] if t.fuel == "diesel" else facts["petrol92_rmb_per_l"]
    wage = facts["wage_rmb_per_year"] / HOURS_PER_YEAR
    if t.driver == "rural":
        wage *= RURAL_WAGE_FACTOR
    yearly = t.price_rmb * (1 - t.residual) / t.life_years + t.insurance_rmb_year
    return {
        "fixed_fen": round(yearly / WORKING_DAYS * 100),
        "per_km_fen": round((t.litres_per_100km / 100 * fuel + t.upkeep_rmb_km) * 100),
        "per_hour_fen": round(wage * 100),
    }


def fleet_rows(facts: dict[str, float]) -> tuple[list[dict[str, object]], dict[str, object]]:
    """The vehicles, sized to the expected parcels of the sample generator."""
    from routing.network.places import load_places
    from simulations.sample_day import expected_parcels, load_assumptions, load_population

    a = load_assumptions(DEMAND / "facts.csv")
    expected = expected_parcels(a, load_places(), load_population(DEMAND / "population.csv"))
    kg = {k: v * a.parcel_mean_kg for k, v in expected.items()}
    rows: list[dict[str, object]] = []

    def add(
        vid: str, owner: str, depot: str, code: str, name: str, shift: tuple | None = None
    ) -> None:
        t = TYPES[code]
        start, end, hours = shift or SHIFTS[t.echelon]
        rows.append(
            {
                "id": vid,
                "owner": owner,
                "depot": depot,
                "kind": t.kind,
                "profile": t.profile,
                "capacity_kg": t.capacity_kg,
                "capacity_m3": t.capacity_m3,
                "refrigerated": str(t.refrigerated).lower(),
                "freezer": str(t.freezer).lower(),
                "livestock": str(t.livestock).lower(),
                **costs(t, facts),
                "shift_start": start,
                "shift_end": end,
                "max_shift_h": hours,
                "max_driving_h": MAX_DRIVING_H,
                "name": name,
            }
        )

    def count(load_kg: float, code: str, minimum: int = 1) -> int:
        return max(minimum, math.ceil(MARGIN * load_kg / TYPES[code].capacity_kg))

    wh = "WH-CX"
    from_wh = 1 - a.hub_origin_share
    n = count(from_wh * sum(kg.values()), "box8")
    for i in range(1, n + 1):
        add(f"WH-CX-PT{i:02d}", "PLATFORM", wh, "box8", f"公共仓 {TYPES['box8'].label_zh} {i}")
    for i in range(1, EVENING_TRUCKS + 1):
        add(
            f"WH-CX-PE{i:02d}",
            "PLATFORM",
            wh,
            "box8",
            f"公共仓 {TYPES['box8'].label_zh} 晚班 {i}",
            EVENING_SHIFT,
        )
    for i in (1, 2):
        add(
            f"WH-CX-PR{i:02d}",
            "PLATFORM",
            wh,
            "reefer5",
            f"公共仓 {TYPES['reefer5'].label_zh} {i}",
            EVENING_SHIFT,
        )
    add("WH-CX-PL01", "PLATFORM", wh, "stock5", f"公共仓 {TYPES['stock5'].label_zh} 1")
    carriers = sorted({c for _, c in kg}, key=lambda c: [p[0] for p in PARTIES].index(c))
    for c in carriers:
        load = from_wh * sum(v for (_, cc), v in kg.items() if cc == c)
        code = "box5" if c in ("SF", "JD") else "box8"
        for i in range(1, count(load, code) + 1):
            add(
                f"WH-CX-{c}-T{i:02d}",
                c,
                wh,
                code,
                f"{CARRIER_ZH[c]} 干线 {TYPES[code].label_zh} {i}",
            )
    sizes: dict[str, object] = {"trunk_platform": n}
    for county in SCOPE:
        hub = f"HUB-{county}"
        zh = COUNTY_ZH[county][:-1]
        total = sum(v for (cc, _), v in kg.items() if cc == county)
        n = count(total, "van15", minimum=2)
        sizes[f"hub_vans_{county}"] = n
        for i in range(1, n + 1):
            add(
                f"{hub}-V{i:02d}",
                "HUB",
                hub,
                "van15",
                f"{zh}物流中心 {TYPES['van15'].label_zh} {i}",
            )
        add(f"{hub}-R01", "HUB", hub, "reefervan", f"{zh}物流中心 {TYPES['reefervan'].label_zh} 1")
        add(f"{hub}-L01", "HUB", hub, "stock2", f"{zh}物流中心 {TYPES['stock2'].label_zh} 1")
        for i in (1, 2):
            add(
                f"{hub}-M{i:02d}",
                "HUB",
                hub,
                "trike",
                f"{zh}物流中心 {TYPES['trike'].label_zh} {i}",
            )
        for c in carriers:
            if (county, c) not in kg:
                continue
            for i in range(1, count(kg[county, c], "van12") + 1):
                add(
                    f"{hub}-{c}-V{i:02d}",
                    c,
                    hub,
                    "van12",
                    f"{CARRIER_ZH[c]} {zh} {TYPES['van12'].label_zh} {i}",
                )
            if c in a.township_only:
                add(
                    f"{hub}-{c}-R01",
                    c,
                    hub,
                    "reefervan",
                    f"{CARRIER_ZH[c]} {zh} {TYPES['reefervan'].label_zh} 1",
                )
    sizes["expected_parcels"] = round(sum(expected.values()))
    sizes["expected_kg"] = round(sum(kg.values()))
    return rows, sizes


FLEET_FIELDS = [
    "id", "owner", "depot", "kind", "profile", "capacity_kg", "capacity_m3", "refrigerated",
    "freezer", "livestock", "fixed_fen", "per_km_fen", "per_hour_fen", "shift_start",
    "shift_end", "max_shift_h", "max_driving_h", "name",
]  # fmt: skip


def write_dispatch() -> None:
    facts = {
        r["key"]: float(r["figure"])
        for r in read_csv(DEMAND / "facts.csv")
        if r["key"] in ("diesel_rmb_per_l", "petrol92_rmb_per_l", "wage_rmb_per_year")
    }
    write_csv(
        DISPATCH / "parties.csv",
        [dict(zip(("id", "kind", "name_zh", "name_en", "notes"), p, strict=True)) for p in PARTIES],
        ["id", "kind", "name_zh", "name_en", "notes"],
    )
    rows, sizes = fleet_rows(facts)
    write_csv(DISPATCH / "fleet.csv", rows, FLEET_FIELDS)
    print(f"wrote {len(PARTIES)} parties, {len(rows)} vehicles; sizing: {sizes}")
    for code, t in TYPES.items():
        print(f"  {code:10s} {t.label_zh:12s} {costs(t, facts)}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    ap.add_argument("--fleet-only", action="store_true", help="rebuild data/dispatch only")
    args = ap.parse_args()
    if not args.fleet_only:
        shared = read_csv(args.shared / "chuxiong_demand_facts.csv")
        facts = pick_facts(shared)
        pop = derive_population(shared)
        write_csv(
            DEMAND / "facts.csv",
            facts,
            ["key", "topic", "entity", "figure", "unit", "year", "quote", "source_url", "notes",
             "used_for"],
        )  # fmt: skip
        write_csv(
            DEMAND / "population.csv",
            pop.rows,
            ["level", "id", "county_code", "name_zh", "population", "year", "basis",
             "source_url", "quote", "notes"],
        )  # fmt: skip
        (DEMAND / "SOURCES.md").write_text(sources_md(facts, pop), encoding="utf-8")
        print(
            f"wrote {len(facts)} facts, {len(pop.rows)} population rows; seat share "
            f"{pop.seat_share:.3f}; split errors {pop.errors}; 大姚 {pop.dayao}"
        )
    write_dispatch()


if __name__ == "__main__":
    main()
