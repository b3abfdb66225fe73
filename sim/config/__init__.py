"""Configuration: the typed schema, the vocabularies, one parameter walk, validation and one compose.

The bottom layer: it imports nothing else of silosim. Everything a run depends on is declared here
(:mod:`~sim.config.schema`, :mod:`~sim.config.run`), checked here (:mod:`~sim.config.validation`)
and composed here (:mod:`~sim.config.compose`); bad input becomes one :class:`ConfigError`.
"""

from __future__ import annotations

from sim.config.compose import compose, compose_config, group_options, register_group_dir, to_config
from sim.config.errors import ConfigError
from sim.config.run import DesignConf, OutputConf, RunConfig
from sim.config.schema import SiloConfig
from sim.config.validation import validate, validate_design
from sim.config.vocabularies import WEEKS_PER_QUARTER, WEEKS_PER_YEAR
from sim.config.walk import find, numeric_parameters, walk, with_values

__all__ = [
    "WEEKS_PER_QUARTER",
    "WEEKS_PER_YEAR",
    "ConfigError",
    "DesignConf",
    "OutputConf",
    "RunConfig",
    "SiloConfig",
    "checked_config",
    "compose",
    "compose_config",
    "find",
    "group_options",
    "numeric_parameters",
    "register_group_dir",
    "to_config",
    "validate",
    "validate_design",
    "walk",
    "with_values",
]


def checked_config(overrides: list[str] | tuple[str, ...] = ()) -> RunConfig:
    """Compose, type and validate a run's configuration (design included) in one call.

    Raises:
        ConfigError: One paragraph naming every problem.
    """
    typed = to_config(compose_config(overrides))
    validate(typed)
    validate_design(typed)
    return typed
