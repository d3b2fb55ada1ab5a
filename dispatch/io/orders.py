"""Order import: the CSV and XLSX files county dispatchers fill in, one order per row.

The format
----------
The first row is the header; every following row is one order (blank rows are skipped).
Column names are matched after trimming spaces and ignoring case; the order of the columns
is free. Cells are trimmed of surrounding whitespace.

============================  ========  ===================================================
column                        required  value
============================  ========  ===================================================
``order_id``                  yes       text, unique in the file
``party``                     yes       id of a carrier or shipper known to the platform
``direction``                 yes       ``down`` or ``up`` (also 下行 / 上行)
``origin``, ``destination``   yes       place ids as in ``data/road_network/places.csv``:
                                        ``WH-CX``, ``HUB-532326``, 9-digit township codes,
                                        12-digit village codes
``weight_kg``                 yes       number > 0 and <= 100000
``volume_m3``                 no        number >= 0, default 0
``pieces``                    yes       whole number >= 1
``temperature``               no        ``ambient`` | ``chilled`` | ``frozen`` (also
                                        常温 / 冷藏 / 冷冻), default ``ambient``
``ready_time``, ``due_time``  no        ISO 8601 date and time (``2026-09-15T08:00``,
                                        ``2026-09-15 08:00``, with or without a UTC offset;
                                        without one it is Asia/Shanghai time) or ``HH:MM``,
                                        that time on the plan date; due must be after ready
``live_animal``               no        true/false, 1/0, yes/no, 是/否; empty is false
``tracking_numbers``          no        tracking numbers separated by ``;`` (or ``；``);
                                        when given there must be exactly ``pieces`` of
                                        them, and none may repeat within the file
``goods``                     no        free text (``包裹``, ``核桃``, ``野生菌``)
============================  ========  ===================================================

Unknown columns are ignored with a warning. Direction rules, checked on every row:

* ``down`` runs from the warehouse ``WH-CX`` or a county hub to a township or village; a
  hub only serves its own county (``HUB-<county code>``).
* ``up`` runs from a township or village to the hub of its county or to the warehouse.
* The township or village must lie in a served county (楚雄市 532301 is not served).

Places without coordinates are accepted: the planner redirects them.

Files
-----
``.csv`` is read as UTF-8 (with or without a byte-order mark); a file that is not valid
UTF-8 is read as GB18030, the encoding Chinese Excel saves CSV in, with a warning. ``.xlsx``
is read from its first worksheet with the header in row 1; numeric cells and date-time
cells (taken as Asia/Shanghai time) are accepted where the column allows them. Line
numbers in messages are the CSV line where the record starts or the XLSX row number; the
header is line 1.

Control characters
------------------
A cell must not hold a control character (U+0000 to U+001F, U+007F to U+009F): a NUL
cannot be stored in a PostgreSQL text column at all, and the others are paste or export
accidents that no id, code, number or time contains. Such a cell is a row error (``line``,
``column``, the value with the character escaped as ``\\x00``, and a reason naming the
character) like any other bad cell. The one exception is the free-text ``goods`` column,
which may hold a tab and line breaks (``\\t``, ``\\n``, ``\\r``): a multi-line note in a
quoted CSV cell or a wrapped spreadsheet cell is meaningful there.

Limits
------
An upload is checked before it is parsed, so that a small file cannot tie up a server:

* :data:`MAX_CSV_BYTES` (20 MB): the largest ``.csv`` file;
* :data:`MAX_XLSX_UNPACKED_BYTES` (50 MB): the largest sum of the uncompressed sizes of
  the members of an ``.xlsx`` (a zip), read from its central directory before anything
  is decompressed (a member that holds more than its directory entry says fails its
  CRC check instead of growing). A typical order sheet takes about 750 bytes a row
  unpacked when saved with inline strings (openpyxl), less with Excel's shared strings,
  so this admits some 70,000 rows or more; a larger file goes as CSV or in parts;
* :data:`MAX_XLSX_RATIO` (200): the largest compression ratio of a member larger than
  :data:`RATIO_FLOOR_BYTES` (1 MB): a zip bomb. Sheets compress about 5 to 20 to 1 (a
  3.8 MB upload that unpacked to 282 MB, 74 to 1, is caught by the size cap above);
  deflate reaches about 1000 to 1 on one repeated row;
* :data:`MAX_ORDER_ROWS` (100,000): the most order rows (blank rows not counted); the
  reading stops at the first row beyond it.

Each refusal raises :class:`~routing.errors.InputError` naming the file and the limit.

Errors
------
Every bad row is reported, not only the first. By default a file with any bad row raises
:class:`OrderFileError` (its ``errors`` list every problem) and nothing is imported; with
``skip_bad=True`` the good rows are imported and the bad ones returned in
``ImportResult.errors``. A header that lacks required columns (or repeats one) raises
:class:`OrderFileError` whatever ``skip_bad`` says. A file that cannot be read, has an
unsupported suffix or has no header row raises :class:`~routing.errors.InputError`.
Repeated order ids and tracking numbers are checked against every earlier row, good or
bad, and reported on the later row.
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import re
import zipfile
from collections.abc import Collection, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from dispatch.domain import TZ, Order, Party
from routing.errors import InputError
from routing.network.graph import Place

COLUMNS = (
    "order_id",
    "party",
    "direction",
    "origin",
    "destination",
    "weight_kg",
    "volume_m3",
    "pieces",
    "temperature",
    "ready_time",
    "due_time",
    "live_animal",
    "tracking_numbers",
    "goods",
)
REQUIRED_COLUMNS = (
    "order_id",
    "party",
    "direction",
    "origin",
    "destination",
    "weight_kg",
    "pieces",
)
MAX_WEIGHT_KG = 100_000.0
MAX_CSV_BYTES = 20 * 2**20  # the largest .csv file
MAX_XLSX_UNPACKED_BYTES = 50 * 2**20  # the largest sum of an .xlsx's uncompressed members
MAX_XLSX_RATIO = 200  # the largest compression ratio of a member above RATIO_FLOOR_BYTES
RATIO_FLOOR_BYTES = 2**20  # smaller members may compress as well as they like
MAX_ORDER_ROWS = 100_000  # the most order rows (blank rows not counted) of one file
FREE_TEXT_COLUMNS = ("goods",)  # may hold a tab and line breaks
ORDER_PARTY_KINDS = ("carrier", "shipper")

_DIRECTION_WORDS = {"down": "down", "up": "up", "下行": "down", "上行": "up"}
_TEMPERATURE_WORDS = {
    "ambient": "ambient",
    "chilled": "chilled",
    "frozen": "frozen",
    "常温": "ambient",
    "冷藏": "chilled",
    "冷冻": "frozen",
}
_TRUE_WORDS = {"true", "1", "yes", "y", "是"}
_FALSE_WORDS = {"", "false", "0", "no", "n", "否"}
_LOCAL_KINDS = ("township", "village")
_CLOCK = re.compile(r"(\d{1,2}):(\d{2})(?::(\d{2}))?")
_DATE_AND_TIME = re.compile(r"\d{4}-?\d{2}-?\d{2}[T ]\d")
_TRACKING_SEPARATORS = re.compile(r"[;；]")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_FREE_TEXT_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_CONTROL_NAMES = {0x00: "NUL", 0x09: "tab", 0x0A: "line feed", 0x0D: "carriage return"}


@dataclass(frozen=True)
class RowError:
    """One problem of an order file: a bad cell, a bad row or a bad header."""

    line: int  # 1-based line of the file (CSV record start / XLSX row); the header is 1
    column: str  # column name, or "" for a whole-row or file-level problem
    value: str  # the offending cell text ("" if none)
    reason: str  # a complete sentence fragment; quotes the value where it helps

    def __str__(self) -> str:
        where = f"line {self.line}, column {self.column}" if self.column else f"line {self.line}"
        return f"{where}: {self.reason}"


@dataclass
class ImportResult:
    """The orders of one file, in file order, and what was wrong with it."""

    orders: list[Order]
    errors: list[RowError] = field(default_factory=list)  # rejected rows (skip_bad only)
    warnings: list[str] = field(default_factory=list)
    rows: int = 0  # data rows read (blank rows not counted)


class OrderFileError(InputError):
    """Raised when a file has bad rows and skip_bad is False; nothing is imported.

    ``field`` is the file name; ``reason`` is one line summarising ``errors``.
    """

    def __init__(self, source: str, errors: Sequence[RowError]) -> None:
        self.errors: list[RowError] = list(errors)
        super().__init__(source, _summary(self.errors))


def _summary(errors: Sequence[RowError]) -> str:
    if not errors:
        return "no errors"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    if any(e.line > 1 for e in errors):
        n = len({e.line for e in errors})
        return f"{n} bad row{'' if n == 1 else 's'}: {errors[0]}{more}"
    return f"{errors[0]}{more}"


# ---- cell values ----------------------------------------------------------------------


def _text(value: Any) -> str:
    """A cell as trimmed text (numbers without a spurious ``.0``)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date | time):
        return value.isoformat()
    return str(value).strip()


