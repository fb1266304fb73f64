"""Open311 GeoReport v2 over gridledger's tickets, at `/open311/v2/` (see `routes`).

`render` writes the spec's JSON and XML documents; `mapping` turns ticket rows and
timelines into service requests; `catalogue` offers the ticket categories as services;
`params` reads GET filters and POST forms; `errors` answers the spec's error documents;
`access` says who is asking (an api_key's client application, or the public).
"""
