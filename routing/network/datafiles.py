"""Where the road-network data files and caches live."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

_REPO_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """The data/road_network directory (env CODIST_DATA_DIR overrides)."""
    env = os.environ.get("CODIST_DATA_DIR")
    return Path(env) if env else _REPO_ROOT / "data" / "road_network"


def cache_dir() -> Path:
    """Directory for compiled networks and hierarchies (env CODIST_CACHE_DIR overrides)."""
    env = os.environ.get("CODIST_CACHE_DIR")
    path = Path(env) if env else data_dir() / ".cache"
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
