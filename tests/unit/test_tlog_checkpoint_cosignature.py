"""Checkpoints and cosignatures against published vectors, byte for byte.

Vectors (vectors.py, sources in NOTES.md): C2SP tlog-checkpoint.md and
tlog-cosignature.md, the sum.golang.org key from golang/go, and
transparency-dev/formats note/note_cosigv1_test.go.
"""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from projections.audit.note import (
    Ed25519Signer,
    Ed25519Verifier,
    InvalidSignatureError,
    MalformedKeyError,
    Signature,
    UnverifiedNoteError,
    open_note,
    parse_signature_line,
    sign_note,
    split_note,
)
from projections.audit.tlog_checkpoint import (
    MalformedCheckpointError,
    format_checkpoint,
    parse_checkpoint,
)
from projections.audit.tlog_cosignature import (
    CosignatureError,
    CosignatureVerifier,
    CosignerKey,
    cosign,
    cosignature_timestamp,
    cosigned_message,
    verify_cosignature_line,
)
from tests.unit.c2sp_vectors import (
    COSIG_TS_B64,
    NOT_COSIG_B64,
    PLUS_VKEY,
    REMORA_VKEY,
    SOFA_BODY,
    SOFA_COSIG_LINE,
    SOFA_COSIGNED_MESSAGE,
    SOFA_NOTE,
    SUMDB_VKEY,
)

# --- checkpoints -------------------------------------------------------------------------


def test_checkpoint_spec_example_parses_and_formats_back():
    cp = parse_checkpoint(SOFA_BODY)
    assert (cp.origin, cp.size, cp.extensions) == ("example.com/behind-the-sofa", 20852163, ())
    assert cp.root_hash == base64.b64decode("CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=")
    assert format_checkpoint(cp.origin, cp.size, cp.root_hash) == SOFA_BODY == cp.body()


def test_checkpoint_spec_example_signature_is_sum_golang_orgs_over_another_origin():
    """The example's key ID 033de0ae is sum.golang.org's: the signature verifies over the
    same tree with origin `go.sum database tree`, not over the text shown."""
    sumdb = Ed25519Verifier.from_vkey(SUMDB_VKEY)
    assert split_note(SOFA_NOTE)[1][0].key_id == sumdb.key_id == 0x033DE0AE
    renamed = SOFA_NOTE.replace(b"example.com/behind-the-sofa", b"sum.golang.org")
    with pytest.raises(InvalidSignatureError):
        open_note(renamed, [sumdb])
    real = SOFA_NOTE.replace(b"example.com/behind-the-sofa\n", b"go.sum database tree\n", 1)
    real = real.replace(b"example.com/behind-the-sofa", b"sum.golang.org")
    assert open_note(real, [sumdb]).text.startswith("go.sum database tree\n20852163\n")


@pytest.mark.parametrize(
    ("size", "root", "sig"),
    [  # real sum.golang.org tree heads quoted by third-party tests; verified here
        (
            "31700353",
            "qINS1GRFhWHwdkUeqLEoP4yEMkTBBzxBkGwGQlVlVcs=",
            "Az3grnmrIUEDFqHzAElIQCPNoRFRAAdFo47fooyWKMHb89k11GJh5zHIfNCOBmwn/C3YI8oW9/C8DJ87F61QqspBYwM=",
        ),
        (
            "65209736",
            "5+uGFjx6xBZG8ip1+wi77v+grwbhhukIrxEUS8PXvRo=",
            "Az3grnbssgK7ubgFX36gVETtNv0U23qxyAhAMai2QUfeGa3nB/akvkMdlUErfcZz7l/R3cVtYspg3dxXABkGZZKdsQ8=",
        ),
    ],
)
def test_real_sum_golang_org_checkpoints_verify(size, root, sig):
    msg = f"go.sum database tree\n{size}\n{root}\n\n— sum.golang.org {sig}\n".encode()
    opened = open_note(msg, [Ed25519Verifier.from_vkey(SUMDB_VKEY)])
    assert parse_checkpoint(opened.text).size == int(size)


@pytest.mark.parametrize(
    "body",
    [
        "Log\n123\nYmFuYW5hcw==\n",  # x/formats: a 7-byte "hash"
        "\n1\n" + "A" * 43 + "=\n",
        "o\n0123\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n+1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n-1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n 1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1_0\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n１\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        f"o\n{2**64}\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n",  # non-canonical
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n",  # no padding
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=",  # no final newline
        "o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n\n",  # empty extension line
        "o\n1\n",
        "o\r\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n",
    ],
)
def test_malformed_checkpoints(body):
    with pytest.raises(MalformedCheckpointError):
        parse_checkpoint(body)


def test_checkpoint_extremes_and_extensions():
    root = bytes(range(32))
    body = format_checkpoint("o", 2**64 - 1, root, ["ext one", "ext two"])
    assert parse_checkpoint(body).extensions == ("ext one", "ext two")
    assert parse_checkpoint(format_checkpoint("o", 0, root)).size == 0
    for bad in (-1, 2**64, True, 1.0):
        with pytest.raises(MalformedCheckpointError):
            format_checkpoint("o", bad, root)  # type: ignore[arg-type]
    for origin, exts in (("", []), ("a\nb", []), ("o", [""]), ("o", ["x\ny"])):
        with pytest.raises(MalformedCheckpointError):
            format_checkpoint(origin, 1, root, exts)


