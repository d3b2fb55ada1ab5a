"""Route sheets (路单): file names, JSON round trip, printable HTML, stale-file cleanup."""

from __future__ import annotations

import copy
import json
import math
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest

import dispatch.report.sheets as sheets_mod
from dispatch.report.sheets import render_html, write_route_sheets

TITLE = "楚雄州城乡高效配送 2026-09-15"
NETWORK_NOTE = "MODELED road network: township links are modeled, not surveyed roads"


def place(
    pid: str, name_zh: str, pinyin: str, kind: str, lon: float | None, lat: float | None
) -> dict[str, Any]:
    return {
        "id": pid,
        "name_zh": name_zh,
        "name_pinyin": pinyin,
        "kind": kind,
        "lon": lon,
        "lat": lat,
    }


WAREHOUSE = place(
    "WH-CX", "楚雄州公共仓", "Chuxiong Zhou Gonggongcang", "warehouse", 101.565456, 25.036751
)
HUB_DAYAO = place(
    "HUB-532326", "大姚县物流中心", "Dayao Wuliu Zhongxin", "hub", 101.323876, 25.735685
)
HUB_YAOAN = place(
    "HUB-532325", "姚安县物流中心", "Yao'an Wuliu Zhongxin", "hub", 101.235625, 25.508614
)
XINJIE = place("532326105", "新街镇", "Xinjie Zhen", "township", 101.254042, 25.807902)
SHIYANG = place("532326102", "石羊镇", "Shiyang Zhen", "township", 101.099569, 25.850105)
SANTAI = place("532326208", "三台乡", "Santai Xiang", "township", 101.078041, 26.012070)
CHAHE = place("532326102210", "岔河村民委员会", "Chahe Cun", "village", None, None)

LONG_TRACKING = [f"ZT77{n:08d}" for n in range(1, 31)]


def order(oid: str, pieces: int, kg: float, m3: float, **extra: Any) -> dict[str, Any]:
    o: dict[str, Any] = {
        "order_id": oid,
        "pieces": pieces,
        "weight_kg": kg,
        "volume_m3": m3,
        "temperature": "ambient",
        "goods": "包裹",
        "live_animal": False,
        "tracking": [],
        "final_destination": None,
    }
    o.update(extra)
    return o


def t(hhmm: str, day: str = "2026-09-15") -> str:
    return f"{day}T{hhmm}:00+08:00"


