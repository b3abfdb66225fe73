"""Policy search: governance levers for the best three-year retention or CLV under a budget.

    silosim-policy
    silosim-policy objective=net_value policy.budget=300 hydra.sweeper.n_trials=40
    silosim-policy model.calibration=outputs/calibrate/acme/calibrated.yaml
    silosim-policy 'lever.followup_capacity=interval(0, 5)' 'lever.communication=choice(0.7, 0.9)'

A Hydra app run as a multirun with hydra-optuna-sweeper (``conf/policy.yaml``; the levers, their
costs and the budget in the ``policy`` group). Each Optuna trial is one lever setting, run over
the same seeds (common random numbers). A setting over budget is not simulated: it scores
``-(cost - budget) / budget``, below every feasible setting, so the sampler learns to stay inside.
After the sweep the trials are gathered into ``trials.csv``, ``frontier.csv`` (the settings no
cheaper setting beats: cost vs objective with 95% CI, including the unchanged baseline at cost 0),
``best.json`` and ``frontier.png``/``frontier.svg``.

Objectives (measured on each replication, averaged):

* ``retention_3y``: share of the customers on the book at week 0 still customers at the end of the
  horizon (three years at the default 156 weeks);
* ``net_value``: value of the book net of the programme (not the comparison report's per-customer
  CLV): discounted revenue minus discounted lever cost over the horizon, per initial customer (currency).
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, RunConfig, compose, find, to_config, validate, with_values
from sim.config.compose import CONF_MODULE
from sim.config.walk import range_error
from sim.experiments.files import atomic_write, require_fresh
from sim.experiments.outcomes import OUTCOMES, RunContext
from sim.experiments.replications import base_configuration, mean_ci, measuring, run_replications

if TYPE_CHECKING:
    from sim.config.schema import SiloConfig

__all__ = ["OBJECTIVES", "frontier", "lever_cost", "load", "search", "summarise"]

# Objective -> the outcome of the registry it is (measured on each replication, averaged).
OBJECTIVES = {"retention_3y": "initial_book_retention", "net_value": "net_value"}
REPORTED = ("initial_book_retention", "net_value", "true_nps")  # recorded for every trial


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


def _evaluate(
    base: SiloConfig,
    keys: dict[str, str],
    settings: dict[str, float],
    cost: float,
    seeds: list[int],
    discount_rate: float,
) -> list[dict[str, float]]:
    cfg = with_values(base, {keys[n]: float(v) for n, v in settings.items()})
    validate(cfg)
    context = RunContext(customers=cfg.customers, discount_rate=discount_rate, programme_cost_per_week=cost)
    return run_replications(cfg, seeds, measuring(REPORTED, context))


def _seeds(cfg: DictConfig) -> list[int]:
    return [int(cfg.model.seed) + r for r in range(int(cfg.replications))]


def _record(
    cfg: DictConfig, settings: dict[str, float], runs: list[dict[str, float]] | None, cost: float, trial: int | str
) -> dict[str, Any]:
    objective = str(cfg.objective)
    outcome = OBJECTIVES[objective]
    row: dict[str, Any] = {
        "trial": trial,
        **{f"lever.{k}": v for k, v in settings.items()},
        "cost": cost,
        "budget": float(cfg.policy.budget),
        "feasible": runs is not None,
    }
    if runs is not None:
        ci = mean_ci(r[outcome] for r in runs)
        row.update(
            {
                "objective": objective,
                "mean": ci.mean,
                "ci95_low": ci.low,
                "ci95_high": ci.high,
                "replications": ci.n,
                "values": [r[outcome] for r in runs],
                **{f"mean_{k}": float(np.mean([r[k] for r in runs])) for k in runs[0]},
            }
        )
    else:
        row.update(
            {
                "objective": objective,
                "mean": float("nan"),
                "ci95_low": float("nan"),
                "ci95_high": float("nan"),
                "replications": 0,
                "values": [],
            }
        )
    return row


# ---------------------------------------------------------------------------- the trial
def _trial(cfg: DictConfig) -> float:
    """Hydra task: evaluate one lever setting; returns the value Optuna maximises."""
    from hydra.core.hydra_config import HydraConfig

    hc = HydraConfig.get()
    out_dir = Path(hc.runtime.output_dir)
    settings = {k: float(v) for k, v in cfg.lever.items()}
    levers = cfg.policy.levers
    cost = lever_cost(settings, levers)
    budget = float(cfg.policy.budget)
    feasible = cost <= budget
    runs = None
    if feasible:
        base = to_config(OmegaConf.merge(OmegaConf.structured(RunConfig), OmegaConf.load(cfg.base_config)))
        runs = _evaluate(
            base, {n: str(lv.key) for n, lv in levers.items()}, settings, cost, _seeds(cfg), float(cfg.discount_rate)
        )
    num = int(hc.job.num) + 1  # trials count from 1, like the progress lines
    row = _record(cfg, settings, runs, cost, num)
    (out_dir / "trial.json").write_text(json.dumps(row, indent=2) + "\n")
    value = row["mean"] if feasible else -(cost - budget) / budget
    best = _best(out_dir.parent)
    shown = ", ".join(f"{k} {v:.3g}" for k, v in settings.items())
    result = (
        f"{row['objective']} {row['mean']:.4g} (95% CI {row['ci95_low']:.4g} to {row['ci95_high']:.4g})"
        if feasible
        else "over budget, not simulated"
    )
    best_text = (
        f"best so far: trial {best['trial']}, {best['mean']:.4g} at cost {best['cost']:.0f}"
        if best
        else "best so far: none within budget"
    )
    print(
        f"trial {num}/{hc.sweeper.n_trials}  cost {cost:7.1f}/{budget:.0f}  {result}  [{shown}]  |  {best_text}",
        flush=True,
    )
    return float(value)


def _trials(sweep_dir: Path) -> list[dict[str, Any]]:
    rows = []
    for path in sorted(sweep_dir.glob("trial_*/trial.json"), key=lambda p: int(p.parent.name.split("_")[1])):
        rows.append(json.loads(path.read_text()))
    return rows


def _best(sweep_dir: Path) -> dict[str, Any] | None:
    feasible = [r for r in _trials(sweep_dir) if r["feasible"]]
    return max(feasible, key=lambda r: (r["mean"], -r["cost"])) if feasible else None


# ------------------------------------------------------------------------------ results
def frontier(points: pd.DataFrame) -> pd.DataFrame:
    """The trade-off frontier: feasible points that no cheaper-or-equal point matches or beats.

    Args:
        points: Rows with ``cost`` and ``mean`` (higher is better) and ``feasible``.

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


