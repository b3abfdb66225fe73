"""Policy search: governance levers for the best three-year retention or net value under a budget.

    silosim-policy
    silosim-policy objective=net_value policy.budget=300 trials=40
    silosim-policy model.calibration=outputs/calibrate/acme/calibrated.yaml out_dir=outputs/policy/acme
    silosim-policy 'lever.followup_capacity=interval(0, 5)' 'lever.communication=choice(0.7, 0.9)'

Configured by Hydra (``conf/policy.yaml``; the levers, their costs and the budget in the ``policy``
group) and run with Optuna directly: a two-objective study (maximise the objective, minimise the
programme cost) with the budget as a constraint (``cost - budget <= 0``), sampled by Optuna's
constrained multi-objective TPE. Each trial is one lever setting, run over the same seeds (common
random numbers), its replications in parallel (``jobs``). The study's journal is in ``out_dir``
(:mod:`sim.experiments.runs.studies`): the same command run again resumes it, and several workers (SLURM
array tasks) can share it. Every setting is simulated, over budget too, so the front shows what a
larger budget would buy; the best setting is chosen within the budget.

Outputs (each written atomically into ``out_dir``, beside ``study.json`` and ``study.journal``):
``baseline.json`` (the unchanged baseline, cost 0), ``trials.csv``, ``front.csv`` (the settings that
no other setting beats on both objectives: at most the cost and a higher objective; the baseline
included), ``best.json`` (with its paired difference from the baseline and the provenance) and the
figure ``front.png``/``front.svg`` (written by :mod:`sim.report.research`).

Objectives (measured on each replication, averaged):

* ``retention_3y``: share of the customers on the book at week 0 still customers at the end of the
  horizon (three years at the default 156 weeks);
* ``net_value``: value of the book net of the programme (not the comparison report's per-customer
  CLV): discounted revenue minus discounted lever cost over the horizon, per initial customer (currency).
"""

from __future__ import annotations

import json
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, compose, find, validate, with_values
from sim.config.walk import range_error
from sim.experiments.analysis.outcomes import OUTCOMES, RunContext
from sim.experiments.analysis.statistics import mean_ci as paired_ci
from sim.experiments.calibration.spec import parallel_jobs
from sim.experiments.replications import base_configuration, mean_ci, measuring, run_replications
from sim.experiments.runs.files import atomic_write, safe_table
from sim.experiments.runs.provenance import provenance
from sim.experiments.runs.studies import claim_trial, open_study, place_study, trials_in, write_record

if TYPE_CHECKING:
    import optuna

    from sim.config.schema import SiloConfig

__all__ = ["OBJECTIVES", "PolicySearch", "frontier", "lever_cost", "load", "objective_label", "search", "summarise"]

# Objective -> the outcome of the registry it is (measured on each replication, averaged).
OBJECTIVES = {"retention_3y": "initial_book_retention", "net_value": "net_value"}
REPORTED = ("initial_book_retention", "net_value", "true_nps")  # recorded for every trial
STUDY_NAME = "silosim-policy"
FINISHED_FILE = "best.json"
# Settings that do not change a search's results: a study resumed with other values of these continues.
_FREE_SETTINGS = ("out_dir", "trials", "jobs")
# Keys of the old Hydra-sweeper version, and what replaced them.
_RENAMED = {
    "hydra.sweeper.n_trials": "trials=N",
    "hydra.sweeper.sampler.n_startup_trials": "startup_trials=N",
    "hydra.sweeper.sampler.seed": "sampler_seed=N",
    "hydra.sweeper.params": "lever.NAME=interval(lo, hi)",
    "hydra.sweep.dir": "out_dir=DIR",
}


# ------------------------------------------------------------------------------ measures
def lever_cost(settings: dict[str, float], levers: DictConfig | dict[str, Any]) -> float:
    """Weekly cost of a lever setting: sum of cost_per_unit x max(0, setting - baseline).

    Args:
        settings: Lever name -> setting.
        levers: Lever name -> {key, baseline, cost_per_unit}.

    Returns:
        Cost in currency per week per 1,000 initial customers.
    """
    return float(
        sum(levers[n]["cost_per_unit"] * max(0.0, float(v) - levers[n]["baseline"]) for n, v in settings.items())
    )


