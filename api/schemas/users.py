"""Request and response bodies shared by several resources."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment
from api.services.passwords import MAX_LENGTH, MIN_LENGTH

Role = Literal["admin", "dispatcher", "courier", "carrier"]
OrgKind = Literal["prefecture", "county_hub", "carrier", "cooperative"]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds until the token expires")
    must_change_password: bool = Field(
        default=False,
        description="after an admin's reset: only POST /me/password works until it is changed",
    )


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: str
    org_id: int | None
    county_code: str | None
    active: bool
    display_name: str = ""
    phone: str | None = None
    password_changed_at: Moment | None = None
    must_change_password: bool = False
    totp_enabled: bool = False


class UserAdminOut(UserOut):
    """An account as admins see it: with its sign-in lockout."""

    locked_for_s: int | None = Field(
        default=None, description="seconds the sign-in lockout still lasts (None: not locked)"
    )


DisplayName = Annotated[str, Field(max_length=64, description="shown instead of the username")]
Phone = Annotated[
    str | None,
    Field(
        max_length=20,
        pattern=r"^(\+86[ -]?)?(1[3-9]\d{9}|0\d{2,3}-?\d{7,8})$",
        description="a mainland mobile (13812345678) or a landline (0878-3123456)",
    ),
]
PasswordText = Annotated[
    str,
    Field(
        min_length=MIN_LENGTH,
        max_length=MAX_LENGTH,
        description=f"at least {MIN_LENGTH} characters, not a common password",
    ),
]


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: PasswordText
    role: Role
    org_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    county_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="a dispatcher's county"
    )
    display_name: DisplayName = ""
    phone: Phone = None

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "username": "dayao.dispatch",
                    "password": "a long passphrase",
                    "role": "dispatcher",
                    "org_id": 2,
                    "county_code": "532326",
                }
            ]
        }
    )


class MeUpdate(BaseModel):
    """Your own profile (leave a field out to keep it)."""

    model_config = ConfigDict(extra="forbid")

    display_name: DisplayName | None = None
    phone: Phone = None


class UserUpdate(MeUpdate):
    """An admin's change of an account (leave a field out to keep it). A role change
    signs the account out everywhere."""

    role: Role | None = None
    org_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    county_code: str | None = Field(default=None, pattern=r"^\d{6}$")


class PasswordChange(BaseModel):
    current_password: str = Field(min_length=1, max_length=MAX_LENGTH)
    new_password: PasswordText


class PasswordReset(BaseModel):
    new_password: PasswordText | None = Field(
        default=None, description="leave out to get a generated temporary password"
    )
    clear_totp: bool = Field(default=False, description="also turn the second factor off")


class PasswordResetOut(BaseModel):
    user: UserOut
    temporary_password: str | None = Field(
        description="the generated password, shown this once (None when you chose one)"
    )


class TotpCode(BaseModel):
    code: str = Field(min_length=6, max_length=8, pattern=r"^\s*\d{3}\s?\d{3}\s*$")


class TotpEnrolmentOut(BaseModel):
    secret: str = Field(description="base32, for typing into the authenticator app")
    otpauth_uri: str = Field(description="the same as an otpauth:// URI (for a QR code)")


class OrganisationIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    kind: OrgKind
    county_code: str | None = Field(default=None, pattern=r"^\d{6}$")
    party_id: str | None = Field(default=None, max_length=64)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"name": "中通快递大姚网点", "kind": "carrier", "party_id": "ZTO"}]
        }
    )


class OrganisationOut(OrganisationIn):
    model_config = ConfigDict(from_attributes=True)

    id: int
    created_at: Moment | None = None