def summarise(sweep_dir: Path, cfg: DictConfig) -> tuple[dict[str, Any], pd.DataFrame, pd.DataFrame]:
    """Gather the trials of a finished sweep into the table, the frontier and the best setting.

    Args:
        sweep_dir: The sweep directory (``trial_*/trial.json`` and ``baseline.json``).
        cfg: The resolved policy configuration.

    Returns:
        The best setting's record, every point (baseline and trials) and the frontier.
    """
    rows = [json.loads((sweep_dir / "baseline.json").read_text()), *_trials(sweep_dir)]
    points = pd.DataFrame(rows).drop(columns=["values"])
    front = frontier(points)
    best = front.iloc[-1]  # the highest objective, at the lowest cost that reaches it
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}
    atomic_write(sweep_dir / "trials.csv", lambda tmp: points.to_csv(tmp, index=False))
    atomic_write(sweep_dir / "frontier.csv", lambda tmp: front.to_csv(tmp, index=False))
    atomic_write(sweep_dir / "best.json", lambda tmp: tmp.write_text(json.dumps(record, indent=2) + "\n"))
    return record, points, front


def objective_label(cfg: DictConfig) -> tuple[str, str]:
    """The objective's label and unit, naming the horizon actually simulated."""
    outcome = OUTCOMES[OBJECTIVES[str(cfg.objective)]]
    if cfg.objective == "retention_3y":
        return f"retention of the initial book after {int(cfg.model.weeks)} weeks", "share of week-0 customers"
    return outcome.label, outcome.unit


# ---------------------------------------------------------------------------- validation
def _bounds(spec: str, key: str) -> list[float]:
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import ChoiceSweep, IntervalSweep, RangeSweep

    value = OverridesParser.create().parse_override(f"{key}={spec}").value()
    if isinstance(value, IntervalSweep):
        return [float(value.start), float(value.end)]
    if isinstance(value, ChoiceSweep):
        return [float(v) for v in value.list]
    if isinstance(value, RangeSweep):
        return [float(value.start), float(value.stop)]
    return [float(value)]