def frontier(points: pd.DataFrame) -> pd.DataFrame:
    """The two-objective front of cost (lower is better) and objective (higher is better), feasible points only.

    A point is on the front if no other point costs at most as much and reaches a higher objective
    (or the same objective for less). Optuna's own Pareto front of the study (``study.best_trials``) is
    this front without the baseline, which is not a trial.

    Args:
        points: Rows with ``cost``, ``mean`` (the objective) and ``feasible``.

    Returns:
        The non-dominated rows, by increasing cost (objective strictly increasing).
    """
    ok = points[points["feasible"]].sort_values(["cost", "mean"], ascending=[True, False])
    keep, best = [], -math.inf
    for idx, row in ok.iterrows():
        if row["mean"] > best:
            keep.append(idx)
            best = row["mean"]
    return ok.loc[keep].reset_index(drop=True)


def objective_label(cfg: DictConfig) -> tuple[str, str]:
    """The objective's label and unit, naming the horizon actually simulated."""
    outcome = OUTCOMES[OBJECTIVES[str(cfg.objective)]]
    if cfg.objective == "retention_3y":
        return f"retention of the initial book after {int(cfg.model.weeks)} weeks", "share of week-0 customers"
    return outcome.label, outcome.unit


# ---------------------------------------------------------------------------- the search
@dataclass
class PolicySearch:
    """A validated policy search: its settings, the model it starts from, the search space and its place."""

    cfg: DictConfig
    base: SiloConfig
    space: dict[str, Any]
    """Lever name -> Optuna distribution (levers not searched keep their ``lever.NAME`` value)."""
    out_dir: Path
    resumed: bool
    command: str
    jobs: int

    @property
    def levers(self) -> DictConfig:
        """The declared levers: model key, baseline, cost per unit, unit."""
        return self.cfg.policy.levers

    @property
    def budget(self) -> float:
        """Programme budget, currency per week per 1,000 initial customers."""
        return float(self.cfg.policy.budget)

    @property
    def trials(self) -> int:
        """Trials (lever settings) the study is to hold."""
        return int(self.cfg.trials)

    @property
    def seeds(self) -> list[int]:
        """Seeds of every setting's replications (common random numbers)."""
        return [int(self.cfg.model.seed) + r for r in range(int(self.cfg.replications))]


def _evaluate(search: PolicySearch, settings: dict[str, float], cost: float) -> list[dict[str, float]]:
    keys = {n: str(lv.key) for n, lv in search.levers.items()}
    cfg = with_values(search.base, {keys[n]: float(v) for n, v in settings.items()})
    validate(cfg)
    context = RunContext(
        customers=cfg.customers, discount_rate=float(search.cfg.discount_rate), programme_cost_per_week=cost
    )
    return run_replications(cfg, search.seeds, measuring(REPORTED, context), jobs=search.jobs)


def _record(search: PolicySearch, settings: dict[str, float], runs: list[dict[str, float]], cost: float) -> dict:
    """A setting's row: levers, cost, feasibility, the objective's mean and 95% CI, every replication's value."""
    objective = str(search.cfg.objective)
    outcome = OBJECTIVES[objective]
    ci = mean_ci(r[outcome] for r in runs)
    return {
        **{f"lever.{k}": float(v) for k, v in settings.items()},
        "cost": cost,
        "budget": search.budget,
        "feasible": cost <= search.budget,
        "objective": objective,
        "mean": ci.mean,
        "ci95_low": ci.low,
        "ci95_high": ci.high,
        "replications": ci.n,
        "values": [r[outcome] for r in runs],
        **{f"mean_{k}": float(np.mean([r[k] for r in runs])) for k in runs[0]},
    }


def _settings_of(search: PolicySearch, trial: optuna.Trial) -> dict[str, float]:
    """Every lever's setting for a trial: sampled where searched, fixed elsewhere."""
    from optuna.distributions import CategoricalDistribution

    settings = {name: float(search.cfg.lever[name]) for name in search.levers}
    for name, distribution in search.space.items():
        if isinstance(distribution, CategoricalDistribution):
            settings[name] = float(trial.suggest_categorical(name, distribution.choices))
        else:
            settings[name] = trial.suggest_float(name, distribution.low, distribution.high)
    return settings


def _sampler(search: PolicySearch, done: int) -> optuna.samplers.BaseSampler:
    import optuna

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        return optuna.samplers.TPESampler(
            seed=int(search.cfg.sampler_seed) + done,
            n_startup_trials=int(search.cfg.startup_trials),
            multivariate=True,
        )


