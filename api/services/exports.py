"""The console's downloads of a plan: the unassigned orders (CSV, XLSX) and the route
sheets (one XLSX workbook, one printable HTML page).

Pure functions over the session and the plan (no HTTP): what a caller may see comes from
:func:`api.services.board.plan_board` (a dispatcher: their county's unassigned orders,
their county's and the trunk route sheets), the printable page from
:func:`dispatch.report.sheets.render_html`, the one writer of route sheets.

CSV is written for Chinese Excel: UTF-8 with a byte-order mark, CRLF line ends, quoted
where needed, a bilingual header; a text cell that a spreadsheet would take for a formula
(``=``, ``+``, ``-``, ``@`` first) is prefixed with ``'``. Times in the workbooks are
``HH:MM`` in Asia/Shanghai (``+1 d`` after the plan day), money in yuan from integer fen.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from urllib.parse import quote

from openpyxl import Workbook
from openpyxl.styles import Alignment, Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet
from sqlmodel import Session, col, select

from api.models import Order, Plan, RouteSheet, User
from api.services.basemap import counties
from api.services.board import plan_board
from dispatch.domain import TZ
from dispatch.io.orders import COLUMNS
from dispatch.report.sheets import clock, render_html

__all__ = [
    "CSV_MEDIA",
    "UNASSIGNED_COLUMNS",
    "XLSX_MEDIA",
    "Download",
    "sheets_html",
    "sheets_xlsx",
    "unassigned_csv",
    "unassigned_xlsx",
]

CSV_MEDIA = "text/csv; charset=utf-8"
XLSX_MEDIA = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML_MEDIA = "text/html; charset=utf-8"

#: The unassigned orders' columns: (key, bilingual header, width in characters).
UNASSIGNED_COLUMNS: tuple[tuple[str, str, int], ...] = (
    ("order_id", "订单 order_id", 20),
    ("party", "参与方 party", 16),
    ("direction", "方向 direction", 12),
    ("county", "县 county", 18),
    ("place", "地点 place", 30),
    ("reason", "原因 reason", 16),
    ("detail", "说明 detail", 60),
    ("weight_kg", "重量 weight_kg", 14),
)
_DIRECTIONS = {"down": "下行 down", "up": "上行 up"}
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_MAX_CELL = 32_000  # a spreadsheet cell holds 32,767 characters
_IN_CHUNK = 500


@dataclass(frozen=True)
class Download:
    """A file to answer: its bytes, media type and both file names (ASCII and Unicode)."""

    body: bytes
    media_type: str
    ascii_name: str
    name: str

    @property
    def disposition(self) -> str:
        """``attachment`` with an ASCII ``filename`` and the UTF-8 ``filename*`` (RFC 6266)."""
        return f"attachment; filename=\"{self.ascii_name}\"; filename*=UTF-8''{quote(self.name)}"


# ---- names ------------------------------------------------------------------------------
def _scope(user: User) -> tuple[str, str]:
    """The file name part of the caller's scope: (ASCII, Chinese)."""
    if user.role == "dispatcher" and user.county_code:
        return f"-{user.county_code}", f"-{user.county_code}"
    return "", ""


def _names(plan: Plan, user: User, what: str, what_zh: str, suffix: str) -> tuple[str, str]:
    scope, scope_zh = _scope(user)
    day = plan.plan_date.isoformat()
    return (
        f"plan-{plan.id}-{day}{scope}-{what}.{suffix}",
        f"计划{plan.id}-{day}{scope_zh}-{what_zh}.{suffix}",
    )


# ---- the unassigned orders --------------------------------------------------------------
def unassigned_table(session: Session, *, plan: Plan, user: User) -> list[dict[str, Any]]:
    """The plan's unassigned orders the caller may see, one dict per row with the keys of
    :data:`UNASSIGNED_COLUMNS` (from the plan board: one rule of who sees what)."""
    names = _county_names()
    rows = []
    for item in plan_board(session, plan=plan, user=user)["unassigned"]:
        code = item.get("county_code")
        zh, pinyin = item.get("place_zh"), item.get("place_pinyin")
        place = f"{zh} {pinyin}" if zh and pinyin and zh != pinyin else str(zh or "")
        place_id = item.get("place_id")
        direction = item.get("direction")
        rows.append(
            {
                "order_id": item.get("order_id"),
                "party": item.get("party"),
                "direction": _DIRECTIONS.get(str(direction), direction),
                "county": f"{names.get(code or '', '')} {code}".strip() if code else "",
                "place": f"{place} ({place_id})" if place_id and place else place,
                "reason": item.get("reason"),
                "detail": item.get("detail"),
                "weight_kg": item.get("weight_kg"),
            }
        )
    return rows


