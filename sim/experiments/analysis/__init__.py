"""Analysis of finished runs: the outcome registry, the runs of a study as tables, statistics."""
