"""Decoding stored events fast, for projections.

A rebuild decodes every event of the log, so the library's JSON decoding (the
standard `json` module calling a Python hook for every object) is the biggest single
cost of a rebuild. `fast_mapper` answers a mapper that decodes exactly as the given
one does (the same transcodings, cipher and compressor, and the library's own
`to_domain_event`, with its upcasting), but parses with orjson and revives the
transcoded values (`{"_type_": name, "_data_": value}`) in one walk, innermost first
as the library does. Anything orjson will not parse (integers beyond 64 bits, say)
falls back to the library's decoder.
"""

from __future__ import annotations

from typing import Any, NamedTuple
from uuid import UUID

import orjson
from eventsourcing.persistence import JSONTranscoder, Mapper, TranscodingNotRegisteredError


class FastJSONDecoding(JSONTranscoder):
    """The transcodings of `like`, decoded with orjson (encoding is unchanged)."""

    def __init__(self, like: JSONTranscoder) -> None:
        super().__init__()
        self.types = like.types
        self.names = like.names

    def decode(self, data: bytes) -> Any:
        try:
            value = orjson.loads(data)
        except orjson.JSONDecodeError:
            return super().decode(data)
        return self._revive(value)

    def _revive(self, value: Any) -> Any:
        kind = type(value)
        if kind is dict:
            for key, item in value.items():
                if type(item) is dict or type(item) is list:
                    value[key] = self._revive(item)
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                try:
                    transcoding = self.names[value["_type_"]]
                except KeyError as error:
                    raise TranscodingNotRegisteredError(
                        f"Data serialized with name {value['_type_']!r} is not deserializable."
                    ) from error
                return transcoding.decode(value["_data_"])
            return value
        if kind is list:
            return [
                self._revive(item) if type(item) is dict or type(item) is list else item
                for item in value
            ]
        return value


def fast_mapper(mapper: Mapper[Any]) -> Mapper[Any]:
    """A mapper that decodes as `mapper` does, faster (itself if it cannot)."""
    transcoder = mapper.transcoder
    if not isinstance(transcoder, JSONTranscoder) or isinstance(transcoder, FastJSONDecoding):
        return mapper
    return Mapper(
        transcoder=FastJSONDecoding(transcoder),
        compressor=mapper.compressor,
        cipher=mapper.cipher,
    )


class StoredRow(NamedTuple):
    """One row of the events table, as the mapper reads it (a lighter `Notification`)."""

    id: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes
