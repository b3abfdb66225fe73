"""silosim: an agent-based simulation of how company silos shape customer loyalty.

The public API, for notebooks and scripts (the console scripts are in :mod:`sim.commands`)::

    from sim import SiloModel, compose_config, compare

    model = SiloModel(compose_config(["scenario=closed_loop_followup", "customers=5000"])).run()
    model.metrics_frame()
    comparison = compare("outputs/mine", scenarios=["siloed_scorecards", "closed_loop_followup"], replications=5)

The package is layered, each layer importing only those below it (an import-linter contract
holds this): ``commands -> dashboard -> report -> experiments -> engine -> config``. See
docs/architecture.md.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "ConfigError",
    "Outcome",
    "ReferenceModel",
    "SiloModel",
    "__version__",
    "checked_config",
    "compare",
    "compose_config",
    "register_outcome",
    "run_replications",
    "run_summary",
]

__version__ = "0.1.0"

# Imported on first use, so `import sim` stays cheap (the engine compiles numba kernels on import).
_LAZY = {
    "ConfigError": ("sim.config", "ConfigError"),
    "checked_config": ("sim.config", "checked_config"),
    "compose_config": ("sim.config", "compose_config"),
    "SiloModel": ("sim.engine.model", "SiloModel"),
    "ReferenceModel": ("sim.engine.reference", "ReferenceModel"),
    "Outcome": ("sim.experiments.analysis.outcomes", "Outcome"),
    "register_outcome": ("sim.experiments.analysis.outcomes", "register"),
    "run_summary": ("sim.experiments.analysis.outcomes", "run_summary"),
    "run_replications": ("sim.experiments.replications", "run_replications"),
    "compare": ("sim.report", "compare"),
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module, attribute = _LAZY[name]
        return getattr(importlib.import_module(module), attribute)
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
