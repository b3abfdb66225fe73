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
import textwrap
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.config import CONF_DIR, ConfigError, SiloConfig, parameter_info, to_config, validate
from sim.replications import checked_base, mean_ci, run_replications, with_values

if TYPE_CHECKING:
    from sim.model import SiloModel

__all__ = ["OBJECTIVES", "frontier", "lever_cost", "main", "policy_figures", "summarise"]

EXIT_USER_ERROR = 2
WEEKS_PER_YEAR = 52
OBJECTIVES = {
    "retention_3y": ("three-year retention of the initial book", "share of week-0 customers still active"),
    "net_value": ("customer lifetime value, net of programme cost", "discounted currency per initial customer"),
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


def policy_figures(model: SiloModel, cost_per_week: float, discount_rate: float) -> dict[str, float]:
    """Three-year retention and net CLV of one finished run.

    Args:
        model: A finished model.
        cost_per_week: Programme cost per week per 1,000 initial customers.
        discount_rate: Annual discount rate.

    Returns:
        ``retention_3y``, ``net_value``, ``revenue_discounted`` (per initial customer), ``final_true_nps``.
    """
    st, n0 = model.store, model.cfg.customers
    n = st.n
    on_book_at_start = (st.joined_step[:n] < 0) & (st.active[:n] | (st.left_step[:n] >= 0))
    retained = on_book_at_start & st.active[:n]
    m = model.metrics_frame()
    discount = (1.0 + discount_rate) ** (-m["step"].to_numpy() / WEEKS_PER_YEAR)
    revenue = float((m["revenue"].to_numpy() * discount).sum()) / n0
    cost = float((cost_per_week * n0 / 1000.0 * discount).sum()) / n0
    return {
        "retention_3y": float(retained.sum()) / max(int(on_book_at_start.sum()), 1),
        "net_value": revenue - cost,
        "revenue_discounted": revenue,
        "final_true_nps": float(m["true_nps"].iloc[-1]),
    }


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
    return run_replications(cfg, seeds, measure=lambda m: policy_figures(m, cost, discount_rate))


def _seeds(cfg: DictConfig) -> list[int]:
    return [int(cfg.model.seed) + r for r in range(int(cfg.replications))]


def _record(
    cfg: DictConfig, settings: dict[str, float], runs: list[dict[str, float]] | None, cost: float, trial: int | str
) -> dict[str, Any]:
    objective = str(cfg.objective)
    row: dict[str, Any] = {
        "trial": trial,
        **{f"lever.{k}": v for k, v in settings.items()},
        "cost": cost,
        "budget": float(cfg.policy.budget),
        "feasible": runs is not None,
    }
    if runs is not None:
        ci = mean_ci(r[objective] for r in runs)
        row.update(
            {
                "objective": objective,
                "mean": ci.mean,
                "ci95_low": ci.low,
                "ci95_high": ci.high,
                "replications": ci.n,
                "values": [r[objective] for r in runs],
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
        base = to_config(OmegaConf.merge(OmegaConf.structured(SiloConfig), OmegaConf.load(cfg.base_config)))
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


def _figure(points: pd.DataFrame, front: pd.DataFrame, best: pd.Series, cfg: DictConfig, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objective = str(cfg.objective)
    label, unit = OBJECTIVES[objective]
    if objective == "retention_3y":  # name the horizon actually simulated
        label = f"retention of the initial book after {int(cfg.model.weeks)} weeks"
    feasible = points[points["feasible"]]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.errorbar(
        feasible["cost"],
        feasible["mean"],
        yerr=[feasible["mean"] - feasible["ci95_low"], feasible["ci95_high"] - feasible["mean"]],
        fmt="o",
        color="0.65",
        ecolor="0.8",
        ms=4,
        label="trial (mean, 95% CI)",
    )
    ax.errorbar(
        front["cost"],
        front["mean"],
        yerr=[front["mean"] - front["ci95_low"], front["ci95_high"] - front["mean"]],
        fmt="-o",
        drawstyle="steps-post",
        color="tab:blue",
        capsize=3,
        label="frontier",
    )
    ax.plot([best["cost"]], [best["mean"]], marker="*", ms=16, color="tab:red", ls="none", label="best within budget")
    ax.axvline(float(cfg.policy.budget), color="tab:red", ls="--", lw=1, label=f"budget {cfg.policy.budget:g}")
    infeasible = int((~points["feasible"]).sum())
    ax.set_xlabel("Programme cost (currency per week per 1,000 initial customers)")
    ax.set_ylabel(f"{label}\n({unit})")
    ax.set_title(
        f"Governance levers: {label} vs cost\n{len(points) - 1} trials ({infeasible} over budget, not "
        f"simulated), {int(cfg.replications)} replications each, {int(cfg.model.customers):,} customers x "
        f"{int(cfg.model.weeks)} weeks",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=120)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def summarise(sweep_dir: Path, cfg: DictConfig) -> dict[str, Any]:
    """Gather the trials of a finished sweep into the table, the frontier, the best setting and the figure.

    Args:
        sweep_dir: The sweep directory (``trial_*/trial.json`` and ``baseline.json``).
        cfg: The resolved policy configuration.

    Returns:
        The best setting's record.
    """
    rows = [json.loads((sweep_dir / "baseline.json").read_text()), *_trials(sweep_dir)]
    points = pd.DataFrame(rows).drop(columns=["values"])
    front = frontier(points)
    best = front.iloc[-1]  # the highest objective, at the lowest cost that reaches it
    _write(sweep_dir / "trials.csv", points.to_csv(index=False))
    _write(sweep_dir / "frontier.csv", front.to_csv(index=False))
    record = {k: (v.item() if hasattr(v, "item") else v) for k, v in best.items()}
    _write(sweep_dir / "best.json", json.dumps(record, indent=2) + "\n")
    _figure(points, front, best, cfg, sweep_dir / "frontier")
    return record


# ---------------------------------------------------------------------------- validation
def _compose(overrides: list[str]) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="policy", overrides=overrides, return_hydra_config=True)
    return cfg


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


def load(overrides: list[str]) -> tuple[DictConfig, SiloConfig]:
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
        raise ConfigError(f"The policy settings could not be parsed: {' '.join(str(exc).split())}") from None
    for arg, o in zip(overrides, parsed, strict=True):
        if o.is_sweep_override():
            sweeps[o.key_or_group] = arg.split("=", 1)[1]
        else:
            plain.append(arg)
    try:
        cfg = _compose(plain)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(f"The policy settings could not be composed: {' '.join(str(exc).split())}") from None
    OmegaConf.set_struct(cfg, False)
    for key, value in sweeps.items():
        cfg.hydra.sweeper.params[key] = value
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
    m = cfg.model
    model_overrides = [
        f"scenario={m.scenario}",
        f"customers={m.customers}",
        f"weeks={m.weeks}",
        f"seed={m.seed}",
        "track_customers=0",
        "output.progress=false",
        *[str(o) for o in m.overrides],
    ]
    if m.calibration:
        model_overrides.append(f"calibration={m.calibration}")
    base = checked_base(model_overrides, "policy search")
    levers = cfg.policy.levers
    for name, lever in levers.items():
        where = f"policy.levers.{name}"
        try:
            _, meta = parameter_info(base, str(lever.key))
        except KeyError:
            raise ConfigError(
                f"`{where}.key` is '{lever.key}', but that is not a model parameter "
                "(docs/parameters.md lists every key)."
            ) from None
        for field in ("baseline", "cost_per_unit"):
            v = lever.get(field)
            if isinstance(v, bool) or not isinstance(v, int | float) or v < 0:
                raise ConfigError(f"`{where}.{field}` is {v!r}, but it must be a number of at least 0.")
        if name not in cfg.lever:
            raise ConfigError(f"`{where}` has no setting `lever.{name}`; add it to `lever:` in conf/policy.yaml.")
        swept = cfg.hydra.sweeper.params.get(f"lever.{name}")
        lo, hi = meta.get("lo"), meta.get("hi")
        fixed = float(cfg.lever[name])
        if (lo is not None and fixed < lo) or (hi is not None and fixed > hi):
            raise ConfigError(
                f"`lever.{name}` is {fixed:g}, but `{lever.key}` is declared in "
                f"[{lo if lo is not None else ''}, {hi if hi is not None else ''}] "
                f"({meta.get('doc', '')})."
            )
        values = _bounds(str(swept), f"lever.{name}") if swept is not None else []
        for v in values:
            if (lo is not None and v < lo) or (hi is not None and v > hi):
                raise ConfigError(
                    f"The search space of `lever.{name}` is '{swept}', but `{lever.key}` is declared "
                    f"in [{lo if lo is not None else ''}, {hi if hi is not None else ''}] "
                    f"({meta.get('doc', '')})."
                )
    unknown = [k for k in cfg.hydra.sweeper.params if not k.startswith("lever.") or k[6:] not in levers]
    if unknown:
        raise ConfigError(
            f"The search space sweeps {unknown}, but only the levers declared in "
            f"`policy.levers` ({', '.join(f'lever.{n}' for n in levers)}) have a cost."
        )
    return cfg, base


# ---------------------------------------------------------------------------------- main
def _user_error(message: str) -> None:
    print(textwrap.fill(f"silosim-policy: error: {' '.join(message.split())}", width=100), file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-policy`` console script: validate, sweep with Optuna, summarise."""
    import hydra

    argv = list(sys.argv[1:] if argv is None else argv)
    if any(a in ("-h", "--help") for a in argv):
        print(__doc__)
        return
    given = next((a.split("=", 1)[1] for a in argv if a.startswith("hydra.sweep.dir=")), None)
    sweep_dir = Path(given or f"outputs/policy/{datetime.now():%Y-%m-%d_%H-%M-%S}").expanduser().resolve()
    overrides = [a for a in argv if not a.startswith("hydra.sweep.dir=")] + [f"hydra.sweep.dir={sweep_dir}"]
    try:
        cfg, base = load(overrides)
        trials = cfg.hydra.sweeper.n_trials
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise ConfigError(f"`hydra.sweeper.n_trials` is {trials!r}, but it must be a whole number of at least 1.")
        if sweep_dir.exists() and not sweep_dir.is_dir():
            raise ConfigError(f"`hydra.sweep.dir` is '{sweep_dir}', but that is a file; choose a new directory.")
        if sweep_dir.exists() and any(sweep_dir.iterdir()):
            raise ConfigError(
                f"`hydra.sweep.dir` is '{sweep_dir}', but it already contains files; choose a new "
                "directory (searches are never overwritten)."
            )
    except ConfigError as exc:
        _user_error(str(exc))
    sweep_dir.mkdir(parents=True, exist_ok=True)
    base_path = sweep_dir / "base_config.yaml"
    base_path.write_text(OmegaConf.to_yaml(OmegaConf.structured(base)))
    levers = cfg.policy.levers
    keys = {n: str(lv.key) for n, lv in levers.items()}
    start = {n: float(lv.baseline) for n, lv in levers.items()}
    n_trials = int(cfg.hydra.sweeper.n_trials)
    print(
        f"Policy search: {cfg.objective} under a budget of {cfg.policy.budget:g}; {n_trials} trials x "
        f"{cfg.replications} replications of {base.customers:,} customers x {base.weeks} weeks -> {sweep_dir}"
    )
    runs = _evaluate(base, keys, start, 0.0, _seeds(cfg), float(cfg.discount_rate))
    row = _record(cfg, start, runs, 0.0, "baseline")
    _write(sweep_dir / "baseline.json", json.dumps(row, indent=2) + "\n")
    print(
        f"baseline (no programme, cost 0)  {row['objective']} {row['mean']:.4g} (95% CI {row['ci95_low']:.4g} to "
        f"{row['ci95_high']:.4g})",
        flush=True,
    )

    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    app = hydra.main(config_path=str(CONF_DIR), config_name="policy", version_base="1.3")(_trial)
    saved = sys.argv
    sys.argv = [saved[0] if saved else "silosim-policy", *overrides, f"base_config={base_path}"]
    try:
        app()
    finally:
        sys.argv = saved
    best = summarise(sweep_dir, OmegaConf.create(OmegaConf.to_container(cfg, resolve=False)))
    front = pd.read_csv(sweep_dir / "frontier.csv")
    print(f"\nTrade-off frontier ({cfg.objective}, mean and 95% CI over {cfg.replications} replications):")
    cols = ["trial", "cost", "mean", "ci95_low", "ci95_high", *[f"lever.{n}" for n in levers]]
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(front[cols].to_string(index=False))
    shown = ", ".join(f"{n} = {best[f'lever.{n}']:.3g}" for n in levers)
    print(
        f"\nBest within budget {cfg.policy.budget:g}: {shown}; cost {best['cost']:.1f}; {cfg.objective} "
        f"{best['mean']:.4g} (95% CI {best['ci95_low']:.4g} to {best['ci95_high']:.4g})."
    )
    print(f"Outputs: {sweep_dir}/ (trials.csv, frontier.csv, best.json, frontier.png, frontier.svg)")


if __name__ == "__main__":
    main()
