"""The Ed25519 key that signs checkpoints (and erasure receipts), and the master key
that wraps data keys: from settings, else each made once in the data directory
(`audit_signing_key`, `personal_data_master_key`; mode 0600, base64 of 32 bytes)."""

from __future__ import annotations

import base64
import logging
import os
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from api.runtime.settings import Settings

log = logging.getLogger(__name__)


def signing_key(settings: Settings) -> Ed25519PrivateKey:
    if settings.audit_signing_key is not None:
        return _from_text(settings.audit_signing_key.get_secret_value())
    return _from_file(settings.data_dir / "audit_signing_key")


def personal_data_master_key(settings: Settings) -> bytes:
    """The master key that wraps data keys: from settings, else made once in data_dir."""
    secret = settings.personal_data_master_key
    if secret is not None:
        return base64.b64decode(secret.get_secret_value().strip())
    path = settings.data_dir / "personal_data_master_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return base64.b64decode(_private_text(path).strip())
    with os.fdopen(fd, "w") as file:
        file.write(base64.b64encode(os.urandom(32)).decode() + "\n")
    return base64.b64decode(path.read_text().strip())


def _from_text(text: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(base64.b64decode(text.strip()))


def _from_file(path: Path) -> Ed25519PrivateKey:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _from_text(_private_text(path))
    raw = Ed25519PrivateKey.generate().private_bytes(
        Encoding.Raw, PrivateFormat.Raw, NoEncryption()
    )
    with os.fdopen(fd, "w") as file:
        file.write(base64.b64encode(raw).decode() + "\n")
    return _from_text(path.read_text())


def _private_text(path: Path) -> str:
    """The text of a key file, with a warning if others may read it (it was made 0600)."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s may be read by others (mode %o): chmod 600 it", path, mode)
    return path.read_text()
