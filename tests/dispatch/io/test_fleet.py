"""Parties and fleet files: the bundled ones load; bad rows name their line and column."""

from __future__ import annotations

import csv
from datetime import time
from pathlib import Path

import pytest

from dispatch.domain import Party, VehicleSpec
from dispatch.io.fleet import FLEET_COLUMNS, load_fleet, load_parties
from routing.errors import InputError

COUNTIES = ("532329", "532326", "532322", "532323", "532325", "532327")
CARRIERS = ("EMS", "ZTO", "YTO", "STO", "YUNDA", "JT", "SF", "JD")
DEPOTS = {"WH-CX", *(f"HUB-{c}" for c in COUNTIES)}


@pytest.fixture(scope="module")
def fleet() -> list[VehicleSpec]:
    return load_fleet()


def test_bundled_parties() -> None:
    parties = load_parties()
    assert {p for p, v in parties.items() if v.kind == "carrier"} == set(CARRIERS)
    assert {p for p, v in parties.items() if v.kind == "hub"} == {"HUB", "PLATFORM"}
    assert sum(v.kind == "shipper" for v in parties.values()) >= 6
    assert all(v.name_zh for v in parties.values())


def test_bundled_fleet(fleet: list[VehicleSpec]) -> None:
    assert len({v.id for v in fleet}) == len(fleet)
    assert {v.depot for v in fleet} == DEPOTS
    trunk = [v for v in fleet if v.depot == "WH-CX"]
    # day trucks 05:00-21:00; the evening produce runs 09:00-21:00
    assert all(v.shift_start in (time(5), time(9)) and v.shift_end == time(21) for v in trunk)
    evening = [v for v in trunk if v.shift_start == time(9)]
    assert evening and all(v.owner == "PLATFORM" for v in evening)
    assert any(v.refrigerated for v in evening)
    assert all(v.max_shift_h == 12 for v in trunk)
    assert all(v.max_driving_h == 8 for v in fleet)
    platform = [v for v in trunk if v.owner == "PLATFORM"]
    assert any(v.refrigerated for v in platform) and any(v.livestock for v in platform)
    assert {v.owner for v in trunk} == {"PLATFORM", *CARRIERS}
    for county in COUNTIES:
        hub = [v for v in fleet if v.depot == f"HUB-{county}"]
        assert all(v.shift_start == time(8) and v.shift_end == time(20) for v in hub)
        own = [v for v in hub if v.owner == "HUB"]
        assert any(v.refrigerated for v in own) and any(v.livestock for v in own)
        assert sum(v.profile == "motorbike" for v in own) == 2
        carriers = {v.owner for v in hub} - {"HUB"}
        expected = set(CARRIERS) - ({"SF", "JD"} if county == "532329" else set())
        assert carriers == expected
    for v in fleet:
        assert v.fixed_fen > 0 and v.per_km_fen > 0 and v.per_hour_fen > 0
        assert v.capacity_kg > 0 and v.capacity_m3 > 0


def test_costs_follow_the_stated_formulas(fleet: list[VehicleSpec]) -> None:
    """ASSUMPTIONS.md: 8 t box truck 20 L/100 km diesel at 6.83 + 0.50 RMB/km upkeep; urban
    driver 73,643 RMB / 2,000 h; rural drivers at 70 %."""
    truck = next(v for v in fleet if v.id == "WH-CX-PT01")
    assert truck.per_km_fen == round((0.20 * 6.83 + 0.50) * 100)
    assert truck.per_hour_fen == round(73_643 / 2_000 * 100)
    assert truck.fixed_fen == round((230_000 * 0.95 / 8 + 10_000) / 300 * 100)
    van = next(v for v in fleet if v.id == "HUB-532329-V01")
    assert van.per_hour_fen == round(73_643 / 2_000 * 0.7 * 100)


def write_fleet(
    path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = FLEET_COLUMNS
) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        w.writerows(rows)
    return path


GOOD = {
    "id": "T1",
    "owner": "HUB",
    "depot": "HUB-532329",
    "kind": "van",
    "profile": "van",
    "capacity_kg": "1500",
    "capacity_m3": "8",
    "refrigerated": "false",
    "freezer": "false",
    "livestock": "true",
    "fixed_fen": "6000",
    "per_km_fen": "90",
    "per_hour_fen": "2500",
    "shift_start": "07:00",
    "shift_end": "20:00",
    "max_shift_h": "10",
    "max_driving_h": "8",
    "name": "test van",
}