def _baseline(search: PolicySearch, progress: Callable[[str], None]) -> dict[str, Any]:
    """The unchanged baseline (every lever at its baseline, cost 0): from ``baseline.json`` or simulated."""
    path = search.out_dir / "baseline.json"
    if path.is_file():
        return json.loads(path.read_text())
    start = {n: float(lv.baseline) for n, lv in search.levers.items()}
    row = {"trial": "baseline", **_record(search, start, _evaluate(search, start, 0.0), 0.0)}
    atomic_write(path, lambda tmp: tmp.write_text(json.dumps(row, indent=2) + "\n"))
    progress(
        f"baseline (no programme, cost 0)  {row['objective']} {row['mean']:.4g} (95% CI {row['ci95_low']:.4g} to "
        f"{row['ci95_high']:.4g})"
    )
    return row


def search(search: PolicySearch, progress: Callable[[str], None] = print) -> optuna.Study:
    """Evaluate the baseline, then run (or resume) the study until it holds ``trials`` complete trials.

    Args:
        search: The validated search (:func:`load`).
        progress: Called with one line per trial (trial k/n, its cost, objective and the best so far).

    Returns:
        The study.
    """
    import optuna
    from optuna.study import MaxTrialsCallback
    from optuna.trial import TrialState

    write_record(search.out_dir, _settings(search.cfg), search.command)
    _baseline(search, progress)
    directions = ["maximize", "minimize"]
    probe = open_study(search.out_dir, STUDY_NAME, directions, _sampler(search, 0))
    complete, running = trials_in(probe)
    if complete or running:
        note = f"; {running} trial(s) running or left running by an interrupted worker" if running else ""
        progress(f"resuming the study in {search.out_dir}: {len(complete)} of {search.trials} trials done{note}")
    study = open_study(search.out_dir, STUDY_NAME, directions, _sampler(search, len(complete)))

    def objective(trial: optuna.Trial) -> tuple[float, float]:
        claim_trial(trial)
        settings = _settings_of(search, trial)
        cost = lever_cost(settings, search.levers)
        trial.set_constraint("budget", cost - search.budget)  # feasible when at most 0
        row = _record(search, settings, _evaluate(search, settings, cost), cost)
        for key in ("cost", "budget", "feasible", "mean", "ci95_low", "ci95_high", "values", "replications"):
            trial.set_user_attr(key, row[key])
        trial.set_user_attr("settings", settings)
        trial.set_user_attr("means", {k: v for k, v in row.items() if k.startswith("mean_")})
        _progress_line(search, trial.number, row, study, progress)
        return row["mean"], cost

    remaining = search.trials - len(complete)
    if remaining > 0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            study.optimize(
                objective,
                n_trials=remaining,
                callbacks=[MaxTrialsCallback(search.trials, states=(TrialState.COMPLETE,))],
            )
    return study


def _progress_line(
    search: PolicySearch, number: int, row: dict[str, Any], study: optuna.Study, progress: Callable[[str], None]
) -> None:
    done, _ = trials_in(study)
    feasible = [t.user_attrs for t in done if t.user_attrs.get("feasible")]
    if row["feasible"]:
        feasible.append(row)
    best = max(feasible, key=lambda r: (r["mean"], -r["cost"]), default=None)
    shown = ", ".join(f"{k[6:]} {v:.3g}" for k, v in row.items() if k.startswith("lever."))
    budget = "" if row["feasible"] else " OVER BUDGET"
    best_text = (
        f"best within budget: {best['mean']:.4g} at cost {best['cost']:.0f}" if best else "none within budget yet"
    )
    progress(
        f"trial {len(done) + 1}/{search.trials} (#{number})  cost {row['cost']:7.1f}/{search.budget:.0f}{budget}  "
        f"{row['objective']} {row['mean']:.4g} (95% CI {row['ci95_low']:.4g} to {row['ci95_high']:.4g})  "
        f"[{shown}]  |  {best_text}"
    )


# ------------------------------------------------------------------------------ results
def _trial_rows(study: optuna.Study) -> list[dict[str, Any]]:
    complete, _ = trials_in(study)
    rows = []
    for t in complete:
        a = t.user_attrs
        rows.append(
            {
                "trial": t.number,
                **{f"lever.{k}": v for k, v in a["settings"].items()},
                **{k: a[k] for k in ("cost", "budget", "feasible")},
                "objective": None,
                **{k: a[k] for k in ("mean", "ci95_low", "ci95_high", "replications")},
                **a["means"],
            }
        )
    return rows


