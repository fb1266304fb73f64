"""The `gridledger` command line, one module per command group."""
