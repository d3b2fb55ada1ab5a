"""Order import from CSV and XLSX: the documented format, every kind of bad value."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import pytest
from openpyxl import Workbook

from dispatch.domain import TZ, Order, Party
from dispatch.io.orders import (
    COLUMNS,
    ImportResult,
    OrderFileError,
    RowError,
    parse_rows,
    read_orders,
    write_orders_csv,
)
from routing.errors import InputError
from routing.network.graph import Place
from routing.network.places import load_counties, load_places

PLAN = date(2026, 9, 15)
HEADER = (
    "order_id,party,direction,origin,destination,weight_kg,volume_m3,pieces,"
    "temperature,ready_time,due_time,live_animal,tracking_numbers,goods"
)
# a good down order, a good up order: the base of most bad-row tests
DOWN = "D1,ZTO,down,HUB-532326,532326102,12.5,0.1,2,ambient,08:00,17:00,no,ZT1;ZT2,包裹"
UP = "U1,coop-dayao,up,532326101001,WH-CX,300,1.2,10,chilled,,,false,,核桃"


@pytest.fixture(scope="module")
def places() -> dict[str, Place]:
    return {p.id: p for p in load_places()}


@pytest.fixture(scope="module")
def served() -> set[str]:
    return {c["county_code"] for c in load_counties() if c["in_scope"] == "1"}


PARTIES = {
    "ZTO": Party("ZTO", "carrier", "中通快递", "ZTO Express"),
    "EMS": Party("EMS", "carrier", "中国邮政", "China Post EMS"),
    "coop-dayao": Party("coop-dayao", "shipper", "大姚核桃合作社", "Dayao walnut co-op"),
    "hubop": Party("hubop", "hub", "县物流中心", "County hub operator"),
}


def at(hour: int, minute: int = 0, day: date = PLAN) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=TZ)


def sample_orders() -> list[Order]:
    return [
        Order(
            id="D1",
            party="ZTO",
            direction="down",
            origin="HUB-532326",
            destination="532326102",
            weight_kg=12.5,
            volume_m3=0.1,
            pieces=2,
            ready=at(8),
            due=at(17),
            tracking=("ZT1", "ZT2"),
            goods="包裹",
            line=2,
        ),
        Order(
            id="D2",
            party="EMS",
            direction="down",
            origin="WH-CX",
            destination="532329102",
            weight_kg=3.0,
            volume_m3=0.0,
            pieces=1,
            temperature="frozen",
            goods='冻品, "特价"',
            line=3,
        ),
        Order(
            id="U1",
            party="coop-dayao",
            direction="up",
            origin="532326101002",  # an unlocated village: accepted
            destination="HUB-532326",
            weight_kg=1234.567,
            volume_m3=2.25,
            pieces=40,
            temperature="chilled",
            ready=at(6, 30),
            due=at(14, 5, date(2026, 9, 16)),
            live_animal=True,
            line=4,
        ),
    ]


def write(tmp_path: Path, *rows: str, name: str = "orders.csv", header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def read(path: Path, places: dict[str, Place], served: set[str], **kw: Any) -> ImportResult:
    kw.setdefault("plan_date", PLAN)
    return read_orders(path, places=places, parties=PARTIES, served_counties=served, **kw)


def bad_rows(path: Path, places: dict[str, Place], served: set[str], **kw: Any) -> list[RowError]:
    with pytest.raises(OrderFileError) as info:
        read(path, places, served, **kw)
    return info.value.errors


def one_error(path: Path, places: dict[str, Place], served: set[str], **kw: Any) -> RowError:
    errors = bad_rows(path, places, served, **kw)
    assert len(errors) == 1, errors
    return errors[0]


# ---- good files -----------------------------------------------------------------------


def test_csv_round_trip(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    orders = sample_orders()
    path = tmp_path / "out.csv"
    write_orders_csv(orders, path)
    assert path.read_text(encoding="utf-8").splitlines()[0] == ",".join(COLUMNS)
    result = read(path, places, served, plan_date=None)
    assert result.orders == orders
    assert result.errors == [] and result.warnings == [] and result.rows == 3
    assert all(o.ready is None or o.ready.tzinfo == TZ for o in result.orders)


def test_round_trip_with_bom(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    path = tmp_path / "out.csv"
    write_orders_csv(sample_orders(), path, bom=True)
    assert path.read_bytes().startswith(b"\xef\xbb\xbf")
    assert read(path, places, served).orders == sample_orders()


def test_good_rows_parse(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    result = read(write(tmp_path, DOWN, "", UP), places, served)
    d, u = result.orders
    assert result.rows == 2
    assert d == Order(
        id="D1",
        party="ZTO",
        direction="down",
        origin="HUB-532326",
        destination="532326102",
        weight_kg=12.5,
        volume_m3=0.1,
        pieces=2,
        ready=at(8),
        due=at(17),
        tracking=("ZT1", "ZT2"),
        goods="包裹",
        line=2,
    )
    assert (u.line, u.temperature, u.ready, u.live_animal, u.tracking) == (
        4, "chilled", None, False, (),
    )  # fmt: skip


def test_xlsx_gives_the_same_orders(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    # columns in another order, an unknown column, numbers and datetimes as typed cells
    sheet.append(
        ["goods", "order_id", "party", "direction", "origin", "destination", "weight_kg",
         "volume_m3", "pieces", "temperature", "ready_time", "due_time", "live_animal",
         "tracking_numbers", "remarks"]
    )  # fmt: skip
    sheet.append(
        ["包裹", "D1", "ZTO", "down", "HUB-532326", 532326102, 12.5, 0.1, 2, "ambient",
         datetime(2026, 9, 15, 8, 0), time(17, 0), False, " ZT1 ; ZT2 ", "fragile"]
    )  # fmt: skip
    sheet.append([None] * 15)  # a blank row: skipped, line numbers keep counting
    sheet.append(
        ['冻品, "特价"', "D2", "EMS", "down", "WH-CX", 532329102, 3, None, 1, "frozen",
         None, None, None, None, None]
    )  # fmt: skip
    sheet.append(
        [None, "U1", "coop-dayao", "up", 532326101002, "HUB-532326", 1234.567, 2.25, 40,
         "chilled", "2026-09-15 06:30", datetime(2026, 9, 16, 14, 5), True, None, None]
    )  # fmt: skip
    path = tmp_path / "orders.xlsx"
    book.save(path)
    result = read(path, places, served)
    expected = sample_orders()
    expected[1] = replace(expected[1], line=4)
    expected[2] = replace(expected[2], line=5)
    assert result.orders == expected
    assert result.rows == 3
    assert result.warnings == ["ignored unknown column(s): remarks"]


def test_xlsx_bad_row_reports_row_number(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    sheet.append(DOWN.split(","))
    sheet.append(["D9", "ZTO", "down", "WH-CX", "532326102", -2, None, 1])
    path = tmp_path / "orders.xlsx"
    book.save(path)
    error = one_error(path, places, served)
    assert (error.line, error.column, error.value) == (3, "weight_kg", "-2")


def test_chinese_values_accepted(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    row = "C1,coop-dayao,上行,532326102,HUB-532326,80,,3,冷藏,,,是,,羊"
    row2 = "C2,ZTO,下行,WH-CX,532326102,1,,1,冷冻,,,否,,"
    a, b = read(write(tmp_path, row, row2), places, served).orders
    assert (a.direction, a.temperature, a.live_animal) == ("up", "chilled", True)
    assert (b.direction, b.temperature, b.live_animal) == ("down", "frozen", False)


def test_gb18030_csv(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    path = tmp_path / "gbk.csv"
    text = f"{HEADER}\r\nC1,coop-dayao,上行,532326102,HUB-532326,80,,3,冷藏,,,是,,核桃\r\n"
    path.write_bytes(text.encode("gb18030"))
    result = read(path, places, served)
    assert [(o.goods, o.direction) for o in result.orders] == [("核桃", "up")]
    assert len(result.warnings) == 1 and "GB18030" in result.warnings[0]


def test_bom_csv(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    path = tmp_path / "bom.csv"
    path.write_text(f"{HEADER}\r\n{DOWN}\r\n", encoding="utf-8-sig")
    result = read(path, places, served)
    assert [o.id for o in result.orders] == ["D1"] and result.warnings == []


def test_minimal_columns_defaults_and_spaces(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    header = " Order_ID , party,direction,origin,destination,weight_kg,pieces"
    path = write(tmp_path, " M1 , ZTO , Down , WH-CX , 532326102 , 5 , 1 ", header=header)
    (order,) = read(path, places, served).orders
    assert order == Order("M1", "ZTO", "down", "WH-CX", "532326102", 5.0, 0.0, 1, line=2)


def test_iso_times_with_offset(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    row = "T1,ZTO,down,WH-CX,532326102,5,,1,,2026-09-15T00:30:00Z,2026-09-15T10:00+08:00,,,"
    (order,) = read(write(tmp_path, row), places, served, plan_date=None).orders
    assert order.ready == at(8, 30) and order.ready.tzinfo == TZ
    assert order.due == at(10)


def test_empty_file_has_no_orders(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    result = read(write(tmp_path), places, served)
    assert (result.orders, result.errors, result.rows) == ([], [], 0)


# ---- bad values -----------------------------------------------------------------------


def swap(row: str, **cells: str) -> str:
    """The row with some cells replaced."""
    values = row.split(",")
    for name, value in cells.items():
        values[COLUMNS.index(name)] = value
    return ",".join(values)


@pytest.mark.parametrize(
    ("cells", "column", "value", "reason"),
    [
        ({"weight_kg": "12kg"}, "weight_kg", "12kg", "must be a number"),
        ({"weight_kg": "-2"}, "weight_kg", "-2", "must be a number > 0"),
        ({"weight_kg": "0"}, "weight_kg", "0", "must be a number > 0"),
        ({"weight_kg": "100001"}, "weight_kg", "100001", "<= 100000"),
        ({"weight_kg": "nan"}, "weight_kg", "nan", "finite"),
        ({"weight_kg": ""}, "weight_kg", "", "required"),
        ({"volume_m3": "-0.1"}, "volume_m3", "-0.1", "must be a number >= 0"),
        ({"pieces": "2.5"}, "pieces", "2.5", "whole number >= 1"),
        ({"pieces": "0"}, "pieces", "0", "whole number >= 1"),
        ({"party": "SF"}, "party", "SF", "unknown party 'SF'"),
        ({"party": "zto"}, "party", "zto", "did you mean 'ZTO'"),
        ({"party": "hubop"}, "party", "hubop", "not a carrier or shipper"),
        ({"direction": "sideways"}, "direction", "sideways", "must be down or up"),
        ({"origin": "HUB-999999"}, "origin", "HUB-999999", "unknown place id 'HUB-999999'"),
        ({"destination": "532326999"}, "destination", "532326999", "unknown place id"),
        ({"origin": "532326101"}, "origin", "532326101", "a down order starts at"),
        ({"destination": "WH-CX"}, "destination", "WH-CX", "ends at a township or village"),
        ({"origin": "HUB-532329"}, "origin", "HUB-532329", "does not serve"),
        ({"origin": "WH-CX", "destination": "532301102"}, "destination", "532301102", "not serve"),
        ({"due_time": "07:00"}, "due_time", "07:00", "must be after ready_time"),
        ({"due_time": "08:00"}, "due_time", "08:00", "must be after ready_time"),
        ({"ready_time": "25:00"}, "ready_time", "25:00", "not a valid time"),
        ({"ready_time": "2026-09-15"}, "ready_time", "2026-09-15", "date and time"),
        ({"ready_time": "tomorrow"}, "ready_time", "tomorrow", "date and time"),
        ({"tracking_numbers": "ZT1"}, "tracking_numbers", "ZT1", "lists 1 tracking number"),
        ({"tracking_numbers": "ZT1;ZT1"}, "tracking_numbers", "ZT1;ZT1", "appears twice"),
        ({"temperature": "warm"}, "temperature", "warm", "ambient, chilled or frozen"),
        ({"live_animal": "maybe"}, "live_animal", "maybe", "must be true/false"),
        ({"order_id": ""}, "order_id", "", "required"),
    ],
)
def test_bad_value(
    tmp_path: Path,
    places: dict[str, Place],
    served: set[str],
    cells: dict[str, str],
    column: str,
    value: str,
    reason: str,
) -> None:
    path = write(tmp_path, UP, swap(DOWN, **cells))
    error = one_error(path, places, served)
    assert (error.line, error.column, error.value) == (3, column, value)
    assert reason in error.reason
    assert str(error).startswith(f"line 3, column {column}: ")


@pytest.mark.parametrize(
    ("cells", "column", "value", "reason"),
    [
        ({"origin": "HUB-532326"}, "origin", "HUB-532326", "starts at a township or village"),
        ({"destination": "HUB-532329"}, "destination", "HUB-532329", "does not serve"),
        ({"destination": "532326102"}, "destination", "532326102", "county hub or the"),
        ({"origin": "532301101"}, "origin", "532301101", "does not serve"),
    ],
)
def test_bad_up_route(
    tmp_path: Path,
    places: dict[str, Place],
    served: set[str],
    cells: dict[str, str],
    column: str,
    value: str,
    reason: str,
) -> None:
    error = one_error(write(tmp_path, swap(UP, **cells)), places, served)
    assert (error.line, error.column, error.value) == (2, column, value)
    assert reason in error.reason


def test_hub_of_another_county_names_the_right_depot(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    error = one_error(write(tmp_path, swap(DOWN, origin="HUB-532329")), places, served)
    assert "532326102" in error.reason and "use HUB-532326 or WH-CX" in error.reason


def test_clock_time_needs_a_plan_date(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    errors = bad_rows(write(tmp_path, DOWN), places, served, plan_date=None)
    assert [(e.line, e.column, e.value) for e in errors] == [
        (2, "ready_time", "08:00"),
        (2, "due_time", "17:00"),
    ]
    assert "no plan date" in errors[0].reason


def test_duplicate_order_id(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    path = write(tmp_path, DOWN, UP, swap(UP, weight_kg="5"))
    error = one_error(path, places, served)
    assert (error.line, error.column, error.value) == (4, "order_id", "U1")
    assert "already used at line 3" in error.reason


def test_duplicate_tracking_number(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    path = write(tmp_path, DOWN, UP, swap(DOWN, order_id="D2", tracking_numbers="ZT3; ZT2"))
    error = one_error(path, places, served)
    assert (error.line, error.column) == (4, "tracking_numbers")
    assert "'ZT2' is already in order 'D1' at line 2" in error.reason


def test_quoted_multiline_record_line_numbers(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    multi = swap(DOWN, goods='"two\nlines"')
    path = write(tmp_path, multi, swap(UP, weight_kg="x"))
    error = one_error(path, places, served)
    assert error.line == 4  # the record starts on the physical line after the 2-line one


# ---- whole files ----------------------------------------------------------------------


def test_default_raises_and_imports_nothing(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    path = write(
        tmp_path,
        DOWN,
        swap(UP, weight_kg="-2", pieces="x"),
        swap(DOWN, order_id="D3", tracking_numbers="", party="SF"),
    )
    with pytest.raises(OrderFileError) as info:
        read(path, places, served)
    err = info.value
    assert isinstance(err, InputError)
    assert err.field == "orders.csv"
    assert [(e.line, e.column) for e in err.errors] == [
        (3, "weight_kg"),
        (3, "pieces"),
        (4, "party"),
    ]
    assert err.reason.startswith("2 bad rows: line 3, column weight_kg: must be a number > 0")
    assert err.reason.endswith("(and 2 more)")
    assert "\n" not in str(err)


def test_skip_bad_imports_the_good_rows(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    path = write(tmp_path, DOWN, swap(UP, weight_kg="-2"), swap(UP, order_id="U2"))
    result = read(path, places, served, skip_bad=True)
    assert [(o.id, o.line) for o in result.orders] == [("D1", 2), ("U2", 4)]
    assert [(e.line, e.column, e.value) for e in result.errors] == [(3, "weight_kg", "-2")]
    assert result.rows == 3


def test_missing_required_column(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    header = "order_id,direction,origin,destination,weight_kg"
    path = write(tmp_path, "X1,down,WH-CX,532326102,5", header=header)
    for skip_bad in (False, True):
        error = one_error(path, places, served, skip_bad=skip_bad)
        assert (error.line, error.column) == (1, "")
        assert error.reason == "missing required column(s): party, pieces"


def test_unknown_column_warning(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    path = write(tmp_path, DOWN + ",x,y", header=HEADER + ",remarks,Driver")
    result = read(path, places, served)
    assert [o.id for o in result.orders] == ["D1"]
    assert result.warnings == ["ignored unknown column(s): remarks, driver"]


def test_cells_beyond_header_warning(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    result = read(write(tmp_path, DOWN + ",extra"), places, served)
    assert len(result.orders) == 1
    assert result.warnings == ["ignored cells under no column name on line(s) 2"]


def test_file_problems(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    with pytest.raises(InputError, match=r"orders\.txt.*\.csv or \.xlsx"):
        read(write(tmp_path, DOWN, name="orders.txt"), places, served)
    with pytest.raises(InputError, match="no such file"):
        read(tmp_path / "absent.csv", places, served)
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"\n\n")
    with pytest.raises(InputError, match="no header row"):
        read(empty, places, served)
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(b"not a zip")
    with pytest.raises(InputError, match="not a readable XLSX"):
        read(broken, places, served)


def test_parse_rows_without_a_header(places: dict[str, Place], served: set[str]) -> None:
    rows = [
        (1, dict(zip(COLUMNS, DOWN.split(","), strict=True))),
        (2, {"order_id": "", "party": " "}),  # blank: skipped
    ]
    result = parse_rows(
        rows,
        source="upload",
        places=places,
        parties=PARTIES,
        served_counties=served,
        plan_date=PLAN,
    )
    assert [o.id for o in result.orders] == ["D1"] and result.rows == 1
    with pytest.raises(OrderFileError, match="upload: 1 bad row: line 7"):
        parse_rows(
            [(7, {**rows[0][1], "weight_kg": "heavy"})],
            source="upload",
            places=places,
            parties=PARTIES,
            served_counties=served,
            plan_date=PLAN,
        )
