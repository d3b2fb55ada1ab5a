"""Places of the prefecture (warehouse, hubs, townships, villages) and admins' coordinate
corrections.

The places come from the bundled road network (loaded once per process); a correction is
a :class:`~api.models.PlaceCorrection` row, the latest one per place wins. This module
also holds the reference data the resource routers share: the network, the parties and
the served counties, and the 422 helper.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import numpy as np
from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from sqlmodel import Session, select

from api.deps import (
    PageDep,
    SafeRoute,
    SessionDep,
    UserDep,
    page_body,
    require,
    sort_key_check,
)
from api.errors import NotFound
from api.models import PlaceCorrection, User, now
from api.schemas.places import CorrectionOut, PlaceCorrectionIn, PlaceOut
from api.services.basemap import basemap
from api.services.convert import local
from api.services.reference import network, places_by_id
from routing.errors import InputError
from routing.network import Place
from routing.network.snap import check_inside

READERS = ("admin", "dispatcher", "carrier")
PLACE_SORTS = ("id", "name_pinyin")
PlaceKind = Literal["warehouse", "hub", "township", "village"]

router = APIRouter(tags=["places"], route_class=SafeRoute)

# ---- places ---------------------------------------------------------------------------


def latest_corrections(session: Session, place_id: str | None = None) -> dict[str, PlaceCorrection]:
    """The newest correction of every corrected place (or of one place)."""
    query = select(PlaceCorrection).order_by(PlaceCorrection.id)  # type: ignore[arg-type]
    if place_id is not None:
        query = query.where(PlaceCorrection.place_id == place_id)
    return {c.place_id: c for c in session.exec(query)}


def place_out(place: Place, correction: PlaceCorrection | None) -> PlaceOut:
    base = PlaceOut(
        id=place.id,
        kind=place.kind,
        name_zh=place.name_zh,
        name_pinyin=place.name_pinyin,
        county_code=place.county_code,
        township_code=place.township_code,
        lon=place.lon,
        lat=place.lat,
        located=place.located,
        corrected=False,
        coord_source=place.coord_source,
        notes=place.notes,
    )
    if correction is None:
        return base
    return base.model_copy(
        update={
            "lon": correction.lon,
            "lat": correction.lat,
            "located": True,
            "corrected": True,
            "coord_source": f"correction: {correction.source}",
            "correction": CorrectionOut(
                source=correction.source,
                corrected_by=correction.corrected_by,
                corrected_at=local(correction.created_at),
            ),
        }
    )


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
    summary="list places (filter by kind, county, name, located)",
    dependencies=[require(*READERS)],
)
def list_places(
    session: SessionDep,
    page: PageDep,
    kind: Annotated[PlaceKind | None, Query(description="place kind")] = None,
    county: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="county code", examples=["532326"])
    ] = None,
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
) -> dict[str, Any]:
    field, descending = sort_key_check(page, PLACE_SORTS)
    fixes = latest_corrections(session)
    needle = q.strip().casefold() if q else ""
    out: list[PlaceOut] = []
    for place in network().places:
        if kind is not None and place.kind != kind:
            continue
        if county is not None and place.county_code != county:
            continue
        if needle and not (
            needle in place.name_zh.casefold() or needle in place.name_pinyin.casefold()
        ):
            continue
        view = place_out(place, fixes.get(place.id))
        if located is not None and view.located != located:
            continue
        out.append(view)
    out.sort(key=lambda p: (getattr(p, field), p.id), reverse=descending)
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
    "/places/{place_id}",
    response_model=PlaceOut,
    summary="one place, with its corrected coordinates if any",
    dependencies=[require(*READERS)],
)
def get_place(place_id: PlaceId, session: SessionDep) -> Any:
    place = _place(place_id)
    return place_out(place, latest_corrections(session, place.id).get(place.id))


@router.patch(
    "/places/{place_id}",
    response_model=PlaceOut,
    summary="correct a place's coordinates (admin)",
    description="The point must lie inside Chuxiong prefecture (the rule of the place "
    "overrides file). The correction is kept with its source; the newest one wins.",
)
def correct_place(
    place_id: PlaceId,
    body: PlaceCorrectionIn,
    session: SessionDep,
    user: Annotated[User, require("admin")],
) -> Any:
    place = _place(place_id)
    try:
        check_inside(np.array([body.lon]), np.array([body.lat]), ["lon"])
    except InputError as e:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            detail=[
                {"loc": ["body", name], "msg": e.reason, "type": "value_error"}
                for name in ("lon", "lat")
            ],
        ) from None
    fix = PlaceCorrection(
        place_id=place.id,
        lon=body.lon,
        lat=body.lat,
        source=body.source,
        corrected_by=user.id,
        created_at=now(),
    )
    session.add(fix)
    session.commit()
    session.refresh(fix)
    return place_out(place, fix)
