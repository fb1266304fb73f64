"""The deadline process: the index of open deadlines and the watcher that records misses."""
