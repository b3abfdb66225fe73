"""The one error type for bad input."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A user error: one paragraph that names the key, the value and what is allowed.

    Library code raises it; only the commands (:mod:`sim.commands`) print it and exit.
    """
