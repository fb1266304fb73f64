"""The element names of the Open311 GeoReport v2 spec, as its page lists them, for
checking our XML and JSON against (written out here, not taken from our renderer)."""

from __future__ import annotations

REQUEST_ELEMENTS = {
    "service_request_id", "status", "status_notes", "service_name", "service_code",
    "description", "agency_responsible", "service_notice", "requested_datetime",
    "updated_datetime", "expected_datetime", "address", "address_id", "zipcode", "lat",
    "long", "media_url",
}  # fmt: skip
"""The children of `request` in the spec's GET requests answer."""
SERVICE_ELEMENTS = {
    "service_code", "service_name", "description", "metadata", "type", "keywords", "group",
}  # fmt: skip
