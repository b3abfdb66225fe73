"""The declared stylized facts (``conf/validate.yaml``): each fact's checks and thresholds, loaded and checked."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, checked_config
from sim.config.compose import compose
from sim.experiments.analysis.outcomes import fact_measures
from sim.experiments.facts.measures import WINDOW
from sim.experiments.runs.executor import Backend, backend_setting
from sim.experiments.runs.files import check_writable, require_fresh
from sim.experiments.runs.resources import check_memory

__all__ = [
    "Check",
    "Fact",
    "ValidationSpec",
    "load_spec",
    "run_label",
]


HOLDS = ("above", "below", "within")


# ------------------------------------------------------------------------------------------ declarations
@dataclass(frozen=True)
class Check:
    """One statistic of a fact and the threshold its interval must clear."""

    measure: str
    scenario: str
    against: str | None
    holds: dict[str, Any]
    overrides: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The run the check reads: its scenario, with its own model overrides if any."""
        return run_label(self.scenario, self.overrides)

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The runs the check reads (labels: a scenario, with overrides if any)."""
        return (self.label,) if self.against is None else (self.label, self.against)

    def threshold_text(self) -> str:
        """The threshold in words, e.g. ``above 0.8`` or ``within [-1, 1]``."""
        kind, value = next(iter(self.holds.items()))
        if kind == "within":
            return f"within [{value[0]:g}, {value[1]:g}]"
        return f"{kind} {value:g}"

    def statistic_text(self) -> str:
        """What the interval is of: a mean over seeds or a paired difference."""
        if self.against is None:
            return f"{self.label}, mean over seeds"
        return f"{self.label} less {self.against}, paired by seed"


def run_label(scenario: str, overrides: Sequence[str] = ()) -> str:
    """The name of a run: the scenario, and its check-level overrides in brackets.

    >>> run_label("full_transformation", ["governance.executive_engagement=0.2"])
    'full_transformation [governance.executive_engagement=0.2]'
    """
    return f"{scenario} [{', '.join(overrides)}]" if overrides else scenario


@dataclass(frozen=True)
class Fact:
    """A stylized fact: its name, what it says, its source, and its checks."""

    name: str
    title: str
    source: str
    checks: tuple[Check, ...]


@dataclass
class ValidationSpec:
    """What ``silosim-validate`` runs: the facts, the population, the seeds and where it writes."""

    facts: list[Fact]
    customers: int
    weeks: int
    seeds: list[int]
    confidence: float
    jobs: int
    out: Path
    overrides: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    backend: Backend | None = None  # where the runs go (launcher, launcher_options; the executor's)
    warmup_weeks: int = 0  # the longest warm-up of its runs (for the time estimate printed first)

    @property
    def scenarios(self) -> list[str]:
        """Every run (scenario, with check-level overrides if any) a fact reads, in the order the facts name them."""
        return list(self.runs_of)

    @property
    def runs_of(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Each run label: its scenario and its check-level overrides."""
        seen: dict[str, tuple[str, tuple[str, ...]]] = {}
        for fact in self.facts:
            for check in fact.checks:
                seen.setdefault(check.label, (check.scenario, check.overrides))
                if check.against is not None:
                    seen.setdefault(check.against, (check.against, ()))
        return seen


def _integer(cfg: DictConfig, key: str, least: int) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"`{key}` is {value!r}, but it must be a whole number of at least {least}.")
    return int(value)


