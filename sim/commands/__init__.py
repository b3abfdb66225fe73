"""The console scripts, one module each; the only place that prints a user error and exits."""
