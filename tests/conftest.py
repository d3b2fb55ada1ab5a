"""Shared fixtures: every test run uses its own cache directory and the bundled data."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from routing.network import RoadNetwork, load_network

TEST_DATA = Path(__file__).parent / "data"


@pytest.fixture(scope="session", autouse=True)
def _isolated_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    cache = tmp_path_factory.mktemp("codist-cache")
    saved = {k: os.environ.get(k) for k in ("CODIST_CACHE_DIR", "CODIST_NETWORK")}
    os.environ["CODIST_CACHE_DIR"] = str(cache)
    os.environ.pop("CODIST_NETWORK", None)
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


@pytest.fixture(scope="session")
def network(_isolated_cache: None) -> RoadNetwork:
    """The bundled modeled Chuxiong network."""
    return load_network()
