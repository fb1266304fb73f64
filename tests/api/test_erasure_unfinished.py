"""An erasure recorded whose data key was not shredded (the process stopped between the
two, review of issue 16): no receipt is signed for it, saying so, until an erasure
again finishes it; then the receipt is signed as usual."""

from __future__ import annotations

import base64

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from api.http.routes.privacy import canonical
from api.runtime.database import library_env
from domain.application import Governance
from domain.commands.base import Meta
from domain.context import Actor
from tests.api.conftest import Api

BASIS = "PIPL Art. 47(1): request 2026-207"


def test_no_receipt_is_signed_while_the_erased_members_key_still_exists(
    api: Api, tree: dict[str, str]
) -> None:
    member = api.member(tree["grid"], phone="13911112222")
    # A Governance without the key store records the erasure and cannot shred: the
    # state an erasure interrupted between its event and its shredding leaves.
    unsealed = Governance(env=library_env(api.url), clock=api.clock)
    try:
        unsealed.erase_member(Meta(actor=Actor("admin-1", "admin")), member, legal_basis=BASIS)
    finally:
        unsealed.close()
    refused = api.get(f"/v1/audit/erasures/{member}", role="auditor")
    assert refused.status_code == 409
    assert refused.json()["rule"] == "erasure.unfinished"
    again = api.post(f"/v1/members/{member}/erasure", {"legal_basis": BASIS})
    assert again.status_code == 409 and again.json()["rule"] == "member.erased"
    signed = api.get(f"/v1/audit/erasures/{member}", role="auditor")
    assert signed.status_code == 200
    public = api.get("/v1/audit/public-key", role="auditor").json()
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public["public_key"]))
    body = signed.json()
    key.verify(base64.b64decode(body["signature"]), canonical(body["receipt"]))
    assert body["receipt"]["legal_basis"] == BASIS and body["receipt"]["affected_positions"]
