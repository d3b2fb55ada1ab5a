"""The bundled place list and coordinate overrides."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from routing.errors import InputError
from routing.network.places import apply_overrides, load_counties, load_places

SIX_COUNTIES = {"532322", "532323", "532325", "532326", "532327", "532329"}


def test_bundled_places_have_the_expected_counts() -> None:
    places = load_places()
    kinds = Counter(p.kind for p in places)
    assert kinds["warehouse"] == 1
    assert kinds["hub"] == 6
    six_towns = [p for p in places if p.kind == "township" and p.county_code in SIX_COUNTIES]
    assert len(six_towns) == 54
    per_county = Counter(p.county_code for p in six_towns)
    assert per_county == {
        "532329": 11,
        "532326": 12,
        "532322": 8,
        "532323": 7,
        "532325": 9,
        "532327": 7,
    }
    six_villages = [p for p in places if p.kind == "village" and p.county_code in SIX_COUNTIES]
    assert len(six_villages) == 579


def test_codes_are_consistent_and_names_have_pinyin() -> None:
    places = load_places()
    ids = [p.id for p in places]
    assert len(ids) == len(set(ids))
    towns = {p.id for p in places if p.kind == "township"}
    for p in places:
        assert p.name_zh and p.name_pinyin.isascii(), p
        if p.kind == "village":
            assert p.id.startswith(p.township_code) and p.township_code in towns
            assert len(p.id) == 12
        if p.kind == "township":
            assert p.id[:6] == p.county_code and len(p.id) == 9


def test_unlocated_places_have_no_invented_coordinates() -> None:
    places = load_places()
    unlocated_towns = {p.name_zh for p in places if p.kind == "township" and p.lon is None}
    assert unlocated_towns == {
        "白路镇",
        "东坡傣族乡",
        "湾碧傣族傈僳族乡",
        "鄂嘉镇",
        "大麦地镇",
        "官屯镇",
        "永兴傣族乡",
    }
    assert sum(1 for p in places if p.kind == "village" and p.lon is not None) == 3


def test_counties() -> None:
    counties = {c["county_code"]: c for c in load_counties()}
    assert {c for c, row in counties.items() if row["in_scope"] == "1"} == SIX_COUNTIES
    assert counties["532301"]["name_zh"] == "楚雄市"


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "overrides.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_override_moves_a_place(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        "id,lon,lat,source,surveyed_on,notes\n"
        "532329101001,102.401,25.539,county survey,2026-11-01,\n",
    )
    places = apply_overrides(load_places(), path)
    moved = next(p for p in places if p.id == "532329101001")
    assert (moved.lon, moved.lat) == (102.401, 25.539)
    assert moved.coord_source == "override: county survey (2026-11-01)"


@pytest.mark.parametrize(
    ("text", "field", "reason"),
    [
        ("id,lon,lat\nNOPE,101.5,25.0\n", "line 2 id", "unknown place id 'NOPE'"),
        ("id,lon,lat\n532329101001,abc,25.0\n", "line 2 lon", "not a number"),
        ("id,lon,lat\n532329101001,nan,25.0\n", "line 2 lon", "not a finite number"),
        ("id,lon,lat\n532329101001,116.4,39.9\n", "(532329101001)", "outside Chuxiong"),
        (
            "id,lon,lat\n532329101001,102.4,25.5\n532329101001,102.4,25.5\n",
            "line 3 id",
            "overridden twice",
        ),
        ("id,longitude,lat\n532329101001,102.4,25.5\n", "overrides.csv", "missing column(s) lon"),
    ],
)
def test_bad_overrides_are_rejected_with_the_line_named(
    tmp_path: Path, text: str, field: str, reason: str
) -> None:
    with pytest.raises(InputError) as err:
        apply_overrides(load_places(), _write(tmp_path, text))
    assert field in err.value.field
    assert reason in err.value.reason


def test_override_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "gbk.csv"
    path.write_bytes("id,lon,lat\n白路镇,1,2\n".encode("gbk"))
    with pytest.raises(InputError, match="not a UTF-8 CSV"):
        apply_overrides(load_places(), path)


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read file"):
        apply_overrides(load_places(), tmp_path / "absent.csv")