class _Bad(Exception):
    """A bad cell; the message is the RowError reason."""


def _number(value: Any) -> float:
    if isinstance(value, bool):
        raise _Bad("must be a number")
    if isinstance(value, int | float):
        out = float(value)
    else:
        text = _text(value)
        try:
            out = float(text)
        except ValueError:
            raise _Bad(f"must be a number, got {text!r}") from None
    if not math.isfinite(out):
        raise _Bad(f"must be a finite number, got {_text(value)!r}")
    return out


def _weight(value: Any) -> float:
    out = _number(value)
    if not 0 < out <= MAX_WEIGHT_KG:
        raise _Bad(f"must be a number > 0 and <= {MAX_WEIGHT_KG:g}, got {_text(value)!r}")
    return out


def _volume(value: Any) -> float:
    if _text(value) == "":
        return 0.0
    out = _number(value)
    if out < 0:
        raise _Bad(f"must be a number >= 0, got {_text(value)!r}")
    return out


def _pieces(value: Any) -> int:
    try:
        out = _number(value)
    except _Bad:
        raise _Bad(f"must be a whole number >= 1, got {_text(value)!r}") from None
    if not out.is_integer() or out < 1:
        raise _Bad(f"must be a whole number >= 1, got {_text(value)!r}")
    return int(out)


