"""Write the notebooks from this script, without outputs (run it after editing a cell here).

    .venv/bin/python notebooks/build.py                    # rewrite notebooks/*.ipynb (no outputs)
    .venv/bin/python notebooks/build.py --execute DIR      # also run them, with outputs, into DIR

The notebooks are committed without outputs; `tests/test_notebooks.py` executes them top to
bottom on their small settings, and `make notebooks` writes executed copies with every output
to `outputs/notebooks/` for reading.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat as nbf

HERE = Path(__file__).resolve().parent


def notebook(cells: list[tuple[str, str]]) -> nbf.NotebookNode:
    """A notebook from (kind, source) pairs; kind is md, code or params (a code cell tagged `parameters`)."""
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    for kind, text in cells:
        cell = nbf.v4.new_markdown_cell(text.strip()) if kind == "md" else nbf.v4.new_code_cell(text.strip())
        if kind == "params":
            cell.metadata["tags"] = ["parameters"]
        nb.cells.append(cell)
    return nb


# The cells as (kind, source) pairs, kept one source block per cell (not reflowed by the formatter).
# fmt: off
WHAT_IF = [
    ("md", """
# What if we closed the loop with detractors?

A strategist's question, answered with silosim: **what happens to loyalty, NPS, customers and
revenue over the horizon if the company adds closed-loop follow-up with detractors, compared
with today's siloed scorecards?**

The notebook runs both scenarios several times with the same seeds (common random numbers),
compares them with 95% confidence intervals, and plots the result. The settings below are small
so the notebook runs in a minute; for a client presentation use the defaults of
`silosim-compare` (20 replications, 20,000 customers, 156 weeks).
"""),
    ("params", """
# Settings: raise these for a real study (replications=20, customers=20_000, weeks=156).
REPLICATIONS = 4
CUSTOMERS = 2_000
WEEKS = 104
BASELINE = "siloed_scorecards"
ALTERNATIVE = "closed_loop_followup"
"""),
    ("code", """
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt

from sim import compare
from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.analysis.runsets import trajectory_bands
from sim.report import print_summary

out_dir = Path(tempfile.mkdtemp(prefix="silosim_nb_")) / "what_if"
comparison = compare(out_dir, scenarios=[BASELINE, ALTERNATIVE], replications=REPLICATIONS,
                     customers=CUSTOMERS, weeks=WEEKS, launcher="basic")
out, runs, summary = comparison.out, comparison.runs, comparison.summary
print_summary(summary, BASELINE, 0.95)
"""),
    ("md", """
## The effect, with its uncertainty

Each row of `summary` holds a scenario's mean outcome with its 95% confidence interval, and the
**paired** difference from the baseline: replication *r* of both scenarios used the same seed,
so the difference is taken run by run and most of the simulation noise cancels.
"""),
    ("code", """
alt = summary.set_index("scenario").loc[ALTERNATIVE]
for outcome in comparison_outcomes():
    key, label, unit = outcome.name, outcome.label, outcome.unit
    scale = 100 if key == "annual_retention" else 1
    unit = "percentage points" if key == "annual_retention" else unit
    d, lo, hi = (scale * alt[f"{key}_diff{s}"] for s in ("", "_ci_low", "_ci_high"))
    verdict = "clear effect" if lo > 0 or hi < 0 else "not distinguishable from zero"
    print(f"{label:<32} {d:+10.2f} {unit:<28} 95% CI {lo:+.2f} to {hi:+.2f}  ({verdict})")
"""),
    ("md", """
## True NPS and customers over time

Lines are means over replications, bands their 95% confidence intervals.
"""),
    ("code", """
fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), layout="constrained")
for ax, column, label in ((axes[0], "true_nps", "True NPS (points)"),
                          (axes[1], "active_customers", "Active customers")):
    bands = trajectory_bands(runs.metrics, column)
    for scenario, style in ((BASELINE, "-"), (ALTERNATIVE, "--")):
        b = bands[bands["scenario"] == scenario]
        ax.fill_between(b["step"] + 1, b["low"], b["high"], alpha=0.2)
        ax.plot(b["step"] + 1, b["mean"], style, linewidth=2, label=scenario.replace("_", " "))
    ax.set_xlabel("Week")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
axes[0].legend()
fig.suptitle("Closed-loop follow-up against siloed scorecards", fontweight="bold")
plt.show()
"""),
    ("md", """
## What the figures say

- **True NPS**: under siloed scorecards, departments tune their levers to their own KPIs
  (throughput, handle time, collections), and the journey slowly gets worse: true NPS drifts
  down. Closed-loop follow-up calls detractors back, recovers a share of them, and feeds their
  root causes to quarterly fixes that help every customer, so true NPS holds up better.
