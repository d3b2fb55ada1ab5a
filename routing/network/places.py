"""The prefecture's places (warehouse, hubs, townships, villages) and coordinate overrides.

``data/road_network/places.csv`` is derived from the shared reference data and lists every
place with its official code; a place without a published coordinate has empty ``lon`` and
``lat`` and is *unlocated*: nothing is invented for it. County staff who survey a village
service point register it in an overrides CSV (``id,lon,lat,source,surveyed_on,notes``),
which wins over the bundled point.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from routing.errors import InputError
from routing.network.datafiles import data_dir
from routing.network.graph import PLACE_KINDS, Place
from routing.network.snap import check_inside

PLACE_COLUMNS = (
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
)
OVERRIDE_COLUMNS = ("id", "lon", "lat")


def places_path() -> Path:
    return data_dir() / "places.csv"


def overrides_path() -> Path:
    return data_dir() / "place_overrides.csv"


def _read_rows(path: Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise InputError(str(path), f"missing column(s) {', '.join(missing)}")
            return list(reader)
    except OSError as e:
        raise InputError(str(path), f"cannot read file ({e.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(str(path), f"not a UTF-8 CSV file ({e})") from None


def _coordinate(text: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise InputError(where, f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise InputError(where, f"{text!r} is not a finite number")
    return value


def load_places(path: Path | None = None) -> list[Place]:
    """Read the bundled place list (unsnapped: ``node`` is -1)."""
    path = path or places_path()
    out: list[Place] = []
    for line, row in enumerate(_read_rows(path, PLACE_COLUMNS), start=2):
        where = f"{path.name} line {line}"
        if row["kind"] not in PLACE_KINDS:
            raise InputError(f"{where} kind", f"{row['kind']!r} is not one of {PLACE_KINDS}")
        located = row["lon"].strip() != "" and row["lat"].strip() != ""
        out.append(
            Place(
                id=row["id"],
                kind=row["kind"],
                name_zh=row["name_zh"],
                name_pinyin=row["name_pinyin"],
                county_code=row["county_code"],
                township_code=row["township_code"],
                lon=_coordinate(row["lon"], f"{where} lon") if located else None,
                lat=_coordinate(row["lat"], f"{where} lat") if located else None,
                coord_source=row["coord_source"],
                notes=row["notes"],
            )
        )
    return out


@dataclass(frozen=True)
class PlaceFix:
    """Corrected coordinates (WGS84 degrees) of one place, and where they come from."""

    id: str
    lon: float
    lat: float
    source: str = "correction"


def apply_overrides(places: list[Place], path: Path) -> list[Place]:
    """Replace the coordinates of the places an overrides CSV names.

    Every row is checked before anything changes: an unknown id, a non-numeric or
    out-of-prefecture coordinate or a duplicated id rejects the whole file.
    """
    rows = _read_rows(path, OVERRIDE_COLUMNS)
    fixes = []
    for line, row in enumerate(rows, start=2):
        where = f"{path.name} line {line}"
        src = (row.get("source") or "").strip() or "override"
        date = (row.get("surveyed_on") or "").strip()
        fixes.append(
            (
                f"{where}",
                PlaceFix(
                    id=(row.get("id") or "").strip(),
                    lon=_coordinate(row["lon"], f"{where} lon"),
                    lat=_coordinate(row["lat"], f"{where} lat"),
                    source=f"override: {src}" + (f" ({date})" if date else ""),
                ),
            )
        )
    return _apply(places, fixes)


def apply_fixes(places: list[Place], fixes: Sequence[PlaceFix]) -> list[Place]:
    """Replace the coordinates of the places ``fixes`` name (e.g. the corrections an
    admin made in the service), checked like an overrides file, all or nothing."""
    return _apply(places, [(f"correction {k + 1}", fix) for k, fix in enumerate(fixes)])


def _apply(places: list[Place], fixes: Sequence[tuple[str, PlaceFix]]) -> list[Place]:
    by_id = {p.id: i for i, p in enumerate(places)}
    seen: set[str] = set()
    updates: dict[int, PlaceFix] = {}
    for where, fix in fixes:
        if fix.id not in by_id:
            raise InputError(f"{where} id", f"unknown place id {fix.id!r}")
        if fix.id in seen:
            raise InputError(f"{where} id", f"place {fix.id} is overridden twice")
        seen.add(fix.id)
        for value, axis in ((fix.lon, "lon"), (fix.lat, "lat")):
            if not math.isfinite(value):
                raise InputError(f"{where} {axis}", f"{value!r} is not a finite coordinate")
        updates[by_id[fix.id]] = fix
    if fixes:
        check_inside(
            np.array([f.lon for _, f in fixes]),
            np.array([f.lat for _, f in fixes]),
            [f"{where} ({f.id})" for where, f in fixes],
        )
    out = list(places)
    for i, fix in updates.items():
        out[i] = replace(out[i], lon=fix.lon, lat=fix.lat, coord_source=fix.source)
    return out


# A place farther than this from every node is outside the network's extent.
MAX_SNAP_M = 5_000.0


def attach_places(
    node_lon: np.ndarray,
    node_lat: np.ndarray,
    places: list[Place],
    where: str = "the network",
) -> list[Place]:
    """Snap every located place to its nearest node; far-away places stay unattached.

    ``where`` names the network in the note left on a place farther than MAX_SNAP_M.
    """
    from routing.network.snap import NodeIndex

    located = [i for i, p in enumerate(places) if p.lon is not None and p.lat is not None]
    out = [replace(p, node=-1, snap_m=0.0) for p in places]
    if not located or len(node_lon) == 0:
        return out
    index = NodeIndex(node_lon, node_lat)
    lon = np.array([places[i].lon for i in located], dtype=float)
    lat = np.array([places[i].lat for i in located], dtype=float)
    nodes, dist = index.nearest(lon, lat)
    for i, node, d in zip(located, nodes.tolist(), dist.tolist(), strict=True):
        if d <= MAX_SNAP_M:
            out[i] = replace(out[i], node=int(node), snap_m=float(d))
        else:
            note = f"outside {where}: nearest road node {d / 1000.0:.1f} km away, not snapped"
            notes = f"{out[i].notes}; {note}" if out[i].notes else note
            out[i] = replace(out[i], notes=notes)
    return out


def counties_path() -> Path:
    return data_dir() / "counties.csv"


def load_counties(path: Path | None = None) -> list[dict[str, str]]:
    """County rows: county_code, name_zh, name_en, name_pinyin, in_scope (1 = served), seat."""
    return _read_rows(path or counties_path(), ("county_code", "name_zh", "in_scope"))