def _choice(value: Any, words: Mapping[str, str], allowed: str) -> str:
    text = _text(value)
    out = words.get(text.lower())
    if out is None:
        raise _Bad(f"must be {allowed}, got {text!r}")
    return out


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = _text(value).lower()
    if text in _TRUE_WORDS:
        return True
    if text in _FALSE_WORDS:
        return False
    raise _Bad(f"must be true/false, yes/no, 1/0 or 是/否, got {_text(value)!r}")


def _on_plan_date(clock: time, plan_date: date | None, text: str) -> datetime:
    if plan_date is None:
        raise _Bad(f"{text!r} is a time of day but no plan date was given; write date and time")
    return datetime.combine(plan_date, clock, tzinfo=TZ)


def _moment(value: Any, plan_date: date | None) -> datetime | None:
    """A tz-aware datetime in TZ, or None for an empty cell."""
    try:
        return _moment_in_tz(value, plan_date)
    except OverflowError:  # a date at the edge of the calendar, shifted past it
        raise _Bad(f"is not a usable date and time, got {_text(value)!r}") from None


def _moment_in_tz(value: Any, plan_date: date | None) -> datetime | None:
    if isinstance(value, datetime):
        return value.replace(tzinfo=TZ) if value.tzinfo is None else value.astimezone(TZ)
    if isinstance(value, time):
        return _on_plan_date(value.replace(tzinfo=None), plan_date, _text(value))
    if isinstance(value, date):
        raise _Bad(f"needs a time of day, got the date {value.isoformat()!r}")
    text = _text(value)
    if text == "":
        return None
    clock = _CLOCK.fullmatch(text)
    if clock:
        h, m, s = int(clock[1]), int(clock[2]), int(clock[3] or 0)
        if h > 23 or m > 59 or s > 59:
            raise _Bad(f"is not a valid time of day, got {text!r}")
        return _on_plan_date(time(h, m, s), plan_date, text)
    if not _DATE_AND_TIME.match(text):
        raise _Bad(f"must be a date and time like 2026-09-15T08:00 or a time HH:MM, got {text!r}")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise _Bad(
            f"must be a date and time like 2026-09-15T08:00 or a time HH:MM, got {text!r}"
        ) from None
    return moment.replace(tzinfo=TZ) if moment.tzinfo is None else moment.astimezone(TZ)