def load(overrides: list[str], sweep_dir: Path) -> tuple[DictConfig, SiloConfig]:
    """Compose and validate the policy configuration and the model configuration it starts from.

    Raises:
        ConfigError: One paragraph naming the key, the value and what is allowed.
    """
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.errors import HydraException

    # search-space arguments (lever.x=interval(0, 5)) go to the sweeper; compose without them
    sweeps: dict[str, str] = {}
    plain = []
    try:
        parsed = OverridesParser.create().parse_overrides(overrides)
    except (HydraException, ValueError) as exc:
        raise ConfigError(f"The policy settings could not be parsed: {' '.join(str(exc).split()[:30])}") from None
    for arg, override in zip(overrides, parsed, strict=True):
        if override.is_sweep_override():
            sweeps[override.key_or_group] = arg.split("=", 1)[1]
        else:
            plain.append(arg)
    cfg = compose("policy", plain, return_hydra_config=True)
    OmegaConf.set_struct(cfg, False)
    for key, value in sweeps.items():
        cfg.hydra.sweeper.params[key] = value
    _check_settings(cfg)
    base = base_configuration(cfg.model, "policy search")
    _check_levers(cfg, base)
    require_fresh(sweep_dir, "hydra.sweep.dir", "searches")
    return cfg, base


def _check_settings(cfg: DictConfig) -> None:
    if cfg.objective not in OBJECTIVES:
        raise ConfigError(f"`objective` is '{cfg.objective}', but it must be one of {', '.join(OBJECTIVES)}.")
    budget = cfg.policy.budget
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        raise ConfigError(
            f"`policy.budget` is {budget!r}, but it must be a positive number (currency per week per "
            "1,000 initial customers)."
        )
    if isinstance(cfg.replications, bool) or not isinstance(cfg.replications, int) or cfg.replications < 2:
        raise ConfigError(f"`replications` is {cfg.replications!r}, but it must be a whole number of at least 2.")
    trials = cfg.hydra.sweeper.n_trials
    if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
        raise ConfigError(f"`hydra.sweeper.n_trials` is {trials!r}, but it must be a whole number of at least 1.")


def _check_levers(cfg: DictConfig, base: SiloConfig) -> None:
    levers = cfg.policy.levers
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
        fixed = float(cfg.lever[name])
        if range_error(param, fixed):
            raise ConfigError(f"`lever.{name}` is {fixed:g}, but `{lever.key}` is declared in {declared}.")
        swept = cfg.hydra.sweeper.params.get(f"lever.{name}")
        values = _bounds(str(swept), f"lever.{name}") if swept is not None else []
        if any(range_error(param, v) for v in values):
            raise ConfigError(
                f"The search space of `lever.{name}` is '{swept}', but `{lever.key}` is declared in {declared}."
            )
    unknown = [k for k in cfg.hydra.sweeper.params if not k.startswith("lever.") or k[6:] not in levers]
    if unknown:
        raise ConfigError(
            f"The search space sweeps {unknown}, but only the levers declared in "
            f"`policy.levers` ({', '.join(f'lever.{n}' for n in levers)}) have a cost."
        )


# ---------------------------------------------------------------------------------- search
def search(cfg: DictConfig, base: SiloConfig, overrides: list[str], sweep_dir: Path) -> dict[str, Any]:
    """Evaluate the baseline, sweep the levers with Optuna (the hydra-optuna-sweeper), summarise.

    Args:
        cfg: The validated policy configuration (:func:`load`).
        base: The model configuration every trial starts from.
        overrides: The policy overrides (search-space arguments included; ``hydra.sweep.dir`` set).
        sweep_dir: The sweep directory.

    Returns:
        The baseline's record.
    """
    import hydra
    import optuna

    sweep_dir.mkdir(parents=True, exist_ok=True)
    base_path = sweep_dir / "base_config.yaml"
    base_path.write_text(OmegaConf.to_yaml(OmegaConf.structured(base)))
    levers = cfg.policy.levers
    keys = {n: str(lv.key) for n, lv in levers.items()}
    start = {n: float(lv.baseline) for n, lv in levers.items()}
    runs = _evaluate(base, keys, start, 0.0, _seeds(cfg), float(cfg.discount_rate))
    row = _record(cfg, start, runs, 0.0, "baseline")
    atomic_write(sweep_dir / "baseline.json", lambda tmp: tmp.write_text(json.dumps(row, indent=2) + "\n"))
    print(
        f"baseline (no programme, cost 0)  {row['objective']} {row['mean']:.4g} (95% CI {row['ci95_low']:.4g} to "
        f"{row['ci95_high']:.4g})",
        flush=True,
    )
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    app = hydra.main(config_path=f"pkg://{CONF_MODULE}", config_name="policy", version_base="1.3")(_trial)
    saved = sys.argv
    sys.argv = [saved[0] if saved else "silosim-policy", *overrides, f"base_config={base_path}"]
    try:
        app()
    finally:
        sys.argv = saved
    return row
