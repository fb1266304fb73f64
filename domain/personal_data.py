"""Personal data in the log: sealed under a per-person data key, so it can be shredded.

A field that identifies a person (a member's name and phone; the description, the
address and the rating comment of a ticket a member reported) is stored in its event
as an envelope, never in clear:

    {"enc": "v1", "kid": "<the data key's id>", "ct": base64(nonce || ciphertext)}

AES-256-GCM, a random 96-bit nonce per field, and associated data binding the subject
(the member the data is about) and the field's name, so a ciphertext moved to another
person or another field fails to open. Keys live outside the log, behind `KeyStore`
(PostgreSQL: `projections.store.keys`); destroying a person's key (crypto-shredding)
leaves every stored byte, and so every Merkle leaf and proof, as it was, while the
data can no longer be read by anyone: it reads as `ERASED`.

Values that are not envelopes (events recorded before sealing existed, or by an
application built without a key store) are read as they are.
"""

from __future__ import annotations

import base64
import os
import re
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeGuard, cast
from uuid import UUID

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

ERASED = "erased"
"""What a shredded field reads as, everywhere."""

VERSION = "v1"
NONCE_BYTES = 12

Sealer = Callable[[UUID, str, str], Any]
"""(subject, field, clear value) -> the value to store (an envelope, or the value)."""


def plain(subject: UUID, field: str, value: str) -> str:
    """The sealer of an application without a key store: values stored as given."""
    return value


class KeyStore(Protocol):
    """Where data keys live, apart from the log."""

    def new_key(self) -> tuple[UUID, bytes]:
        """A fresh data key and its id (stored before it is answered)."""
        ...

    def keys(self, kids: list[UUID]) -> dict[UUID, bytes | None]:
        """The keys of `kids` (None: shredded; an unknown id is left out)."""
        ...

    def shred(self, kid: UUID, subject: UUID) -> None:
        """Destroy the key `kid` of `subject` for good (idempotent)."""
        ...

    def secret(self, label: str) -> bytes | None:
        """A server secret for `label`, kept apart from the log (keyed digests of
        requests); None: none configured."""
        ...

    def close(self) -> None: ...


def is_sealed(value: object) -> TypeGuard[dict[str, Any]]:
    return type(value) is dict and value.get("enc") == VERSION and "ct" in value


def kid_of(value: object) -> UUID | None:
    """The data key id of an envelope (None for any other value)."""
    kid = sealed_kid(value)
    return None if kid is None else UUID(kid)


def sealed_kid(value: object) -> str | None:
    """The data key id of an envelope as it spells it (None for any other value): what
    `reveal`'s keys are looked up by."""
    return cast(str, value["kid"]) if is_sealed(value) else None


def _aad(subject: UUID, field: str) -> bytes:
    return f"gridledger/{VERSION}/{subject}/{field}".encode()


def seal(key: bytes, kid: UUID, subject: UUID, field: str, value: str) -> dict[str, str]:
    nonce = os.urandom(NONCE_BYTES)
    ct = AESGCM(key).encrypt(nonce, value.encode(), _aad(subject, field))
    return {"enc": VERSION, "kid": str(kid), "ct": base64.b64encode(nonce + ct).decode()}


def open_sealed(key: bytes, envelope: Mapping[str, str], subject: UUID, field: str) -> str:
    """The clear value; InvalidTag if the envelope was not sealed for `subject`/`field`."""
    raw = base64.b64decode(envelope["ct"])
    clear = AESGCM(key).decrypt(raw[:NONCE_BYTES], raw[NONCE_BYTES:], _aad(subject, field))
    return clear.decode()


def reveal(value: Any, keys: Mapping[str, bytes | None], subject: UUID, field: str) -> Any:
    """`value` as a reader sees it: clear if its key is in `keys` (by key id, as text),
    `ERASED` if the key is shredded or missing, the value itself if never sealed."""
    if not is_sealed(value):
        return value
    key = keys.get(value["kid"])
    if key is None:
        return ERASED
    try:
        return open_sealed(key, value, subject, field)
    except InvalidTag:
        raise SealBrokenError(f"the {field} of {subject} does not open under its key") from None


class SealBrokenError(ValueError):
    """Raised when a sealed value fails its authentication: moved, altered or misbound."""


class PersonalData:
    """Seals personal fields for the command layer, through a `KeyStore`."""

    def __init__(self, store: KeyStore) -> None:
        self.store = store
        self._known: dict[UUID, bytes] = {}
        self._digest_key: list[bytes | None] = []

    def digest_key(self) -> bytes | None:
        """The secret idempotency fingerprints are keyed with (None: plain SHA-256)."""
        if not self._digest_key:
            self._digest_key.append(self.store.secret(DIGEST_LABEL))
        return self._digest_key[0]

    def for_new_subject(self) -> Sealer:
        """A sealer that draws one fresh key, the first time it seals, for one subject."""
        drawn: list[tuple[UUID, bytes]] = []

        def sealer(subject: UUID, field: str, value: str) -> dict[str, str]:
            if not drawn:
                drawn.append(self.store.new_key())
                kid, key = drawn[0]
                self._remember(kid, key)
            kid, key = drawn[0]
            return seal(key, kid, subject, field, value)

        return sealer

    def with_key(self, kid: UUID) -> Sealer:
        """A sealer under the existing key `kid` (KeyShreddedError if it is gone)."""
        key = self._known.get(kid)
        if key is None:
            key = self.store.keys([kid]).get(kid)
            if key is None:
                raise KeyShreddedError(f"data key {kid} is shredded or unknown")
            self._remember(kid, key)
        found = key

        def sealer(subject: UUID, field: str, value: str) -> dict[str, str]:
            return seal(found, kid, subject, field, value)

        return sealer

    def reveal(self, value: Any, subject: UUID, field: str) -> Any:
        """`value` in clear (`ERASED` once its key is shredded), read from the store."""
        kid = kid_of(value)
        if kid is None:
            return value
        found = {str(k): key for k, key in self.store.keys([kid]).items()}
        return reveal(value, found, subject, field)

    def shred(self, kid: UUID, subject: UUID) -> None:
        self._known.pop(kid, None)
        self.store.shred(kid, subject)

    def close(self) -> None:
        self.store.close()

    def _remember(self, kid: UUID, key: bytes) -> None:
        if len(self._known) > KEYS_KEPT:
            self._known.clear()
        self._known[kid] = key


KEYS_KEPT = 100_000
DIGEST_LABEL = "idempotency-fingerprint/v1"


class KeyShreddedError(LookupError):
    """Raised when data would be sealed under a key that has been shredded."""


PHONE_DIGITS = re.compile(r"^(\+?\d{3})(\d*)(\d{4})$")


MASKED_AT_LEAST = 4
"""Digits a masked phone hides at least: fewer would be guessed in a few tries."""


def mask_phone(phone: str) -> str:
    """`13800138000` -> `138****8000`: the first three and last four digits kept, if
    that hides at least four; a shorter number (a landline) keeps its last two only
    (`******78`), and one of six digits or fewer keeps none."""
    if phone == ERASED:
        return phone
    found = PHONE_DIGITS.match(phone)
    if found is not None and len(found.group(2)) >= MASKED_AT_LEAST:
        return found.group(1) + "*" * len(found.group(2)) + found.group(3)
    if len(phone) - 2 >= MASKED_AT_LEAST + 1:
        return "*" * (len(phone) - 2) + phone[-2:]
    return "*" * len(phone)
