"""Order files that no database can store or no server should unpack: control characters
in cells, zip bombs, oversized files and too many rows."""

from __future__ import annotations

import time
import zipfile
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from dispatch.domain import Party
from dispatch.io import orders as orders_module
from dispatch.io.orders import (
    COLUMNS,
    MAX_CSV_BYTES,
    MAX_ORDER_ROWS,
    MAX_XLSX_RATIO,
    MAX_XLSX_UNPACKED_BYTES,
    OrderFileError,
    read_orders,
)
from routing.errors import InputError
from routing.network.graph import Place
from routing.network.places import load_counties, load_places

PLAN = date(2026, 9, 15)
HEADER = ",".join(COLUMNS)
DOWN = "D1,ZTO,down,HUB-532326,532326102,12.5,0.1,2,ambient,08:00,17:00,no,ZT1;ZT2,包裹"
UP = "U1,coop-dayao,up,532326101001,WH-CX,300,1.2,10,chilled,,,false,,核桃"
PARTIES = {
    "ZTO": Party("ZTO", "carrier", "中通快递", "ZTO Express"),
    "coop-dayao": Party("coop-dayao", "shipper", "大姚核桃合作社", "Dayao walnut co-op"),
}


@pytest.fixture(scope="module")
def places() -> dict[str, Place]:
    return {p.id: p for p in load_places()}


@pytest.fixture(scope="module")
def served() -> set[str]:
    return {c["county_code"] for c in load_counties() if c["in_scope"] == "1"}


def swap(row: str, **cells: str) -> str:
    values = row.split(",")
    for name, value in cells.items():
        values[COLUMNS.index(name)] = value
    return ",".join(values)


def write(tmp_path: Path, *rows: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text("\n".join([HEADER, *rows]) + "\n", encoding="utf-8")
    return path


def read(path: Path, places: dict[str, Place], served: set[str], **kw: Any) -> Any:
    return read_orders(path, places=places, parties=PARTIES, served_counties=served, **kw)


# ---- control characters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("column", "cell", "shown"),
    [
        ("goods", "包\x00裹", "包\\x00裹"),
        ("order_id", "D\x001", "D\\x001"),
        ("party", "ZTO\x00", "ZTO\\x00"),
        ("tracking_numbers", "ZT1;ZT\x1b2", "ZT1;ZT\\x1b2"),
        ("goods", "bell\x07", "bell\\x07"),
        ("goods", "del\x7f", "del\\x7f"),
        ("goods", "c\x851", "c\\x851"),
        ("order_id", "D\t1", "D\\t1"),  # a tab is no part of an id
        ("weight_kg", "12\x005", "12\\x005"),
    ],
)
def test_control_character_is_a_row_error(
    tmp_path: Path,
    places: dict[str, Place],
    served: set[str],
    column: str,
    cell: str,
    shown: str,
) -> None:
    path = write(tmp_path, UP, swap(DOWN, **{column: cell}))
    with pytest.raises(OrderFileError) as info:
        read(path, places, served, plan_date=PLAN)
    (error,) = info.value.errors
    assert (error.line, error.column, error.value) == (3, column, shown)
    assert "control character" in error.reason
    assert str(error).startswith(f"line 3, column {column}: ")
    assert "\x00" not in str(info.value)


