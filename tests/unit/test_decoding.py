"""The projections' fast JSON decoding decodes exactly as the library does."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from eventsourcing.persistence import TranscodingNotRegisteredError

from domain.application import Governance
from projections.engine.decoding import FastJSONDecoding, fast_mapper


@pytest.fixture(scope="module")
def library():
    return Governance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper.transcoder


def test_typed_values_are_revived_at_any_depth_like_the_library(library) -> None:
    value = {
        "at": datetime(2026, 3, 1, 8, 0, tzinfo=UTC),
        "on": date(2026, 3, 1),
        "hours": Decimal("1.50"),
        "ids": [uuid4(), uuid4()],
        "nested": {"rows": [{"member": uuid4(), "points": 5}], "none": None, "ok": True},
        "text": "楼道堆物",
    }
    data = library.encode(value)
    assert FastJSONDecoding(library).decode(data) == library.decode(data) == value


def test_what_orjson_refuses_falls_back_to_the_librarys_decoder(library) -> None:
    data = library.encode({"big": 2**70, "n": -(2**80)})
    assert FastJSONDecoding(library).decode(data) == {"big": 2**70, "n": -(2**80)}


def test_an_unknown_type_name_is_refused_as_the_library_refuses_it(library) -> None:
    with pytest.raises(TranscodingNotRegisteredError):
        FastJSONDecoding(library).decode(b'{"x": {"_type_": "nonesuch", "_data_": 1}}')


def test_a_fast_mapper_is_made_once() -> None:
    mapper = Governance(env={"PERSISTENCE_MODULE": "eventsourcing.popo"}).mapper
    fast = fast_mapper(mapper)
    assert isinstance(fast.transcoder, FastJSONDecoding)
    assert fast_mapper(fast) is fast
