"""Sign-in (OAuth2 password flow), the signed-in user's own account: profile, password,
and the optional TOTP second factor."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request
from fastapi.security import OAuth2PasswordRequestForm

from api.core.config import Settings
from api.deps import SessionDep, SettingsDep, ThrottleDep, UserDep, client_address
from api.models import User
from api.schemas.users import (
    MeUpdate,
    PasswordChange,
    Token,
    TotpCode,
    TotpEnrolmentOut,
    UserOut,
)
from api.services import users as accounts

router = APIRouter(tags=["auth"])


def _refused(e: accounts.SignInRefused) -> HTTPException:
    headers = {**e.headers, **({"WWW-Authenticate": "Bearer"} if e.status_code == 401 else {})}
    return HTTPException(e.status_code, detail=e.detail, headers=headers or None)


@router.post(
    "/auth/token",
    response_model=Token,
    summary="sign in, get an access token",
    responses={
        401: {"description": "wrong username or password, or a one-time code is needed"},
        429: {"description": "too many failures: wait Retry-After seconds (or be unlocked)"},
    },
)
def token(
    request: Request,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
    totp: Annotated[
        str | None,
        Form(max_length=16, description="the one-time code, for accounts with TOTP on"),
    ] = None,
) -> Any:
    try:
        user = accounts.sign_in(
            session,
            throttle,
            username=form.username,
            password=form.password,
            address=client_address(request),
            totp=totp,
        )
    except accounts.SignInRefused as e:
        raise _refused(e) from None
    return _token_for(user, settings)


def _token_for(user: User, settings: Settings) -> Token:
    return Token(
        access_token=accounts.access_token(user, settings),
        expires_in=settings.token_minutes * 60,
        must_change_password=user.must_change_password,
    )


@router.get("/me", response_model=UserOut, summary="the signed-in user")
def me(user: UserDep) -> Any:
    return user


@router.patch("/me", response_model=UserOut, summary="change your display name or phone")
def update_me(body: MeUpdate, user: UserDep, session: SessionDep) -> Any:
    return accounts.update_user(
        session, actor=user, user=user, changes=body.model_dump(exclude_unset=True)
    )


@router.post(
    "/me/password",
    response_model=Token,
    summary="change your password (every other token of yours stops working)",
    responses={429: {"description": "too many wrong current passwords"}},
)
def change_password(
    request: Request,
    body: PasswordChange,
    user: UserDep,
    session: SessionDep,
    settings: SettingsDep,
    throttle: ThrottleDep,
) -> Any:
    try:
        user = accounts.change_password(
            session,
            throttle,
            user=user,
            current=body.current_password,
            new=body.new_password,
            address=client_address(request),
        )
    except accounts.SignInRefused as e:
        raise _refused(e) from None
    return _token_for(user, settings)


@router.post(
    "/me/totp",
    response_model=TotpEnrolmentOut,
    summary="start the TOTP second factor: a secret for the authenticator app",
)
def begin_totp(user: UserDep, session: SessionDep) -> Any:
    enrolment = accounts.begin_totp(session, user=user)
    return TotpEnrolmentOut(secret=enrolment.secret, otpauth_uri=enrolment.uri)


@router.post(
    "/me/totp/confirm", response_model=UserOut, summary="turn TOTP on with a code from the app"
)
def confirm_totp(body: TotpCode, user: UserDep, session: SessionDep) -> Any:
    return accounts.confirm_totp(session, user=user, code=body.code)


@router.post("/me/totp/disable", response_model=UserOut, summary="turn TOTP off (with a code)")
def disable_totp(body: TotpCode, user: UserDep, session: SessionDep) -> Any:
    return accounts.disable_totp(session, user=user, code=body.code)
