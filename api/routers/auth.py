"""Sign-in (OAuth2 password flow) and the signed-in user."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, status
from fastapi.security import OAuth2PasswordRequestForm

from api.core.security import issue_token
from api.deps import SessionDep, SettingsDep, UserDep
from api.schemas.users import Token, UserOut
from api.services.users import authenticate

router = APIRouter(tags=["auth"])


@router.post("/auth/token", response_model=Token, summary="sign in, get an access token")
def token(
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
    session: SessionDep,
    settings: SettingsDep,
) -> Any:
    user = authenticate(session, form.username, form.password)
    if user is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="wrong username or password",
            headers={"WWW-Authenticate": "Bearer"},
        )
    access = issue_token(str(user.id), settings.secret_key, settings.token_minutes, role=user.role)
    return Token(access_token=access, expires_in=settings.token_minutes * 60)


@router.get("/me", response_model=UserOut, summary="the signed-in user")
def me(user: UserDep) -> Any:
    return user
