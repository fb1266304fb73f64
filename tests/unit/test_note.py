"""Signed notes and note keys against published vectors, byte for byte, and forgeries.

Vectors (vectors.py, sources in NOTES.md): golang/mod sumdb/note note.go and note_test.go
(keys, texts, signatures, the key manglings, the Open cases) and C2SP signed-note.md.
"""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from projections.audit.note import (
    SIG_TYPE_COSIGNATURE_V1,
    SIG_TYPE_ED25519,
    AmbiguousKeyError,
    DuplicateSignatureError,
    Ed25519Signer,
    Ed25519Verifier,
    InvalidSignatureError,
    MalformedKeyError,
    MalformedNoteError,
    NoteError,
    Signature,
    UnverifiedNoteError,
    is_valid_key_name,
    key_id,
    open_note,
    parse_signature_line,
    sign_note,
    split_note,
)
from tests.unit.c2sp_vectors import (
    ENOCH_B64,
    ENOCH_SIG,
    ENOCH_VKEY,
    FOO_NOTE,
    FOO_VKEY,
    GO_SIGNED,
    GO_TEXT,
    PETER_B64,
    PETER_SIG,
    PETER_SKEY,
    PETER_VKEY,
    PLUS_VKEY,
    QUASIMODO_NOTE,
)


def peter() -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(PETER_VKEY)


def enoch() -> Ed25519Verifier:
    return Ed25519Verifier.from_vkey(ENOCH_VKEY)


# --- keys --------------------------------------------------------------------------------


