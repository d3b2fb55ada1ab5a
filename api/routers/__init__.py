"""HTTP routers, one per resource: the file name is the URL prefix and the service it calls.

``ROUTERS`` is the one place they are collected; :func:`api.main.create_app` includes them.
Routers import services, schemas and deps, never each other.
"""

from __future__ import annotations

from fastapi import APIRouter

from api.routers import (
    audit,
    auth,
    closures,
    compare,
    exports,
    freight,
    leasing,
    ledger,
    monitor,
    orders,
    places,
    plans,
    proposals,
    sheets,
    users,
    vehicles,
)

ROUTERS: tuple[APIRouter, ...] = (
    auth.router,
    users.router,
    audit.router,
    places.router,
    proposals.router,
    vehicles.router,
    orders.router,
    plans.router,
    sheets.router,
    closures.router,
    compare.router,
    exports.router,
    monitor.router,
    freight.router,
    ledger.router,
    leasing.router,
)