def sample_sheets() -> list[dict[str, Any]]:
    """A county reefer-van route in 大姚县 (with geometry) and a trunk route (without)."""
    county_route = {
        "route_id": "C-532326-03",
        "plan_date": "2026-09-15",
        "echelon": "county",
        "county": {"code": "532326", "name_zh": "大姚县", "name_pinyin": "Dayao Xian"},
        "vehicle": {
            "id": "HUB-532326-V01",
            "name": "大姚县中心 冷藏车 1",
            "owner": "hub",
            "owner_name_zh": "大姚县物流中心",
            "kind": "reefer_van",
            "profile": "van",
            "capacity_kg": 1500,
            "capacity_m3": 8.0,
            "refrigerated": True,
            "livestock": False,
        },
        "start": {"place": HUB_DAYAO, "time": t("07:10")},
        "end": {"place": HUB_DAYAO, "time": t("13:50")},
        "distance_m": 123456,
        "duration_s": 24000,
        "cost_fen": 45678,
        "stops": [
            {
                "seq": 1,
                "place": XINJIE,
                "arrival": t("07:42"),
                "departure": t("07:55"),
                "wait_s": 0,
                "distance_from_prev_m": 23000,
                "distance_cum_m": 23000,
                "drop": [
                    {
                        "party": "ZTO",
                        "party_name_zh": "中通快递",
                        "orders": [
                            order(
                                "D-0001",
                                12,
                                14.5,
                                0.07,
                                tracking=[f"ZT77{n:08d}" for n in range(101, 113)],
                            ),
                            order(
                                "D-0002",
                                3,
                                21.0,
                                0.05,
                                temperature="chilled",
                                goods="鲜奶",
                                tracking=["ZT7700000201"],
                            ),
                        ],
                    },
                    {
                        "party": "EMS",
                        "party_name_zh": "中国邮政",
                        "orders": [
                            order("D-0003", 5, 6.2, 0.03, tracking=["1151234567890"]),
                        ],
                    },
                ],
                "pickup": [],
                "load_after": {"kg": 850, "m3": 4.2},
                "note": "",
            },
            {
                "seq": 2,
                "place": SHIYANG,
                "arrival": t("08:40"),
                "departure": t("09:05"),
                "wait_s": 600,
                "distance_from_prev_m": 31200,
                "distance_cum_m": 54200,
                "drop": [
                    {
                        "party": "ZTO",
                        "party_name_zh": "中通快递",
                        "orders": [
                            order(
                                "D-0004",
                                30,
                                41.0,
                                0.3,
                                tracking=LONG_TRACKING,
                                final_destination=CHAHE,
                            ),
                        ],
                    },
                ],
                "pickup": [
                    {
                        "party": "coop-dayao-walnut",
                        "party_name_zh": "大姚县核桃合作社",
                        "orders": [order("U-0001", 20, 400.0, 1.2, goods="核桃")],
                    },
                ],
                "load_after": {"kg": 1209, "m3": 5.13},
                "note": "石羊镇站 街天 market day: park behind the station",
            },
            {
                "seq": 3,
                "place": SANTAI,
                "arrival": t("10:10"),
                "departure": t("10:30"),
                "wait_s": 0,
                "distance_from_prev_m": 24800,
                "distance_cum_m": 79000,
                "drop": [
                    {
                        "party": "JD",
                        "party_name_zh": "京东物流",
                        "orders": [
                            order(
                                "D-0005",
                                2,
                                8.0,
                                0.04,
                                temperature="frozen",
                                goods="冻品",
                                tracking=["JDX000111222333"],
                            ),
                        ],
                    },
                ],
                "pickup": [],
                "load_after": {"kg": 1201, "m3": 5.09},
                "note": "",
            },
        ],
        "cost_shares": [
            {
                "party": "ZTO",
                "name_zh": "中通快递",
                "standalone_fen": 30000,
                "proportional_fen": 21000,
                "shapley_fen": 20500,
            },
            {
                "party": "EMS",
                "name_zh": "中国邮政",
                "standalone_fen": 18000,
                "proportional_fen": 4000,
                "shapley_fen": 5200,
            },
            {
                "party": "JD",
                "name_zh": "京东物流",
                "standalone_fen": 26000,
                "proportional_fen": 3000,
                "shapley_fen": 4100,
            },
            {
                "party": "coop-dayao-walnut",
                "name_zh": "大姚县核桃合作社",
                "standalone_fen": 22000,
                "proportional_fen": 17678,
                "shapley_fen": 15878,
            },
        ],
        "allocation_note": "exact Shapley over 4 participants (16 coalitions)",
        "geometry": {
            "type": "LineString",
            "coordinates": [
                [101.323876, 25.735685],
                [101.29, 25.77],
                [101.254042, 25.807902],
                [101.17, 25.83],
                [101.099569, 25.850105],
                [101.09, 25.93],
                [101.078041, 26.012070],
                [101.2, 25.88],
                [101.323876, 25.735685],
            ],
        },
        "network_note": NETWORK_NOTE,
    }
    trunk_route = {
        "route_id": "T-01",
        "plan_date": "2026-09-15",
        "echelon": "trunk",
        "county": None,
        "vehicle": {
            "id": "WH-CX-T02",
            "name": "州公共仓 干线货车 2",
            "owner": "hub",
            "owner_name_zh": "楚雄州公共仓",
            "kind": "livestock_truck",
            "profile": "truck",
            "capacity_kg": 8000,
            "capacity_m3": 30.0,
            "refrigerated": False,
            "livestock": True,
        },
        "start": {"place": WAREHOUSE, "time": t("05:30")},
        "end": {"place": WAREHOUSE, "time": t("00:20", "2026-09-16")},
        "distance_m": 287400,
        "duration_s": 67800,
        "cost_fen": 132050,
        "stops": [
            {
                "seq": 1,
                "place": HUB_YAOAN,
                "arrival": t("07:25"),
                "departure": t("08:00"),
                "wait_s": 0,
                "distance_from_prev_m": 98100,
                "distance_cum_m": 98100,
                "drop": [
                    {
                        "party": "YTO",
                        "party_name_zh": "圆通速递",
                        "orders": [
                            order("D-1001", 240, 512.0, 3.1),
                        ],
                    },
                ],
                "pickup": [],
                "load_after": {"kg": 2100, "m3": 11.5},
                "note": "",
            },
            {
                "seq": 2,
                "place": HUB_DAYAO,
                "arrival": t("09:10"),
                "departure": t("10:00"),
                "wait_s": 0,
                "distance_from_prev_m": 44300,
                "distance_cum_m": 142400,
                "drop": [
                    {
                        "party": "YTO",
                        "party_name_zh": "圆通速递",
                        "orders": [
                            order("D-1002", 410, 880.5, 6.0),
                        ],
                    },
                ],
                "pickup": [
                    {
                        "party": "coop-dayao-goat",
                        "party_name_zh": "大姚县黑山羊养殖合作社",
                        "orders": [
                            order("U-1001", 12, 420.0, 6.0, goods="黑山羊 活畜", live_animal=True)
                        ],
                    },
                ],
                "load_after": {"kg": 1639.5, "m3": 11.5},
                "note": "",
            },
        ],
        "cost_shares": [
            {
                "party": "YTO",
                "name_zh": "圆通速递",
                "standalone_fen": 98000,
                "proportional_fen": 94000,
                "shapley_fen": 90025,
            },
            {
                "party": "coop-dayao-goat",
                "name_zh": "大姚县黑山羊养殖合作社",
                "standalone_fen": 60000,
                "proportional_fen": 38050,
                "shapley_fen": 42025,
            },
        ],
        "allocation_note": "exact Shapley over 2 participants (4 coalitions)",
        "geometry": None,
        "network_note": NETWORK_NOTE,
    }
    return [county_route, trunk_route]


