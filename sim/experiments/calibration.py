"""Calibration: fit the baseline's declared free parameters to a client's observed figures.

    silosim-calibrate target.nps=12 target.annual_retention=0.86
    silosim-calibrate target.nps=30 target.annual_churn=0.1 target.first_contact_resolution=0.75 trials=60

The command is configured by Hydra (``conf/calibrate.yaml`` and the ``calibrate`` group, which
declares the free parameters and their bounds). Each trial runs the baseline over the same seeds
(common random numbers; the replications in parallel, ``jobs``) and scores the squared misses of
the replication means in units of each target's tolerance. Every trial is kept in an Optuna study
whose journal is in ``out_dir`` (:mod:`sim.experiments.studies`): the same command run again
resumes it (a least-squares fit replays its path through the trials it holds and goes on), and
several workers can share a TPE study. The best trial is then re-run on fresh seeds to report
target vs simulated mean with a 95% confidence interval.

Outputs (each written atomically into ``out_dir``, beside ``study.json`` and ``study.journal``):
``fit.csv``, ``fit.md``, ``fit.json`` (with the provenance), ``trials.csv``, ``config.yaml`` (the
resolved calibration settings) and, last, ``calibrated.yaml`` (``closest_fit.yaml`` when a target
could not be met). ``silosim calibration=PATH`` (and every other command that composes a model
configuration) applies the calibrated file.

Exit status: 0 all targets met; 2 bad input (nothing written); 3 a target could not be met (the
closest fit is written, labelled as such, and a paragraph names the target and the closest
achievable value).
"""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import json
import math
import textwrap
import warnings
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig, ListConfig, OmegaConf

from sim.config import ConfigError, compose, find, validate, with_values
from sim.config.walk import range_error
from sim.experiments.analysis import Interval
from sim.experiments.files import atomic_write, safe_table
from sim.experiments.outcomes import OUTCOMES
from sim.experiments.provenance import provenance
from sim.experiments.replications import base_configuration, mean_ci, measuring, run_replications
from sim.experiments.runs.executor import Backend, backend_setting
from sim.experiments.studies import RECORD, open_study, place_study, trials_in, write_record

if TYPE_CHECKING:
    from collections.abc import Callable, Mapping

    from sim.config.schema import SiloConfig
    from sim.experiments.abc_calibration import AbcSettings, Posterior
    from sim.experiments.record_targets import RecordTargets
    from sim.experiments.records import ClientRecords

__all__ = [
    "TARGETS",
    "CalibrationResult",
    "CalibrationSpec",
    "FreeParameter",
    "bound_warning",
    "calibrate",
    "calibration_record",
    "load_spec",
    "markdown_report",
    "unreachable_message",
    "write_outputs",
    "write_record_outputs",
]

REPORT_SEED_OFFSET = 10_000
STUDY_NAME = "silosim-calibrate"
FINISHED_FILE = "fit.json"  # written by a finished calibration (with calibrated.yaml or closest_fit.yaml)
# Settings that do not change a calibration's results: a study resumed with other values of these continues.
_FREE_SETTINGS = ("out_dir", "trials", "jobs", "launcher", "launcher_options")
BOUND_MARGIN = 0.05  # a fitted value this close to a bound (share of the range) counts as "at the bound"

# Targets a client can give: the outcome (of the registry) each one is, and whether its bounds are allowed
# values themselves (lo inclusive, hi inclusive). A retention of 0 or a churn of 1 leaves no book to fit.
TARGETS: dict[str, tuple[str, bool, bool]] = {
    "nps": ("measured_nps_last_year", True, True),
    "annual_retention": ("annual_retention", False, True),
    "annual_churn": ("annual_churn", True, False),
    "first_contact_resolution": ("first_contact_resolution_last_year", False, True),
    "survey_responses_per_customer_year": ("survey_responses_per_customer_year", True, True),
    "complaint_contacts_per_customer_year": ("complaint_contacts_per_customer_year", True, True),
}


@dataclasses.dataclass(frozen=True)
class FreeParameter:
    """A baseline parameter the calibration may move, with its search bounds."""

    name: str
    key: str
    lo: float
    hi: float
    log: bool = False
    integer: bool = False

    def at_bound(self, value: float) -> str | None:
        """'lower' or 'upper' if ``value`` sits at a bound (in log space for a log-scale parameter), else None."""
        if self.log and self.lo > 0 and value > 0:
            lo, hi, x = math.log(self.lo), math.log(self.hi), math.log(value)
        else:
            lo, hi, x = self.lo, self.hi, value
        margin = BOUND_MARGIN * (hi - lo)
        if x <= lo + margin:
            return "lower"
        if x >= hi - margin:
            return "upper"
        return None


@dataclasses.dataclass
class CalibrationSpec:
    """Everything a calibration needs, validated."""

    targets: dict[str, float]
    tolerance: dict[str, float]
    free: list[FreeParameter]
    base: SiloConfig
    fixed: dict[str, Any]
    replications: int
    trials: int
    report_replications: int
    sampler_seed: int
    method: str
    jobs: int
    out_dir: Path
    config: DictConfig
    resumed: bool = False
    command: str = ""
    records: ClientRecords | None = None
    record_targets: RecordTargets | None = None
    abc: AbcSettings | None = None  # method=abc: population and generations
    backend: Backend | None = None  # where the replications run (launcher, launcher_options; the executor's)

    @property
    def fit_seeds(self) -> list[int]:
        """Seeds of the replications of every trial (common random numbers)."""
        return [self.base.seed + r for r in range(self.replications)]

    @property
    def report_seeds(self) -> list[int]:
        """Fresh seeds for the reported fit."""
        return [self.base.seed + REPORT_SEED_OFFSET + r for r in range(self.report_replications)]


