"""Forgeries of a genuine bundle that the offline verifier must refuse, named: JSON
that reads one way to this verifier and another to a different parser, numbers that do
not fit the log's integers, and witness policies met by fewer distinct keys than asked."""

from __future__ import annotations

import json

import psycopg
import pytest

from projections.audit import bundle
from projections.audit.bundle_verify import Policy, verify_bundle
from projections.audit.note import (
    Signature,
    parse_private_key_string,
    parse_signature_line,
    split_note,
)
from projections.audit.signer import LogSigner
from projections.audit.tlog_cosignature import CosignatureVerifier, CosignerKey, cosign
from tests.integration.test_verify import KEY, POLICY, logged, signer  # noqa: F401


@pytest.fixture
def genuine(logged: list, db: psycopg.Connection, signer: LogSigner) -> list[str]:  # noqa: F811
    lines = list(bundle.export(db, signer, logged[4][0], logged[9][0]))
    assert verify_bundle(lines, POLICY).ok
    return lines


def _problem(lines: list[str], policy: Policy = POLICY) -> str:
    report = verify_bundle(lines, policy)
    assert not report.ok, report.verified
    return report.problems[0]


def test_a_key_named_twice_in_a_line_is_refused(genuine: list[str]) -> None:
    # a first-wins reader would see the forged topic; this verifier hashes the last one
    forged = '{"topic": "Forged:MemberRegistered", ' + genuine[2][1:]
    assert _problem([*genuine[:2], forged, *genuine[3:]]) == (
        "line 3: a JSON object names topic twice"
    )
    header = '{"from": 0, ' + genuine[0][1:]
    assert _problem([header, *genuine[1:]]) == "the header: a JSON object names from twice"


@pytest.mark.parametrize("field", ["position", "version", "leaf_index"])
def test_an_integer_past_a_bigint_is_refused_by_name(genuine: list[str], field: str) -> None:
    record = json.loads(genuine[2])
    record[field] += 2**64
    lines = [*genuine[:2], json.dumps(record), *genuine[3:]]
    assert _problem(lines) == (
        f"line 3 is not a leaf record ({field} is not an integer in [0, 2^63 - 1])"
    )


def test_an_aggregate_id_in_another_spelling_is_refused(genuine: list[str]) -> None:
    record = json.loads(genuine[2])
    record["aggregate_id"] = "{" + record["aggregate_id"].upper() + "}"
    lines = [*genuine[:2], json.dumps(record), *genuine[3:]]
    assert _problem(lines) == "line 3: the aggregate_id is not in canonical UUID form"


def test_a_state_that_is_not_text_is_refused(genuine: list[str]) -> None:
    record = json.loads(genuine[2]) | {"state": 12345678}
    lines = [*genuine[:2], json.dumps(record), *genuine[3:]]
    assert _problem(lines) == "line 3: aggregate_id, topic and state must be text"


def test_a_bundle_that_is_not_utf8_is_refused(genuine: list[str], tmp_path) -> None:
    path = tmp_path / "bundle.jsonl"
    path.write_bytes("\n".join(genuine).encode() + b'\n{"topic": "\xff"}\n')
    with path.open(encoding="utf-8") as lines:
        report = verify_bundle(lines, POLICY)
    assert report.problems == ["the bundle is not UTF-8 text"]


def _cosigned(genuine: list[str], *lines: str) -> list[str]:
    header = json.loads(genuine[0])
    header["checkpoint"] += "".join(lines)
    return [json.dumps(header), *genuine[1:]]


def _body(genuine: list[str]) -> str:
    return split_note(json.loads(genuine[0])["checkpoint"].encode())[0]


def test_one_witness_key_under_two_names_counts_once(genuine: list[str]) -> None:
    w1 = CosignerKey.generate("w1.example")
    line = cosign(_body(genuine), w1, 1_700_000_000)
    # a cosignature signs no name: the same bytes verify under any name for that key
    alias = CosignatureVerifier("w1-alias.example", w1.verifier().public_key)
    raw = parse_signature_line(line[:-1]).signature
    aliased = Signature(alias.name, alias.key_id, raw).line
    lines = _cosigned(genuine, line, aliased)
    policy = Policy(KEY.verifier(), [w1.verifier(), alias], 2)
    assert _problem(lines, policy) == (
        "the checkpoint of size 19 is cosigned by 1 of the trusted witnesses,"
        " fewer than the 2 required"
    )
    assert verify_bundle(lines, Policy(KEY.verifier(), [w1.verifier(), alias], 1)).ok


def test_the_logs_own_key_is_no_witness(genuine: list[str]) -> None:
    seed = parse_private_key_string(KEY.skey(), KEY.sig_type)[2]
    own = CosignerKey("test.example/witness", seed)  # the log operator's own key
    assert own.verifier().public_key == KEY.verifier().public_key
    lines = _cosigned(genuine, cosign(_body(genuine), own, 1_700_000_000))
    assert _problem(lines, Policy(KEY.verifier(), [own.verifier()], 1)) == (
        "the checkpoint of size 19 is cosigned by 0 of the trusted witnesses,"
        " fewer than the 1 required"
    )
