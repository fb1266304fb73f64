"""The points tables' columns (name, type, constraint), from which their DDL is made."""

from __future__ import annotations

Spec = tuple[tuple[str, str, str], ...]

BALANCES: Spec = (
    ("account_id", "uuid", "PRIMARY KEY"),
    ("member_id", "uuid", "NOT NULL"),
    ("community", "text", "NOT NULL"),
    ("balance", "bigint", "NOT NULL"),
    ("earned", "bigint", "NOT NULL"),
    ("deducted", "bigint", "NOT NULL"),
    ("redeemed", "bigint", "NOT NULL"),
    ("expired", "bigint", "NOT NULL"),
    ("pending", "bigint", "NOT NULL"),
    ("opened_at", "timestamptz", "NOT NULL"),
    ("updated_at", "timestamptz", "NOT NULL"),
    ("last_position", "bigint", "NOT NULL"),
)

_ENTRY_FIELDS: Spec = (
    ("kind", "text", "NOT NULL"),
    ("status", "text", "NOT NULL"),
    ("points", "bigint", "NOT NULL"),
    ("rule_code", "text", ""),
    ("rule_version", "int", ""),
    ("source", "jsonb", "NOT NULL"),
    ("awarded_by", "text", ""),
    ("approved_by", "text", ""),
    ("quantity", "int", ""),
    ("clipped_from", "bigint", ""),
    ("note", "text", ""),
    ("item", "text", ""),
    ("reason", "text", ""),
    ("reverses", "uuid", ""),
    ("reverses_kind", "text", ""),
    ("before_date", "date", ""),
    ("lots", "jsonb", ""),
    ("on_date", "date", "NOT NULL"),
)

LEDGER: Spec = (
    ("position", "bigint", "PRIMARY KEY"),
    ("entry_id", "uuid", "NOT NULL"),
    ("account_id", "uuid", "NOT NULL"),
    ("member_id", "uuid", "NOT NULL"),
    ("community", "text", "NOT NULL"),
    ("recorded_at", "timestamptz", "NOT NULL"),
    ("entry_kind", "text", "NOT NULL"),
    ("delta", "bigint", "NOT NULL"),
    ("balance_after", "bigint", "NOT NULL"),
    *_ENTRY_FIELDS,
    ("actor_id", "text", "NOT NULL"),
    ("actor_role", "text", "NOT NULL"),
)

ENTRIES: Spec = (
    ("entry_id", "uuid", "PRIMARY KEY"),
    ("account_id", "uuid", "NOT NULL"),
    ("member_id", "uuid", "NOT NULL"),
    ("community", "text", "NOT NULL"),
    *_ENTRY_FIELDS,
    ("posted_on", "date", ""),
    ("recorded_at", "timestamptz", "NOT NULL"),
    ("approved_at", "timestamptz", ""),
    ("rejected_at", "timestamptz", ""),
    ("reversed_by", "uuid", ""),
    ("reversal_reason", "text", ""),
    ("reversed_at", "timestamptz", ""),
    ("position", "bigint", "NOT NULL"),
    ("last_position", "bigint", "NOT NULL"),
)
POSTINGS: Spec = (
    ("posting_id", "bigint", "PRIMARY KEY"),
    ("position", "bigint", "NOT NULL"),
    ("leg", "smallint", "NOT NULL"),
    ("entry_id", "uuid", "NOT NULL"),
    ("kind", "text", "NOT NULL"),
    ("community", "text", "NOT NULL"),
    ("account", "text", "NOT NULL"),
    ("account_type", "text", "NOT NULL"),
    ("member_id", "uuid", ""),
    ("counter_account", "text", "NOT NULL"),
    ("amount", "bigint", "NOT NULL"),
    ("recorded_at", "timestamptz", "NOT NULL"),
    ("on_date", "date", "NOT NULL"),
)


def names(spec: Spec) -> tuple[str, ...]:
    return tuple(name for name, _, _ in spec)


def create_table(base: str, spec: Spec, tail: str = "") -> str:
    """A CREATE TABLE template for the engine (`{base}` names the physical table)."""
    columns = ", ".join(f"{name} {kind} {constraint}".rstrip() for name, kind, constraint in spec)
    return f"CREATE TABLE IF NOT EXISTS {{{base}}} ({columns}{tail})"
