"""A database URL is printed and logged without its password."""

from __future__ import annotations

import pytest

from api.runtime.database import masked


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cr%40t@db:5432/gl", "postgresql://app:***@db:5432/gl"),
        ("postgresql://app@db/gl", "postgresql://app@db/gl"),
        ("host=db user=app password=hunter2 dbname=gl", "host=db user=app password=*** dbname=gl"),
        ("password='a b' host=db", "password=*** host=db"),
        (
            "postgresql://db/gl?password=zz&sslmode=require",
            "postgresql://db/gl?password=***&sslmode=require",
        ),
    ],
)
def test_a_urls_password_is_masked(url: str, shown: str) -> None:
    assert masked(url) == shown