def _tracking(value: Any) -> tuple[str, ...]:
    text = _text(value)
    return tuple(t.strip() for t in _TRACKING_SEPARATORS.split(text) if t.strip())


def _escaped(text: str) -> str:
    """``text`` with its control characters written as Python escapes (``\\x00``)."""
    return _CONTROL.sub(lambda m: repr(m[0])[1:-1], text)


def _control_errors(line: int, cells: Mapping[str, Any]) -> list[RowError]:
    """A row error for each text cell that holds a control character (see the module)."""
    out: list[RowError] = []
    for column, value in cells.items():
        if not isinstance(value, str):
            continue
        pattern = _FREE_TEXT_CONTROL if column in FREE_TEXT_COLUMNS else _CONTROL
        found = pattern.search(value)
        if found is None:
            continue
        code = ord(found[0])
        name = _CONTROL_NAMES.get(code, "")
        allowed = " (a tab or line break is allowed)" if column in FREE_TEXT_COLUMNS else ""
        out.append(
            RowError(
                line,
                column,
                _escaped(value.strip()),
                f"contains the control character U+{code:04X}"
                + (f" ({name})" if name else "")
                + f" at position {found.start() + 1}; remove it{allowed}",
            )
        )
    return out


# ---- rows -----------------------------------------------------------------------------


@dataclass
class _Context:
    places: Mapping[str, Place]
    parties: Mapping[str, Party]
    served: frozenset[str]
    plan_date: date | None
    warehouses: tuple[str, ...]
    order_lines: dict[str, int] = field(default_factory=dict)
    tracking_owner: dict[str, tuple[str, int]] = field(default_factory=dict)


def _describe(place: Place) -> str:
    return f"{place.id} ({place.name_zh})" if place.name_zh else place.id


def _check_route(
    ctx: _Context, direction: str, origin: Place, destination: Place
) -> list[tuple[str, str, str]]:
    """(column, value, reason) of every broken direction or scope rule."""
    out: list[tuple[str, str, str]] = []
    depots = "the warehouse or a county hub"
    if direction == "down":
        if origin.kind not in ("warehouse", "hub"):
            out.append(
                (
                    "origin",
                    origin.id,
                    f"a down order starts at {depots}, got the {origin.kind} {_describe(origin)}",
                )
            )
        if destination.kind not in _LOCAL_KINDS:
            out.append(
                (
                    "destination",
                    destination.id,
                    "a down order ends at a township or village, "
                    f"got the {destination.kind} {_describe(destination)}",
                )
            )
        elif origin.kind == "hub" and origin.id != f"HUB-{destination.county_code}":
            out.append(
                (
                    "origin",
                    origin.id,
                    f"hub {_describe(origin)} does not serve {_describe(destination)} "
                    f"in county {destination.county_code}; {_depot_hint(ctx, destination)}",
                )
            )
        local, local_column = destination, "destination"
    else:
        if origin.kind not in _LOCAL_KINDS:
            out.append(
                (
                    "origin",
                    origin.id,
                    "an up order starts at a township or village, "
                    f"got the {origin.kind} {_describe(origin)}",
                )
            )
        if destination.kind == "warehouse":
            pass
        elif destination.kind != "hub":
            out.append(
                (
                    "destination",
                    destination.id,
                    f"an up order ends at its county hub or the warehouse, "
                    f"got the {destination.kind} {_describe(destination)}",
                )
            )
        elif origin.kind in _LOCAL_KINDS and destination.id != f"HUB-{origin.county_code}":
            out.append(
                (
                    "destination",
                    destination.id,
                    f"hub {_describe(destination)} does not serve {_describe(origin)} "
                    f"in county {origin.county_code}; {_depot_hint(ctx, origin)}",
                )
            )
        local, local_column = origin, "origin"
    if local.kind in _LOCAL_KINDS and local.county_code not in ctx.served:
        out.append(
            (
                local_column,
                local.id,
                f"{_describe(local)} lies in county {local.county_code}, "
                "which the platform does not serve",
            )
        )
    return out


