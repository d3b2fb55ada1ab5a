"""``Idempotency-Key`` for any POST: a retry gets the first attempt's answer, never a
second effect, even when the retries arrive all at once.

:func:`once` records the key, with a hash of the request (:func:`request_hash`: method,
path, body and caller), as the *first* write of the transaction that does the work, and
stores the answer (status and JSON body) in that same transaction. The unique
``(scope, key)`` of ``idempotency_keys`` lets the database serialise concurrent retries:
on PostgreSQL a second insert of the same key waits until the first transaction ends; if
that committed, the insert conflicts and the retry reads the stored answer and replays it
(same status, same body); if it rolled back (the request failed), the retry runs as a
first attempt. SQLite serialises writers anyway.

A failed attempt (a domain error, bad input) stores nothing: the key stays free and a
retry runs the request again. A key belongs to its caller (``scope``, "user:<id>"):
another user's same key is their own and never replays someone else's answer. The same
key with a different request is refused: :class:`~routing.errors.InputError` naming the
``Idempotency-Key`` header (422).

Use::

    answer = once(session, scope=scope_of(user.id), key=key, request_hash=h,
                  work=lambda: (201, body_of(do_it(session))))  # writes, does not commit

``work`` must not commit (anything it needs committed beforehand, e.g. an account
created on first use, is done before :func:`once`); :func:`once` commits or rolls back.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from api.errors import Conflict
from api.models import IdempotencyRecord, now
from routing.errors import InputError

HEADER = "Idempotency-Key"
_ATTEMPTS = 5  # claims tried when the key's holder lets go of it in between


@dataclass(frozen=True)
class Answer:
    """What a request answered: HTTP status and JSON body; ``replayed`` for a retry."""

    status_code: int
    body: Any
    replayed: bool = False


def scope_of(user_id: int | None) -> str:
    """Whose keys: each user has their own."""
    return f"user:{user_id}" if user_id is not None else "anonymous"


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def as_json(body: Any) -> Any:
    """The body as plain JSON values (times in ISO 8601), exactly as stored and replayed."""
    return json.loads(json.dumps(body, default=_plain, ensure_ascii=False))


def request_hash(*, method: str, path: str, body: Any, caller: str) -> str:
    """sha256 of the request: method, path, (canonical JSON) body and caller."""
    canonical = json.dumps(
        [method.upper(), path, body, caller],
        default=_plain,
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def stored(session: Session, scope: str, key: str) -> IdempotencyRecord | None:
    return session.exec(
        select(IdempotencyRecord)
        .where(IdempotencyRecord.scope == scope, IdempotencyRecord.key == key)
        .execution_options(populate_existing=True)
    ).first()


def _replay(record: IdempotencyRecord, request_hash: str) -> Answer:
    if record.request_hash != request_hash:
        raise InputError(
            HEADER,
            "this Idempotency-Key was used for a different request; "
            "send a new key for a new request",
        )
    if record.status_code is None:  # never committed so by once(); a record made otherwise
        raise Conflict("a request with this Idempotency-Key is still being processed; retry")
    return Answer(int(record.status_code), record.response, replayed=True)


def once(
    session: Session,
    *,
    scope: str,
    key: str,
    request_hash: str,
    work: Callable[[], tuple[int, Any]],
) -> Answer:
    """Run ``work`` once per ``(scope, key)``; a retry (concurrent or later) replays the
    stored answer. See the module docstring."""
    for _ in range(_ATTEMPTS):
        record = IdempotencyRecord(
            scope=scope, key=key, request_hash=request_hash, created_at=now()
        )
        session.add(record)
        try:
            session.flush()  # the first write: waits here while another request holds the key
        except IntegrityError:
            session.rollback()
            earlier = stored(session, scope, key)
            if earlier is None:  # its holder let go of it in between: claim it again
                continue
            return _replay(earlier, request_hash)
        break
    else:
        raise Conflict("this Idempotency-Key is busy; retry")
    try:
        status_code, body = work()
        body = as_json(body)
        record.status_code = status_code
        record.response = body
        session.add(record)
        session.commit()  # the work, the key and its answer: all or nothing
    except BaseException:
        session.rollback()  # the key is free again
        raise
    return Answer(status_code, body)


def perhaps_once(
    session: Session,
    *,
    scope: str,
    key: str | None,
    request_hash: str,
    work: Callable[[], tuple[int, Any]],
) -> Answer:
    """:func:`once` when the request carries a key; otherwise ``work`` once, committed."""
    if key is not None:
        return once(session, scope=scope, key=key, request_hash=request_hash, work=work)
    try:
        status_code, body = work()
        body = as_json(body)
        session.commit()
    except BaseException:
        session.rollback()
        raise
    return Answer(status_code, body)
