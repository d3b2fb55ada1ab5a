"""Route sheets (路单) for couriers: one JSON file and one printable HTML page per route.

The planner hands over one JSON-ready dict per vehicle route (the *sheet*; its schema is
described in the planner). This module only presents and stores those dicts:

* :func:`render_html` turns sheets into one self-contained HTML document (inline CSS, no
  external assets, no scripts) meant to be printed on A4, one vehicle starting per page;
* :func:`write_route_sheets` writes ``<route_id>.json`` and ``<route_id>.html`` per sheet,
  ``all.html`` (every vehicle) and ``index.json`` into a directory, each file atomically.

Units as in the sheets: distances in metres, durations in seconds, money in integer fen,
times as ISO 8601 strings, shown in the +08:00 zone (Asia/Shanghai, no daylight saving).
Every piece of text taken from a sheet is escaped with :func:`html.escape`.
"""

from __future__ import annotations

import contextlib
import html
import json
import math
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

__all__ = [
    "INDEX_FILES",
    "ROUTE_ID_PATTERN",
    "TRACKING_SHOWN",
    "driving_s",
    "render_html",
    "write_route_sheets",
]

#: Route ids this module writes files for: ``T-...`` (trunk) and ``C-<county>-NN``.
ROUTE_ID_PATTERN = re.compile(r"T-[0-9A-Za-z]+(?:[-_][0-9A-Za-z]+)*|C-\d{6}-\d+")
#: The files written besides the per-route ones.
INDEX_FILES = ("all.html", "index.json")
#: Tracking numbers printed per order; the rest are only in the route's JSON file.
TRACKING_SHOWN = 12

_CST = timezone(timedelta(hours=8))
_OWN_FILE = re.compile(rf"(?P<rid>{ROUTE_ID_PATTERN.pattern})\.(?:json|html)")
_TEMP_FILE = re.compile(r"\.(?P<name>.+)\.[0-9A-Za-z_]+\.tmp")

_ECHELONS = {"trunk": "干线 trunk", "county": "县域 county"}
_VEHICLE_KINDS = {
    "truck": "货车",
    "van": "厢式车",
    "reefer_van": "冷藏车",
    "livestock_truck": "畜禽运输车",
    "motorbike": "摩托车",
    "tricycle": "三轮车",
}
_TEMPERATURES = {"chilled": "冷藏 chilled", "frozen": "冷冻 frozen"}

# the sketch: drawing area in millimetres (viewBox units) and inner margin
_SKETCH_W = 160.0
_SKETCH_H = 100.0
_SKETCH_PAD = 7.0
_SKETCH_LEGEND = 12.0  # a strip along the bottom for the scale bar and north arrow
_KM_PER_DEG_LAT = 111.32

