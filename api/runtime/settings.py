"""Settings, read from the environment (prefix `GRIDLEDGER_`) or a `.env` file."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Witness(BaseModel):
    url: str = Field(description="The witness's submission prefix (POST <url>/add-checkpoint).")
    key: str = Field(description="Its cosignature verifier key, name+keyid+base64.")


class Open311Service(BaseModel):
    """A ticket category offered as an Open311 service (see README "Open311")."""

    category: str = Field(min_length=1, max_length=50, description="The tickets' category.")
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$", description="service_code.")
    name: str = Field(min_length=1, max_length=100)
    description: str = ""
    group: str = ""
    keywords: list[str] = Field(default_factory=list)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDLEDGER_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL URL. Unset: an embedded server is started in data_dir.",
    )
    data_dir: Path = Field(default=Path(".gridledger"), description="Embedded data, keys.")
    mode: Literal["development", "production"] = "development"
    response_minutes: int = Field(default=60, ge=1, description="Ticket first-response limit.")
    normal_resolution_hours: float = Field(default=72, gt=0, description="Normal tickets.")
    urgent_resolution_hours: float = Field(default=24, gt=0, description="Urgent tickets.")
    resolution_hours_by_category: dict[str, dict[str, float]] = Field(
        default_factory=dict,
        description='Per category and priority, e.g. {"安全隐患": {"normal": 24, "urgent": 4}}.',
    )
    pool_size: int = Field(default=5, ge=1)
    pool_max_overflow: int = Field(default=10, ge=0)
    read_pool_size: int = Field(default=10, ge=1, description="Query-table connections.")
    database_timeout: int = Field(
        default=5,
        ge=1,
        le=60,
        description="Seconds a request waits for a database connection (the server down, "
        "or every connection busy) before it answers 503.",
    )
    jwt_secret: SecretStr | None = Field(
        default=None,
        description="HS256 key for tokens (at least 32 bytes). Unset in development: one is "
        "made in data_dir/jwt_secret; production refuses to start without one.",
    )
    jwt_audience: str = Field(default="gridledger", min_length=1, description="Tokens' `aud`.")
    jwt_issuer: str = Field(default="gridledger", min_length=1, description="Tokens' `iss`.")
    token_max_hours: float = Field(
        default=24, gt=0, le=24 * 30, description="The longest a token may last (exp - iat)."
    )
    revocation_refresh_seconds: float = Field(
        default=2.0, gt=0, le=60, description="How often each process rereads revoked tokens."
    )
    metrics_token: SecretStr | None = Field(
        default=None,
        description="A bearer token for a Prometheus scraper to read /metrics with. "
        "Unset: /metrics answers only a platform admin's token.",
    )
    workers_in_process: bool | None = Field(
        default=None,
        description="Run the projections and the deadline watcher inside the API process. "
        "Unset: yes for the embedded database, no for an external one.",
    )
    audit_signing_key: SecretStr | None = Field(
        default=None,
        description="The log's Ed25519 key: PRIVATE+KEY+<origin>+<keyid>+<base64> (a note "
        "signer key), or base64 of its 32 raw bytes. Unset: audit_signing_key_file.",
    )
    audit_signing_key_file: Path | None = Field(
        default=None,
        description="A file holding the signing key (keep it off the database host). Unset: "
        "one is made once in data_dir/audit_signing_key (mode 0600).",
    )
    audit_signer_state: Path | None = Field(
        default=None,
        description="The signer's memory of the last checkpoint it signed (default: "
        "audit_signer_state beside the key file).",
    )
    audit_origin: str = Field(
        default="gridledger.local/log",
        pattern=r"^[^\s+]+$",
        description="The log's origin line and key name (for a key given as raw bytes).",
    )
    audit_witnesses: list[Witness] = Field(
        default_factory=list,
        description='Witnesses to cosign each checkpoint: [{"url": "http://host:port", '
        '"key": "<name>+<keyid>+<base64>"}] (tlog-witness; cosignature/v1 keys).',
    )
    personal_data_master_key: SecretStr | None = Field(
        default=None,
        description="AES-256 key that wraps the per-person data keys: base64 of 32 bytes. "
        "Unset: one is made once in data_dir/personal_data_master_key (mode 0600).",
    )
    retention_inactive_days: int | None = Field(
        default=None,
        ge=1,
        description="Erase (as the watcher's own erasure, recorded) the personal data of "
        "members with no activity for this many days. Unset: kept until erased on request.",
    )
    checkpoint_every: int = Field(
        default=1000, ge=1, description="Sign a checkpoint once the log grew this many events."
    )
    watch_interval: float = Field(default=30.0, gt=0, description="Deadline watcher rounds (s).")
    max_wait_ms: int = Field(
        default=2000, ge=0, le=30_000, description="A query's `wait_ms` is capped at this."
    )
    audit_export_max_events: int = Field(
        default=100_000,
        ge=1,
        description="The most events one `GET /v1/audit/export` bundle holds (422 beyond).",
    )
    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Larger request bodies are refused (413)."
    )
    commands_per_second: float = Field(
        default=50, ge=0, description="Commands a token may send per second (0: no limit)."
    )
    commands_burst: int = Field(default=100, ge=1, description="Commands a token may send at once.")
    waits_per_second: float = Field(
        default=20,
        ge=0,
        description="Queries a token may make wait for `min_position` per second (0: no limit).",
    )
    waits_burst: int = Field(
        default=60, ge=1, description="Waiting queries a token may start at once."
    )

    open311_public_scope: str | None = Field(
        default=None,
        min_length=1,
        max_length=64,
        description="A jurisdiction code whose tickets anyone may read through Open311 "
        "without an api_key (the PyPI georeport client sends none). Unset: every Open311 "
        "read of requests needs a key. Public answers never show a description or a place.",
    )
    open311_services: list[Open311Service] = Field(
        default_factory=list,
        description="The categories Open311 offers as services, as JSON: "
        '[{"category": "环境卫生", "code": "sanitation", "name": "环境卫生"}]. '
        "Empty: the simulation's 11 categories.",
    )
    open311_language: Literal["zh", "en"] = Field(
        default="zh", description="The language of Open311 status notes and service notices."
    )

    def runs_workers(self) -> bool:
        """Whether the API process runs the projections and the deadline watcher itself."""
        if self.workers_in_process is None:
            return self.database_url is None
        return self.workers_in_process