def _depot_hint(ctx: _Context, local: Place) -> str:
    hub = f"HUB-{local.county_code}"
    options = ([hub] if hub in ctx.places else []) + list(ctx.warehouses)
    return "use " + " or ".join(options) if options else "no depot serves it"


def _party_reason(ctx: _Context, text: str) -> str | None:
    party = ctx.parties.get(text)
    if party is None:
        near = [p for p in ctx.parties if p.lower() == text.lower()]
        hint = f" (did you mean {near[0]!r}?)" if near else ""
        return f"unknown party {text!r}{hint}"
    if party.kind not in ORDER_PARTY_KINDS:
        return f"party {text!r} is a {party.kind}, not a carrier or shipper"
    return None


@dataclass
class _Row:
    """One order row being read: its cells by column, and the errors found so far."""

    ctx: _Context
    line: int
    cells: Mapping[str, Any]
    errors: list[RowError] = field(default_factory=list)

    def bad(self, column: str, reason: str, value: str | None = None) -> None:
        """Record an error in ``column`` (its value as read, unless ``value`` is given)."""
        shown = _text(self.cells.get(column)) if value is None else value
        self.errors.append(RowError(self.line, column, shown, reason))

    def get(self, column: str, parse: Any, default: Any = None) -> Any:
        """The cell of ``column`` parsed, or ``default`` with the error recorded (an empty
        required cell is one)."""
        raw = self.cells.get(column)
        if column in REQUIRED_COLUMNS and _text(raw) == "":
            self.bad(column, "is required but empty")
            return default
        try:
            return parse(raw)
        except _Bad as e:
            self.bad(column, str(e))
            return default


def _parse_row(
    ctx: _Context, line: int, row: Mapping[str, Any]
) -> tuple[Order | None, list[RowError]]:
    """The order of one row, or None and every error of the row (in column order)."""
    r = _Row(ctx, line, row)
    order_id = _read_order_id(r)
    party = _read_party(r)
    direction: str | None = r.get(
        "direction", lambda v: _choice(v, _DIRECTION_WORDS, "down or up (下行 / 上行)")
    )
    ends = _read_ends(r, direction)
    weight = r.get("weight_kg", _weight)
    volume = r.get("volume_m3", _volume, 0.0)
    pieces: int | None = r.get("pieces", _pieces)
    temperature = r.get(
        "temperature",
        lambda v: (
            "ambient"
            if _text(v) == ""
            else _choice(v, _TEMPERATURE_WORDS, "ambient, chilled or frozen (常温 / 冷藏 / 冷冻)")
        ),
    )
    ready, due = _read_times(r)
    live = r.get("live_animal", _boolean, False)
    tracking = _read_tracking(r, order_id, pieces)
    goods = _text(row.get("goods"))
    if r.errors:
        return None, r.errors
    return (
        Order(
            id=order_id,
            party=party,
            direction=str(direction),
            origin=ends["origin"].id,
            destination=ends["destination"].id,
            weight_kg=float(weight),
            volume_m3=float(volume),
            pieces=int(pieces or 0),
            temperature=str(temperature),
            ready=ready,
            due=due,
            live_animal=bool(live),
            tracking=tracking,
            goods=goods,
            line=line,
        ),
        [],
    )


def _read_order_id(r: _Row) -> str:
    """The row's order id, claimed for this line (a repeat of an earlier row's is an
    error)."""
    order_id: str = r.get("order_id", _text, "")
    if order_id:
        first = r.ctx.order_lines.get(order_id)
        if first is not None:
            r.bad("order_id", f"order id {order_id!r} is already used at line {first}")
        else:
            r.ctx.order_lines[order_id] = r.line
    return order_id


