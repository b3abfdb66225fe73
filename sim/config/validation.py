"""Semantic checks of a typed configuration: ranges, cross-references, and the experiment design.

Hydra's structured configs reject a misspelt key or a value of the wrong type while composing;
these checks catch the rest (a probability above 1, a department owning a stage that does not
exist, two touchpoints of one kind, a design bound outside its parameter's range) and raise one
:class:`~sim.config.errors.ConfigError` that lists every problem, each naming the key, the value
and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from typing import TYPE_CHECKING, Any

from sim.config.errors import ConfigError
from sim.config.run import TEXT_LIMITS, RunConfig
from sim.config.vocabularies import (
    DESIGN_METHODS,
    KPI_MEASURES,
    LEVER_MECHANISMS,
    METRIC_TYPES,
    PER_DEPARTMENT_MECHANISMS,
    TOUCHPOINT_KINDS,
)
from sim.config.walk import KNOWN_MISTAKES, Param, find, fmt_range, numeric_parameters, range_error, walk

if TYPE_CHECKING:
    from sim.config.schema import SiloConfig

__all__ = ["validate", "validate_design"]


def validate(cfg: SiloConfig) -> None:
    """Check ranges and cross-references; raise one ConfigError listing every problem.

    Args:
        cfg: The typed configuration.

    Raises:
        ConfigError: If anything is out of range or refers to something that does not exist.
    """
    errors: list[str] = []
    for param in walk(cfg):
        errors += _range_errors(param)
    errors += _journey_errors(cfg)
    errors += _organisation_errors(cfg)
    errors += _other_errors(cfg)
    errors += _text_errors(cfg)
    if errors:
        raise ConfigError("Invalid configuration: " + "; ".join(errors) + ".")


def _range_errors(param: Param) -> list[str]:
    """The declared range of one parameter, element by element for a list."""
    if param.lo is None and param.hi is None:
        return []
    values = param.value if isinstance(param.value, list) else [param.value]
    errors = []
    for i, v in enumerate(values):
        if v is None or isinstance(v, bool) or not isinstance(v, int | float):
            continue
        shown = f"{param.key}[{i}]" if isinstance(param.value, list) else param.key
        if range_error(param, v):
            errors.append(f"`{shown}` is {v!r}, but it must be {fmt_range(param.lo, param.hi)} ({param.doc})")
    return errors


def _journey_errors(cfg: SiloConfig) -> list[str]:
    """Stages, and each touchpoint's stage, owner and kind (every kind exactly once)."""
    journey, departments = cfg.journey, cfg.org.departments
    errors = []
    if not journey.stages:
        errors.append("`journey.stages` is empty, but it must list at least one journey stage")
    if len(set(journey.stages)) != len(journey.stages):
        errors.append(f"`journey.stages` is {journey.stages}, but stage names must be unique")
    kinds_seen: dict[str, str] = {}
    kind_errors = False
    for name, touchpoint in journey.touchpoints.items():
        key = f"journey.touchpoints.{name}"
        if journey.stages and touchpoint.stage not in journey.stages:
            errors.append(f"`{key}.stage` is {touchpoint.stage!r}, but it must be one of the stages {journey.stages}")
        if touchpoint.owner not in departments:
            errors.append(
                f"`{key}.owner` is {touchpoint.owner!r}, but it must be one of the departments {sorted(departments)}"
            )
        if touchpoint.kind not in TOUCHPOINT_KINDS:
            errors.append(f"`{key}.kind` is {touchpoint.kind!r}, but it must be one of {list(TOUCHPOINT_KINDS)}")
            kind_errors = True
        elif touchpoint.kind in kinds_seen:
            errors.append(
                f"`{key}.kind` is {touchpoint.kind!r}, but touchpoint {kinds_seen[touchpoint.kind]!r} already has "
                "that kind; each kind appears once"
            )
            kind_errors = True
        else:
            kinds_seen[touchpoint.kind] = name
    missing = [k for k in TOUCHPOINT_KINDS if k not in kinds_seen]
    if missing and not kind_errors:
        errors.append(
            f"`journey.touchpoints` has no touchpoint of kind {missing}; every kind in "
            f"{list(TOUCHPOINT_KINDS)} needs exactly one touchpoint"
        )
    return errors