# --- cosignatures ------------------------------------------------------------------------


def test_cosignature_spec_example_layout_and_message():
    sig = parse_signature_line(SOFA_COSIG_LINE[:-1])
    assert (sig.name, sig.key_id, len(sig.signature)) == ("witness.example.com/w1", 0x8D66CF3F, 72)
    assert cosignature_timestamp(sig) == 1679315147
    assert cosigned_message(SOFA_BODY.encode(), 1679315147) == SOFA_COSIGNED_MESSAGE
    _, sigs = split_note(SOFA_NOTE[:-1] + b"\n" + SOFA_COSIG_LINE.encode())
    assert [s.name for s in sigs] == ["example.com/behind-the-sofa", "witness.example.com/w1"]


def test_transparency_dev_cosignature_keys_and_timestamp():
    remora = CosignatureVerifier.from_vkey(REMORA_VKEY)
    assert remora.key_id == 0xDA77ADE7 and remora.vkey() == REMORA_VKEY
    with pytest.raises(MalformedKeyError):
        Ed25519Verifier.from_vkey(REMORA_VKEY)
    with pytest.raises(MalformedKeyError):
        CosignatureVerifier.from_vkey(PLUS_VKEY)
    assert cosignature_timestamp(parse_signature_line("— x " + COSIG_TS_B64)) == 1727964367
    with pytest.raises(CosignatureError):
        cosignature_timestamp(parse_signature_line("— x " + NOT_COSIG_B64))


def test_cosign_bytes_are_key_id_timestamp_signature_over_the_spec_message():
    key = CosignerKey("witness.example/w1", bytes(range(32)))
    body = format_checkpoint("example.com/log", 5, bytes(32))
    line = cosign(body, key, 1700000000)
    name, b64 = line[2:-1].split(" ")
    raw = base64.b64decode(b64)
    assert name == key.name and len(raw) == 76
    assert raw[:4] == key.key_id.to_bytes(4, "big")
    assert raw[4:12] == (1700000000).to_bytes(8, "big")
    message = b"cosignature/v1\ntime 1700000000\n" + body.encode()
    Ed25519PublicKey.from_public_bytes(key.verifier().public_key).verify(raw[12:], message)
    assert verify_cosignature_line(body, line, key.verifier()) == 1700000000


def test_cosignature_opens_with_the_note_machinery():
    log = Ed25519Signer("example.com/log", bytes(32))
    witness = CosignerKey("witness.example/w1", bytes([9]) * 32)
    body = format_checkpoint("example.com/log", 7, bytes(range(32)), ["ext"])
    signed = sign_note(body, [log]) + cosign(body, witness, 42).encode()
    opened = open_note(signed, [witness.verifier()])
    assert [s.name for s in opened.verified] == ["witness.example/w1"]
    assert [s.name for s in opened.unverified] == ["example.com/log"]


def test_cosignature_forgeries_are_refused():
    witness = CosignerKey("witness.example/w1", bytes([9]) * 32)
    body = format_checkpoint("example.com/log", 7, bytes(range(32)), ["ext"])
    line = cosign(body, witness, 42)
    sig = parse_signature_line(line[:-1])
    retimed = Signature(sig.name, sig.key_id, (43).to_bytes(8, "big") + sig.signature[8:]).line
    other_body = body.replace("ext", "exu")
    for b, ln in ((body, retimed), (other_body, line)):
        with pytest.raises(InvalidSignatureError):
            verify_cosignature_line(b, ln, witness.verifier())
    with pytest.raises(CosignatureError, match=r"not witness\.example/w2"):
        verify_cosignature_line(body, line, CosignerKey("witness.example/w2", bytes(32)).verifier())
    # the same key as an 0x01 note key has another key ID: a note signature is no cosignature
    note_key = Ed25519Signer("witness.example/w1", bytes([9]) * 32)
    assert note_key.key_id != witness.key_id
    with pytest.raises(UnverifiedNoteError):
        open_note(sign_note(body, [note_key]), [witness.verifier()])


def test_cosign_refusals():
    key = CosignerKey("w", bytes(32))
    body = format_checkpoint("o", 1, bytes(32))
    for ts in (-1, 2**63, True):
        with pytest.raises(CosignatureError):
            cosign(body, key, ts)  # type: ignore[arg-type]
    assert verify_cosignature_line(body, cosign(body, key, 2**63 - 1), key.verifier()) == 2**63 - 1
    with pytest.raises(MalformedCheckpointError):
        cosign("not a checkpoint\n", key, 1)
    assert CosignerKey.from_skey(key.skey()).vkey() == key.vkey()
    with pytest.raises(MalformedKeyError):  # an 0x01 signer key is not a cosigner key
        CosignerKey.from_skey(Ed25519Signer("w", bytes(32)).skey())