def _read_party(r: _Row) -> str:
    """The row's party, which must be one that may send orders."""
    party: str = r.get("party", _text, "")
    if party:
        reason = _party_reason(r.ctx, party)
        if reason:
            r.bad("party", reason)
    return party


def _read_ends(r: _Row, direction: str | None) -> dict[str, Place]:
    """``origin`` and ``destination`` -> their known places; with both and a direction,
    the direction and scope rules are checked too."""
    ends: dict[str, Place] = {}
    for column in ("origin", "destination"):
        pid = r.get(column, _text, "")
        if pid:
            place = r.ctx.places.get(pid)
            if place is None:
                r.bad(column, f"unknown place id {pid!r}")
            else:
                ends[column] = place
    if direction and len(ends) == 2:
        for column, value, reason in _check_route(
            r.ctx, direction, ends["origin"], ends["destination"]
        ):
            r.bad(column, reason, value)
    return ends


def _read_times(r: _Row) -> tuple[datetime | None, datetime | None]:
    """The row's ready and due times; the due time must come after the ready time."""
    ready = r.get("ready_time", lambda v: _moment(v, r.ctx.plan_date))
    due = r.get("due_time", lambda v: _moment(v, r.ctx.plan_date))
    if ready is not None and due is not None and due <= ready:
        r.bad(
            "due_time",
            f"must be after ready_time {ready.isoformat()}, got {due.isoformat()}",
        )
    return ready, due


def _read_tracking(r: _Row, order_id: str, pieces: int | None) -> tuple[str, ...]:
    """The row's tracking numbers, one per piece, each claimed for this order (a number
    repeated in the row or already in another order is an error)."""
    tracking: tuple[str, ...] = r.get("tracking_numbers", _tracking, ())
    if not tracking:
        return tracking
    if pieces is not None and len(tracking) != pieces:
        r.bad(
            "tracking_numbers",
            f"lists {len(tracking)} tracking number{'' if len(tracking) == 1 else 's'} "
            f"but pieces is {pieces}",
        )
    seen: set[str] = set()
    for number in tracking:
        if number in seen:
            r.bad("tracking_numbers", f"tracking number {number!r} appears twice in the row")
            continue
        seen.add(number)
        owner = r.ctx.tracking_owner.get(number)
        if owner is not None:
            r.bad(
                "tracking_numbers",
                f"tracking number {number!r} is already in order {owner[0]!r} at line {owner[1]}",
            )
        else:
            r.ctx.tracking_owner[number] = (order_id, r.line)
    return tracking


def _header_errors(columns: Sequence[str]) -> tuple[list[RowError], list[str]]:
    errors: list[RowError] = []
    repeated = sorted({c for c in columns if c and columns.count(c) > 1})
    if repeated:
        errors.append(
            RowError(1, "", ", ".join(repeated), f"column(s) {', '.join(repeated)} appear twice")
        )
    missing = [c for c in REQUIRED_COLUMNS if c not in columns]
    if missing:
        errors.append(RowError(1, "", "", f"missing required column(s): {', '.join(missing)}"))
    unknown = [c for c in dict.fromkeys(columns) if c and c not in COLUMNS]
    warnings = [f"ignored unknown column(s): {', '.join(unknown)}"] if unknown else []
    return errors, warnings


def _normal_column(name: Any) -> str:
    return _text(name).lstrip("\ufeff").strip().lower()


