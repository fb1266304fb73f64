"""The projection engine: batches, the runner, tracking, rebuilds, shadows, decoding."""
