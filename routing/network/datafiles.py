"""Where the road-network data files and caches live."""

from __future__ import annotations

import hashlib
from pathlib import Path

from routing.settings import routing_settings


def data_dir() -> Path:
    """The data/road_network directory (``CODIST_DATA_DIR``, see ``routing.settings``)."""
    return routing_settings().data_dir


def cache_dir() -> Path:
    """Directory for compiled networks and hierarchies (``CODIST_CACHE_DIR``)."""
    path = routing_settings().cache_dir
    path.mkdir(parents=True, exist_ok=True)
    return path


def imported_network_path() -> Path:
    """Where `codist network import` writes the network that replaces the modeled one."""
    return data_dir() / "imported" / "network.npz"


def file_digest(*paths: Path, extra: str = "") -> str:
    """Short content hash of some files (missing files count as empty)."""
    h = hashlib.sha256(extra.encode())
    for p in paths:
        h.update(str(p.name).encode())
        if p.exists():
            h.update(p.read_bytes())
    return h.hexdigest()[:16]
