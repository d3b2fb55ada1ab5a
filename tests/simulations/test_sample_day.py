"""The sample-day generator: determinism, the generation rules, the bundled sample file."""

from __future__ import annotations

import csv
from collections import Counter
from datetime import date, timedelta
from pathlib import Path

import pytest

from dispatch.domain import DIRECTIONS, TEMPERATURES, Order
from dispatch.io.fleet import load_parties
from routing.errors import InputError
from routing.network.graph import Place
from routing.network.places import load_places
from simulations.sample_day import (
    ORDER_COLUMNS,
    WAREHOUSE,
    generate_day,
    load_assumptions,
    main,
    order_rows,
)

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "data" / "sample" / "orders-2026-09-15.csv"
DAY = date(2026, 9, 15)
PRODUCE = ("野生菌", "核桃", "蜂蜜", "红糖", "黑山羊", "武定鸡")


@pytest.fixture(scope="module")
def places() -> dict[str, Place]:
    return {p.id: p for p in load_places()}


@pytest.fixture(scope="module")
def day(places: dict[str, Place]) -> list[Order]:
    return generate_day(DAY, seed=1, places=list(places.values()))


def produce(orders: list[Order], goods: str) -> list[Order]:
    return [o for o in orders if o.direction == "up" and o.goods.startswith(goods)]


def test_same_seed_same_orders(day: list[Order], places: dict[str, Place]) -> None:
    assert generate_day(DAY, seed=1, places=list(places.values())) == day


def test_other_seed_or_date_differs(day: list[Order], places: dict[str, Place]) -> None:
    other = generate_day(DAY, seed=2, places=list(places.values()))
    assert other != day
    assert {o.tracking for o in other} != {o.tracking for o in day}
    later = generate_day(DAY + timedelta(days=1), seed=1, places=list(places.values()))
    assert [o.pieces for o in later] != [o.pieces for o in day]