@pytest.fixture
def sheets() -> list[dict[str, Any]]:
    return sample_sheets()


class TagBalance(HTMLParser):
    """Checks that every non-void element is closed, in order."""

    VOID = frozenset({"meta", "br", "img", "hr", "link", "input", "col", "wbr", "source"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.counts: dict[str, int] = {}
        self.errors: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.counts[tag] = self.counts.get(tag, 0) + 1  # <rect .../> in the SVG

    def handle_endtag(self, tag: str) -> None:
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"</{tag}> closes {self.stack[-1:] or 'nothing'}")
        else:
            self.stack.pop()


def check_balanced(text: str) -> TagBalance:
    parser = TagBalance()
    parser.feed(text)
    parser.close()
    assert parser.errors == []
    assert parser.stack == []
    for tag in ("html", "head", "body", "title", "style"):
        assert parser.counts.get(tag) == 1, tag
    return parser


def test_files_written_with_route_names(tmp_path: Path, sheets: list[dict[str, Any]]) -> None:
    out = tmp_path / "sheets" / "2026-09-15"  # created, parents too
    paths = write_route_sheets(sheets, out, title=TITLE)
    names = [
        "C-532326-03.json",
        "C-532326-03.html",
        "T-01.json",
        "T-01.html",
        "all.html",
        "index.json",
    ]
    assert paths == [out / n for n in names]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temp files left
    assert all(p.stat().st_size > 0 for p in paths)


def test_json_round_trips(tmp_path: Path, sheets: list[dict[str, Any]]) -> None:
    write_route_sheets(sheets, tmp_path, title=TITLE)
    for sheet in sheets:
        path = tmp_path / f"{sheet['route_id']}.json"
        with path.open(encoding="utf-8") as f:
            assert json.load(f) == sheet
        text = path.read_text(encoding="utf-8")
        assert "大姚县" in text or "楚雄州公共仓" in text  # not \u-escaped
        assert text.splitlines()[1].startswith(' "route_id"')  # indent=1


def test_index_lists_the_sheets(tmp_path: Path, sheets: list[dict[str, Any]]) -> None:
    write_route_sheets(sheets, tmp_path, title=TITLE)
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert index == [
        {
            "route_id": "C-532326-03",
            "echelon": "county",
            "county_code": "532326",
            "vehicle_id": "HUB-532326-V01",
            "stops": 3,
            "distance_m": 123456,
            "files": {"json": "C-532326-03.json", "html": "C-532326-03.html"},
        },
        {
            "route_id": "T-01",
            "echelon": "trunk",
            "county_code": None,
            "vehicle_id": "WH-CX-T02",
            "stops": 2,
            "distance_m": 287400,
            "files": {"json": "T-01.json", "html": "T-01.html"},
        },
    ]


def test_html_content(tmp_path: Path, sheets: list[dict[str, Any]]) -> None:
    write_route_sheets(sheets, tmp_path, title=TITLE)
    page = (tmp_path / "all.html").read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>")
    assert '<html lang="zh-CN">' in page
    assert '<meta charset="utf-8">' in page
    assert "@page { size: A4; margin: 12mm }" in page
    assert "break-after: page" in page and "page-break-after: always" in page
    assert '"Noto Sans CJK SC"' in page and "Microsoft YaHei" in page
    assert "<link" not in page and "<script" not in page and "src=" not in page
    assert page.count('<section class="sheet"') == 2
    # names, pinyin, header facts
    for text in (
        "大姚县",
        "Dayao Xian",
        "石羊镇",
        "Shiyang Zhen",
        "三台乡",
        "Santai Xiang",
        "中通快递",
        "大姚县中心 冷藏车 1",
        "冷藏 refrigerated",
        "县域 county",
        "干线 trunk",
        "路单 Route sheet",
        "楚雄州公共仓",
    ):
        assert text in page, text
    assert "123.5 km" in page and "287.4 km" in page
    assert "6 h 40 min" in page and "18 h 50 min" in page
    assert "¥456.78" in page and "¥1,320.50" in page
    assert "07:10" in page and "07:42" in page
    assert "00:20 (+1 d)" in page  # the trunk truck comes back after midnight
    assert "等候 wait 10 min" in page
    # orders: badges, final destination, tracking truncation
    assert "冷藏 chilled" in page and "冷冻 frozen" in page and "活体 live" in page
    assert "→ <b>岔河村民委员会</b> Chahe Cun" in page
    assert LONG_TRACKING[11] in page and LONG_TRACKING[12] not in page
    assert "… +18 more (full list in C-532326-03.json)" in page
    assert "ZT7700000112" in page  # exactly 12 numbers: all printed, no message
    assert page.count("more (full list in") == 1
    # stop table, signature, cost shares, sketch, footer
    assert page.count("签收 ______") == 5
    assert "exact Shapley over 4 participants (16 coalitions)" in page
    assert page.count("<svg") == 1  # the trunk sheet has no geometry
    assert "<polyline" in page
    assert page.count(NETWORK_NOTE) == 2
    check_balanced(page)

    single = (tmp_path / "T-01.html").read_text(encoding="utf-8")
    assert single.count('<section class="sheet"') == 1
    assert "<svg" not in single and "Dayao Xian" not in single
    check_balanced(single)
    check_balanced((tmp_path / "C-532326-03.html").read_text(encoding="utf-8"))


def test_all_text_is_escaped(sheets: list[dict[str, Any]]) -> None:
    sheet = copy.deepcopy(sheets[0])
    evil = '<script>alert("x")</script>顺丰 & Co'
    sheet["stops"][0]["drop"][0]["party_name_zh"] = evil
    sheet["cost_shares"][0]["name_zh"] = evil
    sheet["stops"][1]["note"] = "<b>not bold</b>"
    sheet["stops"][0]["drop"][0]["orders"][0]["tracking"][0] = "<i>1</i>"
    page = render_html([sheet], title="<title>路单</title>")
    assert "<script" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;顺丰 &amp; Co" in page
    assert "<b>not bold</b>" not in page and "&lt;b&gt;not bold&lt;/b&gt;" in page
    assert "<i>1</i>" not in page
    assert "<title>&lt;title&gt;路单&lt;/title&gt;</title>" in page
    check_balanced(page)


def test_empty_and_sparse_sheets_render(sheets: list[dict[str, Any]]) -> None:
    check_balanced(render_html([], title="空 empty"))
    sparse = {
        "route_id": "T-09",
        "plan_date": "2026-09-15",
        "echelon": "trunk",
        "county": None,
        "vehicle": {},
        "start": {},
        "end": {},
        "stops": [],
        "cost_shares": [],
        "geometry": {"type": "LineString", "coordinates": []},
    }
    page = render_html([sparse], title="x")
    assert "<svg" not in page
    check_balanced(page)


def test_stale_files_removed_others_kept(tmp_path: Path, sheets: list[dict[str, Any]]) -> None:
    write_route_sheets(sheets, tmp_path, title=TITLE)
    others = [
        "notes.txt",
        "plan.json",
        "C-532326-03.json.bak",
        "C-532326-03.pdf",
        "t-1.json",
        "report.html",
    ]
    for name in others:
        (tmp_path / name).write_text("keep me", encoding="utf-8")
    (tmp_path / "C-532326-09.html").mkdir()  # a directory is never removed
    (tmp_path / ".T-01.json.abc123_x.tmp").write_text("{half", encoding="utf-8")  # a crash

    paths = write_route_sheets(sheets[1:], tmp_path, title=TITLE)
    assert [p.name for p in paths] == ["T-01.json", "T-01.html", "all.html", "index.json"]
    assert not (tmp_path / "C-532326-03.json").exists()
    assert not (tmp_path / "C-532326-03.html").exists()
    assert not (tmp_path / ".T-01.json.abc123_x.tmp").exists()
    for name in others:
        assert (tmp_path / name).read_text(encoding="utf-8") == "keep me"
    assert (tmp_path / "C-532326-09.html").is_dir()
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [*(p.name for p in paths), *others, "C-532326-09.html"]
    )
    index = json.loads((tmp_path / "index.json").read_text(encoding="utf-8"))
    assert [row["route_id"] for row in index] == ["T-01"]
    page = (tmp_path / "all.html").read_text(encoding="utf-8")
    assert page.count('<section class="sheet"') == 1