def _county_names() -> dict[str, str]:
    return {c["code"]: c["name_zh"] for c in counties()}


def _safe_text(value: Any) -> Any:
    """A cell's value: numbers as they are, text that a spreadsheet would run as a
    formula prefixed with ``'``; ``None`` as empty."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)[:_MAX_CELL]
        return "'" + text if text.startswith(_FORMULA_START) else text
    return value


def unassigned_csv(session: Session, *, plan: Plan, user: User) -> Download:
    """The unassigned orders as CSV for Chinese Excel (UTF-8 with BOM, CRLF, quoted)."""
    rows = unassigned_table(session, plan=plan, user=user)
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow([header for _, header, _ in UNASSIGNED_COLUMNS])
    for row in rows:
        writer.writerow([_safe_text(row[key]) for key, _, _ in UNASSIGNED_COLUMNS])
    ascii_name, name = _names(plan, user, "unassigned", "未分配订单", "csv")
    return Download(out.getvalue().encode("utf-8-sig"), CSV_MEDIA, ascii_name, name)


def orders_template(examples: Sequence[Mapping[str, Any]]) -> Download:
    """The order file's columns (the import format of :mod:`dispatch.io.orders`) with
    example rows, as CSV that Chinese Excel opens and the upload reads back."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(COLUMNS)
    for example in examples:
        row = {**example, "tracking_numbers": ";".join(example.get("tracking_numbers") or ())}
        writer.writerow(["" if row.get(c) is None else row.get(c) for c in COLUMNS])
    body = out.getvalue().encode("utf-8-sig")
    return Download(body, CSV_MEDIA, "orders-template.csv", "订单导入模板.csv")


def unassigned_xlsx(session: Session, *, plan: Plan, user: User) -> Download:
    """The unassigned orders as an XLSX workbook (bold frozen header, sized columns)."""
    rows = unassigned_table(session, plan=plan, user=user)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "未分配 unassigned"
    _table(
        sheet,
        [(header, width) for _, header, width in UNASSIGNED_COLUMNS],
        ([row[key] for key, _, _ in UNASSIGNED_COLUMNS] for row in rows),
    )
    ascii_name, name = _names(plan, user, "unassigned", "未分配订单", "xlsx")
    return Download(_xlsx_bytes(book), XLSX_MEDIA, ascii_name, name)


# ---- workbook helpers -------------------------------------------------------------------
def _table(
    sheet: Worksheet,
    columns: Sequence[tuple[str, int]],
    rows: Iterable[Sequence[Any]],
    *,
    first_row: int = 1,
) -> None:
    """A header row (bold, frozen) at ``first_row`` and the rows under it."""
    bold = Font(bold=True)
    for i, (header, width) in enumerate(columns, 1):
        cell = sheet.cell(row=first_row, column=i, value=header)
        cell.font = bold
        sheet.column_dimensions[get_column_letter(i)].width = width
    wrap = Alignment(wrap_text=True, vertical="top")
    for r, values in enumerate(rows, first_row + 1):
        for c, value in enumerate(values, 1):
            cell = sheet.cell(row=r, column=c, value=_safe_text(value))
            if isinstance(cell.value, str) and "\n" in cell.value:
                cell.alignment = wrap
    sheet.freeze_panes = sheet.cell(row=first_row + 1, column=1)


def _xlsx_bytes(book: Workbook) -> bytes:
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


# ---- the route sheets ------------------------------------------------------------------
def visible_sheets(session: Session, *, plan: Plan, user: User) -> list[RouteSheet]:
    """The plan's route sheets the caller may see, in the board's order (the board's rule:
    a dispatcher their county's and the trunk sheets)."""
    ids = [r["sheet_id"] for r in plan_board(session, plan=plan, user=user)["routes"]]
    if not ids:
        return []
    rows = session.exec(select(RouteSheet).where(col(RouteSheet.id).in_(ids))).all()
    by_id = {r.id: r for r in rows}
    return [by_id[i] for i in ids if i in by_id]