@dataclasses.dataclass
class CalibrationResult:
    """The best fit, its report on fresh seeds, and the trial history."""

    params: dict[str, float]
    report: dict[str, Interval]
    met: dict[str, bool]
    trials: list[dict[str, Any]]
    best_trial: int
    posterior: Posterior | None = None  # method=abc: the last generation's particles and weights

    @property
    def reachable(self) -> bool:
        """Whether every target was met."""
        return all(self.met.values())


# --------------------------------------------------------------------------- configuration
def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"`{key}` is {value!r}, but it must be a finite number.")
    return float(value)


def _count(value: Any, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"`{key}` is {value!r}, but it must be a whole number of at least {least}.")
    return int(value)


def parallel_jobs(value: Any, key: str = "jobs") -> int:
    """A number of parallel processes: -1 (all cores) or at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or (value < 1 and value != -1):
        raise ConfigError(f"`{key}` is {value!r}, but it must be -1 (all cores) or a whole number of at least 1.")
    return int(value)


def _settings(cfg: DictConfig) -> dict[str, Any]:
    """The calibration's settings that decide its results (the study's fingerprint covers these)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in plain.items() if k not in _FREE_SETTINGS}  # type: ignore[union-attr]


def _check_target(name: str, value: float) -> None:
    outcome, lo_in, hi_in = TARGETS[name]
    lo, hi = OUTCOMES[outcome].bounds
    ok = (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
    if not ok:
        interval = f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
        raise ConfigError(f"`target.{name}` is {value:g}, but it must lie in {interval} ({OUTCOMES[outcome].label}).")


def _free_parameters(node: Any, base: SiloConfig) -> list[FreeParameter]:
    """The declared free parameters (``calibrate.free``): numeric model parameters, bounds inside their range."""
    if not isinstance(node, DictConfig) or len(node) == 0:
        raise ConfigError(
            "`calibrate.free` is empty, but at least one free parameter (key, lo, hi) must be declared "
            "(see conf/calibrate/default.yaml)."
        )
    free = [_free_parameter(str(name), entry, base) for name, entry in node.items()]
    keys = [f.key for f in free]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"`calibrate.free` names the same parameter twice ({keys}).")
    return free


def _free_parameter(name: str, entry: Any, base: SiloConfig) -> FreeParameter:
    where = f"calibrate.free.{name}"
    if not isinstance(entry, DictConfig) or "key" not in entry or "lo" not in entry or "hi" not in entry:
        shown = OmegaConf.to_container(entry) if isinstance(entry, DictConfig) else entry
        raise ConfigError(
            f"`{where}` is {shown!r}, but each free parameter needs key, lo and hi (and optionally log: true)."
        )
    unknown = set(entry) - {"key", "lo", "hi", "log"}
    if unknown:
        raise ConfigError(f"`{where}` has {sorted(unknown)}, but only key, lo, hi and log are allowed.")
    key = str(entry.key)
    param = find(base, key)
    if param is None:
        raise ConfigError(
            f"`{where}.key` is '{key}', but that is not a model parameter; docs/parameters.md "
            "lists every key (touchpoints, departments and levers by name)."
        )
    if param.kind not in (int, float):
        raise ConfigError(
            f"`{where}.key` is '{key}', but that parameter is not a number ({param.value!r}); only "
            "numeric parameters can be calibrated."
        )
    lo, hi = _number(entry.lo, f"{where}.lo"), _number(entry.hi, f"{where}.hi")
    if lo >= hi:
        raise ConfigError(f"`{where}` has lo {lo:g} and hi {hi:g}, but lo must be below hi.")
    if range_error(param, lo) or range_error(param, hi):
        raise ConfigError(
            f"`{where}` has bounds [{lo:g}, {hi:g}], but `{key}` is declared in {param.declared} "
            f"({param.doc}); the bounds must lie inside the declared range."
        )
    log = bool(entry.get("log", False))
    if log and lo <= 0:
        raise ConfigError(f"`{where}` has log: true and lo {lo:g}, but a log-scale search needs lo > 0.")
    return FreeParameter(name, key, lo, hi, log, param.kind is int)


