"""Derive the compact run-time data files in data/road_network/ from ../shared/data.

Run once by a developer when the shared reference data changes::

    .venv/bin/python scripts/derive_data.py [--shared ../shared/data]

Nothing at run time or in tests reads ../shared; the outputs are committed.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import shutil
from pathlib import Path

from pypinyin import Style, lazy_pinyin

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "data" / "road_network"

COUNTY_PINYIN = {
    "532301": "Chuxiong Shi",
    "532322": "Shuangbai Xian",
    "532323": "Mouding Xian",
    "532325": "Yao'an Xian",
    "532326": "Dayao Xian",
    "532327": "Yongren Xian",
    "532329": "Wuding Xian",
}
SUFFIX_PINYIN = {
    "傣族傈僳族乡": "Daizu Lisuzu Xiang",
    "傣族乡": "Daizu Xiang",
    "镇": "Zhen",
    "乡": "Xiang",
}
VILLAGE_SUFFIXES = [
    ("社区居民委员会", "Shequ"),
    ("居民委员会", "Jumin Weiyuanhui"),
    ("村民委员会", "Cun"),
    ("村委会", "Cun"),
    ("社区", "Shequ"),
]


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def write_csv(path: Path, rows: list[dict[str, object]], fields: list[str]) -> None:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=fields, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: r.get(k, "") for k in fields})


def syllables_to_name(text: str) -> str:
    """'zhao jia dian' -> 'Zhaojiadian'; 'lv he' -> 'Lvhe' (ASCII v for u-umlaut)."""
    joined = "".join(text.split())
    return joined[:1].upper() + joined[1:]


def han_to_name(han: str) -> str:
    return syllables_to_name(" ".join(lazy_pinyin(han, style=Style.NORMAL, v_to_u=False)))


def township_pinyin(name_zh: str, base_syllables: str) -> str:
    for suffix, py in SUFFIX_PINYIN.items():
        if name_zh.endswith(suffix):
            return f"{syllables_to_name(base_syllables)} {py}"
    return syllables_to_name(base_syllables)


def village_pinyin(name_zh: str) -> str:
    for suffix, py in VILLAGE_SUFFIXES:
        if name_zh.endswith(suffix):
            return f"{han_to_name(name_zh[: -len(suffix)])} {py}"
    return han_to_name(name_zh)


def _not_town_to_town(notes: str) -> bool:
    text = notes.lower()
    return "not a town-centre" in text or "endpoints lie outside" in text


def haversine_km(lon1: float, lat1: float, lon2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    a = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    return 2 * 6371.0088 * math.asin(math.sqrt(a))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    args = ap.parse_args()
    src: Path = args.shared
    OUT.mkdir(parents=True, exist_ok=True)

    townships = read_csv(src / "chuxiong_townships.csv")
    villages = read_csv(src / "chuxiong_villages.csv")
    points = {r["place_id"]: r for r in read_csv(src / "chuxiong_places.csv")}
    hubs = read_csv(src / "chuxiong_hubs.csv")

    counties: dict[str, dict[str, object]] = {}
    for t in townships:
        c = t["county_code"]
        counties.setdefault(
            c,
            {
                "county_code": c,
                "name_zh": t["county_name"],
                "name_en": t["county_name_en"],
                "name_pinyin": COUNTY_PINYIN[c],
                "in_scope": t["in_scope_6_counties"],
                "seat_township_code": "",
            },
        )
        if t["is_county_seat"] == "1":
            counties[c]["seat_township_code"] = t["township_code_9"]

    rows: list[dict[str, object]] = []
    town_py: dict[str, str] = {}
    for t in townships:
        town_py[t["township_code_9"]] = township_pinyin(t["township_name"], t["pinyin"])

    # Warehouse and hubs: the township-seat point of the coordinate source (adcode, Amap
    # centre converted to WGS84) rather than the GeoNames populated-place point; the two
    # disagree by 1.6-6.5 km and the seat point is the town the roads meet at.
    for h in hubs:
        seat = points[h["seat_township_code_9"]]
        lon, lat = float(seat["lon_wgs84"]), float(seat["lat_wgs84"])
        gap = haversine_km(lon, lat, float(h["lon"]), float(h["lat"]))
        kind = "warehouse" if h["role"] == "prefecture_warehouse" else "hub"
        name = "楚雄州公共仓" if kind == "warehouse" else f"{h['county_name']}物流中心"
        py = (
            "Chuxiong Zhou Gonggongcang"
            if kind == "warehouse"
            else f"{COUNTY_PINYIN[h['county_code']].split()[0]} Wuliu Zhongxin"
        )
        rows.append(
            {
                "id": h["hub_id"],
                "kind": kind,
                "name_zh": name,
                "name_pinyin": py,
                "county_code": h["county_code"],
                "township_code": h["seat_township_code_9"],
                "lon": f"{lon:.6f}",
                "lat": f"{lat:.6f}",
                "coord_source": "adcode",
                "notes": (
                    f"at the seat town {h['seat_township_name']} (adcode point); the GeoNames "
                    f"point {h['lon']},{h['lat']} lies {gap:.1f} km away and was not used; "
                    "a proxy for the site, not a surveyed logistics park"
                ),
            }
        )

    for t in townships:
        code = t["township_code_9"]
        p = points.get(code)
        located = p is not None and p["lon_wgs84"] != ""
        rows.append(
            {
                "id": code,
                "kind": "township",
                "name_zh": t["township_name"],
                "name_pinyin": town_py[code],
                "county_code": t["county_code"],
                "township_code": code,
                "lon": p["lon_wgs84"] if located and p else "",
                "lat": p["lat_wgs84"] if located and p else "",
                "coord_source": "adcode" if located else "",
                "notes": "" if located else "unlocated: no published point for this township seat",
            }
        )

    for v in villages:
        code = v["village_code_12"]
        p = points.get(code)
        if v["in_scope_6_counties"] != "1" and p is None:
            continue  # Chuxiong city villages are listed only where located.
        rows.append(
            {
                "id": code,
                "kind": "village",
                "name_zh": v["village_name"],
                "name_pinyin": village_pinyin(v["village_name"]),
                "county_code": v["county_code"],
                "township_code": v["township_code_9"],
                "lon": p["lon_wgs84"] if p else "",
                "lat": p["lat_wgs84"] if p else "",
                "coord_source": "adcode" if p else "",
                "notes": "" if p else "unlocated: no published point for this village",
            }
        )

    fields = [
        "id",
        "kind",
        "name_zh",
        "name_pinyin",
        "county_code",
        "township_code",
        "lon",
        "lat",
        "coord_source",
        "notes",
    ]
    write_csv(OUT / "places.csv", rows, fields)
    write_csv(
        OUT / "counties.csv",
        list(counties.values()),
        ["county_code", "name_zh", "name_en", "name_pinyin", "in_scope", "seat_township_code"],
    )

    dist_rows = read_csv(src / "chuxiong_road_distances.csv")
    write_csv(
        OUT / "published_distances.csv",
        [
            {
                "from_id": r["from_place_id"],
                "to_id": r["to_place_id"],
                "road_km": r["road_km"],
                "kind": r["kind"],
                "quote": r["quote"],
                "source_url": r["source_url"],
                "notes": r["notes"],
                # Expressway-section lengths whose end points are not the town centres
                # say so in their notes; they are kept for reference, not used as links.
                "use_as_link": 0 if _not_town_to_town(r["notes"]) else 1,
            }
            for r in dist_rows
        ],
        ["from_id", "to_id", "road_km", "kind", "use_as_link", "quote", "source_url", "notes"],
    )

    gj = json.loads((src / "chuxiong_county_boundaries.geojson").read_text(encoding="utf-8"))
    (OUT / "county_boundaries.geojson").write_text(
        json.dumps(gj, ensure_ascii=False, separators=(",", ":")), encoding="utf-8"
    )
    shutil.copyfile(src / "SOURCES.md", OUT / "SOURCES.upstream.md")
    n_loc = sum(1 for r in rows if r["lon"] != "")
    print(f"wrote {len(rows)} places ({n_loc} located), {len(dist_rows)} published distances")


if __name__ == "__main__":
    main()
