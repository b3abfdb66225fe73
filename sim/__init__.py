"""silosim: an agent-based simulation of how company silos shape customer loyalty."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
