"""``silosim-policy``: search governance levers for the best three-year retention or net value under a budget.

    silosim-policy
    silosim-policy objective=net_value policy.budget=300 hydra.sweeper.n_trials=40
    silosim-policy model.calibration=outputs/calibrate/acme/calibrated.yaml
    silosim-policy 'lever.followup_capacity=interval(0, 5)' 'lever.communication=choice(0.7, 0.9)'

A Hydra multirun with hydra-optuna-sweeper (conf/policy.yaml; the levers, their costs and the
budget in the ``policy`` group). Each Optuna trial is one lever setting, run over the same seeds
(common random numbers). A setting over budget is not simulated: it scores
-(cost - budget) / budget, below every feasible setting, so the sampler learns to stay inside.
Writes trials.csv, frontier.csv (the settings no cheaper setting beats, with 95% CIs, including
the unchanged baseline at cost 0), best.json and frontier.png/.svg into the sweep directory.

Objectives: retention_3y (share of the customers on the book at week 0 still customers at the end
of the horizon) and net_value (discounted revenue minus discounted lever cost over the horizon, per
initial customer).
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import pandas as pd

from sim.commands._common import user_errors, wants_help
from sim.experiments.policy import load, search, summarise
from sim.report.research import policy_frontier

__all__ = ["main"]

PROG = "silosim-policy"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-policy`` console script: validate, sweep with Optuna, summarise."""
    from omegaconf import OmegaConf

    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        return
    given = next((a.split("=", 1)[1] for a in argv if a.startswith("hydra.sweep.dir=")), None)
    sweep_dir = Path(given or f"outputs/policy/{datetime.now():%Y-%m-%d_%H-%M-%S}").expanduser().resolve()
    overrides = [a for a in argv if not a.startswith("hydra.sweep.dir=")] + [f"hydra.sweep.dir={sweep_dir}"]
    with user_errors(PROG):
        cfg, base = load(overrides, sweep_dir)
        print(
            f"Policy search: {cfg.objective} under a budget of {cfg.policy.budget:g}; "
            f"{int(cfg.hydra.sweeper.n_trials)} trials x {cfg.replications} replications of {base.customers:,} "
            f"customers x {base.weeks} weeks -> {sweep_dir}"
        )
        search(cfg, base, overrides, sweep_dir)
        plain = OmegaConf.create(OmegaConf.to_container(cfg, resolve=False))
        best, points, front = summarise(sweep_dir, plain)
        policy_frontier(points, front, best, plain, sweep_dir / "frontier")
    levers = cfg.policy.levers
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
