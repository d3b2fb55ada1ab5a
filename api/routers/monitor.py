"""(being written) monitor endpoints of the console."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["monitor"])
