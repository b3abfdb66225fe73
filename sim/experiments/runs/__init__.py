"""Run infrastructure: run directories, atomic files, provenance, resources, orphans, resumable studies.

Also the one executor and its backends (executor), and the Hydra task every run directory comes from (task).
"""
