"""(being written) exports endpoints of the console."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["exports"])
