"""A comparison's plan: the scenarios' resolved configurations, the settings' fingerprint and the output directory."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from omegaconf import OmegaConf

from sim.config import ConfigError, checked_config, compose
from sim.experiments.compare.partial import damaged_runs, partial_dir, read_plan_of
from sim.experiments.compare.settings import (
    DEFAULT_PARENT,
    MAX_HOURS,
    PLAN_FILE,
    CompareConf,
    backend,
    compare_setting_errors,
    model_overrides,
)
from sim.experiments.runs.executor import fmt_duration
from sim.experiments.runs.files import check_writable, require_fresh
from sim.experiments.runs.resources import check_memory, estimate_time
from sim.experiments.uncertainty.draws import plan_draws, read_distributions

__all__ = [
    "Plan",
    "plan",
]


@dataclass
class Plan:
    """A validated comparison: the settings, each scenario's resolved configuration, the multirun.

    ``partial`` is the hidden directory the comparison is assembled in (``.<out>.partial``), which an
    interrupted attempt leaves behind for the same command to resume; ``fingerprint`` identifies the
    settings that decide the results (not the launcher, its options or the parallelism).
    """

    conf: CompareConf
    baseline: str
    configs: dict[str, dict[str, Any]]
    arguments: list[str]
    out: Path
    fingerprint: str = ""
    damaged: list[str] = field(default_factory=list)
    draws: dict[str, Any] | None = None  # uncertainty=parameters: the plan of the parameter draws

    @property
    def total(self) -> int:
        """Runs the comparison holds (at the declared values; the parameter draws' are counted apart)."""
        return len(self.conf.scenarios) * self.conf.replications

    @property
    def partial(self) -> Path:
        """Where the comparison is assembled (and where an interrupted one waits to be resumed)."""
        return partial_dir(self.out)


def plan(conf: CompareConf) -> Plan:
    """Check every setting and every scenario's configuration before anything runs.

    An ``out`` (or, without one, an unfinished comparison under ``outputs/comparisons/``) whose
    partial directory holds the same settings is resumed; one holding other settings is refused.

    Args:
        conf: The comparison settings.

    Returns:
        The plan.

    Raises:
        ConfigError: With one paragraph naming the setting, its value and what is allowed.
    """
    errors = compare_setting_errors(conf)
    try:
        check_writable(Path(conf.out) if conf.out else DEFAULT_PARENT, "out")
    except ConfigError as exc:  # nothing more can be learnt about a path the system refuses
        raise ConfigError("; ".join([*errors, str(exc).rstrip(".")]) + ".") from None
    damaged: list[str] = []
    if conf.out:
        try:
            require_fresh(Path(conf.out), "out", "comparisons")
        except ConfigError as exc:
            stored = read_plan_of(Path(conf.out))
            damaged = [name for name, _ in damaged_runs(Path(conf.out), stored)] if stored else []
            if not damaged:  # a finished comparison with damaged runs is reopened to redo them (below)
                errors.append(str(exc).rstrip("."))
    if errors:
        raise ConfigError("; ".join(errors) + ".")
    configs: dict[str, dict[str, Any]] = {}
    for scenario in conf.scenarios:
        try:
            typed = checked_config([f"scenario={scenario}", *model_overrides(conf)])
        except ConfigError as exc:
            raise ConfigError(f"Scenario '{scenario}' with overrides {conf.overrides}: {exc}") from None
        configs[scenario] = OmegaConf.to_container(OmegaConf.structured(typed), resolve=True)  # type: ignore[assignment]
    baseline = conf.baseline or conf.scenarios[0]
    _check_resources(conf, int(configs[baseline].get("warmup_weeks") or 0))
    settings = plan_settings(conf, baseline)
    fingerprint = _fingerprint(settings, configs)
    if damaged and conf.out and (read_plan_of(Path(conf.out)) or {}).get("fingerprint") != fingerprint:
        require_fresh(Path(conf.out), "out", "comparisons")  # another comparison's directory: refused
    draws = _plan_draws(conf, configs)
    out = _output_dir(conf, settings, fingerprint)
    arguments = [
        f"scenario={','.join(conf.scenarios)}",
        f"seed=range({conf.first_seed},{conf.first_seed + conf.replications})",
        *model_overrides(conf),
        "output.customers=false",
        "output.progress=false",
        "hydra.sweep.subdir=${hydra:runtime.choices.scenario}_s${seed}",
        "~hydra.callbacks.collect_runs",  # the comparison reads its runs itself (no sweep table in runs/)
        *_launcher_arguments(conf),
    ]
    if conf.scenario_dir:
        arguments.append(f"scenario_dir={Path(conf.scenario_dir).resolve()}")
    return Plan(conf, baseline, configs, arguments, out, fingerprint, damaged, draws)


def _plan_draws(conf: CompareConf, configs: dict[str, dict[str, Any]]) -> dict[str, Any] | None:
    """The plan of the parameter draws with uncertainty=parameters, else None."""
    if conf.uncertainty != "parameters":
        return None
    mine = read_distributions(conf.distributions)[0]
    return plan_draws(conf.draws, conf.first_seed, conf.replications, mine, configs)


def _runs_planned(conf: CompareConf) -> int:
    """Runs the comparison starts: the replications, plus one run per scenario per parameter draw."""
    draws = conf.draws if conf.uncertainty == "parameters" else 0
    return len(conf.scenarios) * (conf.replications + draws)


def worker_count(conf: CompareConf) -> int:
    """Runs that go at once on this machine (1 for a cluster's: it runs each on its own)."""
    return backend(conf).workers(_runs_planned(conf))


def _check_resources(conf: CompareConf, warmup_weeks: int) -> None:
    """Memory for the runs that go at once, and the time the whole comparison would take (before any run).

    Raises:
        ConfigError: If the runs cannot fit this machine's memory, or would take longer than :data:`MAX_HOURS`
            without ``allow_long=true``.
    """
    workers = worker_count(conf)
    check_memory(conf.customers, conf.weeks, warmup_weeks, workers)
    total = _runs_planned(conf)
    if not backend(conf).local or conf.allow_long:
        return
    estimate = estimate_time(total, conf.customers, conf.weeks, warmup_weeks, workers)
    if estimate.seconds > MAX_HOURS * 3600:
        raise ConfigError(
            f"The comparison is {total:,} runs of {conf.customers:,} customers x {conf.weeks + warmup_weeks:,} "
            f"weeks on {workers} worker(s): about {fmt_duration(estimate.seconds)} (h:mm:ss, {estimate.basis}), "
            f"more than the {MAX_HOURS:g} "
            "hours a comparison may take without confirmation. Lower `replications`, `customers` or `weeks`, or "
            "add allow_long=true to start it anyway."
        )


def _launcher_arguments(conf: CompareConf) -> list[str]:
    """The multirun's launcher choice and options, checked by composing them (before anything runs)."""
    arguments = backend(conf).hydra_arguments()
    try:
        compose("config", arguments, return_hydra_config=True)
    except ConfigError as exc:
        raise ConfigError(f"The launcher settings {arguments} are invalid: {exc}") from None
    backend(conf).check()  # a Dask scheduler's address answers
    return arguments


def plan_settings(conf: CompareConf, baseline: str) -> dict[str, Any]:
    """The settings that decide a comparison's results (resuming needs them unchanged)."""
    return {
        "name": conf.name,
        "scenarios": list(conf.scenarios),
        "baseline": baseline,
        "seeds": list(range(conf.first_seed, conf.first_seed + conf.replications)),
        "customers": conf.customers,
        "weeks": conf.weeks,
        "overrides": list(conf.overrides),
        "confidence": conf.confidence,
        "clv_discount_rate": conf.clv_discount_rate,
        **(
            {
                "uncertainty": conf.uncertainty,
                "draws": conf.draws,
                "distributions": read_distributions(conf.distributions)[0],
            }
            if conf.uncertainty != "none"
            else {}
        ),
    }


def _fingerprint(settings: dict[str, Any], configs: dict[str, dict[str, Any]]) -> str:
    """A digest of the settings and every scenario's resolved configuration."""
    text = json.dumps({"settings": settings, "configs": configs}, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


def _read_plan(partial: Path) -> dict[str, Any] | None:
    try:
        return json.loads((partial / PLAN_FILE).read_text())
    except (OSError, ValueError):
        return None


def _output_dir(conf: CompareConf, settings: dict[str, Any], fingerprint: str) -> Path:
    """``out``, or the unfinished comparison of the same settings to resume, or a new time-stamped directory.

    Raises:
        ConfigError: If ``out``'s partial directory holds a comparison of other settings.
    """
    if conf.out:
        out = Path(conf.out)
        stored = _read_plan(partial_dir(out))
        if partial_dir(out).exists() and (stored is None or stored.get("fingerprint") != fingerprint):
            raise ConfigError(_changed_settings_message(out, settings, stored))
        return out
    unfinished = sorted(
        (p for p in DEFAULT_PARENT.glob(f".*_{conf.name}.partial") if p.is_dir()),
        key=lambda p: p.name,
        reverse=True,
    )
    for partial in unfinished:
        stored = _read_plan(partial)
        if stored is not None and stored.get("fingerprint") == fingerprint:
            return partial.parent / partial.name[1 : -len(".partial")]
    return DEFAULT_PARENT / f"{datetime.now():%Y-%m-%d_%H-%M-%S}_{conf.name}"


def _changed_settings_message(out: Path, settings: dict[str, Any], stored: dict[str, Any] | None) -> str:
    where = f"`out` is '{out}', where an interrupted comparison waits to be resumed ({partial_dir(out)})"
    if stored is None:
        return f"{where}, but its plan cannot be read; choose another `out`, or delete {partial_dir(out)}."
    before = stored.get("settings", {})
    changed = [
        f"{key} {before.get(key)!r} then, {value!r} now" for key, value in settings.items() if before.get(key) != value
    ]
    what = "; ".join(changed) if changed else "a scenario's or a model parameter's configuration differs"
    return (
        f"{where}, but with other settings ({what}); runs of different configurations are never mixed. Rerun "
        f"it with its own settings ({stored.get('command', 'see its plan.json')}) to finish it, or choose "
        f"another `out`, or delete {partial_dir(out)} to start afresh."
    )
