"""Organisations and user accounts (prefecture office admins)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, status
from sqlmodel import select

from api.deps import PageDep, SessionDep, page_body, paginate, require
from api.models import Organisation, User
from api.schemas.users import OrganisationIn, OrganisationOut, UserIn, UserOut
from api.services.users import create_organisation, create_user

router = APIRouter(tags=["accounts"], dependencies=[require("admin")])


@router.post(
    "/organisations",
    response_model=OrganisationOut,
    status_code=status.HTTP_201_CREATED,
    summary="create an organisation",
)
def new_organisation(body: OrganisationIn, session: SessionDep) -> Any:
    return create_organisation(session, **body.model_dump())


@router.get("/organisations", summary="list organisations")
def list_organisations(session: SessionDep, page: PageDep) -> dict[str, Any]:
    items, total = paginate(session, select(Organisation), Organisation, page, ("id", "name"))
    return page_body([OrganisationOut.model_validate(o) for o in items], total, page)


@router.post(
    "/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="create a user"
)
def new_user(body: UserIn, session: SessionDep) -> Any:
    return create_user(session, **body.model_dump())


@router.get("/users", summary="list users")
def list_users(session: SessionDep, page: PageDep) -> dict[str, Any]:
    items, total = paginate(session, select(User), User, page, ("id", "username", "role"))
    return page_body([UserOut.model_validate(u) for u in items], total, page)
