"""Experiments: running many models and judging them.

Run directories, replications, the outcome registry, analysis, the one multirun launcher,
comparisons, calibration, policy search and sweeps (designs, collection, sensitivity).
"""