def load_spec(overrides: list[str]) -> CalibrationSpec:
    """Compose the calibration configuration from Hydra overrides and validate it.

    Args:
        overrides: e.g. ``["target.nps=12", "target.annual_retention=0.86", "trials=30"]``.

    Returns:
        The validated specification.

    Raises:
        ConfigError: If anything is missing, unknown or out of range (one paragraph, naming the key).
    """
    cfg = compose("calibrate", overrides)
    OmegaConf.resolve(cfg)
    records = record_targets = None
    if cfg.get("data") is not None:
        records, record_targets, targets = _record_targets(cfg)
        tolerance = _tolerances(cfg, targets)
        # distances in units of each target's sampling uncertainty: its 95% half-width, never below the floor
        tolerance = {k: max(tolerance[k], record_targets.targets[k].half_width) for k in targets}
    else:
        targets = _targets(cfg)
        tolerance = _tolerances(cfg, targets)
    base, fixed = _base(cfg.model)
    free = _free_parameters(cfg.calibrate.get("free"), base)
    clash = sorted(set(fixed) & {f.key for f in free})
    if clash:
        raise ConfigError(f"`model.overrides` fixes {clash}, but the calibration also declares it free; do one.")
    method = str(cfg.method)
    if method not in (*METHODS, "abc"):
        raise ConfigError(f"`method` is '{method}', but it must be one of {', '.join(METHODS)}, abc.")
    abc = None
    if method == "abc":
        from sim.experiments.abc_calibration import abc_settings

        abc = abc_settings(cfg.get("abc"))
    given = next((o.split("=", 1)[1] for o in overrides if o.startswith("out_dir=")), None)
    place = place_study(
        given, Path(str(cfg.out_dir)).expanduser(), _settings(cfg), "out_dir", "silosim-calibrate", FINISHED_FILE
    )
    return CalibrationSpec(
        targets=targets,
        tolerance=tolerance,
        free=free,
        base=base,
        fixed=fixed,
        replications=_count(cfg.replications, "replications", 2),
        trials=_count(cfg.trials, "trials", 1),
        report_replications=_count(cfg.report_replications, "report_replications", 2),
        sampler_seed=_count(cfg.sampler_seed, "sampler_seed", 0),
        method=method,
        jobs=parallel_jobs(cfg.jobs),
        out_dir=place.directory,
        config=cfg,
        resumed=place.resumed,
        command=" ".join(["silosim-calibrate", *overrides]),
        records=records,
        record_targets=record_targets,
        abc=abc,
        backend=backend_setting(cfg, parallel_jobs(cfg.jobs)),
    )


def _record_targets(cfg: DictConfig) -> tuple[ClientRecords, RecordTargets, dict[str, float]]:
    """The client's records (``data``), their targets with intervals, and the values of the targets fitted."""
    from sim.experiments.record_targets import RECORD_TARGETS, measure_targets
    from sim.experiments.records import read_records

    given = sorted(k for k, v in cfg.target.items() if v is not None)
    if given:
        raise ConfigError(
            f"`data` is '{cfg.data}' and `target.{given[0]}` is {cfg.target[given[0]]}, but the targets come either "
            "from the client's records or from the command line; give one."
        )
    names = cfg.get("data_targets")
    if not isinstance(names, ListConfig) or not names or any(str(n) not in RECORD_TARGETS for n in names):
        raise ConfigError(
            f"`data_targets` is {OmegaConf.to_container(names) if isinstance(names, ListConfig) else names!r}, but it "
            f"must be a non-empty list of {', '.join(RECORD_TARGETS)}."
        )
    share = _number(cfg.data_max_excluded, "data_max_excluded")
    if not 0 <= share <= 1:
        raise ConfigError(f"`data_max_excluded` is {share:g}, but it must be a share in [0, 1].")
    records = read_records(Path(str(cfg.data)), max_excluded=share)
    measured = measure_targets(records, None if cfg.get("data_as_of") is None else str(cfg.data_as_of))
    missing = [str(n) for n in names if str(n) not in measured.targets]
    if missing:
        needs = RECORD_TARGETS[missing[0]][2].replace("+", " and ")
        raise ConfigError(
            f"`data_targets` names {missing[0]}, but the records in {cfg.data} do not give it (it needs the {needs} "
            f"file(s), with data in the year); the records give {', '.join(measured.targets)}."
        )
    targets = {str(n): measured.targets[str(n)].value for n in names}
    for name, value in targets.items():
        _check_target(name, value)
    return records, measured, targets


def _targets(cfg: DictConfig) -> dict[str, float]:
    """The observed figures given, each checked against its range."""
    unknown = set(cfg.target) - set(TARGETS)
    if unknown:
        first = sorted(unknown)[0]
        raise ConfigError(f"`target.{first}` is not a calibration target; targets are {', '.join(TARGETS)}.")
    targets = {k: _number(v, f"target.{k}") for k, v in cfg.target.items() if v is not None}
    targets = {**_industry_targets(cfg, targets), **targets}
    if not targets:
        raise ConfigError(
            "No target given: name at least one observed figure, e.g. `target.nps=12 "
            f"target.annual_retention=0.86` (targets: {', '.join(TARGETS)})."
        )
    for name, value in targets.items():
        _check_target(name, value)
    if "annual_retention" in targets and "annual_churn" in targets:
        raise ConfigError(
            f"`target.annual_retention` is {targets['annual_retention']:g} and `target.annual_churn` "
            f"is {targets['annual_churn']:g}, but they are the same figure (churn = 1 - retention); "
            "give one."
        )
    return targets


def _industry_targets(cfg: DictConfig, given: dict[str, float]) -> dict[str, float]:
    """The published figures of ``model.industry``'s preset, for the targets not given on the command line."""
    name = cfg.model.get("industry")
    if not name:
        return {}
    industry = base_configuration(cfg.model, "calibration").industry
    published = {"nps": industry.nps, "annual_retention": industry.annual_retention}
    if "annual_churn" in given:
        published.pop("annual_retention")
    return {k: float(v) for k, v in published.items() if v is not None}


def _tolerances(cfg: DictConfig, targets: dict[str, float]) -> dict[str, float]:
    """Every target's tolerance, positive."""
    tolerance = {}
    for name in targets:
        tol = cfg.calibrate.get("tolerance", {}).get(name)
        if tol is None:
            raise ConfigError(f"`calibrate.tolerance.{name}` is not set, but every target needs a tolerance.")
        tolerance[name] = _number(tol, f"calibrate.tolerance.{name}")
        if tolerance[name] <= 0:
            raise ConfigError(f"`calibrate.tolerance.{name}` is {tol!r}, but it must be positive.")
    return tolerance