def sheets_html(session: Session, *, plan: Plan, user: User) -> str:
    """Every visible route sheet of the plan as one printable page (A4, a vehicle a page)."""
    contents = [dict(s.content or {}) for s in visible_sheets(session, plan=plan, user=user)]
    scope, _ = _scope(user)
    title = f"路单 Route sheets · 计划 plan #{plan.id} · {plan.plan_date.isoformat()}"
    if scope:
        title += f" · {scope.lstrip('-')}"
    return render_html(contents, title=title)


def _place(place: Mapping[str, Any] | None) -> str:
    if not place:
        return ""
    zh, pinyin = place.get("name_zh"), place.get("name_pinyin")
    name = f"{zh} {pinyin}" if zh and pinyin and zh != pinyin else str(zh or pinyin or "")
    return f"{name} ({place.get('id')})" if place.get("id") else name


def _order_ids(sheets: Iterable[Mapping[str, Any]]) -> set[str]:
    return {
        str(o.get("order_id"))
        for sheet in sheets
        for stop in sheet.get("stops") or ()
        for key in ("drop", "pickup")
        for group in stop.get(key) or ()
        for o in group.get("orders") or ()
    }


def _windows(session: Session, order_ids: Iterable[str]) -> dict[str, tuple[Any, Any]]:
    """(ready, due) of each order (stored times, UTC), read in chunks."""
    ids = sorted(order_ids)
    out: dict[str, tuple[Any, Any]] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        for row in session.exec(select(Order).where(col(Order.order_id).in_(chunk))).all():
            out[row.order_id] = (row.ready_at, row.due_at)
    return out


def _as_local(moment: Any) -> datetime | None:
    if not isinstance(moment, datetime):
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(TZ)


def _stop_window(stop: Mapping[str, Any], windows: Mapping[str, tuple[Any, Any]], day: date) -> str:
    """The stop's window from its orders: produce picked up here is ready from the latest
    ready time of those orders; parcels dropped here are due by the earliest due time."""

    def times(key: str, which: int) -> list[datetime]:
        found = []
        for group in stop.get(key) or ():
            for o in group.get("orders") or ():
                moment = _as_local(windows.get(str(o.get("order_id")), (None, None))[which])
                if moment is not None:
                    found.append(moment)
        return found

    ready = times("pickup", 0)
    due = times("drop", 1) + times("pickup", 1)
    start = clock(max(ready).isoformat(), day, empty="") if ready else ""
    end = clock(min(due).isoformat(), day, empty="") if due else ""
    return f"{start}–{end}" if start or end else ""


def _groups(groups: Sequence[Mapping[str, Any]] | None) -> tuple[str, str]:
    """Per party: ``name (code): N 单 / P 件 / W kg`` and its tracking numbers."""
    lines, tracking = [], []
    for group in groups or ():
        orders = list(group.get("orders") or ())
        pieces = sum(int(o.get("pieces") or 0) for o in orders)
        kg = sum(float(o.get("weight_kg") or 0) for o in orders)
        code = group.get("party") or ""
        name = group.get("party_name_zh") or code
        label = f"{name} ({code})" if code and code != name else str(name)
        lines.append(f"{label}: {len(orders)} 单 / {pieces} 件 / {kg:.1f} kg")
        numbers = [str(t) for o in orders for t in o.get("tracking") or ()]
        ids = ", ".join(str(o.get("order_id")) for o in orders)
        tracking.append(f"{label}: {ids}" + (f" · {'; '.join(numbers)}" if numbers else ""))
    return "\n".join(lines), "\n".join(tracking)


STOP_COLUMNS: tuple[tuple[str, int], ...] = (
    ("序号 seq", 7),
    ("地点 place", 30),
    ("到达 arrival", 11),
    ("离开 departure", 11),
    ("时间窗 window", 15),
    ("卸货 drop (per party)", 36),
    ("卸货单号 drop orders / tracking", 50),
    ("装货 pickup (per party)", 36),
    ("装货单号 pickup orders / tracking", 50),
    ("卸装后载重 load after kg", 14),
    ("载积 m3", 9),
)


