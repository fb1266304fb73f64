"""Idempotency records: ids that two actors' keys cannot share, and records saved under
the old ids (actor and key joined with "/") still found for their own actor only."""

from __future__ import annotations

from dataclasses import replace
from uuid import uuid4

import pytest

from domain.application import Governance
from domain.commands.base import KEYED, CommandResult, Meta, _fingerprint
from domain.context import Actor, acting
from domain.errors import IdempotencyKeyReusedError
from domain.idempotency import IdempotencyRecord
from tests.writeside import max_position


def test_keys_that_joined_alike_under_the_old_ids_no_longer_collide() -> None:
    assert IdempotencyRecord.id_for("a/b", "c") != IdempotencyRecord.id_for("a", "b/c")
    old_a, old_b = (IdempotencyRecord.ids_for(*pair)[1] for pair in (("a/b", "c"), ("a", "b/c")))
    assert old_a == old_b  # what the old scheme did


def test_two_actors_whose_keys_joined_alike_each_get_their_own_answer(
    governance: Governance,
) -> None:
    first = Meta(actor=Actor("staff:a/b", "admin"), idempotency_key="c")
    second = Meta(actor=Actor("staff:a", "admin"), idempotency_key="b/c")
    one = governance.register_organisation(first, name="物业公司")
    other = governance.register_organisation(second, name="物业公司")
    assert one.id != other.id
    assert governance.register_organisation(first, name="物业公司") == one
    assert governance.register_organisation(second, name="物业公司") == other


def test_a_record_saved_under_the_old_id_still_answers_its_own_actor_only(
    governance: Governance, admin: Meta
) -> None:
    actor, key = "staff:le/gacy", f"k-{uuid4()}"
    keyed = Meta(actor=Actor(actor, "admin"), idempotency_key=key)
    made = governance.register_organisation(replace(admin, idempotency_key=None), name="银行")
    _save_legacy(governance, keyed, _fingerprint_of(governance, keyed), made)
    before = max_position(governance)
    again = governance.register_organisation(keyed, name="银行")
    assert (again.id, again.version) == (made.id, made.version)  # deduplicated across the upgrade
    assert max_position(governance) == before
    # another actor whose key met that one under the old ids gets an answer of its own
    other = Meta(actor=Actor("staff:le", "admin"), idempotency_key=f"gacy/{key}")
    assert (
        IdempotencyRecord.ids_for("staff:le", f"gacy/{key}")[1]
        == (IdempotencyRecord.ids_for(actor, key)[1])
    )
    assert governance.register_organisation(other, name="银行").id != made.id


def _save_legacy(governance: Governance, meta: Meta, fingerprint: str, made: CommandResult) -> None:
    """Save a record as the old code did: under the id of actor and key joined by "/"."""
    actor, key = meta.actor.id, str(meta.idempotency_key)
    with acting(meta.actor, now=governance.clock()):
        record = IdempotencyRecord._create(
            IdempotencyRecord.Used,
            id=IdempotencyRecord.ids_for(actor, key)[1],
            actor_id=actor,
            key=key,
            fingerprint=fingerprint,
            result_id=made.id,
            result_version=made.version,
            extra={},
        )
    governance.save(record)


def _fingerprint_of(governance: Governance, meta: Meta) -> str:
    """The fingerprint the command computes for this body (read back from a record it
    saves under another key)."""
    probe = replace(meta, idempotency_key=f"probe-{uuid4()}")
    governance.register_organisation(probe, name="银行")
    new_id = IdempotencyRecord.ids_for(meta.actor.id, str(probe.idempotency_key))[0]
    found: IdempotencyRecord = governance.repository.get(new_id)
    return str(found.fingerprint)


def test_a_registrations_fingerprint_is_keyed_so_guessing_name_and_phone_confirms_nothing(
    governance: Governance, admin: Meta, tree: dict[str, str]
) -> None:
    args = {"name": "指纹测试", "phone": "13700137000", "kind": "resident",
            "party_member": False, "home_grid": tree["grid"]}  # fmt: skip
    meta = replace(admin, idempotency_key=f"reg-{uuid4()}")
    made = governance.register_member(meta, **args)
    record_id = IdempotencyRecord.ids_for(admin.actor.id, str(meta.idempotency_key))[0]
    stored = str(governance.repository.get(record_id).fingerprint)
    assert stored.startswith(KEYED)
    assert _fingerprint("register_member", args) not in stored  # a guess confirms nothing
    before = max_position(governance)
    assert governance.register_member(meta, **args) == made  # still answered again
    assert max_position(governance) == before


def test_a_record_with_a_plain_sha256_fingerprint_still_answers_its_own_request(
    governance: Governance, admin: Meta
) -> None:
    actor, key = "staff:before-hmac", f"k-{uuid4()}"
    meta = Meta(actor=Actor(actor, "admin"), idempotency_key=key)
    made = governance.register_organisation(replace(admin, idempotency_key=None), name="旧银行")
    _save_legacy(governance, meta, _fingerprint("register_organisation", {"name": "旧银行"}), made)
    again = governance.register_organisation(meta, name="旧银行")
    assert (again.id, again.version) == (made.id, made.version)
    with pytest.raises(IdempotencyKeyReusedError):
        governance.register_organisation(meta, name="另一家银行")