def test_go_verifier_key_parses_and_round_trips():
    v = peter()
    assert (v.name, v.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert v.vkey() == PETER_VKEY
    assert enoch().key_id == 0xAF0CFE78 and enoch().vkey() == ENOCH_VKEY


def test_go_signer_key_parses_and_round_trips():
    s = Ed25519Signer.from_skey(PETER_SKEY)
    assert (s.name, s.key_id) == ("PeterNeumann", 0xC74F20A3)
    assert s.skey() == PETER_SKEY and s.vkey() == PETER_VKEY


def test_key_id_is_sha256_of_name_newline_type_key():
    pub = peter().public_key
    want = hashlib.sha256(b"PeterNeumann\n\x01" + pub).digest()[:4]
    assert key_id("PeterNeumann", SIG_TYPE_ED25519, pub).to_bytes(4, "big") == want
    assert key_id("PeterNeumann", SIG_TYPE_COSIGNATURE_V1, pub) != int.from_bytes(want, "big")


def _mangled(text: str) -> list[str]:
    """Every proper substring, and every one-byte increment (x/mod TestNewVerifier)."""
    raw = text.encode()
    out = [raw[i:j] for i in range(len(raw) + 1) for j in range(i + 1, len(raw) + 1)]
    out = [b for b in out if b != raw]
    for i in range(len(raw)):
        out.append(raw[:i] + bytes([(raw[i] + 1) % 256]) + raw[i + 1 :])
    return [b.decode("utf-8", "surrogateescape") for b in out]


def test_every_verifier_key_mangling_is_refused():
    for bad in _mangled(PETER_VKEY):
        with pytest.raises(MalformedKeyError):
            Ed25519Verifier.from_vkey(bad)
    wrong_length = "PeterNeumann+cc469956+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TWBADKEY=="
    unknown_alg = "PeterNeumann+173116ae+ZRpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
    for bad in (wrong_length, unknown_alg):
        with pytest.raises(MalformedKeyError):
            Ed25519Verifier.from_vkey(bad)


def test_every_signer_key_mangling_is_refused():
    for bad in _mangled(PETER_SKEY):
        with pytest.raises(MalformedKeyError):
            Ed25519Signer.from_skey(bad)


def test_verifier_key_whose_base64_contains_a_plus():
    assert Ed25519Verifier.from_vkey(PLUS_VKEY).vkey() == PLUS_VKEY


def test_uppercase_key_id_and_surrounding_whitespace_are_refused():
    # x/mod accepts upper-case hex (strconv.ParseUint); this module wants %08x exactly
    for bad in (PETER_VKEY.replace("c74f20a3", "C74F20A3"), PETER_VKEY + "\n", " " + PETER_VKEY):
        with pytest.raises(MalformedKeyError):
            Ed25519Verifier.from_vkey(bad)


@pytest.mark.parametrize(
    ("name", "ok"),
    [
        ("example.com/foo", True),
        ("PeterNeumann", True),
        ("例え.jp/ログ", True),
        ("", False),
        ("a b", False),
        ("a+b", False),
        ("a\tb", False),
        ("a\u00a0b", False),
        ("a\u2028b", False),
        ("a\u3000b", False),
        ("a\x01b", False),
        ("a\ud800b", False),
    ],
)
def test_key_name_rules(name, ok):
    assert is_valid_key_name(name) is ok


# --- signing and opening (x/mod TestSign, TestOpen) ---------------------------------------


def test_sign_reproduces_the_go_note_byte_for_byte():
    assert sign_note(GO_TEXT, [Ed25519Signer.from_skey(PETER_SKEY)]) == GO_SIGNED


def test_open_the_go_note():
    opened = open_note(GO_SIGNED, [peter()])
    assert opened.text == GO_TEXT
    assert [(s.name, s.key_id, s.line) for s in opened.verified] == [
        ("PeterNeumann", 0xC74F20A3, PETER_SIG)
    ]


def test_open_one_verified_one_unknown_then_both():
    msg = (GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()
    opened = open_note(msg, [peter()])
    assert [s.b64 for s in opened.verified] == [PETER_B64]
    assert [s.b64 for s in opened.unverified] == [ENOCH_B64]
    both = open_note(msg, [peter(), enoch()])
    assert [s.name for s in both.verified] == ["PeterNeumann", "EnochRoot"] and not both.unverified


def test_open_with_no_known_key_is_refused_and_reports_the_signatures():
    msg = (GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG).encode()
    with pytest.raises(UnverifiedNoteError, match="note has no verifiable signatures") as err:
        open_note(msg, [])
    assert [s.name for s in err.value.unverified] == ["PeterNeumann", "EnochRoot"]


def test_duplicated_verifier_is_ambiguous_only_when_used():
    with pytest.raises(AmbiguousKeyError, match="ambiguous key EnochRoot\\+af0cfe78"):
        open_note((GO_TEXT + "\n" + ENOCH_SIG).encode(), [enoch(), peter(), enoch()])
    assert open_note(GO_SIGNED, [enoch(), peter(), enoch()]).verified


def test_too_many_signatures():
    msg = (GO_TEXT + "\n" + PETER_SIG * 101).encode()
    for verifiers in ([peter()], []):
        with pytest.raises(MalformedNoteError, match="more than 100"):
            open_note(msg, verifiers)


def test_invalid_signature_names_the_key():
    bad = PETER_SIG[:60] + "ABCD" + PETER_SIG[60:]
    with pytest.raises(
        InvalidSignatureError,
        match=r"invalid signature for key PeterNeumann\+c74f20a3",
    ):
        open_note((GO_TEXT + "\n" + bad).encode(), [peter()])


def test_repeated_signature_by_a_known_key_is_refused():
    # x/mod silently drops the repeat; this module refuses the note.
    with pytest.raises(DuplicateSignatureError, match="PeterNeumann\\+c74f20a3 signed twice"):
        open_note((GO_TEXT + "\n" + PETER_SIG + PETER_SIG).encode(), [peter()])


def test_repeated_unknown_signatures_are_kept_once():
    enoch_abcd = ENOCH_SIG[:60] + "ABCD" + ENOCH_SIG[60:]
    msg = (GO_TEXT + "\n" + PETER_SIG + ENOCH_SIG + ENOCH_SIG + enoch_abcd).encode()
    opened = open_note(msg, [peter()])
    assert [s.line for s in opened.unverified] == [ENOCH_SIG, enoch_abcd]


@pytest.mark.parametrize(
    "msg",
    [
        GO_TEXT.encode(),
        (GO_TEXT + "\n").encode(),
        (GO_TEXT + "\n" + PETER_SIG[:-1]).encode(),
        ("\x01" + GO_TEXT + "\n" + PETER_SIG).encode(),
        b"\xff" + (GO_TEXT + "\n" + PETER_SIG).encode(),
        (GO_TEXT + "\n— Bad Name " + PETER_B64).encode(),
        (GO_TEXT + "\n" + PETER_SIG + "Unexpected line.\n").encode(),
    ],
)
def test_go_malformed_notes(msg):
    with pytest.raises(MalformedNoteError):
        open_note(msg, [peter()])


def test_misnamed_or_rehashed_signature_is_just_unknown():
    misnamed = PETER_SIG.replace("PeterNeumann", "CarmenSandiego")
    rehashed = PETER_SIG.replace("x08g", "xxxx")
    for line in (misnamed, rehashed):
        with pytest.raises(UnverifiedNoteError):
            open_note((GO_TEXT + "\n" + line).encode(), [peter()])


def test_signed_note_spec_example_verifies():
    opened = open_note(FOO_NOTE, [Ed25519Verifier.from_vkey(FOO_VKEY)])
    assert opened.text == "This is an example message.\n"
    assert opened.verified[0].key_id == 0x530D903A


def test_quasimodo_example_text_keeps_its_empty_line():
    text, sigs = split_note(QUASIMODO_NOTE)
    assert text == (
        "Ognuno sta solo sul cuor della terra\n"
        "trafitto da un raggio di sole:\n"
        "\n"
        "ed è subito sera.\n"
    )
    assert [(s.name, s.key_id, len(s.signature)) for s in sigs] == [
        ("quasimodo.example/salvatore", 0x367BA04B, 64)
    ]
    stranger = Ed25519Signer("quasimodo.example/salvatore", bytes(32)).verifier()
    with pytest.raises(UnverifiedNoteError):  # same name, other key ID: ignored
        open_note(QUASIMODO_NOTE, [stranger])


def test_sign_refusals():
    signer = Ed25519Signer.from_skey(PETER_SKEY)
    for text in ("abc", "", "a\r\n", "a\x00\n"):
        with pytest.raises(MalformedNoteError):
            sign_note(text, [signer])
    with pytest.raises(MalformedKeyError):
        Ed25519Signer("bad name", bytes(32))
    with pytest.raises(DuplicateSignatureError):
        sign_note(GO_TEXT, [signer, signer])
    with pytest.raises(MalformedNoteError):
        sign_note(GO_TEXT, [])
    enoch_sig = parse_signature_line(ENOCH_SIG[:-1])
    with pytest.raises(DuplicateSignatureError):
        sign_note(GO_TEXT, [], [enoch_sig, enoch_sig])


def test_resigning_keeps_other_signatures_and_replaces_its_own():
    enoch_sig = parse_signature_line(ENOCH_SIG[:-1])
    stale = Signature("PeterNeumann", 0xC74F20A3, b"\x00" * 64)
    msg = sign_note(GO_TEXT, [Ed25519Signer.from_skey(PETER_SKEY)], [enoch_sig, stale])
    assert msg == (GO_TEXT + "\n" + ENOCH_SIG + PETER_SIG).encode()


# --- forgeries ---------------------------------------------------------------------------


def _two_signer_note() -> tuple[bytes, list[Ed25519Verifier]]:
    a = Ed25519Signer("a.example/log", bytes(32))
    b = Ed25519Signer("b.example/log", bytes([1]) * 32)
    return sign_note("line one\n\nline three\n", [a, b]), [a.verifier(), b.verifier()]


def test_every_altered_text_character_is_refused():
    msg, verifiers = _two_signer_note()
    text_len = len(split_note(msg)[0].encode())
    for i in range(text_len):
        forged = msg[:i] + bytes([msg[i] ^ 0x01]) + msg[i + 1 :]
        with pytest.raises(NoteError):
            open_note(forged, verifiers)


def test_every_altered_signature_byte_is_refused():
    msg, verifiers = _two_signer_note()
    text, sigs = split_note(msg)
    for index, sig in enumerate(sigs):
        for i in range(len(sig.signature)):
            raw = bytearray(sig.signature)
            raw[i] ^= 0x80
            lines = [s.line for s in sigs]
            lines[index] = Signature(sig.name, sig.key_id, bytes(raw)).line
            with pytest.raises(InvalidSignatureError):
                open_note((text + "\n" + "".join(lines)).encode(), verifiers)


def test_swapped_names_and_key_ids_are_refused():
    msg, verifiers = _two_signer_note()
    text, (sa, sb) = split_note(msg)
    swapped_names = Signature(sb.name, sa.key_id, sa.signature).line
    swapped_names += Signature(sa.name, sb.key_id, sb.signature).line
    with pytest.raises(UnverifiedNoteError):
        open_note((text + "\n" + swapped_names).encode(), verifiers)
    # a signature under the right name and key ID but made by another key
    crossed = Signature(sa.name, sa.key_id, sb.signature).line
    with pytest.raises(InvalidSignatureError):
        open_note((text + "\n" + crossed).encode(), verifiers)


def test_key_id_collision_claimed_by_an_attacker_is_refused():
    victim = Ed25519Signer("log.example", bytes(32))
    attacker = Ed25519Signer("log.example", bytes([7]) * 32)
    text = "pay mallory\n"
    forged_sig = Signature(victim.name, victim.key_id, attacker.sign(text.encode()))
    with pytest.raises(InvalidSignatureError):
        open_note((text + "\n" + forged_sig.line).encode(), [victim.verifier()])


def test_truncations_blank_lines_and_line_endings_are_refused():
    msg, verifiers = _two_signer_note()
    text, sigs = split_note(msg)
    lines = [s.line for s in sigs]
    # Dropping whole trailing signature lines leaves a valid note with fewer signatures
    # (the format cannot prevent it: a quorum policy must count verified signatures).
    stripped = (text + "\n" + lines[0]).encode()
    for n in range(len(msg)):
        if msg[:n] == stripped:
            assert [s.name for s in open_note(msg[:n], verifiers).verified] == [sigs[0].name]
            continue
        with pytest.raises(NoteError):
            open_note(msg[:n], verifiers)
    for forged in (
        msg + b"\n",
        (text + "\n\n" + "".join(lines)).encode(),
        (text + "\n" + lines[0] + "\n" + lines[1]).encode(),
        msg.replace(b"\n", b"\r\n"),
        msg.replace("—".encode(), b"-"),
        msg.replace(b"log ", b"log  "),
    ):
        with pytest.raises(NoteError):
            open_note(forged, verifiers)


def test_noncanonical_signature_base64_is_refused():
    # the last group "AM=" carries 2 spare bits; "AN=" decodes to the same bytes in lax decoders
    with pytest.raises(MalformedNoteError, match="non-canonical"):
        open_note(GO_SIGNED.replace(b"JnAM=", b"JnAN="), [peter()])


@given(st.text(min_size=1, max_size=200).map(lambda s: s.replace("\r", "") + "\n"))
def test_round_trip_any_text(text):
    if any(ch < " " and ch != "\n" for ch in text) or any(0xD800 <= ord(c) < 0xE000 for c in text):
        with pytest.raises(MalformedNoteError):
            sign_note(text, [Ed25519Signer.from_skey(PETER_SKEY)])
        return
    msg = sign_note(text, [Ed25519Signer.from_skey(PETER_SKEY)])
    assert open_note(msg, [peter()]).text == text
