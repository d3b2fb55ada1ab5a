"""Choosing and loading the active road network, with an on-disk compiled cache.

Which network: an explicit path, else ``$CODIST_NETWORK``, else the network written by
``codist network import`` (``data/road_network/imported/network.npz``), else the bundled
modeled network. The modeled network is rebuilt only when one of its input files changes
(places, overrides, published distances, boundaries, speeds); otherwise the compiled
``.npz`` in the cache is read directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from routing.network.datafiles import cache_dir, file_digest, imported_network_path
from routing.network.graph import Place, RoadNetwork, read_network
from routing.network.modeled import BUILDER_VERSION, build_modeled_network, published_distances_path
from routing.network.osm_trunk import osm_trunk_path
from routing.network.places import (
    PlaceFix,
    apply_fixes,
    apply_overrides,
    attach_places,
    load_places,
    overrides_path,
    places_path,
)
from routing.network.snap import boundary_path
from routing.network.speeds import speeds_path
from routing.settings import routing_settings


def active_network_path() -> Path | None:
    """The network file in use, or None for the bundled modeled network."""
    chosen = routing_settings().network
    if chosen is not None:
        return chosen
    imported = imported_network_path()
    return imported if imported.exists() else None


def overrides_in_use(overrides: Path | None = None) -> Path | None:
    """The place-overrides CSV in use: argument, ``$CODIST_PLACE_OVERRIDES``, or bundled."""
    if overrides is not None:
        return overrides
    chosen = routing_settings().place_overrides
    if chosen is not None:
        return chosen
    default = overrides_path()
    return default if default.exists() else None


def load_network(
    path: Path | None = None,
    *,
    overrides: Path | None = None,
    fixes: Sequence[PlaceFix] = (),
) -> RoadNetwork:
    """Load the active road network with the place overrides applied.

    Args:
        path: a compiled network file (from ``codist network import``); default: see module.
        overrides: a CSV of corrected place coordinates; default: see ``overrides_in_use``.
        fixes: corrected coordinates given as data (an admin's corrections in the
            service), applied after ``overrides``.
    """
    path = path or active_network_path()
    overrides = overrides_in_use(overrides)
    if path is not None:
        return _load_file(path, overrides, fixes)
    return _load_modeled(overrides, fixes)


def _fixed(places: list[Place], overrides: Path | None, fixes: Sequence[PlaceFix]) -> list[Place]:
    if overrides is not None:
        places = apply_overrides(places, overrides)
    return apply_fixes(places, fixes) if fixes else places


def _load_file(path: Path, overrides: Path | None, fixes: Sequence[PlaceFix]) -> RoadNetwork:
    # Overrides move places, not roads: the digest (the graph's identity for cached
    # hierarchies) stays that of the file.
    network = read_network(path, digest=file_digest(path))
    if overrides is not None or fixes:
        places = _fixed(list(network.places), overrides, fixes)
        if places != list(network.places):
            places = attach_places(network.node_lon, network.node_lat, places)
            network = network.with_places(tuple(places))
    return network


def _load_modeled(overrides: Path | None, fixes: Sequence[PlaceFix]) -> RoadNetwork:
    inputs = [
        places_path(),
        published_distances_path(),
        boundary_path(),
        speeds_path(),
        osm_trunk_path(),
    ]
    if overrides is not None:
        inputs.append(overrides)
    # the modeled roads are built from the places' coordinates: fixes are inputs too
    extra = BUILDER_VERSION + "".join(f"|{f.id},{f.lon!r},{f.lat!r},{f.source}" for f in fixes)
    digest = file_digest(*inputs, extra=extra)
    cached = cache_dir() / f"modeled-{digest}.npz"
    if cached.exists():
        return read_network(cached, digest=digest)
    network = replace(build_modeled_network(_fixed(load_places(), overrides, fixes)), digest=digest)
    network.save(cached)
    return network
