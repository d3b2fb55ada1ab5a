"""The platform's parties and fleet: ``data/dispatch/parties.csv`` and ``fleet.csv``.

``parties.csv`` has the columns ``id,kind,name_zh,name_en,notes`` (``kind`` one of
``carrier``, ``shipper``, ``hub``). ``fleet.csv`` has one row per vehicle and exactly the
fields of :class:`dispatch.model.VehicleSpec` as columns: capacities in kg and m³, costs in
integer fen (per day used, per km, per hour), shift times ``HH:MM`` (Asia/Shanghai local
time), booleans ``true``/``false`` (also ``1``/``0``, ``yes``/``no``). How the bundled
numbers were worked out is in ``data/dispatch/ASSUMPTIONS.md``.

Every row is checked; the first bad cell raises :class:`~routing.errors.InputError` whose
field names the file, line and column (``fleet.csv line 7, column capacity_kg``; the header
is line 1) and whose reason says what is wrong.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import fields
from datetime import time
from pathlib import Path
from typing import TypeVar

from dispatch.domain import PARTY_KINDS, Party, VehicleSpec
from routing.errors import InputError

DATA_DIR = Path(__file__).resolve().parents[2] / "data" / "dispatch"
PARTY_COLUMNS = ("id", "kind", "name_zh", "name_en", "notes")
FLEET_COLUMNS = tuple(f.name for f in fields(VehicleSpec))
PROFILES = ("truck", "van", "motorbike")  # the profiles of data/road_network/speeds.toml
OWNER_KINDS = ("carrier", "hub")  # shippers hand over goods; they run no vehicles here
# where vehicles are based: the warehouse, the county hubs, and township stations (their
# own small vehicles run a last mile to the villages, dispatch.plan.lastmile)
DEPOT_KINDS = ("warehouse", "hub", "township")

_TRUE = ("true", "1", "yes", "y")
_FALSE = ("false", "0", "no", "n")

T = TypeVar("T")


def parties_path() -> Path:
    return DATA_DIR / "parties.csv"


def fleet_path() -> Path:
    return DATA_DIR / "fleet.csv"


def _read_rows(path: Path, columns: tuple[str, ...]) -> list[tuple[int, dict[str, str]]]:
    """(line number, row) pairs; the header must hold ``columns`` (extra ones are refused)."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as f:
            reader = csv.DictReader(f)
            header = [c.strip() for c in (reader.fieldnames or [])]
            if not header:
                raise InputError(path.name, "empty file: no header row")
            missing = [c for c in columns if c not in header]
            if missing:
                raise InputError(f"{path.name} line 1", f"missing column(s) {', '.join(missing)}")
            unknown = [c for c in header if c not in columns]
            if unknown:
                raise InputError(
                    f"{path.name} line 1",
                    f"unknown column(s) {', '.join(unknown)} (expected {', '.join(columns)})",
                )
            dupes = sorted({c for c in header if header.count(c) > 1})
            if dupes:
                raise InputError(f"{path.name} line 1", f"repeated column(s) {', '.join(dupes)}")
            reader.fieldnames = header
            rows: list[tuple[int, dict[str, str]]] = []
            for row in reader:
                if None in row:
                    raise InputError(
                        f"{path.name} line {reader.line_num}",
                        f"more cells than the {len(header)} columns of the header",
                    )
                cells = {k: (v or "").strip() for k, v in row.items()}
                if not any(cells.values()):
                    continue  # blank line
                rows.append((reader.line_num, cells))
            return rows
    except OSError as e:
        raise InputError(str(path), f"cannot read file ({e.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as e:
        raise InputError(str(path), f"not a UTF-8 CSV file ({e})") from None


def load_parties(path: Path | None = None) -> dict[str, Party]:
    """The carriers, shippers and hub operators, by id (file order kept)."""
    path = path or parties_path()
    out: dict[str, Party] = {}
    for line, row in _read_rows(path, PARTY_COLUMNS):

        def where(column: str, line: int = line) -> str:
            return f"{path.name} line {line}, column {column}"

        pid = row["id"]
        if not pid:
            raise InputError(where("id"), "empty party id")
        if any(ch.isspace() or ch == ";" for ch in pid):
            raise InputError(where("id"), f"party id {pid!r} contains a space or ';'")
        if pid in out:
            raise InputError(where("id"), f"duplicate party id {pid!r}")
        if row["kind"] not in PARTY_KINDS:
            raise InputError(
                where("kind"), f"{row['kind']!r} is not one of {', '.join(PARTY_KINDS)}"
            )
        if not row["name_zh"]:
            raise InputError(where("name_zh"), "empty Chinese name")
        out[pid] = Party(id=pid, kind=row["kind"], name_zh=row["name_zh"], name_en=row["name_en"])
    if not out:
        raise InputError(path.name, "no parties")
    return out


def owner_problem(owner: str, parties: Mapping[str, Party]) -> str | None:
    """Why ``owner`` cannot own a vehicle, or None when it can: it must be the id of a
    party of :data:`OWNER_KINDS` (a carrier or a hub operator), spelt exactly.

    The one rule of the fleet file (:func:`load_fleet`, what the planner loads) and of
    every other way vehicles are added or changed (the API)."""
    party = parties.get(owner)
    if party is None:
        near = [p.id for p in parties.values() if p.id.lower() == owner.strip().lower()]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return f"unknown owner {owner!r}: not a party{hint}"
    if party.kind not in OWNER_KINDS:
        return f"owner {party.id!r} is a {party.kind}, not a carrier or hub operator"
    return None


def _default_depots() -> set[str]:
    from routing.network.places import load_places

    return {p.id for p in load_places() if p.kind in DEPOT_KINDS}


def _parse(where: str, text: str, parse: Callable[[str], T]) -> T:
    try:
        return parse(text)
    except ValueError as e:
        raise InputError(where, str(e)) from None


def _integer(text: str) -> int:
    if not text:
        raise ValueError("empty; a whole number is needed")
    try:
        return int(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a whole number") from None


def _real(text: str) -> float:
    if not text:
        raise ValueError("empty; a number is needed")
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a number") from None
    if not math.isfinite(value):
        raise ValueError(f"{text!r} is not a finite number")
    return value


def _boolean(text: str) -> bool:
    word = text.lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (true/false)")


def _clock(text: str) -> time:
    parts = text.split(":")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 2 for p in parts):
        raise ValueError(f"{text!r} is not a time HH:MM")
    hour, minute = int(parts[0]), int(parts[1])
    if hour > 23 or minute > 59:
        raise ValueError(f"{text!r} is not a time of day (00:00-23:59)")
    return time(hour, minute)


def load_fleet(
    path: Path | None = None,
    *,
    parties: Mapping[str, Party] | None = None,
    place_ids: Collection[str] | None = None,
) -> list[VehicleSpec]:
    """Every vehicle of the fleet file, validated.

    ``parties`` (default: :func:`load_parties`) must hold each owner, as a carrier or hub
    operator; ``place_ids`` (default: the warehouse and hubs of the bundled places) must
    hold each depot.
    """
    path = path or fleet_path()
    parties = load_parties() if parties is None else parties
    depots = _default_depots() if place_ids is None else set(place_ids)
    seen: dict[str, int] = {}
    out: list[VehicleSpec] = []
    for line, row in _read_rows(path, FLEET_COLUMNS):

        def where(column: str, line: int = line) -> str:
            return f"{path.name} line {line}, column {column}"

        _check_identity(row, where, seen, parties, depots)
        seen[row["id"]] = line
        out.append(_vehicle(row, where))
    if not out:
        raise InputError(path.name, "no vehicles")
    return out


def _check_identity(
    row: Mapping[str, str],
    where: Callable[[str], str],
    seen: Mapping[str, int],
    parties: Mapping[str, Party],
    depots: Collection[str],
) -> None:
    """Raise InputError unless the row's id is new (``seen``: id -> its first line), its
    owner a carrier or hub operator, its depot known, its kind given and its profile one
    of the routing profiles."""
    vid = row["id"]
    if not vid:
        raise InputError(where("id"), "empty vehicle id")
    if vid in seen:
        raise InputError(where("id"), f"duplicate vehicle id {vid!r} (first on line {seen[vid]})")
    problem = owner_problem(row["owner"], parties)
    if problem:
        raise InputError(where("owner"), problem)
    if row["depot"] not in depots:
        raise InputError(
            where("depot"), f"unknown depot {row['depot']!r} (not the warehouse or a hub)"
        )
    if not row["kind"]:
        raise InputError(where("kind"), "empty vehicle kind")
    if row["profile"] not in PROFILES:
        raise InputError(
            where("profile"), f"{row['profile']!r} is not one of {', '.join(PROFILES)}"
        )


def _vehicle(row: Mapping[str, str], where: Callable[[str], str]) -> VehicleSpec:
    """The vehicle of a row whose identity is checked: capacities (kg, m³) > 0, costs
    (integer fen) >= 0, a shift that ends after it starts, and hours within it."""
    capacity_kg = _parse(where("capacity_kg"), row["capacity_kg"], _integer)
    if capacity_kg <= 0:
        raise InputError(where("capacity_kg"), f"capacity must be > 0 kg, got {capacity_kg}")
    capacity_m3 = _parse(where("capacity_m3"), row["capacity_m3"], _real)
    if capacity_m3 <= 0:
        raise InputError(where("capacity_m3"), f"capacity must be > 0 m³, got {capacity_m3}")
    flags = {
        name: _parse(where(name), row[name], _boolean)
        for name in ("refrigerated", "freezer", "livestock")
    }
    costs: dict[str, int] = {}
    for name in ("fixed_fen", "per_km_fen", "per_hour_fen"):
        value = _parse(where(name), row[name], _integer)
        if value < 0:
            raise InputError(where(name), f"cost must be >= 0 fen, got {value}")
        costs[name] = value
    start, end, max_shift_h, max_driving_h = _shift(row, where)
    return VehicleSpec(
        id=row["id"],
        owner=row["owner"],
        depot=row["depot"],
        kind=row["kind"],
        profile=row["profile"],
        capacity_kg=capacity_kg,
        capacity_m3=capacity_m3,
        refrigerated=flags["refrigerated"],
        freezer=flags["freezer"],
        livestock=flags["livestock"],
        fixed_fen=costs["fixed_fen"],
        per_km_fen=costs["per_km_fen"],
        per_hour_fen=costs["per_hour_fen"],
        shift_start=start,
        shift_end=end,
        max_shift_h=max_shift_h,
        max_driving_h=max_driving_h,
        name=row["name"],
    )


def _shift(row: Mapping[str, str], where: Callable[[str], str]) -> tuple[time, time, float, float]:
    """The row's shift start and end, its longest shift and its most driving (hours)."""
    start = _parse(where("shift_start"), row["shift_start"], _clock)
    end = _parse(where("shift_end"), row["shift_end"], _clock)
    if end <= start:
        raise InputError(
            where("shift_end"),
            f"shift ends at {row['shift_end']}, not after its start {row['shift_start']}",
        )
    max_shift_h = _parse(where("max_shift_h"), row["max_shift_h"], _real)
    if not 0 < max_shift_h <= 24:
        raise InputError(where("max_shift_h"), f"must be > 0 and <= 24 hours, got {max_shift_h}")
    max_driving_h = _parse(where("max_driving_h"), row["max_driving_h"], _real)
    if not 0 < max_driving_h <= max_shift_h:
        raise InputError(
            where("max_driving_h"),
            f"must be > 0 and at most the shift ({max_shift_h} h), got {max_driving_h}",
        )
    return start, end, max_shift_h, max_driving_h