def test_a_failed_write_leaves_whole_files(
    tmp_path: Path, sheets: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    write_route_sheets(sheets, tmp_path, title=TITLE)
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    changed = copy.deepcopy(sheets)
    changed[0]["cost_fen"] = 99999
    calls = {"n": 0}
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            raise OSError("disk full")
        real_replace(src, dst)

    monkeypatch.setattr(sheets_mod.os, "replace", failing_replace)
    with pytest.raises(OSError, match="disk full"):
        write_route_sheets(changed, tmp_path, title=TITLE)
    after = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    assert sorted(after) == sorted(before)  # no temp file left behind
    assert json.loads(after["C-532326-03.json"])["cost_fen"] == 99999  # the first file
    assert after["C-532326-03.html"] == before["C-532326-03.html"]  # untouched, whole


@pytest.mark.parametrize(
    "bad", ["../etc/passwd", "C-5323-01", "X-01", "", "T-", "T-01/..", "T-01.json", None, 7]
)
def test_bad_route_ids_write_nothing(
    tmp_path: Path, sheets: list[dict[str, Any]], bad: object
) -> None:
    sheets[1]["route_id"] = bad
    with pytest.raises(ValueError, match="route_id"):
        write_route_sheets(sheets, tmp_path / "out", title=TITLE)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("first", "second"), [("C-532326-03", "C-532326-03"), ("T-Dayao-1", "T-DAYAO-1")]
)
def test_duplicate_route_ids_rejected(
    tmp_path: Path, sheets: list[dict[str, Any]], first: str, second: str
) -> None:
    sheets[0]["route_id"], sheets[1]["route_id"] = first, second
    with pytest.raises(ValueError, match="repeats"):
        write_route_sheets(sheets, tmp_path, title=TITLE)
    assert list(tmp_path.iterdir()) == []


