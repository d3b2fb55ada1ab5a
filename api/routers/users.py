"""Organisations and user accounts (prefecture office admins): create, change, reset a
password, deactivate and reactivate, lift a sign-in lockout."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, status
from sqlmodel import Session, select

from api.deps import Id, PageDep, SessionDep, ThrottleDep, page_body, paginate, require
from api.models import Organisation, User
from api.schemas.users import (
    OrganisationIn,
    OrganisationOut,
    PasswordReset,
    PasswordResetOut,
    Role,
    UserAdminOut,
    UserIn,
    UserOut,
    UserUpdate,
)
from api.services import users as accounts
from api.services.throttle import Throttle

router = APIRouter(tags=["accounts"])
Admin = Annotated[User, require("admin")]


@router.post(
    "/organisations",
    response_model=OrganisationOut,
    status_code=status.HTTP_201_CREATED,
    summary="create an organisation",
)
def new_organisation(body: OrganisationIn, session: SessionDep, admin: Admin) -> Any:
    return accounts.create_organisation(session, **body.model_dump())


@router.get("/organisations", summary="list organisations")
def list_organisations(session: SessionDep, page: PageDep, admin: Admin) -> dict[str, Any]:
    items, total = paginate(session, select(Organisation), Organisation, page, ("id", "name"))
    return page_body([OrganisationOut.model_validate(o) for o in items], total, page)


@router.post(
    "/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="create a user"
)
def new_user(body: UserIn, session: SessionDep, admin: Admin) -> Any:
    return accounts.create_user(session, **body.model_dump(), actor=admin)


def _admin_view(user: User, throttle: Throttle) -> UserAdminOut:
    out = UserAdminOut.model_validate(user)
    out.locked_for_s = throttle.locked_for(user.username)
    return out


@router.get("/users", summary="list users")
def list_users(
    session: SessionDep,
    page: PageDep,
    throttle: ThrottleDep,
    admin: Admin,
    role: Annotated[Role | None, Query(description="only this role")] = None,
    active: Annotated[bool | None, Query(description="only active (or inactive) accounts")] = None,
) -> dict[str, Any]:
    query = select(User)
    if role is not None:
        query = query.where(User.role == role)
    if active is not None:
        query = query.where(User.active == active)
    items, total = paginate(session, query, User, page, ("id", "username", "role"))
    return page_body([_admin_view(u, throttle) for u in items], total, page)


def _user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no user {user_id}")
    return user


@router.get("/users/{user_id}", response_model=UserAdminOut, summary="one account")
def get_user(user_id: Id, session: SessionDep, throttle: ThrottleDep, admin: Admin) -> Any:
    return _admin_view(_user(session, user_id), throttle)


@router.patch(
    "/users/{user_id}",
    response_model=UserAdminOut,
    summary="change an account's name, phone, role, county or organisation",
)
def update_user(
    user_id: Id, body: UserUpdate, session: SessionDep, throttle: ThrottleDep, admin: Admin
) -> Any:
    user = accounts.update_user(
        session,
        actor=admin,
        user=_user(session, user_id),
        changes=body.model_dump(exclude_unset=True),
    )
    return _admin_view(user, throttle)


@router.post(
    "/users/{user_id}/password-reset",
    response_model=PasswordResetOut,
    summary="reset a password: the user must choose a new one at the next sign-in",
)
def reset_password(
    user_id: Id, body: PasswordReset, session: SessionDep, admin: Admin
) -> PasswordResetOut:
    user = _user(session, user_id)
    password = accounts.reset_password(
        session, actor=admin, user=user, new=body.new_password, clear_totp=body.clear_totp
    )
    return PasswordResetOut(
        user=UserOut.model_validate(user),
        temporary_password=password if body.new_password is None else None,
    )


@router.post(
    "/users/{user_id}/deactivate",
    response_model=UserAdminOut,
    summary="deactivate an account (its tokens stop working at once)",
)
def deactivate(user_id: Id, session: SessionDep, throttle: ThrottleDep, admin: Admin) -> Any:
    user = accounts.set_active(session, actor=admin, user=_user(session, user_id), active=False)
    return _admin_view(user, throttle)


@router.post("/users/{user_id}/reactivate", response_model=UserAdminOut, summary="reactivate")
def reactivate(user_id: Id, session: SessionDep, throttle: ThrottleDep, admin: Admin) -> Any:
    user = accounts.set_active(session, actor=admin, user=_user(session, user_id), active=True)
    return _admin_view(user, throttle)


@router.post(
    "/users/{user_id}/unlock",
    response_model=UserAdminOut,
    summary="lift the account's sign-in lockout",
)
def unlock(user_id: Id, session: SessionDep, throttle: ThrottleDep, admin: Admin) -> Any:
    user = _user(session, user_id)
    accounts.unlock(session, throttle, actor=admin, user=user)
    return _admin_view(user, throttle)
