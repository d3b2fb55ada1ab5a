"""The road network of Chuxiong: places, graph, snapping, routes and matrices.

Typical use::

    from routing.network import load_network, resolve, shortest_route, travel_matrix

    net = load_network()
    a, b = resolve(net, ["WH-CX", (101.32, 25.73)])
    route = shortest_route(net, a, b, profile="van")
    m = travel_matrix(net, resolve(net, ids), profile="truck")
"""

from routing.network.graph import LENGTH_SOURCES, PLACE_KINDS, Place, RoadNetwork, read_network
from routing.network.load import active_network_path, load_network
from routing.network.matrix import (
    Matrix,
    Route,
    Waypoint,
    parse_location,
    resolve,
    shortest_route,
    travel_matrix,
)
from routing.network.places import PlaceFix

__all__ = [
    "LENGTH_SOURCES",
    "PLACE_KINDS",
    "Matrix",
    "Place",
    "PlaceFix",
    "RoadNetwork",
    "Route",
    "Waypoint",
    "active_network_path",
    "load_network",
    "parse_location",
    "read_network",
    "resolve",
    "shortest_route",
    "travel_matrix",
]
