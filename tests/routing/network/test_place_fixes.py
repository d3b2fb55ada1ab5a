"""Corrected coordinates passed to the network as data (issue 11: admins' corrections
reached the planner through a temporary CSV file that also replaced the bundled overrides)."""

from __future__ import annotations

import pytest

from routing.errors import InputError
from routing.network import PlaceFix, load_network

UNLOCATED = "532322104"  # 鄂嘉镇, a township without coordinates in the bundled data
AT = (101.298, 24.452)  # inside 双柏县


def test_a_fix_locates_a_township_and_joins_the_roads() -> None:
    plain = load_network()
    assert plain.place(UNLOCATED).lon is None or plain.place(UNLOCATED).node < 0
    fixed = load_network(fixes=[PlaceFix(UNLOCATED, *AT, "GPS survey")])
    place = fixed.place(UNLOCATED)
    assert (place.lon, place.lat) == AT and "GPS survey" in place.coord_source
    assert place.node >= 0  # attached to the road network
    assert fixed.digest != plain.digest  # cached hierarchies never mix the two
    assert load_network(fixes=[PlaceFix(UNLOCATED, *AT, "GPS survey")]).digest == fixed.digest


@pytest.mark.parametrize(
    ("fix", "field"),
    [
        (PlaceFix("999999999", *AT), "correction 1 id"),
        (PlaceFix(UNLOCATED, 116.4, 39.9), "correction 1"),  # Beijing: outside
        (PlaceFix(UNLOCATED, float("nan"), 24.4), "correction 1 lon"),
    ],
)
def test_a_bad_fix_is_refused_naming_it(fix: PlaceFix, field: str) -> None:
    with pytest.raises(InputError) as err:
        load_network(fixes=[fix])
    assert err.value.field.startswith(field)
