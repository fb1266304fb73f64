"""Synthetic community governance for demos and load tests (`gridledger simulate`)."""