def _base(model: DictConfig) -> tuple[SiloConfig, dict[str, Any]]:
    """The baseline that is fitted, and the parameters ``model.overrides`` fixes (with their values)."""
    model_overrides = [str(o) for o in (model.overrides or [])]
    reserved = ("scenario", "calibration", "customers", "weeks", "seed")
    fixed: dict[str, Any] = {}
    for override in model_overrides:
        key, sep, _ = override.partition("=")
        if not sep or key.startswith(("+", "~", "hydra")) or key in reserved:
            raise ConfigError(
                f"`model.overrides` contains '{override}', but it may only set model parameters as key=value "
                "(scenario, customers, weeks and seed have their own `model.` settings)."
            )
        fixed[key] = None
    base = base_configuration(model, "calibration")
    for key in fixed:
        param = find(base, key)
        if param is None:
            raise ConfigError(f"`model.overrides` sets '{key}', which is not a model parameter (docs/parameters.md).")
        fixed[key] = param.value
    return base, fixed


# ------------------------------------------------------------------------------ fitting
def _simulate(spec: CalibrationSpec, params: dict[str, float], seeds: list[int]) -> dict[str, Interval]:
    """The targets' outcomes over ``seeds`` at ``params``: the model as every run simulates it.

    Trials and the report alike run the departments' local search. Holding the levers where they start
    would make the response smoother but biased: the levers settle elsewhere when the parameters move (at
    a high-retention setting such as the SaaS preset, held levers gave annual retention 0.80 where the
    model gives 0.90), so the fit would aim at figures no run produces.
    """
    cfg = with_values(spec.base, params)
    validate(cfg)
    outcomes = {name: TARGETS[name][0] for name in spec.targets}
    runs = run_replications(cfg, seeds, measuring(list(outcomes.values())), jobs=spec.jobs, backend=spec.backend)
    return {name: mean_ci(r[outcome] for r in runs) for name, outcome in outcomes.items()}


def _loss(spec: CalibrationSpec, sim: dict[str, Interval]) -> float:
    total = 0.0
    for name, target in spec.targets.items():
        mean = sim[name].mean
        total += ((mean - target) / spec.tolerance[name]) ** 2 if math.isfinite(mean) else 1e12
    return total


def fmt_target(name: str, value: float) -> str:
    """A target value printed the way its outcome is (``+12.0``, ``0.860``)."""
    return OUTCOMES[TARGETS[name][0]].format(value)


def _ci(name: str, interval: Interval) -> str:
    return f"{fmt_target(name, interval.low)} to {fmt_target(name, interval.high)}"


class _BudgetSpentError(Exception):
    """Raised inside the optimiser when every allowed trial has been run."""


def _interval(payload: dict[str, float]) -> Interval:
    return Interval(payload["mean"], payload["low"], payload["high"], int(payload["n"]))


class _Evaluator:
    """Runs trials against the study (the history), reuses trials it already holds, prints a line per trial.

    Every simulated setting is a complete trial of the study, with the replications' means and
    intervals as user attributes. A setting the study already holds is not simulated again: a resumed
    least-squares fit replays its deterministic path through the finished trials at no cost, and carries
    on where the interrupted one stopped.
    """

    def __init__(self, spec: CalibrationSpec, study: Any, progress: Callable[[str], None]) -> None:
        self.spec = spec
        self.study = study
        self.progress = progress
        self.history: list[dict[str, Any]] = []
        self._known: dict[tuple[float, ...], dict[str, Interval]] = {}
        self.reload()

    def reload(self) -> None:
        """Read the complete trials of the study (other workers may have added some)."""
        complete, _ = trials_in(self.study)
        self.history = [self._row(t.number, t.user_attrs) for t in complete]
        for t in complete:
            params = t.user_attrs["params"]
            self._known[self._key(params)] = {k: _interval(v) for k, v in t.user_attrs["sim"].items()}

    def _key(self, params: dict[str, float]) -> tuple[float, ...]:
        return tuple(float(params[f.key]) for f in self.spec.free)

    def _row(self, number: int, attrs: dict[str, Any]) -> dict[str, Any]:
        sims = {f"sim_{k}": v["mean"] for k, v in attrs["sim"].items()}
        return {"trial": number, **attrs["params"], **sims, "loss": attrs["loss"]}

    def cached(self, params: dict[str, float]) -> dict[str, Interval] | None:
        """The simulated figures of a setting the study already holds, or None."""
        return self._known.get(self._key(params))

    def simulate(self, params: dict[str, float]) -> tuple[dict[str, Interval], float, dict[str, Any]]:
        """Simulate one setting; returns its figures, its loss and the trial's user attributes."""
        sim = _simulate(self.spec, params, self.spec.fit_seeds)
        loss = _loss(self.spec, sim)
        attrs = {"params": params, "sim": {k: dataclasses.asdict(v) for k, v in sim.items()}, "loss": loss}
        return sim, loss, attrs

    def record(self, number: int, attrs: dict[str, Any]) -> None:
        """Add a finished trial to the history and print its progress line."""
        self._known[self._key(attrs["params"])] = {k: _interval(v) for k, v in attrs["sim"].items()}
        self.history.append(self._row(number, attrs))
        best, spec = self.best, self.spec
        shown = ", ".join(f"{k} {fmt_target(k, best[f'sim_{k}'])}" for k in spec.targets)
        self.progress(
            f"trial {len(self.history)}/{spec.trials}  loss {attrs['loss']:8.3f}  |  best so far: trial "
            f"{best['trial'] + 1}, loss {best['loss']:.3f} ({shown})"
        )

    def __call__(self, params: dict[str, float]) -> dict[str, Interval]:
        """A least-squares evaluation: from the study if it holds the setting, else simulated and added to it."""
        import optuna

        known = self.cached(params)
        if known is not None:
            return known
        if len(self.history) >= self.spec.trials or self.close_enough:
            raise _BudgetSpentError
        sim, loss, attrs = self.simulate(params)
        values = {f.name: params[f.key] for f in self.spec.free}
        trial = optuna.trial.create_trial(
            params=values, distributions=_distributions(self.spec), value=loss, user_attrs=attrs
        )
        self.study.add_trial(trial)
        self.record(len(self.study.get_trials(deepcopy=False)) - 1, attrs)
        return sim

    @property
    def best(self) -> dict[str, Any]:
        return min(self.history, key=lambda h: h["loss"])

    @property
    def close_enough(self) -> bool:
        """The best trial misses every target by at most half its tolerance: stop searching, report the fit."""
        if not self.history:
            return False
        best = self.best
        return all(abs(best[f"sim_{k}"] - t) <= 0.5 * self.spec.tolerance[k] for k, t in self.spec.targets.items())