def parse_rows(
    rows: Iterable[tuple[int, Mapping[str, Any]]],
    *,
    source: str,
    places: Mapping[str, Place],
    parties: Mapping[str, Party],
    served_counties: Collection[str],
    plan_date: date | None = None,
    skip_bad: bool = False,
    columns: Sequence[str] | None = None,
) -> ImportResult:
    """Validate (line, row) pairs into orders.

    Each row maps column names (matched trimmed and case-insensitively) to cell values:
    text, or for spreadsheet cells numbers, booleans and datetimes. ``columns`` is the
    header when there is one; without it the columns are those the rows use. ``source``
    names the input in :class:`OrderFileError`. Rows whose cells are all empty are skipped.
    """
    normal_rows = [(line, {_normal_column(k): v for k, v in row.items()}) for line, row in rows]
    if columns is None:
        header = list(dict.fromkeys(k for _, r in normal_rows for k in r if k))
    else:
        header = [_normal_column(c) for c in columns]
    result = ImportResult(orders=[])
    if columns is not None or normal_rows:
        header_errors, result.warnings = _header_errors(header)
        if header_errors:
            raise OrderFileError(source, header_errors)
    ctx = _Context(
        places=places,
        parties=parties,
        served=frozenset(served_counties),
        plan_date=plan_date,
        warehouses=tuple(p.id for p in places.values() if p.kind == "warehouse"),
    )
    known = set(COLUMNS)
    for line, row in normal_rows:
        cells = {k: v for k, v in row.items() if k in known}
        if all(_text(v) == "" for v in cells.values()):
            continue
        result.rows += 1
        order, errors = _parse_row(ctx, line, cells)
        controls = _control_errors(line, cells)
        if controls:  # reported instead of what the raw text makes of its column
            order = None
            columns_at_fault = {e.column for e in controls}
            errors = controls + [e for e in errors if e.column not in columns_at_fault]
        if order is not None:
            result.orders.append(order)
        result.errors.extend(errors)
    if result.errors and not skip_bad:
        raise OrderFileError(source, result.errors)
    return result


# ---- files ----------------------------------------------------------------------------


def _decode(path: Path, data: bytes, warnings: list[str]) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise InputError(path.name, "not a text file in UTF-8 or GB18030") from None
    warnings.append(f"{path.name} is not UTF-8; read it as GB18030 (Chinese Excel CSV)")
    return text


def _csv_records(path: Path, text: str) -> Generator[tuple[int, list[str]], None, None]:
    reader = csv.reader(io.StringIO(text, newline=""))
    start = 1
    try:
        for record in reader:
            yield start, record
            start = reader.line_num + 1
    except csv.Error as e:
        raise InputError(path.name, f"line {reader.line_num}: not valid CSV ({e})") from None


def _megabytes(size: int) -> str:
    return f"{size / 2**20:.0f} MB" if size % 2**20 == 0 else f"{size} bytes"


def _check_csv_size(path: Path) -> None:
    size = path.stat().st_size
    if size > MAX_CSV_BYTES:
        raise InputError(
            path.name,
            f"the file is {size / 2**20:.1f} MB; a CSV order file may be at most "
            f"{_megabytes(MAX_CSV_BYTES)} (split it)",
        )


def _check_xlsx_size(path: Path) -> None:
    """Refuse a workbook that would unpack to too much, from the zip's central directory
    alone (nothing is decompressed)."""
    try:
        with zipfile.ZipFile(path) as archive:
            members = archive.infolist()
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as e:
        raise InputError(path.name, f"not a readable XLSX workbook ({e})") from None
    total = sum(m.file_size for m in members)
    if total > MAX_XLSX_UNPACKED_BYTES:
        raise InputError(
            path.name,
            f"the workbook unpacks to {total / 2**20:.0f} MB; an XLSX order file may unpack "
            f"to at most {_megabytes(MAX_XLSX_UNPACKED_BYTES)} (split it, or save it as CSV)",
        )
    for m in members:
        if m.file_size > RATIO_FLOOR_BYTES and m.file_size > MAX_XLSX_RATIO * m.compress_size:
            ratio = m.file_size / max(m.compress_size, 1)
            raise InputError(
                path.name,
                f"member {m.filename} is compressed {ratio:.0f} to 1; at most "
                f"{MAX_XLSX_RATIO} to 1 is accepted (not a workbook a spreadsheet saved?)",
            )


