"""Trunk links on the real roads: the bundled OpenStreetMap trunk roads (osm_trunk.json)
give the warehouse-hub and hub-hub links their geometry, and a length where no published
distance exists, checked against the published (else modeled) length."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from dispatch.cli import main
from routing.network import LENGTH_SOURCES, RoadNetwork
from routing.network import modeled as modeled_module
from routing.network.modeled import OSM_AGREES, build_modeled_network
from routing.network.osm_trunk import load_osm_trunk, trunk_path
from routing.network.places import load_places


def _trunk_edges(network: RoadNetwork) -> dict[frozenset[str], int]:
    """Trunk edge index by the pair of hub / warehouse ids at its ends."""
    name = {}
    for p in network.located_places():
        if p.kind in ("hub", "warehouse"):
            name[p.node] = p.id
    trunk = network.classes.index("trunk")
    return {
        frozenset((name[int(network.edge_u[e])], name[int(network.edge_v[e])])): e
        for e in np.flatnonzero(network.edge_class == trunk)
    }


def test_the_osm_file_is_attributed_and_connected(network: RoadNetwork) -> None:
    osm = load_osm_trunk()
    assert osm is not None
    assert "OpenStreetMap contributors" in osm.attribution and osm.licence.startswith("ODbL")
    a, b = network.place("WH-CX"), network.place("HUB-532322")  # 楚雄 -> 双柏
    assert a.lon is not None and a.lat is not None and b.lon is not None and b.lat is not None
    path = trunk_path(osm, (a.lon, a.lat), (b.lon, b.lat))
    assert path is not None and 30_000 < path.road_m < 60_000 and len(path.coords) > 5
    assert tuple(path.coords[0]) == (a.lon, a.lat) and tuple(path.coords[-1]) == (b.lon, b.lat)
    assert trunk_path(osm, (a.lon, a.lat), (a.lon + 1.0, a.lat + 1.0)) is None  # far off


def test_trunk_links_follow_the_osm_roads_where_they_agree(network: RoadNetwork) -> None:
    osm = network.meta["osm_trunk"]
    edges = _trunk_edges(network)
    assert len(osm["links"]) == len(edges) == 10
    assert 1.0 <= osm["factor"] < 1.6
    on_osm = 0
    for row in osm["links"]:
        e = edges[frozenset((row["from"], row["to"]))]
        geom = network.edge_geometry(e)
        source = LENGTH_SOURCES[int(network.edge_length_source[e])]
        assert source == row["used"]
        if row["geometry"] == "osm":
            on_osm += 1
            # the real road: many points, from one end node to the other
            assert len(geom) > 5
            ends = {tuple(geom[0]), tuple(geom[-1])}
            u, v = int(network.edge_u[e]), int(network.edge_v[e])
            assert ends == {
                (network.node_lon[u], network.node_lat[u]),
                (network.node_lon[v], network.node_lat[v]),
            }
            assert abs(row["ratio"] - 1) <= OSM_AGREES
            if row["published_km"] is None:
                assert source == "osm"
                assert network.edge_length_m[e] == pytest.approx(row["osm_km"] * 1000, abs=60)
            else:  # the published distance stays the length, and is the check
                assert source == "published"
                assert network.edge_length_m[e] == pytest.approx(row["published_km"] * 1000)
        else:  # the OSM path takes another road: a straight line, published or modeled
            assert len(geom) == 2
            assert abs(row["ratio"] - 1) > OSM_AGREES
            assert source in ("published", "modeled")
    assert on_osm == osm["links_on_osm"] >= 3
    # 双柏 and 永仁-大姚: published roads OSM has, so they calibrate the factor
    by_pair = {frozenset((r["from"], r["to"])): r for r in osm["links"]}
    assert by_pair[frozenset(("WH-CX", "HUB-532322"))]["geometry"] == "osm"
    assert by_pair[frozenset(("HUB-532326", "HUB-532327"))]["geometry"] == "osm"


def test_without_the_osm_file_the_trunk_stays_modeled(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    load_osm_trunk.cache_clear()
    monkeypatch.setattr(modeled_module, "load_osm_trunk", lambda: None)
    network = build_modeled_network(load_places())
    assert "osm_trunk" not in network.meta
    assert LENGTH_SOURCES.index("osm") not in set(network.edge_length_source.tolist())
    trunk = network.classes.index("trunk")
    for e in np.flatnonzero(network.edge_class == trunk):
        assert len(network.edge_geometry(e)) == 2


def test_network_info_shows_real_and_modeled_km(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["network", "info"]) == 0
    out = capsys.readouterr().out
    assert "km real (published road distances" in out and "km modeled" in out
    assert "trunk links on real roads" in out and "© OpenStreetMap contributors" in out
    assert main(["network", "info", "--json"]) == 0
    import json

    doc = json.loads(capsys.readouterr().out)
    km = doc["km_by_length_source"]
    assert km["osm"] > 0 and km["published"] > 0 and km["modeled"] > 0
    assert sum(km.values()) == pytest.approx(doc["km"], abs=0.5)
    assert doc["osm_trunk"]["links_on_osm"] >= 3


def test_a_trunk_route_to_shuangbai_is_drawn_on_the_real_road(network: RoadNetwork) -> None:
    """What the console draws: a route sheet's geometry follows the OSM road between the
    warehouse and 双柏's hub (many points, none far from the OSM nodes), not a straight
    line."""
    from routing.network import resolve, shortest_route

    a, b = resolve(network, ["WH-CX", "HUB-532322"])
    coords = np.asarray(shortest_route(network, a, b, "truck").geometry["coordinates"])
    assert len(coords) > 10
    osm = load_osm_trunk()
    assert osm is not None
    inner = coords[1:-1]  # the two ends are the places themselves
    near = [float(np.min(np.hypot(osm.lon - x, osm.lat - y))) for x, y in inner]
    assert max(near) < 1e-6  # every inner point is an OSM node