- **Customers**: recovered detractors stay and fixed root causes stop new problems, so the
  alternative keeps more customers; the gap widens with time because retention compounds.
- **Uncertainty**: where a difference's interval is clear of zero the effect is not noise. With
  the small settings of this notebook the intervals are wide; 20 replications narrow them.

The full report (figures, summary table, assumptions, method and the command that reproduces it)
is in `report.html`:
"""),
    ("code", """
print(out / "report.html")
"""),
]


SWEEP = [
    ("md", """
# How much follow-up capacity is enough, and when does it pay? A small sweep

A researcher's question: **how do three-year outcomes respond to the inner loop's follow-up
capacity?** We sweep `feedback.inner_loop.capacity` (follow-ups a week per 1,000 customers)
with several seeds per setting, collect the runs into one table, and look at the response with
confidence intervals and a simple sensitivity measure. Then, with scenario discovery (PRIM), we
ask under which conditions the closed loop pays most.

Settings are small so the notebook runs in a minute or two.
"""),
    ("params", """
CAPACITIES = [0.0, 1.0, 3.0, 5.0, 10.0]
SEEDS = 3
CUSTOMERS = 1_500
WEEKS = 104
DISCOVERY_ROWS = 30      # Latin-hypercube rows of the discovery sweep (each run for two scenarios)
"""),
    ("code", """
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import yaml

from sim.experiments.analysis.runsets import outcomes_of_run
from sim.experiments.analysis.statistics import mean_ci

sweep_dir = Path(tempfile.mkdtemp(prefix="silosim_sweep_")) / "capacity"
command = [sys.executable, "-m", "sim.commands.run", "-m", "scenario=inner_loop_only", f"seed=range(0,{SEEDS})",
           "feedback.inner_loop.capacity=" + ",".join(str(c) for c in CAPACITIES),
           f"customers={CUSTOMERS}", f"weeks={WEEKS}", "output.customers=false", f"hydra.sweep.dir={sweep_dir}"]
print(" ".join(command[2:]))
done = subprocess.run(command, capture_output=True, text=True, check=False)
assert done.returncode == 0, done.stderr
"""),
    ("md", """
Every run of the multirun is a directory with its metrics, summary and `.hydra/overrides.yaml`
(what was swept); the sweep also collects them into `runs.parquet` (one row per run, with the
provenance of every run). One row per run, with the comparison's outcomes:
"""),
    ("code", """
rows = []
for run in sorted(p for p in sweep_dir.iterdir() if (p / "summary.json").exists()):
    overrides = dict(o.split("=", 1) for o in yaml.safe_load((run / ".hydra" / "overrides.yaml").read_text()))
    metrics = pd.read_parquet(run / "metrics.parquet")
    rows.append({"capacity": float(overrides["feedback.inner_loop.capacity"]), "seed": int(overrides["seed"]),
                 **outcomes_of_run(metrics, clv_discount_rate=0.10)})
sweep = pd.DataFrame(rows).sort_values(["capacity", "seed"], ignore_index=True)
assert len(sweep) == len(CAPACITIES) * SEEDS
sweep[["capacity", "seed", "true_nps", "annual_retention", "active_customers"]]
"""),
    ("md", """
## Response curves

Mean over seeds with 95% confidence intervals.
"""),
    ("code", """
fig, axes = plt.subplots(1, 2, figsize=(12, 4.3), layout="constrained")
for ax, key, label, scale in ((axes[0], "true_nps", "True NPS, final week (points)", 1),
                              (axes[1], "annual_retention", "Annual retention, final year (%)", 100)):
    cis = [mean_ci(scale * sweep.loc[sweep["capacity"] == c, key]) for c in CAPACITIES]
    mean = np.array([ci.mean for ci in cis])
    err = np.array([[ci.mean - ci.low for ci in cis], [ci.high - ci.mean for ci in cis]])
    ax.errorbar(CAPACITIES, mean, yerr=err, marker="o", capsize=4, linewidth=2)
    ax.set_xlabel("Follow-up capacity (follow-ups a week per 1,000 customers)")
    ax.set_ylabel(label)
    ax.grid(alpha=0.3)
fig.suptitle("More follow-up capacity, more loyalty: with diminishing returns", fontweight="bold")
plt.show()
"""),
    ("md", """
## A sensitivity-style summary

How much of the variation in each outcome across the sweep comes from the capacity setting
rather than from the seed? The share of variance explained by capacity (the correlation ratio
η², a first-order sensitivity index for one parameter on a grid) answers that.
"""),
    ("code", """
