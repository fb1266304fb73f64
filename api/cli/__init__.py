"""The `gridledger` command line, one module per command group, and the demo of `make run`."""