_CSS = """
@page { size: A4; margin: 12mm }
* { box-sizing: border-box }
html { -webkit-print-color-adjust: exact; print-color-adjust: exact }
body {
  margin: 0; color: #111; background: #fff; font-size: 9pt; line-height: 1.35;
  font-family: "Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "PingFang SC",
    "Microsoft YaHei", "SimHei", sans-serif;
}
.sheet { break-after: page; page-break-after: always; width: 100%; max-width: 186mm;
  margin: 0 auto }
.sheet:last-of-type { break-after: auto; page-break-after: auto }
@media screen {
  body { background: #e8e8e8; padding: 8mm 0 }
  .sheet { background: #fff; padding: 8mm; margin-bottom: 8mm; max-width: 202mm;
    box-shadow: 0 1px 4px rgba(0, 0, 0, .25) }
}
.doc-title { font-size: 8pt; color: #555 }
h1 { font-size: 15pt; margin: 1mm 0 2mm; display: flex; justify-content: space-between;
  align-items: baseline; border-bottom: 0.6mm solid #111; padding-bottom: 1mm }
h1 .rid { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 14pt }
h2 { font-size: 10.5pt; margin: 4mm 0 1.5mm }
table { border-collapse: collapse; width: 100% }
.facts td { padding: 0.6mm 1.5mm; vertical-align: top; border-bottom: 0.2mm solid #ddd }
.facts td.k { color: #444; white-space: nowrap; width: 17mm }
.facts td.v { width: 76mm }
.stops { table-layout: fixed; margin-top: 2mm }
.stops th { background: #eee; font-weight: 600; font-size: 8pt; text-align: left;
  padding: 1mm; border: 0.2mm solid #999 }
.stops td { padding: 1mm; border: 0.2mm solid #999; vertical-align: top;
  overflow-wrap: anywhere }
.stops tr { break-inside: avoid; page-break-inside: avoid }
.stops thead { display: table-header-group }
.stops tr.depot td { background: #f6f6f6 }
.c-seq { width: 7mm; text-align: center; font-weight: 700; font-size: 10pt }
.c-place { width: 27mm }
.c-time { width: 17mm }
.c-km { width: 14mm }
.c-load { width: 15mm }
.c-drop { width: 48mm }
.c-sign { width: 22mm }
.place b { font-size: 9.5pt }
.py, .sub { display: block; color: #555; font-size: 7.5pt }
.note { display: block; font-style: italic; color: #a33; font-size: 7.5pt }
.party + .party { margin-top: 1.2mm; padding-top: 1mm; border-top: 0.2mm dashed #bbb }
.pname { font-weight: 600 }
.code { font-weight: 400; color: #555; font-size: 7.5pt }
.orders { list-style: none; margin: 0.3mm 0 0; padding: 0 }
.orders li { margin: 0.3mm 0 0 1.5mm }
.oid { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 7.5pt }
.trk { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace; font-size: 6.5pt;
  color: #333; line-height: 1.25; margin-left: 1.5mm }
.more { display: block; font-size: 6.5pt; color: #a33 }
.to { display: block; font-size: 8pt }
.badge { display: inline-block; font-size: 7pt; font-weight: 700; padding: 0 1mm;
  border-radius: 1mm; border: 0.2mm solid; margin-left: 0.8mm; white-space: nowrap }
.b-cold { color: #0b5394; border-color: #0b5394; background: #e3eefa }
.b-live { color: #8a4b00; border-color: #8a4b00; background: #fbefd9 }
.none { color: #999 }
.sign { display: block; margin-top: 5mm; white-space: nowrap }
.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap }
.costs td, .costs th { padding: 0.8mm 1.5mm; border-bottom: 0.2mm solid #ccc }
.costs th { text-align: left; background: #eee; font-size: 8pt }
.costs th.num { text-align: right }
.costs tr.total td { font-weight: 700; border-top: 0.4mm solid #111 }
.alloc { font-size: 7.5pt; color: #444; margin: 1mm 0 0 }
figure.sketch { margin: 3mm 0 0; break-inside: avoid; page-break-inside: avoid }
figure.sketch svg { display: block; width: 160mm; height: 100mm; border: 0.2mm solid #bbb }
figure.sketch figcaption { font-size: 7.5pt; color: #555 }
footer.foot { margin-top: 3mm; padding-top: 1mm; border-top: 0.2mm solid #999;
  font-size: 7.5pt; color: #444 }
.empty { padding: 10mm; text-align: center; color: #666 }
"""


# ---- public API ----------------------------------------------------------------------
def driving_s(sheet: Mapping[str, Any], *, upto_seq: int | None = None) -> int:
    """Planned driving time of a sheet (s): from leaving one place to reaching the next,
    waits and service excluded; up to stop ``upto_seq`` or, by default, back at the end."""
    left = datetime.fromisoformat(sheet["start"]["time"])
    total = 0.0
    for stop in sheet.get("stops") or ():
        if upto_seq is not None and int(stop["seq"]) > upto_seq:
            return round(total)
        total += max(0.0, (datetime.fromisoformat(stop["arrival"]) - left).total_seconds())
        left = datetime.fromisoformat(stop["departure"])
    if upto_seq is None:
        total += max(0.0, (datetime.fromisoformat(sheet["end"]["time"]) - left).total_seconds())
    return round(total)