def eta_squared(frame: pd.DataFrame, outcome: str) -> float:
    \"\"\"Share of the variance of `outcome` explained by the capacity setting.\"\"\"
    grand = frame[outcome].mean()
    between = frame.groupby("capacity")[outcome].apply(lambda x: len(x) * (x.mean() - grand) ** 2).sum()
    total = ((frame[outcome] - grand) ** 2).sum()
    return float(between / total) if total > 0 else float("nan")

indices = pd.Series({k: eta_squared(sweep, k) for k in ("true_nps", "annual_retention", "active_customers",
                                                      "cumulative_revenue")}, name="share explained by capacity")
ax = indices.plot.barh(figsize=(7, 3))
ax.set_xlim(0, 1)
ax.set_xlabel("Share of variance explained by follow-up capacity (η²)")
ax.set_title("Follow-up capacity drives retention more than the seed does")
plt.show()
indices
"""),
    ("md", """
## Scenario discovery: under which conditions does the closed loop pay?

A sweep over one lever answers "how much"; scenario discovery answers "when". The experiment
`discovery_example` samples five uncertain parameters of the company and its customers with a
Latin hypercube and runs every row twice, as the siloed baseline and with closed-loop follow-up,
on the same seed (common random numbers), so each pair of runs measures the programme's effect at
that point. We call a pair a *case* when the programme's effect on last-year retention is in the
top 40% of the effects seen, and let PRIM (the EMA workbench's) find a box of conditions where such
cases are dense. `silosim-discover` does the same from the command line and writes a report.
"""),
    ("code", """
from IPython.display import Image

from sim.experiments.sweeps.discovery import cases, discover
from sim.report.research import discovery_question, parameter_label, plot_discovery

disc_dir = sweep_dir.parent / "discovery"
command = [sys.executable, "-m", "sim.commands.run", "-m", "experiment=discovery_example",
           f"design.samples={DISCOVERY_ROWS}", f"customers={CUSTOMERS}", f"weeks={WEEKS}",
           f"hydra.sweep.dir={disc_dir}"]
done = subprocess.run(command, capture_output=True, text=True, check=False)
assert done.returncode == 0, done.stderr
runs = pd.read_parquet(disc_dir / "runs.parquet")  # collected by the sweep itself
_, _, effect = cases(runs, "final.annual_retention", 0.0, scenario="closed_loop_followup", versus="siloed_scorecards")
threshold = float(effect.quantile(0.6))
x, y, effect = cases(runs, "final.annual_retention", threshold, scenario="closed_loop_followup",
                     versus="siloed_scorecards")
found = discover(x, y, min_density=0.7)
question = discovery_question("final.annual_retention", threshold, True, "closed_loop_followup", "siloed_scorecards")
print(f"{question}: {found.cases} of {found.runs} pairs; the box covers {found.box['coverage']:.0%} of them "
      f"at a density of {found.box['density']:.0%} (the whole space: {found.base_rate:.0%})")
found.limits.assign(meaning=[parameter_label(p) for p in found.limits["parameter"]])
"""),
    ("code", """
Image(filename=str(plot_discovery(found.trajectory, found.chosen, found.limits, question, disc_dir / "discovery")))
"""),
    ("md", """
The left panel is PRIM's peeling trajectory: each point is a box, and peeling trades coverage
(how many of the cases the box holds) for density (how many of its runs are cases). The right
panel shows where the chosen box lies in each parameter's sampled range. A restriction with a
quasi-p-value above about 0.05 (in the table) could be noise; with this few runs, treat the box as
a hypothesis to test with a larger sweep (`silosim -m experiment=discovery_example`, 400 runs).

For a full variance-based sensitivity analysis over many parameters at once (Sobol or Morris
with SALib), and for sweeps of thousands of runs on a cluster, see the researchers' tutorial,
docs/tutorials/researcher.md.
"""),
]
# fmt: on


def main() -> None:
    """Write the notebooks and, with --execute DIR, executed copies."""
    books = {"01_what_if.ipynb": notebook(WHAT_IF), "02_sweep_analysis.ipynb": notebook(SWEEP)}
    for name, nb in books.items():
        nbf.write(nb, HERE / name)
    if len(sys.argv) == 3 and sys.argv[1] == "--execute":
        from nbclient import NotebookClient

        out = Path(sys.argv[2])
        out.mkdir(parents=True, exist_ok=True)
        for name, nb in books.items():
            print(f"executing {name} ...", flush=True)
            client = NotebookClient(nb, timeout=1800, kernel_name="python3", resources={"metadata": {"path": str(out)}})
            client.execute()
            nbf.write(nb, out / name)
        print(f"executed notebooks with outputs: {out}/")


if __name__ == "__main__":
    main()
