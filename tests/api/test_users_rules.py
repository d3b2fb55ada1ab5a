"""Organisation and user rules (defect 12): an organisation's party must be one the planner
knows, and a dispatcher cannot sit inside a carrier firm or another county's hub."""

from __future__ import annotations

import pytest
from sqlmodel import Session

from api.services.users import create_organisation, create_user
from routing.errors import InputError

PASSWORD = "correct horse battery"


def test_unknown_party_is_refused(session: Session) -> None:
    with pytest.raises(InputError) as info:
        create_organisation(session, name="假快递", kind="carrier", party_id="NOPE")
    assert info.value.field == "party_id"
    assert create_organisation(session, name="圆通速递", kind="carrier", party_id="YTO").id


def test_dispatcher_only_in_the_office_or_their_county_hub(session: Session) -> None:
    firm = create_organisation(session, name="申通快递", kind="carrier", party_id="STO")
    hub = create_organisation(
        session, name="武定县物流中心", kind="county_hub", county_code="532329"
    )
    for org_id, county in ((firm.id, "532329"), (hub.id, "532326")):
        with pytest.raises(InputError) as info:
            create_user(
                session,
                username=f"d{org_id}{county}",
                password=PASSWORD,
                role="dispatcher",
                org_id=org_id,
                county_code=county,
            )
        assert info.value.field == "org_id"
    ok = create_user(
        session,
        username="wuding",
        password=PASSWORD,
        role="dispatcher",
        org_id=hub.id,
        county_code="532329",
    )
    assert ok.id is not None
