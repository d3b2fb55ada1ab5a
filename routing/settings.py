"""The routing core's knobs, all from the environment and all read here.

``CODIST_DATA_DIR``         the road-network data directory (default: the repository's
                            ``data/road_network``)
``CODIST_CACHE_DIR``        compiled networks and matrix hierarchies (default:
                            ``$CODIST_DATA_DIR/.cache``)
``CODIST_NETWORK``          a compiled network file to use instead of the one written by
                            ``codist network import`` or the bundled modeled network
``CODIST_PLACE_OVERRIDES``  a CSV of corrected place coordinates (default: the bundled
                            ``place_overrides.csv``)

Read on every call (tests and tools change them); the service's own settings are
``api.core.config``, which lists these too.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[1]

__all__ = ["RoutingSettings", "routing_settings"]


@dataclass(frozen=True)
class RoutingSettings:
    data_dir: Path
    cache_dir: Path
    network: Path | None
    place_overrides: Path | None


def routing_settings() -> RoutingSettings:
    """The knobs as the environment sets them now."""
    data = _path("CODIST_DATA_DIR") or _REPO_ROOT / "data" / "road_network"
    return RoutingSettings(
        data_dir=data,
        cache_dir=_path("CODIST_CACHE_DIR") or data / ".cache",
        network=_path("CODIST_NETWORK"),
        place_overrides=_path("CODIST_PLACE_OVERRIDES"),
    )


def _path(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None