def _organisation_errors(cfg: SiloConfig) -> list[str]:
    """Departments: a known KPI, levers driving known mechanisms (each once), consistent lever bounds.

    A mechanism of ``PER_DEPARTMENT_MECHANISMS`` (hand-off care) may appear once in every department.
    """
    errors = []
    if not cfg.org.departments:
        errors.append("`org.departments` is empty, but at least one department is needed")
    mechanisms_seen: dict[str, str] = {}
    for dname, dept in cfg.org.departments.items():
        key = f"org.departments.{dname}"
        if dept.kpi not in KPI_MEASURES:
            errors.append(f"`{key}.kpi` is {dept.kpi!r}, but it must be one of {list(KPI_MEASURES)}")
        own_mechanisms: dict[str, str] = {}
        for lname, lever in dept.levers.items():
            lkey = f"{key}.levers.{lname}"
            if lever.mechanism not in LEVER_MECHANISMS:
                errors.append(
                    f"`{lkey}.mechanism` is {lever.mechanism!r}, but it must be one of {list(LEVER_MECHANISMS)}"
                )
            else:
                seen = own_mechanisms if lever.mechanism in PER_DEPARTMENT_MECHANISMS else mechanisms_seen
                if lever.mechanism in seen:
                    errors.append(
                        f"`{lkey}.mechanism` is {lever.mechanism!r}, but lever {seen[lever.mechanism]!r} "
                        "already drives it; each mechanism has one lever (hand-off care: one per department)"
                    )
                seen.setdefault(lever.mechanism, lkey)
            if not lever.min <= lever.initial <= lever.max:
                errors.append(
                    f"`{lkey}` has min {lever.min}, initial {lever.initial}, max {lever.max}, but "
                    "min <= initial <= max is required"
                )
    return errors


def _other_errors(cfg: SiloConfig) -> list[str]:
    """Checks that involve two settings at once."""
    errors = []
    if cfg.governance.metric_type not in METRIC_TYPES:
        errors.append(
            f"`governance.metric_type` is {cfg.governance.metric_type!r}, but it must be one of {list(METRIC_TYPES)}"
        )
    if cfg.network.degree % 2:
        errors.append(f"`network.degree` is {cfg.network.degree}, but it must be even")
    outer = cfg.feedback.outer_loop
    if outer.backlog_full <= outer.backlog_free:
        errors.append(
            f"`feedback.outer_loop.backlog_full` is {outer.backlog_full}, but it must exceed "
            f"`feedback.outer_loop.backlog_free` ({outer.backlog_free})"
        )
    errors += _list_errors(cfg)
    if cfg.track_customers > cfg.customers:
        errors.append(
            f"`track_customers` is {cfg.track_customers}, but it must be at most `customers` ({cfg.customers})"
        )
    return errors


def _text_errors(cfg: SiloConfig) -> list[str]:
    """The scenario's labels: one line each (the title), within :data:`~sim.config.run.TEXT_LIMITS`."""
    if not isinstance(cfg, RunConfig):
        return []
    errors = []
    for key, limit in TEXT_LIMITS.items():
        value = str(getattr(cfg.about, key.split(".")[1]) or "")
        one_line = key == "about.title"
        if len(value) > limit or (one_line and "\n" in value):
            errors.append(
                f"`{key}` is {value[:40]!r}... ({len(value):,} characters), but it must be "
                f"{'one line of ' if one_line else ''}at most {limit} characters"
            )
    return errors


