"""``silosim-policy``: search governance levers for the best three-year retention or net value under a budget.

    silosim-policy
    silosim-policy objective=net_value policy.budget=300 trials=40
    silosim-policy model.calibration=outputs/calibrate/acme/calibrated.yaml out_dir=outputs/policy/acme
    silosim-policy 'lever.followup_capacity=interval(0, 5)' 'lever.communication=choice(0.7, 0.9)'

Optuna, called directly: a two-objective study (the objective up, the programme cost down) with the
budget as a constraint (conf/policy.yaml; the levers, their costs and the budget in the ``policy``
group). Each trial is one lever setting, run over the same seeds (common random numbers), its
replications in parallel. The study's journal is in out_dir: the same command run again resumes it,
and several workers (SLURM array tasks) can share it. Writes baseline.json, trials.csv, front.csv
(the settings no other setting beats on both objectives, with 95% CIs, including the unchanged
baseline at cost 0), best.json and front.png/.svg into out_dir.

Objectives: retention_3y (share of the customers on the book at week 0 still customers at the end
of the horizon) and net_value (discounted revenue minus discounted lever cost over the horizon, per
initial customer).
"""

from __future__ import annotations

import os
import sys

import pandas as pd

from sim.commands._common import user_errors, wants_help
from sim.experiments.policy import load, search, summarise
from sim.experiments.runs.resources import check_memory, describe_time
from sim.report.research import policy_front

__all__ = ["main"]

PROG = "silosim-policy"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-policy`` console script: validate, search with Optuna, summarise."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        return
    with user_errors(PROG):
        p = load(argv)
        cfg, base = p.cfg, p.base
        workers = min(os.cpu_count() or 1, p.jobs) if p.jobs > 0 else os.cpu_count() or 1
        check_memory(base.customers, base.weeks, base.warmup_weeks, workers, "jobs")
        print(
            f"Policy search: {cfg.objective} under a budget of {cfg.policy.budget:g}; {p.trials} trials x "
            f"{cfg.replications} replications of {base.customers:,} customers x {base.weeks} weeks, "
            + describe_time(p.trials * cfg.replications, base.customers, base.weeks, base.warmup_weeks, workers)
            + f" -> {p.out_dir}",
            flush=True,
        )
        study = search(p, progress=lambda line: print(line, flush=True))
        best, points, front = summarise(p, study)
        policy_front(points, front, best, cfg, p.out_dir / "front")
    levers = cfg.policy.levers
    print(f"\nFront ({cfg.objective} vs cost, mean and 95% CI over {cfg.replications} replications):")
    cols = ["trial", "cost", "mean", "ci95_low", "ci95_high", *[f"lever.{n}" for n in levers]]
    with pd.option_context("display.width", 160, "display.max_columns", 20, "display.float_format", "{:.4g}".format):
        print(front[cols].to_string(index=False))
    shown = ", ".join(f"{n} = {best[f'lever.{n}']:.3g}" for n in levers)
    print(
        f"\nBest within budget {cfg.policy.budget:g}: {shown}; cost {best['cost']:.1f}; {cfg.objective} "
        f"{best['mean']:.4g} (95% CI {best['ci95_low']:.4g} to {best['ci95_high']:.4g}); against the baseline "
        f"{best['diff_vs_baseline']:+.4g} (paired 95% CI {best['diff_ci95_low']:+.4g} to "
        f"{best['diff_ci95_high']:+.4g})."
    )
    print(f"Outputs: {p.out_dir}/ (trials.csv, front.csv, best.json, front.png, front.svg; study.journal)")


if __name__ == "__main__":
    main()