def summarise(search: PolicySearch, study: optuna.Study) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Gather the study into the table of every setting, the front and the best setting within budget.

    Writes ``trials.csv``, ``front.csv`` and ``best.json`` (each atomically) into the output directory.

    Returns:
        The best setting's record (with its paired difference from the baseline), every point (baseline
        and trials) and the front.
    """
    baseline = json.loads((search.out_dir / "baseline.json").read_text())
    rows = [{k: v for k, v in baseline.items() if k != "values"}, *_trial_rows(study)]
    points = pd.DataFrame(rows).assign(objective=str(search.cfg.objective))
    front = frontier(points)
    best = front.iloc[-1]  # the highest objective within budget, at the lowest cost that reaches it
    record: dict[str, Any] = {k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}
    record.update(_versus_baseline(study, record, baseline))
    record["provenance"] = provenance(("optuna",))
    pareto = {t.number for t in study.best_trials}
    points["optuna_pareto"] = [t in pareto for t in points["trial"]]
    atomic_write(search.out_dir / "trials.csv", lambda tmp: safe_table(points).to_csv(tmp, index=False))
    atomic_write(search.out_dir / "front.csv", lambda tmp: safe_table(front).to_csv(tmp, index=False))
    atomic_write(search.out_dir / FINISHED_FILE, lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    return record, points, front


def _versus_baseline(study: optuna.Study, best: dict[str, Any], baseline: dict[str, Any]) -> dict[str, Any]:
    """The best setting's objective minus the baseline's, paired by seed, with its 95% CI."""
    if best["trial"] == "baseline":
        return {"diff_vs_baseline": 0.0, "diff_ci95_low": 0.0, "diff_ci95_high": 0.0}
    values = next(t.user_attrs["values"] for t in study.get_trials(deepcopy=False) if t.number == best["trial"])
    diff = paired_ci(np.subtract(values, baseline["values"]))
    return {"diff_vs_baseline": diff.mean, "diff_ci95_low": diff.low, "diff_ci95_high": diff.high}


# ---------------------------------------------------------------------------- validation
def _settings(cfg: DictConfig) -> dict[str, Any]:
    """The search's settings that decide its results (the study's fingerprint covers these)."""
    plain = OmegaConf.to_container(cfg, resolve=True)
    return {k: v for k, v in plain.items() if k not in _FREE_SETTINGS}  # type: ignore[union-attr]


def _split(overrides: list[str]) -> tuple[list[str], dict[str, str]]:
    """Plain overrides, and the search-space ones (``lever.NAME=interval(..)``/``choice(..)``/``range(..)``)."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    for arg in overrides:
        key = arg.split("=", 1)[0].lstrip("+~")
        for old, new in _RENAMED.items():
            if key == old or key.startswith(f"{old}."):
                raise ConfigError(
                    f"`{key}` is not a setting of silosim-policy any more (it calls Optuna directly, without "
                    f"Hydra's sweeper); use {new} instead (conf/policy.yaml lists the settings)."
                )
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except (HydraException, ValueError) as exc:
        raise ConfigError(f"The policy settings could not be parsed: {' '.join(str(exc).split()[:30])}") from None
    plain, space = [], {}
    for arg, override in zip(overrides, parsed, strict=True):
        if override.is_sweep_override():
            space[override.key_or_group] = arg.split("=", 1)[1]
        else:
            plain.append(arg)
    return plain, space


def load(overrides: list[str]) -> PolicySearch:
    """Compose and validate the policy configuration, the model it starts from and its output directory.

    ``lever.NAME=interval(lo, hi)`` or ``choice(a, b, ...)`` sets a lever's search space; ``lever.NAME=VALUE``
    fixes it (it is not searched).

    Raises:
        ConfigError: One paragraph naming the key, the value and what is allowed.
    """
    plain, swept = _split(overrides)
    fixed = {a.split("=", 1)[0][len("lever.") :] for a in plain if a.startswith("lever.")}
    cfg = compose("policy", plain)
    OmegaConf.set_struct(cfg, False)
    for key, value in swept.items():
        if not key.startswith("lever."):
            raise ConfigError(f"`{key}` is swept as '{value}', but only levers (lever.NAME=...) are searched.")
        cfg.space[key[len("lever.") :]] = value
    for name in fixed:
        cfg.space.pop(name, None)
    OmegaConf.resolve(cfg)
    _check_settings(cfg)
    base = base_configuration(cfg.model, "policy search")
    space = _check_levers(cfg, base)
    given = next((o.split("=", 1)[1] for o in overrides if o.startswith("out_dir=")), None)
    place = place_study(
        given, Path(str(cfg.out_dir)).expanduser(), _settings(cfg), "out_dir", "silosim-policy", FINISHED_FILE
    )
    return PolicySearch(
        cfg, base, space, place.directory, place.resumed, " ".join(["silosim-policy", *overrides]), cfg.jobs
    )


