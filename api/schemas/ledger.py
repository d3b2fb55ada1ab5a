"""Bodies of the settlement resources: accounts, ledger entries and their states, and a
plan's shared-route settlement."""

from __future__ import annotations

from datetime import date
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from api.schemas.common import Moment, Text
from api.services.ledger import MAX_FEN


class AccountOut(BaseModel):
    id: int
    name: str
    org_id: int | None
    org_name: str | None
    party_id: str | None
    balance_fen: int = Field(description="credits minus debits: positive when owed money")
    created_at: Moment | None


class EntryIn(BaseModel):
    debit_account_id: int = Field(ge=1, le=2**31 - 1, description="the account that pays")
    credit_account_id: int = Field(ge=1, le=2**31 - 1, description="the account that is paid")
    amount_fen: int = Field(gt=0, le=MAX_FEN)
    memo: Text = Field(min_length=1, max_length=500, description="why (an adjustment's reason)")
    ref_type: Text | None = Field(default=None, max_length=64)
    ref_id: Text | None = Field(default=None, max_length=64)

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "debit_account_id": 2,
                    "credit_account_id": 1,
                    "amount_fen": 12000,
                    "memo": "9月 平台服务费 platform fee, September",
                }
            ]
        }
    )


class StateIn(BaseModel):
    state: Literal["confirmed", "settled", "disputed"]
    note: Text = Field(default="", max_length=500)

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"state": "disputed", "note": "2 件未送达"}]}
    )


class ReverseIn(BaseModel):
    memo: Text = Field(min_length=1, max_length=500, description="why it is reversed")

    model_config = ConfigDict(json_schema_extra={"examples": [{"memo": "重复记账 duplicate"}]})


class StateOut(BaseModel):
    state: str
    note: str
    by_user: int | None
    at: Moment | None


class EntryOut(BaseModel):
    id: int
    debit_account_id: int
    debit_account: str = Field(description="the paying account's code (org:12, party:YTO)")
    debit_account_name: str = Field(description="the payer's name (its organisation's)")
    credit_account_id: int
    credit_account: str = Field(description="the paid account's code")
    credit_account_name: str = Field(description="the payee's name (its organisation's)")
    amount_fen: int
    service_date: date = Field(
        description="the day of the service paid for (the plan's date, the cargo's pickup "
        "day, the lease's first day; a reversal's is its original's), Asia/Shanghai"
    )
    kind: str
    ref_type: str | None
    ref_id: str | None
    reverses_id: int | None
    reversed_by: int | None = None
    memo: str
    state: str
    created_by: int | None
    created_at: Moment | None = Field(description="when it was recorded")
    history: list[StateOut] | None = None


class SettleOut(BaseModel):
    plan_id: int
    created: int = Field(description="entries recorded by this call (0 on a repeat)")
    total_fen: int = Field(description="the plan's shares charged")
    entries: list[EntryOut]
    reversed_fen: int = Field(
        default=0, description="the shares of the plans it supersedes, reversed"
    )
    reversals: list[EntryOut] = Field(
        default_factory=list,
        description="the reversals of the superseded plans' share entries (a replan)",
    )
