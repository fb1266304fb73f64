"""The query-table families, one module each; each owns its tables."""
