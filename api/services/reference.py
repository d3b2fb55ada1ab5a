"""Reference data every resource reads: the road network with its places, the parties
of the plan and the served counties, each loaded once per process."""

from __future__ import annotations

import functools
from collections.abc import Mapping

from dispatch.domain import Party
from routing.network import Place, RoadNetwork, load_network

__all__ = ["network", "parties", "places_by_id", "served"]


@functools.cache
def network() -> RoadNetwork:
    """The bundled (or configured) road network, loaded once per process."""
    return load_network()


@functools.cache
def places_by_id() -> Mapping[str, Place]:
    return {p.id: p for p in network().places}


@functools.cache
def parties() -> Mapping[str, Party]:
    from dispatch.io.fleet import load_parties

    return load_parties()


@functools.cache
def served() -> frozenset[str]:
    from dispatch.io.day import served_counties

    return frozenset(served_counties())
