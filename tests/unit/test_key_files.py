"""The key files made in the data directory (review of issue 16): made once, mode 0600,
and a warning when an existing one may be read by others."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from api.runtime.settings import Settings
from api.runtime.signing import personal_data_master_key


def test_the_master_key_file_is_made_once_private_and_a_loose_one_is_warned_about(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GRIDLEDGER_PERSONAL_DATA_MASTER_KEY", raising=False)
    settings = Settings(_env_file=None, data_dir=tmp_path)
    made = personal_data_master_key(settings)
    path = tmp_path / "personal_data_master_key"
    assert len(made) == 32 and path.stat().st_mode & 0o777 == 0o600
    with caplog.at_level(logging.WARNING, logger="api.runtime.signing"):
        assert personal_data_master_key(settings) == made
        assert not caplog.records
        path.chmod(0o644)
        assert personal_data_master_key(settings) == made
    assert any("chmod 600" in r.getMessage() for r in caplog.records)
