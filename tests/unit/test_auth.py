"""Tokens and their secret: made once in development, demanded in production."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from api.cli.main import app
from api.http.auth import (
    AuthenticationError,
    WeakSecretError,
    issue_token,
    read_token,
    resolve_secret,
)
from api.runtime.settings import Settings


def test_development_makes_a_private_secret_once_and_reuses_it(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path)
    first = resolve_secret(settings)
    assert len(first) >= 32
    assert stat.S_IMODE((tmp_path / "jwt_secret").stat().st_mode) == 0o600
    assert resolve_secret(settings) == first


@pytest.mark.parametrize("secret", [None, "short"])
def test_production_refuses_a_missing_or_weak_secret(tmp_path: Path, secret: str | None) -> None:
    settings = Settings(_env_file=None, data_dir=tmp_path, mode="production", jwt_secret=secret)
    with pytest.raises(WeakSecretError):
        resolve_secret(settings)
    assert not (tmp_path / "jwt_secret").exists()


def test_a_token_carries_sub_role_and_scope() -> None:
    secret = b"k" * 32
    principal = read_token(
        secret, issue_token(secret, sub="staff:u-1", role="grid_worker", scope="HG")
    )
    assert (principal.sub, principal.role, principal.scope) == ("staff:u-1", "grid_worker", "HG")
    assert principal.actor.id == "staff:u-1"
    with pytest.raises(AuthenticationError):
        read_token(b"x" * 32, issue_token(secret, sub="staff:u-1", role="admin", scope="HG"))
    with pytest.raises(AuthenticationError):
        read_token(secret, issue_token(secret, sub="staff:u", role="admin", scope="HG", hours=-1))


def test_a_token_read_before_is_still_refused_once_it_has_expired() -> None:
    secret = b"e" * 32
    issued = datetime.now(UTC)
    token = issue_token(secret, sub="staff:u-2", role="admin", scope="HG", hours=1, now=issued)
    expires = (issued + timedelta(hours=1)).timestamp()
    assert read_token(secret, token).sub == "staff:u-2"
    assert read_token(secret, token, now=lambda: expires - 1).sub == "staff:u-2"
    with pytest.raises(AuthenticationError, match="expired"):
        read_token(secret, token, now=lambda: expires)
    with pytest.raises(AuthenticationError):  # nor with another key, once read with this one
        read_token(b"x" * 32, token)


def test_gridledger_token_prints_a_token_the_api_accepts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDLEDGER_JWT_SECRET", "s" * 40)
    result = CliRunner().invoke(
        app, ["token", "--role", "resident", "--sub", "m-1", "--scope", "HG-WH-BH"]
    )
    assert result.exit_code == 0, result.output
    principal = read_token(b"s" * 40, result.stdout.strip())  # (its id goes to stderr)
    assert (principal.role, principal.scope) == ("resident", "HG-WH-BH")
    refused = CliRunner().invoke(app, ["token", "--role", "mayor", "--sub", "x", "--scope", "HG"])
    assert refused.exit_code != 0


def test_the_readme_shows_the_role_matrix_as_the_code_has_it() -> None:
    from api.http.permissions import matrix_markdown

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert matrix_markdown() in readme
