"""Request and response bodies shared by several resources."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment

Role = Literal["admin", "dispatcher", "courier", "carrier"]
OrgKind = Literal["prefecture", "county_hub", "carrier", "cooperative"]


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int = Field(description="seconds until the token expires")


class UserOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    username: str
    role: str
    org_id: int | None
    county_code: str | None
    active: bool


class UserIn(BaseModel):
    username: str = Field(min_length=3, max_length=64, pattern=r"^[A-Za-z0-9_.@-]+$")
    password: str = Field(min_length=8, max_length=256)
    role: Role
    org_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    county_code: str | None = Field(
        default=None, pattern=r"^\d{6}$", description="a dispatcher's county"
    )

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
