"""The audit log: the journal, the Merkle log and tree, checkpoints, bundles, verify."""