def test_good_rows_load(tmp_path: Path) -> None:
    second = {**GOOD, "id": "T2", "owner": "ZTO", "refrigerated": "1", "livestock": "no"}
    vehicles = load_fleet(write_fleet(tmp_path / "fleet.csv", [GOOD, second]))
    assert [v.id for v in vehicles] == ["T1", "T2"]
    assert vehicles[0].livestock and not vehicles[0].refrigerated
    assert vehicles[1].refrigerated and vehicles[1].shift_end == time(20)
    assert vehicles[0].capacity_m3 == 8.0 and isinstance(vehicles[0].capacity_kg, int)


@pytest.mark.parametrize(
    ("column", "value", "reason"),
    [
        ("owner", "ACME", "unknown owner 'ACME'"),
        ("owner", "coop-honey", "is a shipper"),
        ("depot", "HUB-999999", "unknown depot"),
        ("depot", "532329101001", "unknown depot"),  # a village has no depot
        ("profile", "bicycle", "not one of truck, van, motorbike"),
        ("capacity_kg", "1.5t", "not a whole number"),
        ("capacity_kg", "0", "must be > 0"),
        ("capacity_m3", "lots", "not a number"),
        ("per_km_fen", "-5", "must be >= 0"),
        ("fixed_fen", "", "empty"),
        ("refrigerated", "maybe", "not a boolean"),
        ("shift_start", "7am", "not a time HH:MM"),
        ("shift_end", "25:00", "not a time of day"),
        ("shift_end", "06:00", "not after its start"),
        ("max_shift_h", "0", "must be > 0"),
        ("max_driving_h", "11", "at most the shift"),
        ("max_driving_h", "0", "must be > 0"),
        ("id", "T1", "duplicate vehicle id 'T1'"),
    ],
)
def test_bad_row_names_line_and_column(
    tmp_path: Path, column: str, value: str, reason: str
) -> None:
    bad = {**GOOD, "id": "T2", column: value}
    path = write_fleet(tmp_path / "fleet.csv", [GOOD, bad])
    with pytest.raises(InputError) as e:
        load_fleet(path)
    assert e.value.field == f"fleet.csv line 3, column {column}"
    assert reason in e.value.reason


def test_bad_header(tmp_path: Path) -> None:
    columns = tuple(c for c in FLEET_COLUMNS if c != "per_hour_fen")
    path = write_fleet(tmp_path / "fleet.csv", [{k: GOOD[k] for k in columns}], columns)
    with pytest.raises(InputError, match=r"missing column.*per_hour_fen") as e:
        load_fleet(path)
    assert e.value.field == "fleet.csv line 1"


def test_depots_and_parties_can_be_given(tmp_path: Path) -> None:
    path = write_fleet(tmp_path / "fleet.csv", [{**GOOD, "depot": "D1", "owner": "X"}])
    parties = {"X": Party("X", "hub", "测试", "test")}
    assert load_fleet(path, parties=parties, place_ids={"D1"})[0].depot == "D1"
    with pytest.raises(InputError, match="unknown depot"):
        load_fleet(path, parties=parties, place_ids={"D2"})


def test_bad_parties(tmp_path: Path) -> None:
    path = tmp_path / "parties.csv"
    path.write_text(
        "id,kind,name_zh,name_en,notes\nZTO,carrier,中通快递,ZTO,\nZTO,carrier,中通,ZTO,\n",
        encoding="utf-8",
    )
    with pytest.raises(InputError) as e:
        load_parties(path)
    assert e.value.field == "parties.csv line 3, column id" and "duplicate" in e.value.reason
    path.write_text("id,kind,name_zh,name_en,notes\nX,bank,某,X,\n", encoding="utf-8")
    with pytest.raises(InputError) as e:
        load_parties(path)
    assert e.value.field == "parties.csv line 2, column kind"
    with pytest.raises(InputError, match="cannot read"):
        load_parties(tmp_path / "nope.csv")


def test_a_township_station_may_base_vehicles(tmp_path: Path) -> None:
    """A township station's own tricycle (for a last mile to its villages)."""
    row = {**GOOD, "id": "ST1", "depot": "532329101", "profile": "motorbike", "kind": "motorbike"}
    (vehicle,) = load_fleet(write_fleet(tmp_path / "fleet.csv", [row]))
    assert vehicle.depot == "532329101"