def test_bundled_sample_is_seed_1(day: list[Order]) -> None:
    """data/sample/orders-2026-09-15.csv is exactly what the documented command writes."""
    with SAMPLE.open(encoding="utf-8", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == list(ORDER_COLUMNS)
    assert rows == list(order_rows(day))
    assert SAMPLE.stat().st_size < 3_000_000


def test_orders_follow_the_rules(day: list[Order], places: dict[str, Place]) -> None:
    parties = load_parties()
    ids = [o.id for o in day]
    assert len(ids) == len(set(ids))
    for o in day:
        assert o.direction in DIRECTIONS and o.temperature in TEMPERATURES
        assert o.weight_kg > 0 and o.volume_m3 > 0 and o.pieces >= 1
        assert round(o.weight_kg, 3) == o.weight_kg and round(o.volume_m3, 3) == o.volume_m3
        assert o.ready is not None and o.due is not None and o.ready < o.due
        assert o.ready.utcoffset() == timedelta(hours=8)
        assert o.ready.date() == DAY
        if o.direction == "down":
            local = places[o.destination]
            assert local.kind in ("township", "village")
            assert o.origin in (WAREHOUSE, f"HUB-{local.county_code}")
            assert parties[o.party].kind == "carrier"
            assert len(o.tracking) == o.pieces
            assert all(
                t.startswith(("E", "ZT", "YT", "ST", "YD", "JT", "SF", "JD")) for t in o.tracking
            )
            assert not o.live_animal
            assert o.due.hour == 18
        else:
            local = places[o.origin]
            assert local.kind in ("township", "village")
            assert o.destination in (WAREHOUSE, f"HUB-{local.county_code}")
            assert parties[o.party].kind == "shipper"
            assert o.tracking == ()
            assert o.goods.startswith(PRODUCE)
        assert local.county_code in {"532329", "532326", "532322", "532323", "532325", "532327"}
        if o.live_animal:
            assert o.goods.startswith(("黑山羊", "武定鸡")) and o.direction == "up"
    numbers = [t for o in day for t in o.tracking]
    assert len(numbers) == len(set(numbers))


def test_brands_per_county(day: list[Order], places: dict[str, Place]) -> None:
    """武定's co-delivery has six brands (no SF, JD); SF and JD stop at township stations."""
    wuding = {o.party for o in day if o.direction == "down" and o.destination[:6] == "532329"}
    assert wuding == {"EMS", "ZTO", "YTO", "STO", "YUNDA", "JT"}
    for o in day:
        if o.party in ("SF", "JD"):
            assert places[o.destination].kind == "township"
        if o.temperature == "chilled" and o.direction == "down":
            assert o.party in ("SF", "JD") and o.origin.startswith("HUB-")
    assert Counter(o.origin.startswith("HUB-") for o in day if o.direction == "down")[True] > 0


def test_mushrooms_chilled_within_24_hours(day: list[Order]) -> None:
    limit = timedelta(hours=load_assumptions().mushroom_max_hours)
    mushrooms = produce(day, "野生菌")
    assert mushrooms
    for o in mushrooms:
        assert o.temperature == "chilled" and o.destination == WAREHOUSE
        assert o.ready is not None and o.due is not None and o.due - o.ready <= limit
        assert 9 <= o.ready.hour <= 12
        assert 20 <= o.weight_kg <= 300


@pytest.mark.parametrize(
    ("month", "mushrooms", "walnuts"),
    [(1, False, False), (5, False, False), (7, True, False), (9, True, True), (10, False, True)],
)
def test_produce_in_season_only(
    places: dict[str, Place], month: int, mushrooms: bool, walnuts: bool
) -> None:
    orders = generate_day(date(2026, month, 15), seed=3, places=list(places.values()))
    assert bool(produce(orders, "野生菌")) is mushrooms
    assert bool(produce(orders, "核桃")) is walnuts


def test_totals_of_the_sample_day(day: list[Order]) -> None:
    down = [o for o in day if o.direction == "down"]
    assert 1_500 <= len(day) <= 4_000
    parcels = sum(o.pieces for o in down)
    assert 20_000 <= parcels <= 100_000
    mean_kg = sum(o.weight_kg for o in down) / parcels
    assert 1.0 < mean_kg < 1.4
    assert 20 <= len(day) - len(down) <= 200


def test_every_located_township_gets_parcels(day: list[Order], places: dict[str, Place]) -> None:
    served = {"532329", "532326", "532322", "532323", "532325", "532327"}
    located = {
        p.id
        for p in places.values()
        if p.kind == "township" and p.county_code in served and p.lon is not None
    }
    assert len(located) == 47
    reached = {o.destination for o in day if o.direction == "down"}
    assert located <= reached


def test_scale_multiplies_demand(day: list[Order], places: dict[str, Place]) -> None:
    half = generate_day(DAY, seed=1, scale=0.5, places=list(places.values()))
    full = sum(o.pieces for o in day if o.direction == "down")
    assert 0.45 * full < sum(o.pieces for o in half if o.direction == "down") < 0.55 * full
    with pytest.raises(InputError):
        generate_day(DAY, scale=0)


def test_unknown_party_is_an_input_error(places: dict[str, Place]) -> None:
    parties = {k: v for k, v in load_parties().items() if k != "ZTO"}
    with pytest.raises(InputError, match="ZTO"):
        generate_day(DAY, places=list(places.values()), parties=parties)


def test_cli_writes_the_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "orders.csv"
    assert main(["--date", "2026-01-15", "--seed", "4", "--scale", "0.1", "-o", str(out)]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    assert rows and set(rows[0]) == set(ORDER_COLUMNS)
    assert rows[0]["ready_time"].endswith("+08:00")
    assert all(
        len(r["tracking_numbers"].split(";")) == int(r["pieces"])
        for r in rows
        if r["tracking_numbers"]
    )
    assert "wrote" in capsys.readouterr().err


def test_cli_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as e:
        main(["--date", "2026-13-01", "-o", str(tmp_path / "x.csv")])
    assert e.value.code == 2
    assert "not a date" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["--date", "2026-01-01", "--scale", "-1", "-o", str(tmp_path / "x.csv")])
    assert e.value.code == 2
    assert "must be > 0" in capsys.readouterr().err
    assert main(["--date", "2026-01-01", "-o", str(tmp_path / "missing" / "x.csv")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --output") and err.count("\n") == 1