def _stop_rows(
    content: Mapping[str, Any], windows: Mapping[str, tuple[Any, Any]], day: date
) -> list[list[Any]]:
    start, end = content.get("start") or {}, content.get("end") or {}
    rows: list[list[Any]] = [
        ["起 start", _place(start.get("place")), "", clock(start.get("time"), day, empty="")]
        + [""] * (len(STOP_COLUMNS) - 4)
    ]
    for stop in content.get("stops") or ():
        down, down_tracking = _groups(stop.get("drop"))
        up, up_tracking = _groups(stop.get("pickup"))
        load = stop.get("load_after") or {}
        rows.append(
            [
                stop.get("seq"),
                _place(stop.get("place")),
                clock(stop.get("arrival"), day, empty=""),
                clock(stop.get("departure"), day, empty=""),
                _stop_window(stop, windows, day),
                down,
                down_tracking,
                up,
                up_tracking,
                load.get("kg"),
                load.get("m3"),
            ]
        )
    rows.append(
        ["止 end", _place(end.get("place")), clock(end.get("time"), day, empty="")]
        + [""] * (len(STOP_COLUMNS) - 3)
    )
    return rows


OVERVIEW_COLUMNS: tuple[tuple[str, int], ...] = (
    ("线路 route", 16),
    ("层级 echelon", 11),
    ("县 county", 14),
    ("车辆 vehicle", 28),
    ("状态 status", 12),
    ("出发 start", 10),
    ("返回 end", 10),
    ("站点 stops", 9),
    ("里程 km", 10),
    ("成本 cost (元 yuan)", 16),
    ("参与方分摊 shares (元 yuan)", 50),
)


def _yuan(fen: Any) -> float | None:
    return round(fen / 100, 2) if isinstance(fen, int | float) else None


def _overview_row(row: RouteSheet, content: Mapping[str, Any], day: date) -> list[Any]:
    vehicle = content.get("vehicle") or {}
    county = content.get("county") or {}
    shares = "; ".join(
        f"{s.get('name_zh') or s.get('party')}: {_yuan(s.get('shapley_fen'))}"
        for s in content.get("cost_shares") or ()
    )
    distance = content.get("distance_m")
    return [
        row.route_id,
        row.echelon,
        f"{county.get('name_zh', '')} {county.get('code', '')}".strip() if county else "",
        f"{vehicle.get('name') or ''} ({vehicle.get('id') or ''})",
        row.status,
        clock((content.get("start") or {}).get("time"), day, empty=""),
        clock((content.get("end") or {}).get("time"), day, empty=""),
        len(content.get("stops") or ()),
        round(distance / 1000, 1) if isinstance(distance, int | float) else None,
        _yuan(content.get("cost_fen")),
        shares,
    ]


def _sheet_title(route_id: str, used: set[str]) -> str:
    """A worksheet name (at most 31 characters, none of ``[]:*?/\\``), unique in the book."""
    base = "".join("_" if ch in "[]:*?/\\" else ch for ch in route_id)[:31] or "route"
    name, n = base, 1
    while name.casefold() in used:
        n += 1
        name = f"{base[: 31 - len(str(n)) - 1]}~{n}"
    used.add(name.casefold())
    return name


def sheets_xlsx(session: Session, *, plan: Plan, user: User) -> Download:
    """The visible route sheets as one workbook: an overview, then a worksheet per sheet
    with its stops (times, window, parcels down and produce up per party with tracking
    numbers, the load after the stop)."""
    rows = visible_sheets(session, plan=plan, user=user)
    contents = [dict(r.content or {}) for r in rows]
    windows = _windows(session, _order_ids(contents))
    day = plan.plan_date
    book = Workbook()
    overview = book.active
    assert overview is not None
    overview.title = "总览 overview"
    overview["A1"] = f"计划 plan #{plan.id} · {day.isoformat()} · 路单 {len(rows)} route sheets"
    overview["A1"].font = Font(bold=True, size=12)
    _table(
        overview,
        OVERVIEW_COLUMNS,
        (_overview_row(r, c, day) for r, c in zip(rows, contents, strict=True)),
        first_row=3,
    )
    used = {overview.title.casefold()}
    for row, content in zip(rows, contents, strict=True):
        sheet = book.create_sheet(_sheet_title(row.route_id, used))
        vehicle = content.get("vehicle") or {}
        sheet["A1"] = (
            f"路单 route sheet {row.route_id} · {day.isoformat()} · "
            f"{vehicle.get('name') or ''} ({vehicle.get('id') or ''})"
        )
        sheet["A1"].font = Font(bold=True, size=12)
        _table(sheet, STOP_COLUMNS, _stop_rows(content, windows, day), first_row=3)
    ascii_name, name = _names(plan, user, "route-sheets", "路单", "xlsx")
    return Download(_xlsx_bytes(book), XLSX_MEDIA, ascii_name, name)