def _holds(value: Any, where: str) -> dict[str, Any]:
    """A check's threshold, checked: one of above / below (a number) or within (two increasing numbers)."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in HOLDS:
        raise ConfigError(
            f"`{where}` is {value!r}, but it must be one of {{above: x}}, {{below: x}} or {{within: [a, b]}}."
        )
    kind, bound = next(iter(value.items()))
    if kind == "within":
        ok = isinstance(bound, list) and len(bound) == 2 and all(isinstance(b, int | float) for b in bound)
        if not ok or bound[0] >= bound[1]:
            raise ConfigError(f"`{where}.within` is {bound!r}, but it must be two increasing numbers [a, b].")
        return {"within": [float(bound[0]), float(bound[1])]}
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        raise ConfigError(f"`{where}.{kind}` is {bound!r}, but it must be a number.")
    return {kind: float(bound)}


def _check(entry: Any, where: str) -> Check:
    if not isinstance(entry, dict):
        raise ConfigError(f"`{where}` is {entry!r}, but a check is a mapping with measure, scenario and holds.")
    unknown = sorted(set(entry) - {"measure", "scenario", "against", "holds", "overrides"})
    if unknown:
        raise ConfigError(
            f"`{where}.{unknown[0]}` is not a check setting; use measure, scenario, against, holds, overrides."
        )
    measure = entry.get("measure")
    names = [o.name for o in fact_measures()]
    if measure not in names:
        raise ConfigError(f"`{where}.measure` is {measure!r}, but it must be one of {', '.join(names)}.")
    scenario, against = entry.get("scenario"), entry.get("against")
    if not isinstance(scenario, str) or not scenario:
        raise ConfigError(f"`{where}.scenario` is {scenario!r}, but it must name a scenario.")
    overrides = entry.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        raise ConfigError(
            f"`{where}.overrides` is {overrides!r}, but it must be a list of model settings key=value, "
            "e.g. [governance.executive_engagement=0.2]."
        )
    if against is not None and (not isinstance(against, str) or (against == scenario and not overrides)):
        raise ConfigError(
            f"`{where}.against` is {against!r}, but it must name another scenario, or the same one when the "
            "check has overrides (or be left out)."
        )
    return Check(measure, scenario, against, _holds(entry.get("holds"), f"{where}.holds"), tuple(overrides))


def _fact(name: str, entry: Any) -> Fact:
    where = f"facts.{name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"`{where}` is {entry!r}, but a fact is a mapping with title, source and checks.")
    for key in ("title", "source"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"`{where}.{key}` is {entry.get(key)!r}, but every fact needs a {key} (text).")
    checks = entry.get("checks")
    if not isinstance(checks, list) or not checks:
        raise ConfigError(f"`{where}.checks` is {checks!r}, but a fact needs a list of at least one check.")
    return Fact(
        name,
        " ".join(entry["title"].split()),
        " ".join(entry["source"].split()),
        tuple(_check(c, f"{where}.checks[{i}]") for i, c in enumerate(checks)),
    )


def load_spec(overrides: Sequence[str]) -> ValidationSpec:
    """Compose ``conf/validate.yaml`` with overrides and check every setting and fact.

    Args:
        overrides: e.g. ``["seeds=10", "customers=5000", "only=[stationary_baseline]"]``.

    Returns:
        The validated specification (the scenarios and model overrides are checked by composing one run).

    Raises:
        ConfigError: One paragraph naming the key, the value and what is allowed.
    """
    cfg = compose("validate", list(overrides))
    raw = OmegaConf.to_container(cfg, resolve=True)
    if not isinstance(raw, dict):  # a primary config is always a mapping
        raise ConfigError("conf/validate.yaml must be a mapping of settings and facts.")
    facts_node = raw.get("facts") or {}
    if not isinstance(facts_node, dict) or not facts_node:
        raise ConfigError("`facts` is empty, but silosim-validate needs at least one declared fact.")
    only = raw.get("only") or []
    if not isinstance(only, list):
        raise ConfigError(f"`only` is {only!r}, but it must be a list of fact names, e.g. only=[stationary_baseline].")
    unknown = [n for n in only if n not in facts_node]
    if unknown:
        raise ConfigError(f"`only` names '{unknown[0]}', but the declared facts are {', '.join(facts_node)}.")
    facts = [_fact(name, entry) for name, entry in facts_node.items() if not only or name in only]
    confidence = cfg.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ConfigError(f"`confidence` is {confidence!r}, but it must be a level between 0 and 1, e.g. 0.95.")
    model_overrides = [str(o) for o in (raw.get("overrides") or [])]
    spec = ValidationSpec(
        facts=facts,
        customers=_integer(cfg, "customers", 200),
        weeks=_integer(cfg, "weeks", 2 * WINDOW),
        seeds=list(range(_integer(cfg, "first_seed", 0), cfg.first_seed + _seed_count(cfg))),
        confidence=float(confidence),
        jobs=_integer(cfg, "jobs", 1),
        out=Path(str(cfg.out)).expanduser()
        if cfg.get("out")
        else Path("outputs/validation") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"),
        overrides=model_overrides,
        config=raw,
        backend=backend_setting(cfg, _integer(cfg, "jobs", 1)),
    )
    # every scenario and model override composes (one paragraph if not)
    typed = [checked_config(run_overrides(spec, label, spec.seeds[0])) for label in spec.scenarios]
    check_writable(spec.out, "out")  # before the runs, which take minutes
    workers = min(spec.jobs, len(spec.scenarios) * len(spec.seeds))
    largest = max(typed, key=lambda t: t.customers * (t.weeks + t.warmup_weeks))
    check_memory(largest.customers, largest.weeks, largest.warmup_weeks, workers, "jobs")
    spec = dataclasses.replace(spec, warmup_weeks=largest.warmup_weeks)
    require_fresh(spec.out, "out", "validation results")
    return spec


MAX_SEEDS = 1000  # seeds per scenario; each fact runs every scenario it needs on every seed


def _seed_count(cfg: DictConfig) -> int:
    """``seeds``, at most :data:`MAX_SEEDS`."""
    seeds = _integer(cfg, "seeds", 3)
    if seeds > MAX_SEEDS:
        raise ConfigError(
            f"`seeds` is {seeds:,}, but it must be at most {MAX_SEEDS:,} (each seed runs every scenario of the "
            "facts; 10 to 50 seeds already give narrow intervals)."
        )
    return seeds


def run_overrides(spec: ValidationSpec, label: str, seed: int) -> list[str]:
    scenario, own = spec.runs_of[label]
    return [
        f"scenario={scenario}",
        f"seed={seed}",
        f"customers={spec.customers}",
        f"weeks={spec.weeks}",
        "track_customers=0",
        "output.progress=false",
        *spec.overrides,
        *own,
    ]
