"""The query-table families, one module each: its DDL, its apply and its reads."""