def test_sketch_fits_the_box_north_up(sheets: list[dict[str, Any]]) -> None:
    page = render_html(sheets[:1], title=TITLE)
    svg = page[page.index("<svg") : page.index("</svg>")]
    assert 'width="160mm" height="100mm"' in svg and 'viewBox="0 0 160 100"' in svg
    line = svg.split('<polyline points="')[1].split('"')[0]
    points = [tuple(map(float, pair.split(","))) for pair in line.split()]
    assert len(points) == 9
    assert all(0 < x < 160 and 0 < y < 100 - 10 for x, y in points)
    dots = {
        label: (float(cx), float(cy))
        for cx, cy, label in re.findall(
            r'<circle cx="([\d.]+)" cy="([\d.]+)"[^>]*/><text[^>]*>(\d+)</text>', svg
        )
    }
    assert set(dots) == {"1", "2", "3"}
    assert dots["3"][1] < dots["2"][1] < dots["1"][1]  # 三台乡 is the northernmost stop
    assert dots["2"][0] < dots["1"][0]  # 石羊镇 lies west of 新街镇
    # equirectangular: 1 mm east-west and north-south cover the same ground distance
    (x1, y1), (x2, y2) = points[0], points[6]  # hub and 三台乡 in the geometry
    (lon1, lat1), (lon2, lat2) = (101.323876, 25.735685), (101.078041, 26.012070)
    k = math.cos(math.radians((25.735685 + 26.012070) / 2))
    assert abs((x1 - x2) / (y2 - y1) - (lon1 - lon2) * k / (lat1 - lat2)) < 0.02
    assert re.search(r">\d+ km</text>", svg)  # scale bar


def test_nan_is_refused_before_writing(tmp_path: Path, sheets: list[dict[str, Any]]) -> None:
    sheets[0]["stops"][0]["load_after"]["kg"] = float("nan")
    with pytest.raises(ValueError):
        write_route_sheets(sheets, tmp_path / "out", title=TITLE)
    assert not (tmp_path / "out").exists()
