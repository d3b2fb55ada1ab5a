"""The village coverage figure of the plan summary: villages with a located service point
against all villages, per county, against the prefecture's 50 % target."""

from __future__ import annotations

from dispatch.io.day import served_counties
from dispatch.report.summary import VILLAGE_TARGET_PCT, village_coverage
from routing.network import PlaceFix, load_network

WUDING = "532329"


def test_the_bundled_network_has_almost_no_located_villages() -> None:
    network = load_network()
    counties = sorted(served_counties())
    cover = village_coverage(network, counties)
    villages = [p for p in network.places if p.kind == "village" and p.county_code in counties]
    assert cover["villages"] == len(villages) > 500
    located = sum(p.located for p in villages)
    assert cover["located"] == located <= 3  # of the six counties' villages, 2 have points
    assert cover["target_pct"] == VILLAGE_TARGET_PCT == 50
    assert cover["pct"] == round(100 * located / len(villages), 1) and not cover["meets_target"]
    assert set(cover["counties"]) == set(counties)
    assert sum(c["villages"] for c in cover["counties"].values()) == cover["villages"]


def test_points_placed_for_half_of_a_countys_villages_meet_the_target() -> None:
    """SYNTHETIC test fixture: every other unlocated 武定 village gets its township's point
    (not a real survey; never written into the bundled places)."""
    base = load_network()
    towns = {p.id: p for p in base.places if p.kind == "township" and p.located}
    mine = [p for p in base.places if p.kind == "village" and p.county_code == WUDING]
    unlocated = [p for p in mine if not p.located and p.township_code in towns]
    need = (len(mine) + 1) // 2 - sum(p.located for p in mine)
    fixes = [
        PlaceFix(p.id, towns[p.township_code].lon + 0.001, towns[p.township_code].lat,
                 "synthetic test fixture")
        for p in unlocated[:need]
    ]  # fmt: skip
    cover = village_coverage(load_network(fixes=fixes), [WUDING])
    county = cover["counties"][WUDING]
    assert county["villages"] == len(mine)
    assert county["located"] == sum(p.located for p in mine) + len(fixes)
    assert county["pct"] >= 50 and county["meets_target"]
