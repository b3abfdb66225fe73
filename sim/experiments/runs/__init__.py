"""Infrastructure for running models: the one executor and its backends, and the Hydra task every run job runs."""