def _list_errors(cfg: SiloConfig) -> list[str]:
    """Lists with one value per resolution class, severity or NPS category, and the transactional survey kinds."""
    errors = []
    for key in ("renewal_minor", "renewal_major", "attitude_dent"):
        if len(getattr(cfg.customer, key)) != 4:
            errors.append(
                f"`customer.{key}` is {getattr(cfg.customer, key)}, but it must list four "
                "values: resolved quickly, slowly, never, and never complained about (silent)"
            )
    if len(cfg.customer.complain_prob) != 2:
        errors.append(
            f"`customer.complain_prob` is {cfg.customer.complain_prob}, but it must list two values: "
            "for a minor and for a major problem"
        )
    unknown = [k for k in cfg.feedback.survey.transactional_touchpoints if k not in TOUCHPOINT_KINDS]
    if unknown:
        errors.append(
            f"`feedback.survey.transactional_touchpoints` names {unknown[0]!r}, but each entry must be a touchpoint "
            f"kind, one of {list(TOUCHPOINT_KINDS)}"
        )
    for section, key in (("journey", "offer_accept_by_category"), ("market", "spend_by_category")):
        if len(getattr(getattr(cfg, section), key)) != 3:
            errors.append(
                f"`{section}.{key}` is {getattr(getattr(cfg, section), key)}, but it must list three "
                "values: for a detractor, a passive and a promoter"
            )
    return errors


# ------------------------------------------------------------------------ the design
def validate_design(cfg: RunConfig) -> None:
    """Check the experiment design against the schema; raise one ConfigError naming every problem.

    Checks that the method is known, every parameter is a numeric parameter of the configuration,
    its bounds are two numbers, low below high, both within the parameter's declared range, and that
    Sobol's base sample is a power of two and Morris's levels even.

    Args:
        cfg: The typed run configuration.

    Raises:
        ConfigError: If anything is wrong.
    """
    if not isinstance(cfg, RunConfig):
        return
    design = cfg.design
    errors: list[str] = []
    if design.method not in DESIGN_METHODS:
        errors.append(f"`design.method` is {design.method!r}, but it must be one of {list(DESIGN_METHODS)}")
    if design.method != "none" and not design.parameters:
        errors.append(
            f"`design.parameters` is empty, but design method {design.method!r} needs at least one "
            "parameter with bounds, e.g. `journey.handoff_failure_prob: [0.01, 0.12]`"
        )
    if design.method == "sobol" and design.samples & (design.samples - 1):
        errors.append(
            f"`design.samples` is {design.samples}, but Sobol sampling needs a power of two (e.g. 8, 16, 64, 1024)"
        )
    if design.method == "morris" and design.levels % 2:
        errors.append(f"`design.levels` is {design.levels}, but Morris sampling needs an even number of levels")
    known = numeric_parameters(cfg)
    for key, bounds in design.parameters.items():
        errors += _bound_errors(cfg, key, bounds, known)
    if errors:
        raise ConfigError("Invalid experiment design: " + "; ".join(errors) + ".")


def _bound_errors(cfg: RunConfig, key: str, bounds: Any, known: list[str]) -> list[str]:
    """One design parameter: a numeric model parameter with two bounds inside its declared range."""
    name = f"design.parameters.{key}"
    param = find(cfg, key) if key in known else None
    if param is None:
        close = (
            [KNOWN_MISTAKES[key]] if key in KNOWN_MISTAKES else difflib.get_close_matches(key, known, n=2, cutoff=0.75)
        )
        hint = f" Did you mean {' or '.join(close)}?" if close else ""
        return [
            f"`{name}` names '{key}', which is not a numeric parameter of the model; "
            f"docs/parameters.md lists every key with its range.{hint}"
        ]
    try:
        if isinstance(bounds, str) or any(isinstance(b, bool) for b in bounds):
            raise TypeError(bounds)
        low, high = (float(b) for b in bounds)
    except (TypeError, ValueError):
        return [f"`{name}` is {bounds!r}, but it must be two numbers [low, high]"]
    errors = []
    if not low < high:
        errors.append(f"`{name}` is [{low:g}, {high:g}], but low must be below high")
    for value in (low, high):
        problem = range_error(param, value) if math.isfinite(value) else f"`{key}` must be a finite number"
        if problem:
            errors.append(f"`{name}` has the bound {value:g}, but {problem}")
    return errors
