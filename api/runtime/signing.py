"""The log's Ed25519 signing key (checkpoints, erasure receipts), the signer's state
file, and the master key that wraps personal data keys.

The key, in order: `GRIDLEDGER_AUDIT_SIGNING_KEY` (the key itself), the file named by
`GRIDLEDGER_AUDIT_SIGNING_KEY_FILE` (on a disk the database host cannot read, for one),
else a key made once in `<data_dir>/audit_signing_key` (mode 0600). A key is either a
note signer key `PRIVATE+KEY+<name>+<keyid>+<base64>` (golang.org/x/mod/sumdb/note;
its name is the log's origin) or base64 of the 32 raw private bytes (named by
`GRIDLEDGER_AUDIT_ORIGIN`). The state file (the last checkpoint signed) is
`GRIDLEDGER_AUDIT_SIGNER_STATE`, else `audit_signer_state` beside the key file (or in
data_dir when the key comes from the environment). The master key: settings, else made
once in `<data_dir>/personal_data_master_key` (mode 0600, base64 of 32 bytes).
"""

from __future__ import annotations

import base64
import binascii
import logging
import os
from pathlib import Path

from api.runtime.settings import Settings
from projections.audit.note import PRIVATE_KEY_PREFIX, Ed25519Signer, NoteError
from projections.audit.signer import LogSigner

log = logging.getLogger(__name__)


class SigningKeyError(ValueError):
    """Raised when the configured signing key does not parse."""


def signing_key(settings: Settings) -> Ed25519Signer:
    if settings.audit_signing_key is not None:
        return parse_key(settings.audit_signing_key.get_secret_value(), settings.audit_origin)
    path = _key_path(settings)
    if settings.audit_signing_key_file is None:
        _make_once(path, settings.audit_origin)
    return parse_key(path.read_text(), settings.audit_origin)


def log_signer(settings: Settings) -> LogSigner:
    key = signing_key(settings)
    state = settings.audit_signer_state
    if state is None:
        folder = settings.data_dir if settings.audit_signing_key else _key_path(settings).parent
        state = folder / "audit_signer_state"
    return LogSigner(key, state)


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


def _key_path(settings: Settings) -> Path:
    return settings.audit_signing_key_file or settings.data_dir / "audit_signing_key"


def parse_key(text: str, origin: str) -> Ed25519Signer:
    text = text.strip()
    try:
        if text.startswith(PRIVATE_KEY_PREFIX):
            return Ed25519Signer.from_skey(text)
        return Ed25519Signer(origin, base64.b64decode(text, validate=True))
    except (NoteError, binascii.Error, ValueError) as error:
        raise SigningKeyError(f"the audit signing key does not parse: {error}") from None


def _make_once(path: Path, origin: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return
    with os.fdopen(fd, "w") as file:
        file.write(Ed25519Signer.generate(origin).skey() + "\n")


def _private_text(path: Path) -> str:
    """The text of a key file, with a warning if others may read it (it was made 0600)."""
    mode = path.stat().st_mode & 0o777
    if mode & 0o077:
        log.warning("%s may be read by others (mode %o): chmod 600 it", path, mode)
    return path.read_text()
