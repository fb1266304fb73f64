"""Analysis of the query tables: reconciliation, the trial balance and scorecards."""