def _distributions(spec: CalibrationSpec) -> dict[str, Any]:
    """Optuna's search space of the free parameters (named by their ``calibrate.free`` name)."""
    from optuna.distributions import FloatDistribution, IntDistribution

    return {
        f.name: IntDistribution(math.ceil(f.lo), math.floor(f.hi), log=f.log)
        if f.integer
        else FloatDistribution(f.lo, f.hi, log=f.log)
        for f in spec.free
    }


def _start(spec: CalibrationSpec) -> dict[str, float]:
    """The current values of the free parameters, clipped into their bounds."""
    return {f.key: min(max(float(find(spec.base, f.key).value), f.lo), f.hi) for f in spec.free}


def _fit_least_squares(spec: CalibrationSpec, evaluate: _Evaluator) -> None:
    """Bounded least squares (scipy, trust-region reflective) on the tolerance-scaled misses.

    Parameters are mapped to [0, 1] (log-scaled where declared); the Jacobian is taken by finite
    differences of 10% of each range, which common random numbers keep smooth enough. The departments'
    local search still makes the response rough (a changed parameter changes which lever moves they
    keep), so when the solver stops early it restarts from the best trial so far, alternating wider and
    narrower difference steps, until the trial budget is spent or every target is within half its
    tolerance. A weak pull toward the starting values (``PRIOR_WEIGHT``) keeps parameters that no target
    needs at their defaults. The path is deterministic, so a resumed fit replays the trials the study
    holds and continues.
    """
    import numpy as np
    from scipy.optimize import least_squares

    free = spec.free

    def to_params(u: np.ndarray) -> dict[str, float]:
        out = {}
        for f, x in zip(free, np.clip(u, 0.0, 1.0), strict=True):
            v = math.exp(math.log(f.lo) + x * (math.log(f.hi) - math.log(f.lo))) if f.log else f.lo + x * (f.hi - f.lo)
            out[f.key] = round(v) if f.integer else float(v)
        return out

    def to_unit(params: dict[str, float]) -> np.ndarray:
        return np.array(
            [
                (math.log(params[f.key]) - math.log(f.lo)) / (math.log(f.hi) - math.log(f.lo))
                if f.log
                else (params[f.key] - f.lo) / (f.hi - f.lo)
                for f in free
            ]
        )

    u = start = np.clip(to_unit(_start(spec)), 0.0, 1.0)

    def residuals(u: np.ndarray) -> np.ndarray:
        sim = evaluate(to_params(u))
        misses = [
            (sim[k].mean - t) / spec.tolerance[k] if math.isfinite(sim[k].mean) else 1e6
            for k, t in spec.targets.items()
        ]
        # a weak pull toward the starting values: with fewer targets than free parameters, the ones no target
        # needs stay where they were (moving one across its whole range costs a quarter of a tolerance squared)
        return np.concatenate([misses, PRIOR_WEIGHT * (np.clip(u, 0.0, 1.0) - start)])

    with contextlib.suppress(_BudgetSpentError):
        for step in itertools.cycle(DIFF_STEPS):  # until the trial budget is spent
            least_squares(residuals, u, bounds=(0.0, 1.0), method="trf", diff_step=step, max_nfev=spec.trials)
            u = np.clip(to_unit({k: evaluate.best[k] for k in (f.key for f in free)}), 0.0, 1.0)


def _fit_tpe(spec: CalibrationSpec, evaluate: _Evaluator) -> None:
    """Optuna's TPE sampler on the tolerance-scaled loss, starting from the current values.

    Several workers may share the study (``out_dir``); each stops when the study holds ``trials``
    complete trials.
    """
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    study = evaluate.study
    if not study.get_trials(deepcopy=False):
        start = _start(spec)
        study.enqueue_trial({f.name: round(start[f.key]) if f.integer else start[f.key] for f in spec.free})

    def objective(trial: optuna.Trial) -> float:
        params = {}
        for f in spec.free:
            if f.integer:
                params[f.key] = trial.suggest_int(f.name, math.ceil(f.lo), math.floor(f.hi), log=f.log)
            else:
                params[f.key] = trial.suggest_float(f.name, f.lo, f.hi, log=f.log)
        _, loss, attrs = evaluate.simulate(params)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        evaluate.record(trial.number, attrs)
        return loss

    remaining = spec.trials - len(evaluate.history)
    if remaining > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(
                objective,
                n_trials=remaining,
                callbacks=[
                    MaxTrialsCallback(spec.trials, states=(TrialState.COMPLETE,)),
                    lambda study, _trial: study.stop() if evaluate.close_enough else None,  # close enough
                ],
            )
    evaluate.reload()


