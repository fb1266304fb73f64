"""Signed notes, as c2sp.org/signed-note and golang.org/x/mod/sumdb/note define them.

A signed note is a text ending in a newline, a blank line, then one or more signature
lines, each `— <key name> base64(32-bit key ID || signature)` and a newline (the
first character is the em dash U+2014, then a space). The text includes its final
newline but not the separating blank line; it is separated from the signatures by
the *last* empty line, so the text itself may contain empty lines. A note must be
valid UTF-8 with no ASCII control character other than the newline.

Ed25519 keys (signature type 0x01) follow x/mod/sumdb/note:

    key ID    = SHA-256(key name || 0x0A || 0x01 || 32-byte public key)[:4], big-endian
    vkey      = <name>+<key ID, 8 lowercase hex>+base64(0x01 || public key)
    skey      = PRIVATE+KEY+<name>+<key ID, 8 lowercase hex>+base64(0x01 || 32-byte seed)

Opening a note: a signature whose (name, key ID) pair is not among the verifiers is
ignored (but kept in `OpenedNote.unverified`); a known pair must verify or the whole
note is refused; the same known key may sign only once; at least one known signature
must verify. Every refusal is a `NoteError` subclass whose message names the cause.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Protocol, Self

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

SIG_TYPE_ED25519: Final = 0x01
SIG_TYPE_COSIGNATURE_V1: Final = 0x04
SIGNATURE_PREFIX: Final = "\u2014 "  # em dash, space
MAX_SIGNATURES: Final = 100  # the spec requires accepting at least 16; x/mod uses 100
PRIVATE_KEY_PREFIX: Final = "PRIVATE+KEY+"


class NoteError(ValueError):
    """Base class of every refusal in this module and its siblings."""


class MalformedKeyError(NoteError):
    """A key name, verifier key or signer key string that does not parse or check."""


class MalformedNoteError(NoteError):
    """A note (or text to sign) that breaks the signed-note syntax."""


class InvalidSignatureError(NoteError):
    """A signature by a known key that does not verify."""

    def __init__(self, name: str, key_id: int) -> None:
        super().__init__(f"invalid signature for key {name}+{key_id:08x}")
        self.name = name
        self.key_id = key_id


class DuplicateSignatureError(NoteError):
    """A known key that signed the note more than once."""


class AmbiguousKeyError(NoteError):
    """Two configured verifiers with the same (name, key ID) pair, and a note used it."""


class UnverifiedNoteError(NoteError):
    """A well-formed note with no signature from any known key."""

    def __init__(self, unverified: tuple[Signature, ...]) -> None:
        super().__init__("note has no verifiable signatures")
        self.unverified = unverified


class Verifier(Protocol):
    """Checks signatures by one key; `open_note` looks verifiers up by (name, key_id)."""

    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def verify(self, text: bytes, signature: bytes) -> bool: ...


class Signer(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def key_id(self) -> int: ...

    def sign(self, text: bytes) -> bytes: ...


def is_valid_key_name(name: object) -> bool:
    """Non-empty UTF-8 without Unicode spaces, `+`, or ASCII control characters."""
    if not isinstance(name, str) or not name:
        return False
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return not any(ch.isspace() or ch == "+" or ch < " " for ch in name)


def key_id(name: str, sig_type: int, public_key: bytes) -> int:
    """SHA-256(name || 0x0A || type || public key)[:4] as a big-endian uint32."""
    if not is_valid_key_name(name):
        raise MalformedKeyError(f"invalid key name {name!r}")
    if not 0 <= sig_type <= 0xFF:
        raise MalformedKeyError(f"signature type {sig_type} is not one byte")
    digest = hashlib.sha256(name.encode() + b"\n" + bytes([sig_type]) + public_key).digest()
    return int.from_bytes(digest[:4], "big")


def b64encode(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def b64decode_strict(text: str) -> bytes:
    """Standard padded base64 (RFC 4648 section 4), canonical form only."""
    if not text.isascii():
        raise ValueError("base64 text is not ASCII")
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"invalid base64: {exc}") from exc
    if b64encode(raw) != text:
        raise ValueError("non-canonical base64")
    return raw


def _parse_key_id_hex(text: str) -> int:
    if len(text) != 8 or any(ch not in "0123456789abcdef" for ch in text):
        raise MalformedKeyError(f"key ID {text!r} is not 8 lowercase hex digits")
    return int(text, 16)


@dataclass(frozen=True)
class KeyString:
    """The parts of a `name+keyid+base64(type||key)` string, key ID checked."""

    name: str
    key_id: int
    sig_type: int
    key: bytes


def parse_key_string(text: str, *, hashed: bool = True) -> KeyString:
    """Parse `name+hash+base64(type || key material)`.

    With `hashed`, the key ID must equal SHA-256(name || 0x0A || type || key)[:4]
    (verifier keys). Signer keys pass `hashed=False`: their ID hashes the public key.
    """
    parts = text.split("+", 2)
    if len(parts) != 3:
        raise MalformedKeyError("key string is not name+hash+data")
    name, hash_hex, data64 = parts
    if not is_valid_key_name(name):
        raise MalformedKeyError(f"invalid key name {name!r}")
    kid = _parse_key_id_hex(hash_hex)
    try:
        data = b64decode_strict(data64)
    except ValueError as exc:
        raise MalformedKeyError(f"key data: {exc}") from exc
    if len(data) < 2:
        raise MalformedKeyError("key data is too short")
    if hashed and key_id(name, data[0], data[1:]) != kid:
        raise MalformedKeyError(f"key ID {hash_hex} does not match the key")
    return KeyString(name, kid, data[0], data[1:])


def format_key_string(name: str, sig_type: int, key: bytes, kid: int) -> str:
    return f"{name}+{kid:08x}+{b64encode(bytes([sig_type]) + key)}"


def public_from_seed(seed: bytes) -> bytes:
    private = Ed25519PrivateKey.from_private_bytes(seed)
    return private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_verify(public_key: bytes, signature: bytes, message: bytes) -> bool:
    if len(signature) != 64:
        return False
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


class NamedKey:
    """What a note key has, public or private: its name, type, ID and public key."""

    sig_type: int = SIG_TYPE_ED25519
    _name: str
    _public: bytes
    _key_id: int

    @property
    def name(self) -> str:
        return self._name

    @property
    def key_id(self) -> int:
        return self._key_id

    @property
    def public_key(self) -> bytes:
        return self._public

    def vkey(self) -> str:
        return format_key_string(self._name, self.sig_type, self._public, self._key_id)


class PublicKey(NamedKey):
    """A named Ed25519 public key of one signature type, with its note key ID."""

    def __init__(self, name: str, public_key: bytes) -> None:
        if len(public_key) != 32:
            raise MalformedKeyError(f"Ed25519 public key is {len(public_key)} bytes, not 32")
        self._name = name
        self._public = bytes(public_key)
        self._key_id = key_id(name, self.sig_type, self._public)

    @classmethod
    def from_vkey(cls, vkey: str) -> Self:
        parsed = parse_key_string(vkey)
        if parsed.sig_type != cls.sig_type:
            raise MalformedKeyError(
                f"verifier key type 0x{parsed.sig_type:02x} is not 0x{cls.sig_type:02x}"
            )
        return cls(parsed.name, parsed.key)


class Ed25519Verifier(PublicKey):
    """A signed-note verifier for an Ed25519 key (signature type 0x01)."""

    def verify(self, text: bytes, signature: bytes) -> bool:
        return ed25519_verify(self._public, signature, text)


def parse_private_key_string(skey: str, sig_type: int) -> tuple[str, int, bytes]:
    """(name, key ID, seed) of `PRIVATE+KEY+name+hash+base64(type || seed)`.

    The key ID must be the one of the public key derived from the seed.
    """
    if not skey.startswith(PRIVATE_KEY_PREFIX):
        raise MalformedKeyError("signer key does not start with PRIVATE+KEY+")
    parsed = parse_key_string(skey[len(PRIVATE_KEY_PREFIX) :], hashed=False)
    if parsed.sig_type != sig_type:
        raise MalformedKeyError(f"signer key type 0x{parsed.sig_type:02x}, want 0x{sig_type:02x}")
    if len(parsed.key) != 32:
        raise MalformedKeyError(f"Ed25519 seed is {len(parsed.key)} bytes, not 32")
    if key_id(parsed.name, sig_type, public_from_seed(parsed.key)) != parsed.key_id:
        raise MalformedKeyError("signer key ID does not match the key")
    return parsed.name, parsed.key_id, parsed.key


class PrivateKey(NamedKey):
    """A named Ed25519 private key of one signature type."""

    def __init__(self, name: str, seed: bytes) -> None:
        if len(seed) != 32:
            raise MalformedKeyError(f"Ed25519 seed is {len(seed)} bytes, not 32")
        self._name = name
        self._seed = bytes(seed)
        self._private = Ed25519PrivateKey.from_private_bytes(self._seed)
        self._public = public_from_seed(self._seed)
        self._key_id = key_id(name, self.sig_type, self._public)

    @classmethod
    def from_skey(cls, skey: str) -> Self:
        name, _, seed = parse_private_key_string(skey, cls.sig_type)
        return cls(name, seed)

    @classmethod
    def generate(cls, name: str) -> Self:
        return cls(name, os.urandom(32))

    def skey(self) -> str:
        return PRIVATE_KEY_PREFIX + format_key_string(
            self._name, self.sig_type, self._seed, self._key_id
        )


class Ed25519Signer(PrivateKey):
    """A signed-note signer for an Ed25519 key (signature type 0x01)."""

    def verifier(self) -> Ed25519Verifier:
        return Ed25519Verifier(self._name, self._public)

    def sign(self, text: bytes) -> bytes:
        return self._private.sign(text)


@dataclass(frozen=True)
class Signature:
    """One signature line: key name, key ID, and the bytes after the key ID."""

    name: str
    key_id: int
    signature: bytes

    @property
    def b64(self) -> str:
        return b64encode(self.key_id.to_bytes(4, "big") + self.signature)

    @property
    def line(self) -> str:
        return f"{SIGNATURE_PREFIX}{self.name} {self.b64}\n"


@dataclass(frozen=True)
class OpenedNote:
    text: str
    verified: tuple[Signature, ...]
    unverified: tuple[Signature, ...]


def check_note_text(text: str) -> None:
    """A note text: non-empty, ends in a newline, UTF-8, no control characters but \\n."""
    if not isinstance(text, str) or not text.endswith("\n"):
        raise MalformedNoteError("note text must be a str ending in a newline")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise MalformedNoteError("note text is not valid UTF-8") from exc
    if any(ch < " " and ch != "\n" for ch in text):
        raise MalformedNoteError("note text contains an ASCII control character")


def parse_signature_line(line: str) -> Signature:
    """One signature line, without its newline."""
    if not line.startswith(SIGNATURE_PREFIX):
        raise MalformedNoteError(f"signature line does not start with an em dash: {line!r}")
    name, sep, sig64 = line[len(SIGNATURE_PREFIX) :].partition(" ")
    if not sep or not is_valid_key_name(name):
        raise MalformedNoteError(f"bad key name in signature line {line!r}")
    try:
        raw = b64decode_strict(sig64)
    except ValueError as exc:
        raise MalformedNoteError(f"signature of {name}: {exc}") from exc
    if len(raw) < 5:
        raise MalformedNoteError(f"signature of {name} is shorter than 5 bytes")
    return Signature(name, int.from_bytes(raw[:4], "big"), raw[4:])


def parse_signature_lines(block: str) -> list[Signature]:
    """Signature lines, each ending in a newline; at most MAX_SIGNATURES of them."""
    if not block or not block.endswith("\n"):
        raise MalformedNoteError("no signature lines, or the last one lacks its newline")
    lines = block[:-1].split("\n")
    if len(lines) > MAX_SIGNATURES:
        raise MalformedNoteError(f"more than {MAX_SIGNATURES} signatures")
    return [parse_signature_line(line) for line in lines]


def split_note(msg: bytes) -> tuple[str, list[Signature]]:
    """The text and the signatures of a signed note, checking syntax only."""
    if not isinstance(msg, bytes | bytearray):
        raise MalformedNoteError("a signed note must be bytes")
    try:
        decoded = bytes(msg).decode("utf-8")
    except UnicodeDecodeError as exc:
        raise MalformedNoteError("note is not valid UTF-8") from exc
    if any(ch < " " and ch != "\n" for ch in decoded):
        raise MalformedNoteError("note contains an ASCII control character")
    split = decoded.rfind("\n\n")
    if split < 0:
        raise MalformedNoteError("note has no blank line before its signatures")
    return decoded[: split + 1], parse_signature_lines(decoded[split + 2 :])


def _index(verifiers: Sequence[Verifier]) -> dict[tuple[str, int], list[Verifier]]:
    index: dict[tuple[str, int], list[Verifier]] = {}
    for verifier in verifiers:
        index.setdefault((verifier.name, verifier.key_id), []).append(verifier)
    return index


def open_note(msg: bytes, verifiers: Sequence[Verifier]) -> OpenedNote:
    """Parse `msg` and check its signatures against `verifiers` (see the module doc)."""
    text, signatures = split_note(msg)
    index = _index(verifiers)
    verified: list[Signature] = []
    unverified: list[Signature] = []
    for sig in signatures:
        found = index.get((sig.name, sig.key_id))
        if found is None:
            if sig not in unverified:
                unverified.append(sig)
            continue
        if len(found) > 1:
            raise AmbiguousKeyError(f"ambiguous key {sig.name}+{sig.key_id:08x}")
        if any(v.name == sig.name and v.key_id == sig.key_id for v in verified):
            raise DuplicateSignatureError(f"key {sig.name}+{sig.key_id:08x} signed twice")
        if not found[0].verify(text.encode("utf-8"), sig.signature):
            raise InvalidSignatureError(sig.name, sig.key_id)
        verified.append(sig)
    if not verified:
        raise UnverifiedNoteError(tuple(unverified))
    return OpenedNote(text, tuple(verified), tuple(unverified))


def sign_note(text: str, signers: Sequence[Signer], existing: Sequence[Signature] = ()) -> bytes:
    """`text`, a blank line, the `existing` signatures, then one line per signer.

    An existing signature by the same (name, key ID) as a signer is dropped, as in
    x/mod's Sign. Two remaining signatures with the same (name, key ID) are refused, so
    the result always passes `open_note`'s duplicate rule.
    """
    check_note_text(text)
    if not signers and not existing:
        raise MalformedNoteError("a signed note needs at least one signature")
    if len(signers) + len(existing) > MAX_SIGNATURES:
        raise MalformedNoteError(f"more than {MAX_SIGNATURES} signatures")
    ids = [(s.name, s.key_id) for s in signers]
    kept_ids = [(s.name, s.key_id) for s in existing if (s.name, s.key_id) not in ids]
    if len(set(ids + kept_ids)) != len(ids + kept_ids):
        raise DuplicateSignatureError("two signatures share a key name and ID")
    fresh: list[str] = []
    for signer in signers:
        if not is_valid_key_name(signer.name):
            raise MalformedKeyError(f"invalid signer name {signer.name!r}")
        raw = signer.sign(text.encode("utf-8"))
        fresh.append(Signature(signer.name, signer.key_id, raw).line)
    kept = [s.line for s in existing if (s.name, s.key_id) not in ids]
    for line in kept:
        parse_signature_line(line[:-1])
    return (text + "\n" + "".join(kept) + "".join(fresh)).encode("utf-8")
