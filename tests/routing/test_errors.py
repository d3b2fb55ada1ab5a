"""Errors cross process boundaries intact (defect 11: a planning failure in a worker process
surfaced as BrokenProcessPool because InputError could not be unpickled)."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor

import pytest

from routing.errors import InputError, NotFoundError


@pytest.mark.parametrize("cls", [InputError, NotFoundError])
def test_errors_round_trip_through_pickle(cls: type[InputError]) -> None:
    err = pickle.loads(pickle.dumps(cls("vehicles[3].owner", "unknown party 'XYZ'")))
    assert type(err) is cls
    assert (err.field, err.reason) == ("vehicles[3].owner", "unknown party 'XYZ'")
    assert str(err) == "vehicles[3].owner: unknown party 'XYZ'"


def _fail(field: str) -> None:
    raise InputError(field, "refused in a worker process")


def test_error_raised_in_a_worker_process_reaches_the_parent() -> None:
    with ProcessPoolExecutor(max_workers=1) as pool, pytest.raises(InputError) as info:
        pool.submit(_fail, "orders[7].party").result()
    assert info.value.field == "orders[7].party"
