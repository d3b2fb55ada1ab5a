"""The bundled modeled network: structure, lengths, reachability, caching, overrides."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy.sparse.csgraph import dijkstra

from routing.errors import InputError
from routing.network import LENGTH_SOURCES, RoadNetwork, load_network, read_network
from routing.network.geometry import haversine_m
from routing.network.modeled import _gabriel_pairs, load_published_distances


def test_counts_and_provenance(network: RoadNetwork) -> None:
    assert network.source == "modeled"
    assert "MODELED" in network.meta["description"]
    kinds = [p.kind for p in network.located_places()]
    assert kinds.count("warehouse") == 1
    assert kinds.count("hub") == 6
    assert kinds.count("township") == 62  # 47 of the six counties + 15 of Chuxiong city
    assert kinds.count("village") == 3
    assert set(network.edge_length_source.tolist()) <= {0, 1, 2}  # modeled, published, osm
    trunk = network.classes.index("trunk")
    osm = network.edge_length_source == LENGTH_SOURCES.index("osm")
    assert np.all(network.edge_class[osm] == trunk)  # OSM lengths only on trunk links


@pytest.mark.parametrize("profile", ["truck", "van", "motorbike"])
def test_every_located_place_is_reachable_from_the_warehouse(
    network: RoadNetwork, profile: str
) -> None:
    start = network.place("WH-CX").node
    to_all = dijkstra(network.csr(profile), indices=start)
    back = dijkstra(network.csr(profile).T.tocsr(), indices=start)
    for p in network.located_places():
        assert np.isfinite(to_all[p.node]) and np.isfinite(back[p.node]), p.id


def test_hubs_share_the_node_of_their_seat_township(network: RoadNetwork) -> None:
    for code in ("532322", "532323", "532325", "532326", "532327", "532329"):
        assert network.place(f"HUB-{code}").node == network.place(f"{code}101").node


def test_published_distances_are_used_as_lengths(network: RoadNetwork) -> None:
    lengths = {}
    for u, v, length, src in zip(
        network.edge_u,
        network.edge_v,
        network.edge_length_m,
        network.edge_length_source,
        strict=True,
    ):
        lengths[(min(u, v), max(u, v))] = (length, LENGTH_SOURCES[src])
    node = {p.id: p.node for p in network.located_places()}
    checked = 0
    for d in load_published_distances():
        if not d.use_as_link or d.from_id not in node or d.to_id not in node:
            continue
        key = (min(node[d.from_id], node[d.to_id]), max(node[d.from_id], node[d.to_id]))
        assert key in lengths, (d.from_id, d.to_id)
        length, source = lengths[key]
        assert source == "published"
        assert length <= d.road_m  # the shortest of disagreeing figures
        checked += 1
    assert checked >= 15
    # Mouding -> Chuxiong has 56, 58 and 32 km published: 32 km (the 2020 expressway) wins.
    key = tuple(sorted((node["HUB-532323"], node["WH-CX"])))
    assert lengths[key] == (32_000.0, "published")


def test_modeled_lengths_are_never_shorter_than_the_straight_line(network: RoadNetwork) -> None:
    u, v = network.edge_u, network.edge_v
    straight = haversine_m(
        network.node_lon[u], network.node_lat[u], network.node_lon[v], network.node_lat[v]
    )
    assert np.all(network.edge_length_m >= straight - 1e-6)
    factors = network.meta["circuity"]["factors"]
    assert 1.0 < factors["trunk"] < 3.0 and 1.0 < factors["county"] < 3.0
    assert network.meta["circuity"]["county_sample"]["n"] >= 10


def test_every_edge_class_is_known(network: RoadNetwork) -> None:
    names = {network.classes[c] for c in network.edge_class.tolist()}
    assert names == {"trunk", "county", "township", "village"}


def test_gabriel_pairs_on_a_square_skip_the_diagonals() -> None:
    square = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.5, 0.5]])
    pairs = _gabriel_pairs(square)
    assert (0, 2) not in pairs and (1, 3) not in pairs
    assert all((i, 4) in pairs for i in range(4))


def test_compiled_cache_is_reused_and_keyed_by_inputs(tmp_path: Path) -> None:
    first = load_network()
    again = load_network()
    assert first.digest == again.digest
    overrides = tmp_path / "o.csv"
    overrides.write_text("id,lon,lat\n532329101001,102.401,25.539\n", encoding="utf-8")
    moved = load_network(overrides=overrides)
    assert moved.digest != first.digest
    village = moved.place("532329101001")
    assert village.located
    assert moved.n_nodes == first.n_nodes + 1
    assert moved.n_edges == first.n_edges + 1


def test_a_damaged_network_file_is_an_input_error(tmp_path: Path) -> None:
    bad = tmp_path / "net.npz"
    bad.write_bytes(b"not a zip file")
    with pytest.raises(InputError, match="not a codist network file"):
        read_network(bad)
    with pytest.raises(InputError, match="does not exist"):
        read_network(tmp_path / "absent.npz")


def test_save_and_read_round_trip(network: RoadNetwork, tmp_path: Path) -> None:
    path = tmp_path / "copy.npz"
    network.save(path)
    copy = read_network(path)
    assert copy.places == network.places
    assert np.array_equal(copy.edge_length_m, network.edge_length_m)
    assert copy.meta == network.meta


def test_saving_the_same_network_from_many_threads_at_once(
    network: RoadNetwork, tmp_path: Path
) -> None:
    """Writers never rename each other's temporary file away (the API's threads load a new
    network at once on its first plan); the file left is whole."""
    import threading

    target = tmp_path / "same.npz"
    errors: list[BaseException] = []

    def save() -> None:
        try:
            for _ in range(4):
                network.save(target)
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=save) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert [p.name for p in tmp_path.iterdir()] == ["same.npz"]
    assert read_network(target).n_edges == network.n_edges