def _xlsx_records(path: Path) -> Generator[tuple[int, list[Any]], None, None]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except (zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as e:
        raise InputError(path.name, f"not a readable XLSX workbook ({e})") from None
    try:
        if not book.worksheets:
            return
        sheet = book.worksheets[0]
        sheet.reset_dimensions()
        for line, values in enumerate(sheet.iter_rows(values_only=True), start=1):
            yield line, list(values)
    finally:
        book.close()


def _rows_from_records(
    path: Path, records: Iterable[tuple[int, Sequence[Any]]], warnings: list[str]
) -> tuple[list[str], list[tuple[int, dict[str, Any]]]]:
    """Header and (line, row) pairs; raises InputError when there is no header."""
    header: list[str] | None = None
    rows: list[tuple[int, dict[str, Any]]] = []
    overflow: list[int] = []
    filled = 0
    for line, cells in records:
        if header is None:
            if all(_text(c) == "" for c in cells):
                continue
            if line != 1:
                warnings.append(f"the header is on line {line}; lines before it are empty")
            header = [_normal_column(c) for c in cells]
            continue
        row: dict[str, Any] = {}
        for i, value in enumerate(cells):
            name = header[i] if i < len(header) else ""
            if name:
                row[name] = value
            elif _text(value) != "":
                overflow.append(line)
        if any(_text(v) != "" for v in row.values()):
            filled += 1
            if filled > MAX_ORDER_ROWS:
                raise InputError(
                    path.name,
                    f"more than {MAX_ORDER_ROWS:,} order rows (line {line} is one too many); "
                    "split the file",
                )
        rows.append((line, row))
    if header is None:
        raise InputError(path.name, "no header row; the first line must name the columns")
    if overflow:
        lines = sorted(set(overflow))
        shown = ", ".join(str(n) for n in lines[:5]) + (" ..." if len(lines) > 5 else "")
        warnings.append(f"ignored cells under no column name on line(s) {shown}")
    return [h for h in header if h], rows


def read_orders(
    path: Path,
    *,
    places: Mapping[str, Place],
    parties: Mapping[str, Party],
    served_counties: Collection[str],
    plan_date: date | None = None,
    skip_bad: bool = False,
) -> ImportResult:
    """Read and validate an order file (``.csv`` or ``.xlsx``); see the module docs."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".xlsx"):
        raise InputError(
            path.name, f"unsupported order file type {path.suffix!r}; use .csv or .xlsx"
        )
    if not path.is_file():
        raise InputError(path.name, f"no such file: {path}")
    warnings: list[str] = []
    records: Generator[tuple[int, Sequence[Any]], None, None]
    try:
        if suffix == ".csv":
            _check_csv_size(path)
            records = _csv_records(path, _decode(path, path.read_bytes(), warnings))
        else:
            _check_xlsx_size(path)
            records = _xlsx_records(path)
        with contextlib.closing(records):
            columns, rows = _rows_from_records(path, records, warnings)
    except OSError as e:
        raise InputError(path.name, f"cannot read file ({e.strerror or e})") from None
    result = parse_rows(
        rows,
        source=path.name,
        places=places,
        parties=parties,
        served_counties=served_counties,
        plan_date=plan_date,
        skip_bad=skip_bad,
        columns=columns,
    )
    result.warnings = warnings + result.warnings
    return result


def _number_text(value: float) -> str:
    return str(int(value)) if value.is_integer() else repr(value)


def _moment_text(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:
        value = value.replace(tzinfo=TZ)
    return value.astimezone(TZ).isoformat()


def write_orders_csv(orders: Sequence[Order], path: Path, *, bom: bool = False) -> None:
    """Write orders in the import format (UTF-8; ``bom=True`` adds a byte-order mark so
    that Excel shows the Chinese text correctly). The file round-trips through
    :func:`read_orders`. Times are written with their +08:00 offset."""
    with Path(path).open("w", encoding="utf-8-sig" if bom else "utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(COLUMNS)
        for o in orders:
            writer.writerow(
                [
                    o.id,
                    o.party,
                    o.direction,
                    o.origin,
                    o.destination,
                    _number_text(o.weight_kg),
                    _number_text(o.volume_m3),
                    str(o.pieces),
                    o.temperature,
                    _moment_text(o.ready),
                    _moment_text(o.due),
                    "true" if o.live_animal else "false",
                    ";".join(o.tracking),
                    o.goods,
                ]
            )