def render_html(sheets: Sequence[Mapping[str, Any]], *, title: str) -> str:
    """One self-contained, printable HTML document with a ``<section>`` per sheet."""
    body = "\n".join(_sheet_html(sheet, title=title) for sheet in sheets)
    if not sheets:
        body = '<p class="empty">没有路单 No route sheets.</p>'
    return (
        "<!DOCTYPE html>\n"
        '<html lang="zh-CN">\n'
        "<head>\n"
        '<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{_e(title)}</title>\n"
        f"<style>{_CSS}</style>\n"
        "</head>\n"
        "<body>\n"
        f"{body}\n"
        "</body>\n"
        "</html>\n"
    )


def write_route_sheets(
    sheets: Sequence[Mapping[str, Any]], out_dir: Path, *, title: str
) -> list[Path]:
    """Write the route sheets under ``out_dir`` and return the written paths.

    Files: ``<route_id>.json`` and ``<route_id>.html`` per sheet (in the given order),
    then ``all.html`` and ``index.json`` (written last). Route-sheet files of an earlier
    run that this run does not rewrite are removed first; other files are left alone.
    Each file is written to a temporary file in ``out_dir`` and renamed into place.

    Raises ``ValueError`` for a route id outside :data:`ROUTE_ID_PATTERN`, a duplicate
    route id, or a value JSON cannot hold (NaN, infinity); nothing is written then.
    """
    route_ids = _checked_route_ids(sheets)
    files: list[tuple[str, str]] = []
    index: list[dict[str, Any]] = []
    for rid, sheet in zip(route_ids, sheets, strict=True):
        names = {"json": f"{rid}.json", "html": f"{rid}.html"}
        files.append((names["json"], _json_text(sheet)))
        files.append((names["html"], render_html([sheet], title=f"{title} · {rid}")))
        county = sheet.get("county") or {}
        vehicle = sheet.get("vehicle") or {}
        index.append(
            {
                "route_id": rid,
                "echelon": sheet.get("echelon"),
                "county_code": county.get("code"),
                "vehicle_id": vehicle.get("id"),
                "stops": len(sheet.get("stops") or ()),
                "distance_m": sheet.get("distance_m"),
                "files": names,
            }
        )
    files.append(("all.html", render_html(sheets, title=title)))
    files.append(("index.json", _json_text(index)))

    out_dir.mkdir(parents=True, exist_ok=True)
    keep = {name for name, _ in files}
    for stale in _own_files(out_dir):
        if stale.name not in keep:
            stale.unlink(missing_ok=True)
    written = []
    for name, text in files:
        path = out_dir / name
        _write_atomically(path, text)
        written.append(path)
    _fsync_dir(out_dir)
    return written


# ---- files ---------------------------------------------------------------------------
def _checked_route_ids(sheets: Sequence[Mapping[str, Any]]) -> list[str]:
    ids: list[str] = []
    seen: dict[str, str] = {}
    for i, sheet in enumerate(sheets):
        rid = sheet.get("route_id")
        if not isinstance(rid, str) or not ROUTE_ID_PATTERN.fullmatch(rid):
            raise ValueError(
                f"sheet {i}: route_id {rid!r} is not a route id "
                "(expected T-... for trunk or C-<6-digit county>-<NN> for county routes)"
            )
        key = rid.casefold()  # the files must not collide on case-insensitive disks
        if key in seen:
            raise ValueError(f"sheet {i}: route_id {rid!r} repeats {seen[key]!r}")
        seen[key] = rid
        ids.append(rid)
    return ids


def _json_default(value: object) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _json_text(value: object) -> str:
    return (
        json.dumps(value, ensure_ascii=False, indent=1, allow_nan=False, default=_json_default)
        + "\n"
    )


def _is_own_name(name: str) -> bool:
    return name in INDEX_FILES or _OWN_FILE.fullmatch(name) is not None


def _own_files(out_dir: Path) -> Iterable[Path]:
    """Files a run of :func:`write_route_sheets` writes (and its crash leftovers)."""
    for path in sorted(out_dir.iterdir()):
        temp = _TEMP_FILE.fullmatch(path.name)
        if not (_is_own_name(path.name) or (temp and _is_own_name(temp.group("name")))):
            continue
        if path.is_symlink() or path.is_file():
            yield path


