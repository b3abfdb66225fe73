"""Run infrastructure: run directories, atomic files, provenance, resources, orphaned workers, resumable studies."""