def _whole(value: Any, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"`{key}` is {value!r}, but it must be a whole number of at least {least}.")
    return int(value)


def _check_settings(cfg: DictConfig) -> None:
    if cfg.objective not in OBJECTIVES:
        raise ConfigError(f"`objective` is '{cfg.objective}', but it must be one of {', '.join(OBJECTIVES)}.")
    budget = cfg.policy.budget
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        raise ConfigError(
            f"`policy.budget` is {budget!r}, but it must be a positive number (currency per week per "
            "1,000 initial customers)."
        )
    _whole(cfg.replications, "replications", 2)
    _whole(cfg.trials, "trials", 1)
    _whole(cfg.startup_trials, "startup_trials", 1)
    _whole(cfg.sampler_seed, "sampler_seed", 0)
    cfg.jobs = parallel_jobs(cfg.jobs)


def _distribution(name: str, spec: str, param: Any, declared: str) -> Any:
    """An Optuna distribution from ``interval(lo, hi)``, ``choice(a, b)`` or ``range(a, b[, step])``."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep
    from optuna.distributions import CategoricalDistribution, FloatDistribution

    value = OverridesParser.create().parse_override(f"lever.{name}={spec}").value()
    if isinstance(value, IntervalSweep):
        values = [float(value.start), float(value.end)]
    elif isinstance(value, ChoiceSweep):
        values = [float(v) for v in value.list]
    elif isinstance(value, RangeSweep):
        values = [float(v) for v in np.arange(value.start, value.stop, value.step)]
    else:
        raise ConfigError(
            f"The search space of `lever.{name}` is '{spec}', but it must be interval(lo, hi), choice(a, b, ...) "
            "or range(start, stop, step)."
        )
    if not values or any(range_error(param, v) for v in values):
        raise ConfigError(
            f"The search space of `lever.{name}` is '{spec}', but `{param.key}` is declared in {declared}."
        )
    if isinstance(value, IntervalSweep):
        if values[0] >= values[1]:
            raise ConfigError(
                f"The search space of `lever.{name}` is '{spec}', but its lower bound must be below its upper."
            )
        return FloatDistribution(values[0], values[1])
    return CategoricalDistribution(sorted(set(values)))


def _check_levers(cfg: DictConfig, base: SiloConfig) -> dict[str, Any]:
    """Every lever names a model parameter, has a cost, a fixed value and a search space inside its range."""
    levers = cfg.policy.levers
    unknown = [n for n in cfg.space if n not in levers]
    if unknown:
        raise ConfigError(
            f"The search space names {[f'lever.{n}' for n in unknown]}, but only the levers declared in "
            f"`policy.levers` ({', '.join(f'lever.{n}' for n in levers)}) have a cost."
        )
    space = {}
    for name, lever in levers.items():
        where = f"policy.levers.{name}"
        param = find(base, str(lever.key))
        if param is None:
            raise ConfigError(
                f"`{where}.key` is '{lever.key}', but that is not a model parameter "
                "(docs/parameters.md lists every key)."
            )
        for field in ("baseline", "cost_per_unit"):
            v = lever.get(field)
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise ConfigError(f"`{where}.{field}` is {v!r}, but it must be a number of at least 0.")
        if name not in cfg.lever:
            raise ConfigError(f"`{where}` has no setting `lever.{name}`; add it to `lever:` in conf/policy.yaml.")
        declared = f"{param.declared} ({param.doc})"
        fixed = cfg.lever[name]
        if isinstance(fixed, bool) or not isinstance(fixed, int | float) or range_error(param, float(fixed)):
            raise ConfigError(f"`lever.{name}` is {fixed!r}, but `{lever.key}` is declared in {declared}.")
        if name in cfg.space:
            space[name] = _distribution(name, str(cfg.space[name]), param, declared)
    if not space:
        raise ConfigError("The search space is empty: every lever is fixed. Search at least one (conf/policy.yaml).")
    return space