def _write_atomically(path: Path, text: str) -> None:
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)  # mkstemp creates 0600; sheets are meant to be shared
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _fsync_dir(directory: Path) -> None:
    """Make the renames durable (POSIX); silently skipped where unsupported."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


# ---- formatting (plain text; escape with _e where it enters HTML) --------------------
def _e(value: object) -> str:
    return "" if value is None else html.escape(str(value), quote=True)


def _num(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


def _plan_day(sheet: Mapping[str, Any]) -> date | None:
    try:
        return date.fromisoformat(str(sheet.get("plan_date")))
    except ValueError:
        return None


def clock(value: object, plan_day: date | None, *, empty: str = "—") -> str:
    """``HH:MM`` in +08:00, with ``(+1 d)`` when the time falls after the plan day;
    ``empty`` when there is no time."""
    if not value:
        return empty
    try:
        dt = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    if dt.tzinfo is not None:
        dt = dt.astimezone(_CST)
    text = dt.strftime("%H:%M")
    if plan_day is not None and dt.date() != plan_day:
        text += f" ({(dt.date() - plan_day).days:+d} d)"
    return text


def _duration(seconds: object) -> str:
    """``6 h 40 min``, or ``40 min`` under an hour."""
    s = _num(seconds)
    if s is None:
        return "—"
    hours, minutes = divmod(round(s / 60), 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _km(metres: object) -> str:
    m = _num(metres)
    return "—" if m is None else f"{m / 1000:.1f}"


def _yuan(fen: object) -> str:
    """Integer fen as ``¥1,234.56``."""
    f = _num(fen)
    if f is None:
        return "—"
    cents = round(f)
    yuan, rest = divmod(abs(cents), 100)
    return f"{'-' if cents < 0 else ''}¥{yuan:,}.{rest:02d}"


def _amount(value: object, digits: int) -> str:
    """A quantity with at most ``digits`` decimals, trailing zeros dropped."""
    v = _num(value)
    if v is None:
        return "—"
    text = f"{v:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def _place_name(place: Mapping[str, Any] | None) -> str:
    if not place:
        return "—"
    return str(place.get("name_zh") or place.get("name_pinyin") or place.get("id") or "—")


# ---- HTML fragments ------------------------------------------------------------------
def _place_html(place: Mapping[str, Any] | None) -> str:
    if not place:
        return '<span class="none">—</span>'
    pinyin = place.get("name_pinyin")
    sub = f'<span class="py">{_e(pinyin)}</span>' if pinyin else ""
    return f'<span class="place"><b>{_e(_place_name(place))}</b>{sub}</span>'


def _badges(order: Mapping[str, Any]) -> str:
    out = []
    temperature = order.get("temperature") or "ambient"
    if temperature != "ambient":
        label = _TEMPERATURES.get(str(temperature), str(temperature))
        out.append(f'<span class="badge b-cold">{_e(label)}</span>')
    if order.get("live_animal"):
        out.append('<span class="badge b-live">活体 live</span>')
    return "".join(out)


def _tracking_html(order: Mapping[str, Any], route_id: str) -> str:
    numbers = [str(t) for t in order.get("tracking") or ()]
    if not numbers:
        return ""
    shown = ", ".join(numbers[:TRACKING_SHOWN])
    more = ""
    if len(numbers) > TRACKING_SHOWN:
        rest = len(numbers) - TRACKING_SHOWN
        more = f'<span class="more">… +{rest} more (full list in {_e(route_id)}.json)</span>'
    return f'<div class="trk">{_e(shown)}{more}</div>'


def _order_html(order: Mapping[str, Any], route_id: str) -> str:
    bits = [f'<span class="oid">{_e(order.get("order_id"))}</span>']
    if order.get("goods"):
        bits.append(_e(order["goods"]))
    bits.append(f"{_e(_amount(order.get('pieces'), 0))} 件")
    bits.append(f"{_e(_amount(order.get('weight_kg'), 1))} kg")
    if _num(order.get("volume_m3")) is not None:
        bits.append(f"{_e(_amount(order.get('volume_m3'), 2))} m³")
    line = " · ".join(bits) + _badges(order)
    final = order.get("final_destination")
    if final:
        pinyin = final.get("name_pinyin")
        line += (
            f'<span class="to">→ <b>{_e(_place_name(final))}</b>'
            + (f" {_e(pinyin)}" if pinyin else "")
            + "</span>"
        )
    return f"<li>{line}{_tracking_html(order, route_id)}</li>"


def _parties_html(groups: Sequence[Mapping[str, Any]] | None, route_id: str) -> str:
    if not groups:
        return '<span class="none">—</span>'
    out = []
    for group in groups:
        orders = list(group.get("orders") or ())
        pieces = sum(_num(o.get("pieces")) or 0 for o in orders)
        kg = sum(_num(o.get("weight_kg")) or 0 for o in orders)
        name = group.get("party_name_zh") or group.get("party") or "—"
        code = group.get("party")
        code_html = f' <span class="code">{_e(code)}</span>' if code and code != name else ""
        out.append(
            '<div class="party">'
            f'<div class="pname">{_e(name)}{code_html} · {_e(_amount(pieces, 0))} 件'
            f" · {_e(_amount(kg, 1))} kg</div>"
            '<ul class="orders">'
            + "".join(_order_html(o, route_id) for o in orders)
            + "</ul></div>"
        )
    return "".join(out)


def _load_html(load: Mapping[str, Any] | None) -> str:
    if not load:
        return '<span class="none">—</span>'
    return (
        f"{_e(_amount(load.get('kg'), 1))} kg"
        f'<span class="sub">{_e(_amount(load.get("m3"), 2))} m³</span>'
    )


def _fact(label: str, value_html: str) -> str:
    return f'<td class="k">{_e(label)}</td><td class="v">{value_html}</td>'


def _header_html(sheet: Mapping[str, Any], *, title: str, plan_day: date | None) -> str:
    rid = str(sheet.get("route_id", ""))
    echelon = sheet.get("echelon")
    county = sheet.get("county")
    vehicle = sheet.get("vehicle") or {}
    start = sheet.get("start") or {}
    end = sheet.get("end") or {}

    if county:
        county_html = (
            f"<b>{_e(county.get('name_zh'))}</b> {_e(county.get('name_pinyin'))}"
            f' <span class="code">{_e(county.get("code"))}</span>'
        )
    else:
        county_html = '<span class="none">—</span>'

    kind = str(vehicle.get("kind") or "")
    kind_label = f"{_VEHICLE_KINDS[kind]} {kind}" if kind in _VEHICLE_KINDS else kind
    badges = ""
    if vehicle.get("refrigerated"):
        badges += '<span class="badge b-cold">冷藏 refrigerated</span>'
    if vehicle.get("livestock"):
        badges += '<span class="badge b-live">活畜 livestock</span>'
    owner = vehicle.get("owner_name_zh") or vehicle.get("owner")
    vehicle_html = (
        f"<b>{_e(vehicle.get('name'))}</b>"
        f' <span class="code">{_e(vehicle.get("id"))}</span>{badges}'
        f'<span class="sub">{_e(kind_label)}'
        f" · {_e(_amount(vehicle.get('capacity_kg'), 1))} kg"
        f" / {_e(_amount(vehicle.get('capacity_m3'), 2))} m³"
        + (f" · {_e(owner)}" if owner else "")
        + "</span>"
    )

    def endpoint(point: Mapping[str, Any]) -> str:
        when = _e(clock(point.get("time"), plan_day))
        return f"<b>{when}</b> {_place_html(point.get('place'))}"

    rows = [
        _fact("日期 Date", _e(sheet.get("plan_date")))
        + _fact("层级 Echelon", _e(_ECHELONS.get(str(echelon), echelon))),
        _fact("县 County", county_html) + _fact("车辆 Vehicle", vehicle_html),
        _fact("出发 Start", endpoint(start)) + _fact("返回 End", endpoint(end)),
        _fact("里程 Distance", f"{_e(_km(sheet.get('distance_m')))} km")
        + _fact("时长 Duration", _e(_duration(sheet.get("duration_s")))),
        _fact("费用 Cost", _e(_yuan(sheet.get("cost_fen"))))
        + _fact("停靠 Stops", _e(len(sheet.get("stops") or ()))),
    ]
    return (
        "<header>"
        f'<div class="doc-title">{_e(title)}</div>'
        f'<h1><span>路单 Route sheet</span><span class="rid">{_e(rid)}</span></h1>'
        '<table class="facts"><tbody>'
        + "".join(f"<tr>{r}</tr>" for r in rows)
        + "</tbody></table></header>"
    )


def _stops_html(sheet: Mapping[str, Any], plan_day: date | None) -> str:
    rid = str(sheet.get("route_id", ""))
    stops = list(sheet.get("stops") or ())
    start = sheet.get("start") or {}
    end = sheet.get("end") or {}
    none = '<span class="none">—</span>'

    rows = [
        '<tr class="depot">'
        '<td class="c-seq">起</td>'
        f"<td>{_place_html(start.get('place'))}</td>"
        f"<td>→ {_e(clock(start.get('time'), plan_day))}</td>"
        '<td class="num">0.0</td>'
        f"<td>{none}</td><td>{none}</td><td>{none}</td>"
        '<td><span class="sign">发车 ______</span></td>'
        "</tr>"
    ]
    for stop in stops:
        times = (
            f"{_e(clock(stop.get('arrival'), plan_day))}"
            f'<span class="sub">– {_e(clock(stop.get("departure"), plan_day))}</span>'
        )
        wait = _num(stop.get("wait_s")) or 0
        if wait > 0:
            times += f'<span class="sub">等候 wait {_e(_duration(wait))}</span>'
        note = stop.get("note")
        note_html = f'<span class="note">{_e(note)}</span>' if note else ""
        rows.append(
            "<tr>"
            f'<td class="c-seq">{_e(stop.get("seq"))}</td>'
            f"<td>{_place_html(stop.get('place'))}{note_html}</td>"
            f"<td>{times}</td>"
            f'<td class="num">{_e(_km(stop.get("distance_from_prev_m")))}'
            f'<span class="sub">Σ {_e(_km(stop.get("distance_cum_m")))}</span></td>'
            f"<td>{_parties_html(stop.get('drop'), rid)}</td>"
            f"<td>{_parties_html(stop.get('pickup'), rid)}</td>"
            f"<td>{_load_html(stop.get('load_after'))}</td>"
            '<td><span class="sign">签收 ______</span></td>'
            "</tr>"
        )
    total = _num(sheet.get("distance_m"))
    last_cum = _num(stops[-1].get("distance_cum_m")) if stops else 0.0
    leg = total - last_cum if total is not None and last_cum is not None else None
    rows.append(
        '<tr class="depot">'
        '<td class="c-seq">止</td>'
        f"<td>{_place_html(end.get('place'))}</td>"
        f"<td>{_e(clock(end.get('time'), plan_day))}</td>"
        f'<td class="num">{_e(_km(leg))}<span class="sub">Σ {_e(_km(total))}</span></td>'
        f"<td>{none}</td><td>{none}</td><td>{none}</td>"
        '<td><span class="sign">交车 ______</span></td>'
        "</tr>"
    )
    head = (
        "<thead><tr>"
        '<th class="c-seq">#</th>'
        '<th class="c-place">地点 Place</th>'
        '<th class="c-time">到–离 Arr–Dep</th>'
        '<th class="c-km num">km 上段 / Σ</th>'
        '<th class="c-drop">卸货 Drop</th>'
        "<th>装货 Pickup</th>"
        '<th class="c-load">载重 Load</th>'
        '<th class="c-sign">签收 Sign</th>'
        "</tr></thead>"
    )
    return f'<table class="stops">{head}<tbody>{"".join(rows)}</tbody></table>'


def _costs_html(sheet: Mapping[str, Any]) -> str:
    shares = list(sheet.get("cost_shares") or ())
    note = sheet.get("allocation_note")
    if not shares and not note:
        return ""
    cost = _e(_yuan(sheet.get("cost_fen")))
    out = [f'<h2>费用分摊 Cost shares <span class="code">{cost}</span></h2>']
    if shares:
        rows = []
        for share in shares:
            name = share.get("name_zh") or share.get("party") or "—"
            code = share.get("party")
            code_html = f' <span class="code">{_e(code)}</span>' if code and code != name else ""
            rows.append(
                f"<tr><td>{_e(name)}{code_html}</td>"
                f'<td class="num">{_e(_yuan(share.get("standalone_fen")))}</td>'
                f'<td class="num">{_e(_yuan(share.get("proportional_fen")))}</td>'
                f'<td class="num">{_e(_yuan(share.get("shapley_fen")))}</td></tr>'
            )

        def total(key: str) -> str:
            return _e(_yuan(sum(_num(s.get(key)) or 0 for s in shares)))

        rows.append(
            '<tr class="total"><td>合计 Total</td>'
            f'<td class="num">{total("standalone_fen")}</td>'
            f'<td class="num">{total("proportional_fen")}</td>'
            f'<td class="num">{total("shapley_fen")}</td></tr>'
        )
        out.append(
            '<table class="costs"><thead><tr><th>参与方 Party</th>'
            '<th class="num">单独 Alone</th><th class="num">按比例 Proportional</th>'
            '<th class="num">Shapley 沙普利</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>"
        )
    if note:
        out.append(f'<p class="alloc">{_e(note)}</p>')
    return "".join(out)


def _coordinate(value: object) -> tuple[float, float] | None:
    if not isinstance(value, Sequence) or isinstance(value, str) or len(value) < 2:
        return None
    lon, lat = _num(value[0]), _num(value[1])
    if lon is None or lat is None:
        return None
    return lon, lat


def _lines(geometry: Mapping[str, Any]) -> list[list[tuple[float, float]]]:
    kind = geometry.get("type")
    coords = geometry.get("coordinates") or ()
    parts = [coords] if kind == "LineString" else list(coords) if kind == "MultiLineString" else []
    lines = []
    for part in parts:
        line = [c for c in map(_coordinate, part or ()) if c is not None]
        if len(line) >= 2:
            lines.append(line)
    return lines


def _place_point(place: object) -> tuple[float, float] | None:
    if not isinstance(place, Mapping):
        return None
    return _coordinate((place.get("lon"), place.get("lat")))


def _nice_km(limit: float) -> float:
    """The largest 1/2/5 x 10^k kilometres not above ``limit``."""
    if limit <= 0:
        return 0.0
    base = 10 ** math.floor(math.log10(limit))
    return max(f * base for f in (1, 2, 5) if f * base <= limit)


def _sketch_html(sheet: Mapping[str, Any]) -> str:
    """An equirectangular sketch of the route, fitted to 160 x 100 mm; '' without geometry."""
    geometry = sheet.get("geometry")
    lines = _lines(geometry) if isinstance(geometry, Mapping) else []
    if not lines:
        return ""
    stops = list(sheet.get("stops") or ())
    dots = [(str(s.get("seq", "")), _place_point(s.get("place"))) for s in stops]
    start = _place_point((sheet.get("start") or {}).get("place"))
    end = _place_point((sheet.get("end") or {}).get("place"))
    points = [p for line in lines for p in line] + [
        p for p in (start, end, *(d for _, d in dots)) if p is not None
    ]
    lats = [lat for _, lat in points]
    kx = math.cos(math.radians((min(lats) + max(lats)) / 2))  # degrees of latitude units
    xs = [lon * kx for lon, _ in points]
    x0, x1, y0, y1 = min(xs), max(xs), min(lats), max(lats)
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    box_w = _SKETCH_W - 2 * _SKETCH_PAD  # the route is fitted into this box, centred
    box_h = _SKETCH_H - _SKETCH_PAD - _SKETCH_LEGEND
    scale = min(box_w / span_x, box_h / span_y)  # millimetres per degree of latitude
    left = _SKETCH_PAD + (box_w - (x1 - x0) * scale) / 2
    bottom = _SKETCH_PAD + box_h - (box_h - (y1 - y0) * scale) / 2

    def xy(p: tuple[float, float]) -> tuple[float, float]:
        return left + (p[0] * kx - x0) * scale, bottom - (p[1] - y0) * scale

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {_SKETCH_W:g} {_SKETCH_H:g}"'
        f' width="{_SKETCH_W:g}mm" height="{_SKETCH_H:g}mm" role="img"'
        f' aria-label="{_e("路线示意图 route sketch " + str(sheet.get("route_id", "")))}">',
        f'<rect x="0" y="0" width="{_SKETCH_W:g}" height="{_SKETCH_H:g}" fill="#fbfbf8"/>',
    ]
    for line in lines:
        pts = " ".join(f"{x:.2f},{y:.2f}" for x, y in map(xy, line))
        parts.append(
            f'<polyline points="{pts}" fill="none" stroke="#1f5fa8" stroke-width="0.7"'
            ' stroke-linejoin="round" stroke-linecap="round"/>'
        )
    font = 'text-anchor="middle" dominant-baseline="central"'  # the page's CJK fonts
    for label, point in (("起", start), ("止", end)):
        if point is None or (label == "止" and point == start):
            continue
        x, y = xy(point)
        parts.append(
            f'<rect x="{x - 2.6:.2f}" y="{y - 2.6:.2f}" width="5.2" height="5.2" fill="#111"/>'
            f'<text x="{x:.2f}" y="{y:.2f}" font-size="3.4" fill="#fff" {font}>{label}</text>'
        )
    for label, point in dots:
        if point is None:
            continue
        x, y = xy(point)
        parts.append(
            f'<circle cx="{x:.2f}" cy="{y:.2f}" r="2.4" fill="#c0392b" stroke="#fff"'
            ' stroke-width="0.4"/>'
            f'<text x="{x:.2f}" y="{y:.2f}" font-size="2.8" font-weight="700" fill="#fff"'
            f" {font}>{_e(label)}</text>"
        )
    # the legend strip: scale bar (left) and north arrow (right)
    km_per_mm = _KM_PER_DEG_LAT / scale
    bar_km = _nice_km(km_per_mm * 40)
    if bar_km > 0:
        bar = bar_km / km_per_mm
        parts.append(
            f'<path d="M 4 {_SKETCH_H - 4} h {bar:.2f} M 4 {_SKETCH_H - 5.2} v 2.4'
            f' M {4 + bar:.2f} {_SKETCH_H - 5.2} v 2.4" stroke="#111" stroke-width="0.4"'
            ' fill="none"/>'
            f'<text x="{4 + bar / 2:.2f}" y="{_SKETCH_H - 7:.2f}" font-size="2.8" {font}>'
            f"{bar_km:g} km</text>"
        )
    ax, ay = _SKETCH_W - 10, _SKETCH_H - 3  # foot of the arrow
    parts.append(
        f'<path d="M {ax:g} {ay:g} v -7 M {ax - 1.5:g} {ay - 5:g} L {ax:g} {ay - 7:g}'
        f' L {ax + 1.5:g} {ay - 5:g}" stroke="#111" stroke-width="0.4" fill="none"/>'
        f'<text x="{ax + 4:g}" y="{ay - 3.5:g}" font-size="3" {font}>N 北</text>'
    )
    parts.append("</svg>")
    return (
        '<figure class="sketch">'
        + "".join(parts)
        + "<figcaption>路线示意图 Route sketch — 等距圆柱投影 equirectangular projection,"
        " not to survey accuracy; numbers are stop sequence.</figcaption></figure>"
    )


def _sheet_html(sheet: Mapping[str, Any], *, title: str) -> str:
    plan_day = _plan_day(sheet)
    rid = str(sheet.get("route_id", ""))
    network_note = sheet.get("network_note")
    footer = (
        '<footer class="foot">'
        + (f"路网 Network: {_e(network_note)} · " if network_note else "")
        + f"{_e(rid)} · {_e(sheet.get('plan_date'))}</footer>"
    )
    return (
        f'<section class="sheet" id="{_e(rid)}">'
        + _header_html(sheet, title=title, plan_day=plan_day)
        + _stops_html(sheet, plan_day)
        + _costs_html(sheet)
        + _sketch_html(sheet)
        + footer
        + "</section>"
    )
