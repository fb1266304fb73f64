"""Points entries' ids: two sources whose parts joined with "/" read alike each earn
their own entry; an entry recorded under the old ("/"-joined) id is still found, and
its source still refused a second time."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import pytest

from domain.points_entry import EntryKey
from tests.api.conftest import Api, unique

STAFF = {"role": "community_staff", "sub": "staff:ids", "scope": "HG-WH-BH"}


def _award(api: Api, member: str, community: str, code: str, kind: str, id: str) -> Any:
    body = {"member_id": member, "community": community, "rule_code": code,
            "source": {"kind": kind, "id": id}}  # fmt: skip
    return api.post("/v1/points/awards", body, **STAFF)


def _rule(api: Api, community: str) -> str:
    code = unique("deed")
    body = {"description": code, "points": 5, "kind": "award"}
    api.ok("PUT", f"/v1/jurisdictions/{community}/rulebook/rules/{code}", body)
    return code


def test_two_sources_that_joined_alike_each_earn_their_own_entry(
    api: Api, tree: dict[str, str]
) -> None:
    community, member = tree["community"], api.member(tree["grid"])
    code = _rule(api, community)
    m = UUID(member)
    old = EntryKey.legacy_for_source
    assert old(community, m, "photo/a", "b", code) == old(community, m, "photo", "a/b", code)
    first = _award(api, member, community, code, "photo/a", "b")
    second = _award(api, member, community, code, "photo", "a/b")
    assert (first.status_code, second.status_code) == (201, 201), second.text
    assert first.json()["entry_id"] != second.json()["entry_id"]
    assert first.json()["entry_id"] == str(EntryKey.for_source(community, m, "photo/a", "b", code))
    again = _award(api, member, community, code, "photo", "a/b")
    assert again.status_code == 409 and again.json()["rule"] == "points.source_once"
    account = api.read(f"/v1/points/accounts/{member}", second.json()["position"])
    assert account["balance"] == 10


def test_an_entry_recorded_under_the_old_id_is_found_and_its_source_used(
    api: Api, tree: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    community, member = tree["community"], api.member(tree["grid"])
    code = _rule(api, community)
    m = UUID(member)
    # the code before this change: the entry id of the parts joined with "/"
    with monkeypatch.context() as before:
        before.setattr(EntryKey, "for_source", EntryKey.legacy_for_source)
        recorded = _award(api, member, community, code, "inspection", "2026-03-01/3-2-501")
    assert recorded.status_code == 201, recorded.text
    legacy = str(EntryKey.legacy_for_source(community, m, "inspection", "2026-03-01/3-2-501", code))
    assert recorded.json()["entry_id"] == legacy
    assert api.read(f"/v1/points/entries/{legacy}", recorded.json()["position"])["points"] == 5
    events = api.events()
    again = _award(api, member, community, code, "inspection", "2026-03-01/3-2-501")
    assert again.status_code == 409 and again.json()["rule"] == "points.source_once"
    assert api.events() == events
    # a source whose old id met that one's is not a repeat of it
    other = _award(api, member, community, code, "inspection/2026-03-01", "3-2-501")
    assert other.status_code == 201, other.text
    assert other.json()["entry_id"] not in (legacy, recorded.json()["entry_id"])
    assert api.read(f"/v1/points/accounts/{member}", other.json()["position"])["balance"] == 10
