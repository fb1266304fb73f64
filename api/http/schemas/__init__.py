"""Request and response schemas, one module per resource; shared types in `common`."""
