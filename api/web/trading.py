"""The trading centre's pages (交易中心): freight matching (车货配载), leasing, accounts and
statements, and the information board (物流信息发布).

What each page is and what its script starts with (the boot data); the routes are in
:mod:`api.web.pages`. The scripts (``static/js/trading-*.js``) read and change everything
through the JSON API (``/api/v1/capacity``, ``/cargo``, ``/listings``, ``/accounts``,
``/market``...), which calls the services in :mod:`api.services.freight`,
:mod:`api.services.leasing` and :mod:`api.services.ledger`; no rule lives here.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Session

from api.models import Organisation, User
from api.schemas.common import TZ as SHANGHAI
from api.services import leasing
from api.services.freight import TEMPERATURES, VEHICLE_TYPES
from api.services.ledger import account_labels, accounts_of_org

#: The pages, in the trading centre's tab order.
PAGES = ("cargo", "capacity", "leasing", "accounts", "market")
#: Who trades (the JSON API's rule: admins, dispatchers, carrier and cooperative users).
ROLES = ("admin", "dispatcher", "carrier")
#: The one page readable without signing in (what the posting firms made public).
OPEN_PAGES = ("market",)
#: The strings file of every trading page (``strings/trade.json``).
STRINGS = "trade"


def home(session: Session, user: User) -> str:
    """Where the trading centre opens: a cooperative (a shipper) at its cargo, a firm at
    its trucks."""
    org = session.get(Organisation, user.org_id) if user.org_id is not None else None
    return "/trade/cargo" if org is not None and org.kind == "cooperative" else "/trade/capacity"


def boot(session: Session, user: User | None, page: str) -> dict[str, Any]:
    """What the page's script starts with: today (Beijing time), the choices its forms
    offer, the user's organisation and ledger accounts."""
    org = None
    if user is not None and user.org_id is not None:
        org = session.get(Organisation, user.org_id)
    accounts = accounts_of_org(session, user.org_id) if user is not None else []
    labels = account_labels(session, accounts)
    return {
        "trade_page": page,
        "today": datetime.now(SHANGHAI).date().isoformat(),
        "vehicle_types": list(VEHICLE_TYPES),
        "temperatures": list(TEMPERATURES),
        "equipment_types": list(leasing.EQUIPMENT_TYPES),
        "org": None if org is None else {"id": org.id, "name": org.name, "kind": org.kind},
        "accounts": [{"id": a.id, "name": labels.get(a.id or 0, a.name)} for a in accounts],
        "signed_in": user is not None,
        "trader": user is not None and user.role in ROLES,
    }