def _sampler(spec: CalibrationSpec, done: int) -> Any:
    """The study's sampler: TPE, seeded by the sampler seed plus the trials already done.

    A resumed TPE study therefore does not repeat its first proposals; the least-squares fit adds
    its own trials, so the sampler does not matter there.
    """
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=spec.sampler_seed + done, multivariate=True, n_startup_trials=max(1, min(10, spec.trials // 3))
        )


PRIOR_WEIGHT = 0.5  # least squares: residual per free parameter, per unit of its range, toward its start
DIFF_STEPS = (0.1, 0.05, 0.2)  # finite-difference steps of the successive least-squares restarts (share of range)
# optimise: the point fit by its general name (least squares), beside the Bayesian fit the uncertainty work adds
METHODS = {"least_squares": _fit_least_squares, "tpe": _fit_tpe, "optimise": _fit_least_squares}


def calibrate(spec: CalibrationSpec, progress: Callable[[str], None] = print) -> CalibrationResult:
    """Fit the free parameters (resuming the study in ``spec.out_dir``), then report the best fit on fresh seeds.

    A target is met when it lies within the 95% CI of the reported mean widened by the target's
    tolerance, the CI counting at most one tolerance (so too few replications cannot make any
    target look met): ``|mean - target| <= tolerance + min(CI half-width, tolerance)``.

    Args:
        spec: The validated specification (``spec.method``: ``least_squares`` or ``tpe``).
        progress: Called with one line per trial (trial k/n, its loss, the best so far).

    Returns:
        The fit, its report and the trial history.
    """
    if spec.method == "abc":
        return _calibrate_abc(spec, progress)
    write_record(spec.out_dir, _settings(spec.config), spec.command)
    probe = open_study(spec.out_dir, STUDY_NAME, ["minimize"], _sampler(spec, 0))
    complete, running = trials_in(probe)
    if complete or running:
        note = f"; {running} trial(s) left running by an interrupted worker are not counted" if running else ""
        progress(f"resuming the study in {spec.out_dir}: {len(complete)} of {spec.trials} trials done{note}")
    study = open_study(spec.out_dir, STUDY_NAME, ["minimize"], _sampler(spec, len(complete)))
    evaluate = _Evaluator(spec, study, progress)
    METHODS[spec.method](spec, evaluate)
    best = evaluate.best
    params = {f.key: best[f.key] for f in spec.free}
    progress(f"re-running the best fit (trial {best['trial'] + 1}) on {spec.report_replications} fresh seeds ...")
    report = _simulate(spec, params, spec.report_seeds)
    return CalibrationResult(
        params=params, report=report, met=_met(spec, report), trials=evaluate.history, best_trial=int(best["trial"])
    )


def _calibrate_abc(spec: CalibrationSpec, progress: Callable[[str], None]) -> CalibrationResult:
    """ABC-SMC (:mod:`sim.experiments.abc_calibration`), then the posterior median reported on fresh seeds."""
    from sim.experiments.abc_calibration import predictive_check, run_abc

    assert spec.abc is not None  # noqa: S101 - load_spec sets it for method=abc
    write_record(spec.out_dir, _settings(spec.config), spec.command)
    posterior = run_abc(spec, spec.abc, progress)
    progress(f"posterior predictive check: the targets at {spec.report_replications} posterior draws ...")
    posterior.check = predictive_check(spec, posterior, spec.report_replications)
    params = posterior.median()
    params = {f.key: float(round(params[f.key])) if f.integer else params[f.key] for f in spec.free}
    progress(f"re-running the posterior median on {spec.report_replications} fresh seeds ...")
    report = _simulate(spec, params, spec.report_seeds)
    met = _met(spec, report)
    particles = posterior.particles.assign(weight=posterior.weights)
    trials = [{"trial": i, **row} for i, row in enumerate(particles.to_dict("records"))]
    return CalibrationResult(params=params, report=report, met=met, trials=trials, best_trial=0, posterior=posterior)


def _met(spec: CalibrationSpec, report: dict[str, Interval]) -> dict[str, bool]:
    met = {}
    for name, target in spec.targets.items():
        r = report[name]
        tol = spec.tolerance[name]
        met[name] = bool(math.isfinite(r.mean) and abs(r.mean - target) <= tol + min(r.half_width, tol))
    return met


# ------------------------------------------------------------------------------ outputs
def fit_table(spec: CalibrationSpec, result: CalibrationResult) -> pd.DataFrame:
    """Target vs simulated mean with its 95% CI, one row per target."""
    rows = []
    for name, target in spec.targets.items():
        r = result.report[name]
        rows.append(
            {
                "target": name,
                "meaning": OUTCOMES[TARGETS[name][0]].label,
                "observed": target,
                "simulated_mean": r.mean,
                "ci95_low": r.low,
                "ci95_high": r.high,
                "tolerance": spec.tolerance[name],
                "replications": r.n,
                "met": result.met[name],
            }
        )
    return pd.DataFrame(rows)


def parameter_rows(spec: CalibrationSpec, result: CalibrationResult) -> list[dict[str, Any]]:
    """Fitted value, default and bounds of every free parameter."""
    return [
        {
            "name": f.name,
            "key": f.key,
            "fitted": result.params[f.key],
            "default": find(spec.base, f.key).value,
            "lo": f.lo,
            "hi": f.hi,
            "at_bound": f.at_bound(result.params[f.key]),
        }
        for f in spec.free
    ]


def markdown_report(spec: CalibrationSpec, result: CalibrationResult) -> str:
    """The fit as a small Markdown report (also printed)."""
    b = spec.base
    lines = [
        f"# Calibration: {'all targets met' if result.reachable else 'TARGET NOT MET (closest fit)'}",
        "",
        f"Baseline `{b.scenario_name}`, {b.customers:,} customers, {b.weeks} weeks after a {b.warmup_weeks}-week "
        f"warm-up; {_budget(spec)}; reported over "
        f"{spec.report_replications} fresh seeds.",
        "",
        *(
            [
                f"Targets measured from the client's records in `{spec.records.folder}` over "
                f"{spec.record_targets.start + pd.Timedelta(days=1):%Y-%m-%d} to {spec.record_targets.as_of:%Y-%m-%d} "
                "(targets.yaml); each tolerance is the target's 95% sampling half-width, at least the configured one.",
                "",
            ]
            if spec.records is not None and spec.record_targets is not None
            else []
        ),
        "| target | observed | simulated mean | 95% CI | tolerance | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, target in spec.targets.items():
        r = result.report[name]
        lines.append(
            f"| {name} | {fmt_target(name, target)} | {fmt_target(name, r.mean)} | {fmt_target(name, r.low)} to "
            f"{fmt_target(name, r.high)} | {spec.tolerance[name]:g} | {'yes' if result.met[name] else 'NO'} |"
        )
    lines += ["", "| parameter | key | fitted | default | bounds |", "|---|---|---|---|---|"]
    for p in parameter_rows(spec, result):
        at = f" (at {p['at_bound']} bound)" if p["at_bound"] else ""
        lines.append(
            f"| {p['name']} | `{p['key']}` | {p['fitted']:.6g}{at} | {p['default']:.6g} | [{p['lo']:g}, {p['hi']:g}] |"
        )
    return "\n".join(lines) + "\n"


def _budget(spec: CalibrationSpec) -> str:
    if spec.abc is not None:
        return f"ABC-SMC, {spec.abc.generations} generations of {spec.abc.population} particles"
    return f"{spec.trials} trials x {spec.replications} replications"


def _calibrated_yaml(spec: CalibrationSpec, result: CalibrationResult, path: Path) -> str:
    node = OmegaConf.create({"calibration_source": str(path)})
    for key, value in {**spec.fixed, **result.params}.items():
        OmegaConf.update(node, key, value, force_add=True)
    fit = "; ".join(
        f"{k} {fmt_target(k, v.mean)} (95% CI {_ci(k, v)}; target {fmt_target(k, spec.targets[k])})"
        for k, v in result.report.items()
    )
    header = ["# @package _global_"]
    if result.reachable:
        header.append(f"# Calibrated baseline written by silosim-calibrate on {datetime.now():%Y-%m-%d %H:%M}.")
    else:
        missed = ", ".join(k for k, ok in result.met.items() if not ok)
        header.append(
            f"# CLOSEST FIT, NOT A CALIBRATION: target(s) not met: {missed}. Written by silosim-calibrate "
            f"on {datetime.now():%Y-%m-%d %H:%M}."
        )
    header += textwrap.wrap(
        f"Fit over {spec.report_replications} replications of {spec.base.customers:,} customers: {fit}.",
        width=98,
        initial_indent="# ",
        subsequent_indent="#   ",
    )
    header.append(f"# Use: silosim calibration={path} [scenario=...]")
    return "\n".join(header) + "\n" + OmegaConf.to_yaml(node)


def write_outputs(spec: CalibrationSpec, result: CalibrationResult) -> Path:
    """Write the fit report and the calibrated (or closest-fit) file into ``spec.out_dir``, each file atomically.

    The calibrated file is written last, so a directory holding it holds the whole report. The study
    (``study.json``, ``study.journal``) stays beside them: rerunning the command with more trials continues it.

    Returns:
        The calibrated (or closest-fit) file.
    """
    out = spec.out_dir.resolve()
    name = "calibrated.yaml" if result.reachable else "closest_fit.yaml"
    other = "closest_fit.yaml" if result.reachable else "calibrated.yaml"
    payload = {
        "status": "met" if result.reachable else "unreachable",
        "calibrated_file": name,
        "targets": spec.targets,
        "tolerance": spec.tolerance,
        "fit": {k: dataclasses.asdict(v) for k, v in result.report.items()},
        "met": result.met,
        "parameters": parameter_rows(spec, result),
        "fixed": spec.fixed,
        "best_trial": result.best_trial,
        "trials": len(result.trials),
        "fit_seeds": spec.fit_seeds,
        "report_seeds": spec.report_seeds,
        "study": RECORD,
        "provenance": provenance(("optuna", "scipy")),
    }
    if spec.records is not None and spec.record_targets is not None:
        write_record_outputs(spec.records, spec.record_targets, out)
    if result.posterior is not None:
        from sim.experiments.abc_calibration import write_posterior

        write_posterior(spec, result.posterior, out)
    atomic_write(out / "fit.csv", lambda tmp: safe_table(fit_table(spec, result)).to_csv(tmp, index=False))
    atomic_write(out / "fit.md", lambda tmp: tmp.write_text(markdown_report(spec, result)))
    atomic_write(out / "trials.csv", lambda tmp: safe_table(pd.DataFrame(result.trials)).to_csv(tmp, index=False))
    atomic_write(out / "config.yaml", lambda tmp: tmp.write_text(OmegaConf.to_yaml(spec.config)))
    atomic_write(out / "fit.json", lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n"))
    (out / other).unlink(missing_ok=True)  # a continued study may turn a closest fit into a calibration
    atomic_write(out / name, lambda tmp: tmp.write_text(_calibrated_yaml(spec, result, out / name)))
    return out / name


def write_record_outputs(records: ClientRecords, measured: RecordTargets, out: Path) -> list[Path]:
    """``targets.yaml`` (each target with its interval) and ``data_quality.csv`` (every row left out, and why).

    Returns:
        The files written (each atomically).
    """
    from sim.experiments.record_targets import targets_yaml

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(
        out / "targets.yaml", lambda tmp: tmp.write_text(targets_yaml(measured, records, out / "targets.yaml"))
    )
    atomic_write(out / "data_quality.csv", lambda tmp: records.quality.to_csv(tmp, index=False))
    return [out / "targets.yaml", out / "data_quality.csv"]


def unreachable_message(spec: CalibrationSpec, result: CalibrationResult, written: Path) -> str:
    """One paragraph naming each target that could not be met and the closest achievable value."""
    parts = []
    for name, ok in result.met.items():
        if ok:
            continue
        r = result.report[name]
        parts.append(
            f"`target.{name}` is {fmt_target(name, spec.targets[name])}, but the closest fit found within the "
            f"declared bounds gives {fmt_target(name, r.mean)} (95% CI {_ci(name, r)}, "
            f"tolerance {spec.tolerance[name]:g})"
        )
    bounds = [
        f"{f.key} = {result.params[f.key]:.4g} ({f.at_bound(result.params[f.key])} bound)"
        for f in spec.free
        if f.at_bound(result.params[f.key])
    ]
    text = "Target not met: " + "; ".join(parts) + "."
    if spec.abc is not None:
        budget = (
            "run the same command again with more generations or particles "
            f"(abc.generations={2 * spec.abc.generations}, abc.population={2 * spec.abc.population})"
        )
    else:
        budget = (
            f"run the same command again with a larger budget, trials={2 * spec.trials} (the study resumes from the "
            f"{len(result.trials)} trials it holds; replications= more per trial steadies the fit)"
        )
    if bounds:
        names = {f.key: name for name, f in ((f.name, f) for f in spec.free)}
        widen = " or ".join(
            f"calibrate.free.{names[b.split(' = ')[0]]}.{'hi' if 'upper' in b else 'lo'}=..." for b in bounds
        )
        text += (
            f" Free parameters at a bound: {', '.join(bounds)}: the model reaches the target only beyond what the "
            f"search allows, so check that the targets are plausible together; if they are, widen that bound on "
            f"the command line ({widen}, inside the parameter's declared range) or {budget}."
        )
    else:
        text += f" No free parameter is at a bound, so the search may simply need a larger budget: {budget}."
    text += f" The closest fit was written to {written} (labelled CLOSEST FIT, not a calibration)."
    return text


def bound_warning(spec: CalibrationSpec, result: CalibrationResult) -> str | None:
    """A paragraph for a fit with a free parameter at a bound of its search range (None if there is none).

    A fit that meets its targets only by pushing a parameter to the edge of its range rests on an extreme
    value: the warning names the parameter, its value and its range, says what the parameter means, and
    what to check before relying on the calibrated baseline.
    """
    at = [(f, result.params[f.key], f.at_bound(result.params[f.key])) for f in spec.free]
    at = [(f, value, side) for f, value, side in at if side]
    if not at:
        return None
    parts = []
    for f, value, side in at:
        param = find(spec.base, f.key)
        meaning = str(param.meta.get("doc", "")).rstrip(".") if param is not None else ""
        what = f" ({meaning[0].lower()}{meaning[1:]})" if meaning else ""
        parts.append(
            f"{f.key}{what} was fitted at {value:.5g}, at the {side} bound of its search range [{f.lo:g}, {f.hi:g}]"
        )
    met = "meets its targets" if result.reachable else "comes closest to its targets"
    which = "this parameter" if len(at) == 1 else "these parameters"
    return (
        f"Warning: {'; '.join(parts)}. The fit {met} only by pushing {which} as far as the search allows, so the "
        "calibrated baseline rests on an extreme value there and may behave unrealistically (for example, a book "
        "that grows or shrinks by itself). Check that the targets are plausible together and for the industry, "
        "and treat results that hinge on it with care; the fit report "
        "(fit.md) marks it."
    )


def calibration_record(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """What a comparison's deliverables say about the calibration its scenarios carry (None if none does).

    Read from the calibration's ``fit.json`` beside the calibrated file (``calibration_source``): the
    targets, the simulated means with their intervals, whether each was met, and the fitted parameters
    with their bounds and whether they sit at one. Only the file's name is kept, not its local path.

    Args:
        configs: Resolved configuration per scenario.

    Returns:
        The record, or None when no scenario is calibrated.
    """
    carrying = {s: str(c.get("calibration_source") or "") for s, c in configs.items()}
    sources = sorted({v for v in carrying.values() if v})
    if not sources:
        return None
    source = Path(sources[0])
    record: dict[str, Any] = {
        "file": source.name,
        "scenarios": [s for s, v in carrying.items() if v == sources[0]],
        "found": False,
    }
    try:
        payload = json.loads((source.parent / FINISHED_FILE).read_text(encoding="utf-8"))
        record.update(
            found=True,
            status=str(payload["status"]),
            targets=dict(payload["targets"]),
            fit={k: dict(v) for k, v in payload["fit"].items()},
            met=dict(payload["met"]),
            parameters=list(payload["parameters"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return record
