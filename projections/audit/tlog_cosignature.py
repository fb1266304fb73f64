"""Ed25519 checkpoint cosignatures, as c2sp.org/tlog-cosignature defines them.

A cosignature is a note signature line on a checkpoint:

    — <cosigner name> base64(key ID || timestamp || Ed25519 signature)

    key ID    = SHA-256(<name> || "\\n" || 0x04 || 32-byte Ed25519 public key)[:4]
    timestamp = u64 big-endian POSIX seconds, at most 2^63 - 1
    signature = Ed25519 over  "cosignature/v1\\n" "time <timestamp>\\n" <checkpoint body>

where the checkpoint body is the whole note text (final newline included, extension
lines included, signature lines excluded) and the timestamp line is ASCII decimal
without leading zeroes. A v1 cosignature states that, as of that time, this is the
largest consistent tree head the cosigner has seen for the origin.

Keys: vkeys of type 0x04, `name+<key ID hex>+base64(0x04 || public key)`; signer
keys `PRIVATE+KEY+name+<key ID hex>+base64(0x04 || seed)`. The signed message does
not commit to the cosigner name, so one key must not serve two cosigners; nor should a
cosigner key double as a 0x01 note key (a 0x01 signature over a note whose text is
the cosigned message would be a valid cosignature), so 0x01 keys are refused here.
"""

from __future__ import annotations

from typing import Final

from projections.audit.note import (
    SIG_TYPE_COSIGNATURE_V1,
    InvalidSignatureError,
    MalformedNoteError,
    NoteError,
    PrivateKey,
    PublicKey,
    Signature,
    ed25519_verify,
    parse_signature_line,
)
from projections.audit.tlog_checkpoint import parse_checkpoint

COSIGNATURE_HEADER: Final = b"cosignature/v1\n"
MAX_TIMESTAMP: Final = 2**63 - 1
COSIGNATURE_SIZE: Final = 8 + 64


class CosignatureError(NoteError):
    """A cosignature that is malformed, by another key, or does not verify."""


def check_timestamp(timestamp: object) -> int:
    if not isinstance(timestamp, int) or isinstance(timestamp, bool):
        raise CosignatureError(f"timestamp {timestamp!r} is not an integer")
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"timestamp {timestamp} is outside [0, 2^63 - 1]")
    return timestamp


def cosigned_message(checkpoint_body: bytes, timestamp: int) -> bytes:
    """The exact bytes an Ed25519 v1 cosignature signs."""
    line = b"time %d\n" % check_timestamp(timestamp)
    return COSIGNATURE_HEADER + line + checkpoint_body


def split_cosignature(signature: bytes) -> tuple[int, bytes]:
    """(timestamp, Ed25519 signature) of the 72 bytes after the key ID."""
    if len(signature) != COSIGNATURE_SIZE:
        raise CosignatureError(f"cosignature is {len(signature)} bytes, not {COSIGNATURE_SIZE}")
    return check_timestamp(int.from_bytes(signature[:8], "big")), signature[8:]


class CosignatureVerifier(PublicKey):
    """Verifies type-0x04 cosignatures; usable as a `note.Verifier` in `open_note`."""

    sig_type = SIG_TYPE_COSIGNATURE_V1

    def verify(self, text: bytes, signature: bytes) -> bool:
        try:
            timestamp, raw = split_cosignature(signature)
        except CosignatureError:
            return False
        return ed25519_verify(self._public, raw, cosigned_message(text, timestamp))


class CosignerKey(PrivateKey):
    """An Ed25519 cosigner key (signature type 0x04)."""

    sig_type = SIG_TYPE_COSIGNATURE_V1

    def verifier(self) -> CosignatureVerifier:
        return CosignatureVerifier(self._name, self._public)

    def signature(self, checkpoint_body: str, timestamp: int) -> Signature:
        """The cosignature of a checkpoint body; refuses a body that is not one."""
        parse_checkpoint(checkpoint_body)
        message = cosigned_message(checkpoint_body.encode("utf-8"), timestamp)
        raw = timestamp.to_bytes(8, "big") + self._private.sign(message)
        return Signature(self._name, self._key_id, raw)


def cosign(checkpoint_body: str, cosigner_key: CosignerKey, timestamp: int) -> str:
    """The note signature line (with its newline) cosigning `checkpoint_body`."""
    return cosigner_key.signature(checkpoint_body, timestamp).line


def cosignature_timestamp(signature: Signature) -> int:
    """The timestamp inside a (claimed) cosignature, without verifying it."""
    return split_cosignature(signature.signature)[0]


def verify_cosignature_line(checkpoint_body: str, line: str, verifier: CosignatureVerifier) -> int:
    """Check one cosignature line (newline optional) on a body; return its timestamp."""
    parse_checkpoint(checkpoint_body)
    try:
        sig = parse_signature_line(line.removesuffix("\n"))
    except MalformedNoteError as exc:
        raise CosignatureError(str(exc)) from exc
    if (sig.name, sig.key_id) != (verifier.name, verifier.key_id):
        found, want = f"{sig.name}+{sig.key_id:08x}", f"{verifier.name}+{verifier.key_id:08x}"
        raise CosignatureError(f"cosignature is by {found}, not {want}")
    timestamp = cosignature_timestamp(sig)
    if not verifier.verify(checkpoint_body.encode("utf-8"), sig.signature):
        raise InvalidSignatureError(sig.name, sig.key_id)
    return timestamp
