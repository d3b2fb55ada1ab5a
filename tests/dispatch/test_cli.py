"""The `codist` command line: contract outputs, exit codes and one-line errors."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from dispatch.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_places_townships_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "places", "--kind", "township", "--json")
    assert code == 0
    rows = json.loads(out)
    assert len(rows) == 54
    assert {r["county_code"] for r in rows} == {
        "532322", "532323", "532325", "532326", "532327", "532329",
    }  # fmt: skip
    keys = {"id", "kind", "name_zh", "name_pinyin", "county_code", "lon", "lat"}
    assert all(keys <= r.keys() for r in rows)
    unlocated = [r for r in rows if r["lon"] is None]
    assert len(unlocated) == 7


def test_places_filters(capsys: pytest.CaptureFixture[str]) -> None:
    _, out, _ = run(capsys, "places", "--county", "532301", "--kind", "township", "--json")
    assert len(json.loads(out)) == 15
    _, out, _ = run(capsys, "places", "--kind", "village", "--unlocated", "--json")
    assert len(json.loads(out)) == 577
    _, out, _ = run(capsys, "places", "--kind", "warehouse", "--json")
    assert [r["id"] for r in json.loads(out)] == ["WH-CX"]


def test_network_info_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "network", "info", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["places"]["warehouse"] == 1 and doc["places"]["hub"] == 6
    assert doc["source"] == "modeled"
    assert doc["nodes"] > 0 and doc["edges"] > 0 and doc["km"] > 0
    assert len(doc["unlocated"]) == 7 + 577


def test_network_info_human_says_modeled(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "network", "info")
    assert code == 0
    assert "MODELED" in out and "circuity trunk" in out and "白路镇" in out


def test_route_json(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "route", "WH-CX", "101.33,25.72", "--profile", "truck", "--json")
    assert code == 0
    doc = json.loads(out)
    assert doc["distance_m"] > 50_000 and doc["duration_s"] > 3600
    assert doc["geometry"]["type"] == "LineString"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["route", "WH-CX", "120.0,30.0"], "TO: point (120.000000, 30.000000) lies outside"),
        (["route", "WH-CX", "XYZ"], "TO: unknown place id 'XYZ'"),
        (["route", "WH-CX", "532329105"], "has no coordinates"),
        (["route", "WH-CX", "532329101", "--profile", "rocket"], "unknown profile 'rocket'"),
        (["places", "--county", "999999"], "unknown county code"),
        (["places", "--kind", "city"], "invalid choice"),
        (["network", "import", "/nonexistent/file.osm"], "osm_file"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], message: str
) -> None:
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert out == ""
    assert message in err
    assert err.count("\n") == 1 and "Traceback" not in err


def test_malformed_overrides_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    bad = tmp_path / "o.csv"
    bad.write_text("id,lon,lat\n532329101001,east,25\n", encoding="utf-8")
    code, _, err = run(capsys, "network", "info", "--overrides", str(bad))
    assert code == 2 and "o.csv line 2 lon" in err


def test_console_entry_point_runs_without_traceback() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "route", "WH-CX", "0,0"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("codist: error: TO:") and "Traceback" not in proc.stderr
    help_proc = subprocess.run(
        [sys.executable, "-m", "dispatch.cli", "route", "--help"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert help_proc.returncode == 0 and "--profile" in help_proc.stdout


def test_import_then_use_the_imported_network(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    fixture = Path(__file__).parents[1] / "data" / "osm" / "small_town.osm"
    out = tmp_path / "net.npz"
    code, stdout, err = run(capsys, "network", "import", str(fixture), "-o", str(out), "--json")
    assert code == 0, err
    doc = json.loads(stdout)
    assert doc["file"] == str(out) and doc["nodes"] > 0
    assert "preparing fast matrices for van" in err
    code, stdout, _ = run(capsys, "network", "info", "--network", str(out), "--json")
    assert code == 0
    info = json.loads(stdout)
    assert info["source"] == "osm" and info["places"]["warehouse"] == 1
    code, stdout, _ = run(capsys, "route", "WH-CX", "101.55,25.03", "--network", str(out), "--json")
    assert code == 0 and json.loads(stdout)["distance_m"] > 0


def test_import_of_an_extract_elsewhere_is_refused(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    far = tmp_path / "beijing.osm"
    far.write_text(
        "<?xml version='1.0' encoding='UTF-8'?>\n<osm version='0.6'>\n"
        "<node id='1' lat='39.90' lon='116.39'/><node id='2' lat='39.91' lon='116.40'/>\n"
        "<way id='10'><nd ref='1'/><nd ref='2'/><tag k='highway' v='primary'/></way>\n</osm>\n",
        encoding="utf-8",
    )
    code, _, err = run(capsys, "network", "import", str(far), "-o", str(tmp_path / "x.npz"))
    assert code == 2 and "is this an extract of Chuxiong?" in err
    assert not (tmp_path / "x.npz").exists()


def test_a_reader_that_goes_away_ends_the_command_quietly() -> None:
    """``codist places | head -1``: the closed pipe is not an internal error."""
    codist = Path(sys.executable).with_name("codist")
    proc = subprocess.Popen(
        [str(codist), "places", "--kind", "village"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader is gone before the first line
    with proc.stderr:
        err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 141
    assert "internal error" not in err and "Traceback" not in err
