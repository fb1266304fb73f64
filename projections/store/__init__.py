"""The event store: its recorder, the events table's name and head, the DDL, snapshots."""
