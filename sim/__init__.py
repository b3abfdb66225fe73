"""silosim: an agent-based simulation of how company silos shape customer loyalty."""

from __future__ import annotations

from typing import Any

__all__ = ["SiloModel", "__version__", "compose_config"]

__version__ = "0.1.0"

# The public API is imported on first use, so `import sim` stays cheap (the engine compiles numba kernels).
_LAZY = {"SiloModel": "sim.model", "compose_config": "sim.config"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")