def test_control_character_skip_bad_keeps_the_good_rows(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    path = write(tmp_path, UP, swap(DOWN, goods="x\x00y"))
    result = read(path, places, served, plan_date=PLAN, skip_bad=True)
    assert [o.id for o in result.orders] == ["U1"]
    assert [(e.line, e.column) for e in result.errors] == [(3, "goods")]


def test_tab_and_line_breaks_are_free_text(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    path = write(tmp_path, swap(DOWN, goods='"two\tcolumns\r\nand lines"'))
    (order,) = read(path, places, served, plan_date=PLAN).orders
    assert order.goods == "two\tcolumns\r\nand lines"


def test_control_character_in_xlsx(
    tmp_path: Path, places: dict[str, Place], served: set[str]
) -> None:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER.split(","))
    # XML 1.0 holds no NUL (and openpyxl keeps OOXML's _x0000_ escape as it is), but a tab
    sheet.append(swap(DOWN, order_id="D\t1").split(","))
    path = tmp_path / "orders.xlsx"
    book.save(path)
    with pytest.raises(OrderFileError) as info:
        read(path, places, served, plan_date=PLAN)
    (error,) = info.value.errors
    assert (error.line, error.column, error.value) == (2, "order_id", "D\\t1")


def test_cli_refuses_a_nul_byte(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dispatch.cli import main

    path = write(tmp_path, swap(DOWN, goods="x\x00y"))
    assert main(["plan", "--orders", str(path), "--date", PLAN.isoformat()]) == 2
    err = capsys.readouterr().err
    assert "line 2, column goods" in err and "control character" in err


# ---- sizes ------------------------------------------------------------------------------


def _bomb(path: Path, unpacked: int, members: int = 1) -> Path:
    """An XLSX-shaped zip whose sheet XML is ``unpacked`` bytes of one repeated row."""
    row = b'<row><c t="inlineStr"><is><t>x</t></is></c></row>' * 20_000
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", "<Types/>")
        for n in range(members):
            with z.open(f"xl/worksheets/sheet{n + 1}.xml", "w") as f:
                f.write(b"<worksheet><sheetData>")
                for _ in range(unpacked // members // len(row) + 1):
                    f.write(row)
                f.write(b"</sheetData></worksheet>")
    return path


def _no_unpacking(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a member was decompressed")

    monkeypatch.setattr(zipfile.ZipFile, "open", refuse)


def test_xlsx_unpacking_to_too_much_is_refused_unread(
    tmp_path: Path, places: dict[str, Place], served: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _bomb(tmp_path / "orders.xlsx", MAX_XLSX_UNPACKED_BYTES + 1024)
    assert path.stat().st_size < 1024 * 1024
    _no_unpacking(monkeypatch)
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        read(path, places, served)
    assert time.perf_counter() - start < 0.5
    assert info.value.field == "orders.xlsx"
    assert f"{MAX_XLSX_UNPACKED_BYTES // 2**20} MB" in info.value.reason


def test_xlsx_compression_ratio_is_refused_unread(
    tmp_path: Path, places: dict[str, Place], served: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _bomb(tmp_path / "orders.xlsx", 8 * 2**20)  # under the size cap, ~1000:1
    _no_unpacking(monkeypatch)
    with pytest.raises(InputError) as info:
        read(path, places, served)
    assert "xl/worksheets/sheet1.xml" in info.value.reason
    assert f"{MAX_XLSX_RATIO}" in info.value.reason


def test_too_many_csv_rows(tmp_path: Path, places: dict[str, Place], served: set[str]) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "\n" + (DOWN + "\n") * (MAX_ORDER_ROWS + 1), encoding="utf-8")
    assert path.stat().st_size < MAX_CSV_BYTES
    start = time.perf_counter()
    with pytest.raises(InputError) as info:
        read(path, places, served, plan_date=PLAN)
    assert time.perf_counter() - start < 5
    assert info.value.field == "orders.csv"
    assert f"{MAX_ORDER_ROWS:,}" in info.value.reason
    assert not isinstance(info.value, OrderFileError)


def test_rows_at_the_limit_are_read(
    tmp_path: Path, places: dict[str, Place], served: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orders_module, "MAX_ORDER_ROWS", 2)
    path = write(tmp_path, DOWN, "", UP)  # a blank line does not count
    assert read(path, places, served, plan_date=PLAN).rows == 2
    with pytest.raises(InputError, match="more than 2 order rows"):
        read(write(tmp_path, DOWN, UP, swap(DOWN, order_id="D2")), places, served, plan_date=PLAN)


def test_too_many_xlsx_rows(
    tmp_path: Path, places: dict[str, Place], served: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from openpyxl import Workbook

    monkeypatch.setattr(orders_module, "MAX_ORDER_ROWS", 2)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    for line in (HEADER, DOWN, UP, swap(DOWN, order_id="D2")):
        sheet.append(line.split(","))
    path = tmp_path / "orders.xlsx"
    book.save(path)
    with pytest.raises(InputError, match="more than 2 order rows"):
        read(path, places, served, plan_date=PLAN)


def test_csv_larger_than_the_cap(
    tmp_path: Path, places: dict[str, Place], served: set[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(orders_module, "MAX_CSV_BYTES", 1000)
    path = tmp_path / "orders.csv"
    path.write_text(HEADER + "\n" + "x" * 1000 + "\n", encoding="utf-8")
    with pytest.raises(InputError) as info:
        read(path, places, served, plan_date=PLAN)
    assert info.value.field == "orders.csv" and "1000 bytes" in info.value.reason


def test_cli_refuses_a_bomb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dispatch.cli import main

    path = _bomb(tmp_path / "orders.xlsx", MAX_XLSX_UNPACKED_BYTES + 1024)
    assert main(["plan", "--orders", str(path), "--date", PLAN.isoformat()]) == 2
    assert f"{MAX_XLSX_UNPACKED_BYTES // 2**20} MB" in capsys.readouterr().err
