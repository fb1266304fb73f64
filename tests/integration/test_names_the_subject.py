"""The legal basis of an erasure and the reason of a read are kept in clear in the log
for good (review of issue 16): one that holds the person's own name or phone is refused,
and nothing is recorded."""

from __future__ import annotations

import pytest

from domain.application import Governance
from domain.commands.base import Meta
from domain.errors import NamesTheSubjectError
from tests.writeside import max_position

NAME, PHONE = "赵六测试", "13612345678"


@pytest.fixture
def member(governance: Governance, admin: Meta, tree: dict[str, str]) -> str:
    return str(
        governance.register_member(
            admin, name=NAME, phone=PHONE, kind="resident", party_member=False,
            home_grid=tree["grid"],
        ).id
    )  # fmt: skip


@pytest.mark.parametrize(
    "text",
    [f"PIPL Art. 47: {NAME} withdrew consent", "requested by phone 136 1234 5678", PHONE],
)
def test_a_legal_basis_or_reason_naming_the_person_is_refused_and_records_nothing(
    governance: Governance, admin: Meta, member: str, text: str
) -> None:
    before = max_position(governance)
    with pytest.raises(NamesTheSubjectError):
        governance.erase_member(admin, member, legal_basis=text)
    with pytest.raises(NamesTheSubjectError):
        governance.record_personal_data_read(admin, member, reason=text, fields=["phone"])
    assert max_position(governance) == before
    assert not governance.member(member).erased


def test_a_legal_basis_and_reason_that_name_no_one_are_recorded(
    governance: Governance, admin: Meta, member: str
) -> None:
    reason = "complaint 2026-12345: verify the contact"
    governance.record_personal_data_read(admin, member, reason=reason, fields=["phone"])
    governance.erase_member(admin, member, legal_basis="PIPL Art. 47(1): request 2026-118")
    assert governance.member(member).erased
