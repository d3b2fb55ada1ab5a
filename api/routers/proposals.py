"""Service points of unlocated villages and townships proposed from the field (a courier
of the place's county) or the console (its dispatcher, an admin), their photos, and their
review by the county's dispatcher or an admin: accept (maybe at a moved point: a place
correction the next plan routes with) or reject with a note. The rules live in
:mod:`api.services.proposals`.
"""

from __future__ import annotations

from typing import Annotated, Any, NoReturn

from fastapi import APIRouter, File, HTTPException, Path, Query, Response, UploadFile, status
from fastapi.responses import FileResponse

from api.deps import SafeRoute, SessionDep, SettingsDep, UserDep, require
from api.schemas.proposals import AcceptIn, ProposalIn, ProposalOut, ProposalStatus, RejectIn
from api.services import proposals as service
from api.services.photos import PHOTO_MEDIA
from routing.errors import InputError

router = APIRouter(
    tags=["place proposals"],
    route_class=SafeRoute,
    dependencies=[require("admin", "dispatcher", "courier")],
)
REVIEWERS = require("admin", "dispatcher")
ProposalId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the proposal's id")]
NOT_FOUND = {"description": "no such proposal (or not one you may see)"}
REVIEW_ERRORS: dict[int | str, dict[str, Any]] = {
    403: {"description": "not the dispatcher of the proposal's county nor an admin"},
    404: NOT_FOUND,
    409: {"description": "the proposal is accepted, rejected or superseded already"},
}


def _point_invalid(e: InputError) -> NoReturn:
    """A point outside the prefecture: both coordinates named (as PATCH /places does)."""
    if e.field not in ("lon", "lat") or "outside" not in e.reason:
        raise e
    raise HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        detail=[
            {"loc": ["body", name], "msg": e.reason, "type": "value_error"}
            for name in ("lon", "lat")
        ],
    ) from None


@router.post(
    "/place-proposals",
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    summary="propose the service point of an unlocated village or township",
    responses={
        200: {"model": ProposalOut, "description": "a retry (same client_id): the first one"},
        403: {"description": "a courier or dispatcher of another county"},
        409: {
            "description": "the place is located already, you have a proposal of it waiting "
            "for review, or client_id names another place"
        },
        422: {"description": "an unknown place, a hub or warehouse, a point outside Chuxiong"},
    },
)
def post_proposal(
    body: ProposalIn, session: SessionDep, user: UserDep, response: Response
) -> ProposalOut:
    """A courier of the place's county proposes from the field (source ``field``); the
    county's dispatcher or an admin from the map (source ``console``). The point must lie
    inside the prefecture. Send a fresh ``client_id`` per proposal and resend it after a
    lost answer: the retry answers 200 with the first proposal and keeps nothing new."""
    try:
        out, created = service.propose(session, user, body)
    except InputError as e:
        _point_invalid(e)
    if not created:
        response.status_code = status.HTTP_200_OK
    return out


@router.get(
    "/place-proposals",
    summary="proposals, newest first (admin: all; dispatcher: own county; courier: own)",
)
def list_proposals(
    session: SessionDep,
    user: UserDep,
    county: Annotated[
        str | None, Query(pattern=r"^\d{6}$", description="county code", examples=["532329"])
    ] = None,
    state: Annotated[ProposalStatus | None, Query(alias="status", description="status")] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="items per page")] = 200,
    offset: Annotated[int, Query(ge=0, le=2**31 - 1, description="items to skip")] = 0,
) -> dict[str, Any]:
    """Each proposal with its place as it is now (names, township, located), the
    proposer's and reviewer's usernames, times in Asia/Shanghai and its photo's URL."""
    items = service.list_proposals(session, user, county, state)
    return {
        "items": items[offset : offset + limit],
        "total": len(items),
        "limit": limit,
        "offset": offset,
    }


@router.post(
    "/place-proposals/{proposal_id}/photo",
    response_model=ProposalOut,
    status_code=status.HTTP_201_CREATED,
    summary="add the photo of your proposal (JPEG, PNG or WebP)",
    responses={
        403: {"description": "not your proposal"},
        404: NOT_FOUND,
        413: {"description": "larger than the service's photo limit"},
        415: {"description": "not a JPEG, PNG or WebP image"},
    },
)
def upload_photo(
    proposal_id: ProposalId,
    file: Annotated[UploadFile, File(description="a JPEG, PNG or WebP image")],
    session: SessionDep,
    settings: SettingsDep,
    user: UserDep,
) -> ProposalOut:
    """Checked as a stop photo (declared type and first bytes, size limit); a new photo
    replaces the earlier one."""
    return service.attach_photo(
        session,
        user,
        proposal_id,
        (file.content_type, file.file),
        settings.photo_dir,
        settings.photo_max_bytes,
    )


@router.get(
    "/place-proposals/{proposal_id}/photo",
    response_class=FileResponse,
    summary="the proposal's photo (its proposer, the county's dispatcher, admins)",
    responses={
        200: {"content": {t: {} for t in PHOTO_MEDIA.values()}, "description": "the image"},
        404: {"description": "no such proposal (or not one you may see), or no photo"},
    },
)
def get_photo(
    proposal_id: ProposalId, session: SessionDep, settings: SettingsDep, user: UserDep
) -> FileResponse:
    path = service.photo_of(session, user, proposal_id, settings.photo_dir)
    return FileResponse(
        path,
        media_type=PHOTO_MEDIA[path.suffix.lstrip(".")],
        headers={"X-Content-Type-Options": "nosniff", "Cache-Control": "private, no-cache"},
    )


@router.post(
    "/place-proposals/{proposal_id}/accept",
    response_model=ProposalOut,
    dependencies=[REVIEWERS],
    summary="accept a proposal, at its point or a moved one (the place is then located)",
    responses={**REVIEW_ERRORS, 422: {"description": "a moved point outside Chuxiong"}},
)
def accept_proposal(
    proposal_id: ProposalId, body: AcceptIn, session: SessionDep, user: UserDep
) -> ProposalOut:
    """Writes a place correction (source ``现场采集 proposal #id`` or ``调度标点 proposal
    #id``, by the reviewer) and marks the proposal accepted, in one transaction; the
    answer's ``place`` is located. The place's other waiting proposals become
    ``superseded`` in the same transaction."""
    try:
        return service.accept(session, user, proposal_id, body)
    except InputError as e:
        _point_invalid(e)


@router.post(
    "/place-proposals/{proposal_id}/reject",
    response_model=ProposalOut,
    dependencies=[REVIEWERS],
    summary="reject a proposal with a note (kept)",
    responses=REVIEW_ERRORS,
)
def reject_proposal(
    proposal_id: ProposalId, body: RejectIn, session: SessionDep, user: UserDep
) -> ProposalOut:
    return service.reject(session, user, proposal_id, body)
