"""Tokens name their audience, issuer, lifetime and id; a revoked id is refused by every
API process within seconds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import jwt
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from api.cli.main import app as cli
from api.http.app import create_app
from api.runtime.settings import Settings
from tests.api.conftest import SECRET, Api


def _claims(**changes: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    claims = {
        "sub": "staff:1",
        "role": "admin",
        "scope": "*",
        "aud": "gridledger",
        "iss": "gridledger",
        "jti": "j-1",
        "iat": now,
        "exp": now + timedelta(hours=1),
    }
    claims.update(changes)
    return {k: v for k, v in claims.items() if v is not None}


def _status(api: Api, claims: dict[str, Any]) -> int:
    token = jwt.encode(claims, SECRET, algorithm="HS256")
    response = api.client.get("/v1/tickets", headers={"Authorization": f"Bearer {token}"})
    return response.status_code


def test_a_token_must_name_this_audience_issuer_an_id_and_a_bounded_lifetime(api: Api) -> None:
    assert _status(api, _claims()) == 200
    now = datetime.now(UTC)
    refused = [
        _claims(aud=None),
        _claims(aud="another-service"),
        _claims(iss=None),
        _claims(iss="someone-else"),
        _claims(jti=None),
        _claims(iat=None),
        _claims(exp=now + timedelta(hours=25)),  # longer than token_max_hours (24)
    ]
    for claims in refused:
        assert _status(api, claims) == 401, claims


@pytest.fixture(scope="module")
def quick(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    """Two API processes' worth of apps on one database, rereading revocations often."""
    data: Path = tmp_path_factory.mktemp("data")
    settings = Settings(
        _env_file=None,
        database_url=database_url,
        data_dir=data,
        jwt_secret=SECRET,
        workers_in_process=True,
        watch_interval=3600,
        revocation_refresh_seconds=0.2,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_a_revoked_token_is_refused_within_seconds_and_others_are_not(
    quick: TestClient, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = Api(quick, None, database_url)  # type: ignore[arg-type]
    token, other = api.token(), api.token()
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert quick.get("/v1/tickets", headers=bearer).status_code == 200
    monkeypatch.setenv("GRIDLEDGER_DATABASE_URL", database_url)
    result = CliRunner().invoke(cli, ["revoke", jti, "--reason", "phone lost"])
    assert result.exit_code == 0, result.output
    assert "revoked" in result.output
    answer = quick.get("/v1/tickets", headers=bearer)
    deadline = time.monotonic() + 30
    while answer.status_code == 200 and time.monotonic() < deadline:
        time.sleep(0.1)
        answer = quick.get("/v1/tickets", headers=bearer)
    assert answer.status_code == 401
    assert "revoked" in answer.json()["detail"]
    assert quick.get("/v1/tickets", headers={"Authorization": f"Bearer {other}"}).status_code == 200
    again = CliRunner().invoke(cli, ["revoke", jti])
    assert again.exit_code == 0 and "already" in again.output


def test_gridledger_token_refuses_a_lifetime_beyond_the_cap(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDLEDGER_JWT_SECRET", "s" * 40)
    args = ["token", "--role", "admin", "--sub", "staff:1", "--scope", "*"]
    refused = CliRunner().invoke(cli, [*args, "--hours", "48"])
    assert refused.exit_code != 0
    issued = CliRunner().invoke(cli, [*args, "--hours", "2"])
    assert issued.exit_code == 0
    claims = jwt.decode(
        issued.stdout.strip(),
        "s" * 40,
        algorithms=["HS256"],
        audience="gridledger",
        issuer="gridledger",
    )
    assert claims["jti"] in issued.stderr


def test_gridledger_token_names_staff_by_member_id_or_an_explicit_staff_id(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GRIDLEDGER_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("GRIDLEDGER_JWT_SECRET", "s" * 40)
    for sub, ok in (("alice", False), ("staff:alice", True), (str(uuid4()), True), (":x", False)):
        args = ["token", "--role", "community_staff", "--sub", sub, "--scope", "HG-WH-BH"]
        assert (CliRunner().invoke(cli, args).exit_code == 0) is ok, sub
