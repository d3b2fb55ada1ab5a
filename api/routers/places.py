"""Places of the prefecture (warehouse, hubs, townships, villages) and their coordinate
corrections (admins anywhere; a county's dispatcher the townships and villages of their
county), the recent corrections, and the base map.

The places come from the bundled road network (loaded once per process); a correction is
a :class:`~api.models.PlaceCorrection` row, the latest one per place wins and the next plan
routes with it. The rules live in :mod:`api.services.places`.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Response, status

from api.deps import (
    PageDep,
    SafeRoute,
    SessionDep,
    UserDep,
    invalid,
    page_body,
    require,
    sort_key_check,
)
from api.errors import NotFound
from api.models import User
from api.schemas.places import PlaceCorrectionIn, PlaceOut
from api.services import places as service
from api.services.basemap import basemap
from api.services.reference import places_by_id
from routing.errors import InputError
from routing.network import Place

READERS = ("admin", "dispatcher", "carrier")
#: who lists places: the readers and a county's couriers (their own county only)
LISTERS = (*READERS, "courier")
CORRECTORS = ("admin", "dispatcher")
PLACE_SORTS = ("id", "name_pinyin", "open_orders")
PlaceKind = Literal["warehouse", "hub", "township", "village"]
CountyCode = Annotated[
    str | None, Query(pattern=r"^\d{6}$", description="county code", examples=["532326"])
]

router = APIRouter(tags=["places"], route_class=SafeRoute)


def _place(place_id: str) -> Place:
    place = places_by_id().get(place_id)
    if place is None:
        raise NotFound(f"place {place_id!r} not found")
    return place


PlaceId = Annotated[
    str, Path(max_length=64, description="place id", examples=["HUB-532326", "532326101001"])
]


@router.get(
    "/places",
    summary="list places (filter by kind, county, name, located; open orders of a day)",
    description="With `orders_on`, each place carries `open_orders`: the open orders of "
    "that day whose rural end it is (among the orders you may see), and `sort=-open_orders` "
    "puts the busiest first (ties by id). A courier lists the places of their own county "
    "only (the default for them; another county, or a trunk courier, is a 403).",
)
def list_places(
    session: SessionDep,
    page: PageDep,
    user: Annotated[User, require(*LISTERS)],
    kind: Annotated[PlaceKind | None, Query(description="place kind")] = None,
    county: CountyCode = None,
    q: Annotated[
        str | None,
        Query(
            max_length=100,
            description="part of the Chinese or pinyin name (case-insensitive)",
            examples=["金碧", "jinbi"],
        ),
    ] = None,
    located: Annotated[
        bool | None, Query(description="only places with (true) or without (false) coordinates")
    ] = None,
    orders_on: Annotated[
        date | None,
        Query(description="count each place's open orders of this day (YYYY-MM-DD)"),
    ] = None,
) -> dict[str, Any]:
    sort = sort_key_check(page, PLACE_SORTS)
    if sort[0] == "open_orders" and orders_on is None:
        raise invalid(["query", "sort"], "sorting by open_orders needs orders_on=YYYY-MM-DD")
    county = service.listing_county(session, user, county)
    where = service.PlaceFilter(kind, county, q, located, orders_on)
    out = service.list_places(session, user, where, sort)
    return page_body(out[page.offset : page.offset + page.limit], len(out), page)


@router.get(
    "/basemap",
    summary="the base map: county outlines, road links and located places (GeoJSON)",
    description="Everything the console draws under the routes, from bundled data: no "
    "tile server is needed. Features carry `layer`: county, road or place.",
)
def get_basemap(user: UserDep, response: Response) -> dict[str, Any]:
    response.headers["Cache-Control"] = "private, max-age=3600"
    return basemap()


@router.get(
    "/places/corrections",
    summary="the recent coordinate corrections, newest first (admin; dispatcher: own county)",
    description="Each item: the place, the corrected point, the point before (the previous "
    "correction or the bundled point; null for a place that had none), source, who, when. "
    "A dispatcher lists their county (the default); another county is a 403.",
)
def list_corrections(
    session: SessionDep,
    user: Annotated[User, require(*CORRECTORS)],
    county: CountyCode = None,
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 50,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="items to skip")] = 0,
) -> dict[str, Any]:
    items, total = service.corrections(session, user, county, offset, limit)
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get(
    "/places/{place_id}",
    response_model=PlaceOut,
    summary="one place, with its corrected coordinates if any",
    dependencies=[require(*READERS)],
)
def get_place(place_id: PlaceId, session: SessionDep) -> Any:
    place = _place(place_id)
    fix = service.latest_corrections(session, place.id).get(place.id)
    names = service.usernames(session, [fix.corrected_by] if fix else [])
    return service.place_out(place, fix, username=names.get(fix.corrected_by or 0) if fix else None)


@router.patch(
    "/places/{place_id}",
    response_model=PlaceOut,
    summary="correct a place's coordinates (admin; dispatcher: own county's townships, villages)",
    description="The point must lie inside Chuxiong prefecture (the rule of the place "
    "overrides file). The correction is kept with its source, who and when; the newest one "
    "wins and the next plan routes with it. A dispatcher corrects the townships and "
    "villages of their county only (403 naming the county otherwise).",
)
def correct_place(
    place_id: PlaceId,
    body: PlaceCorrectionIn,
    session: SessionDep,
    user: Annotated[User, require(*CORRECTORS)],
) -> Any:
    place = _place(place_id)
    try:
        return service.correct(session, user, place, body)
    except InputError as e:  # the point as a whole: both coordinates named
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {"loc": ["body", name], "msg": e.reason, "type": "value_error"}
                for name in ("lon", "lat")
            ],
        ) from None
