"""``silosim-sensitivity``: Sobol indices or Morris screening with SALib, run through the sweep machinery.

    silosim-sensitivity sobol_example                       # sweep (parallel, resumable), then analyse
    silosim-sensitivity morris_example customers=2000       # overrides go to every run
    silosim-sensitivity sobol_example --analyse-only        # analyse the runs already in the sweep directory

The experiment config (``conf/experiment/<name>.yaml``, or ``experiment_dir=PATH``) declares the
method (``design.method``: ``sobol`` or ``morris``), the uncertain parameters and their bounds and
the outcomes (``design.outcomes``, columns of the collected table such as ``final.true_nps``). The
runs are a ``silosim -m experiment=<name>`` sweep into a stable directory, so they run on any
launcher and an interrupted analysis resumes where it stopped. Outcomes are averaged over seeds
for each design row. Writes, into the sweep directory (or ``--out``):

* ``sensitivity_indices.csv``: one row per outcome, parameter (or pair) and index: Sobol ``S1``,
  ``ST`` and ``S2`` or Morris ``mu_star``, ``sigma`` and ``mu``, with the half-width of the 95%
  bootstrap confidence interval (``conf``; SALib's) and ``ci_low``/``ci_high``;
* ``sensitivity.png``: one panel per outcome, the indices as bars with their confidence intervals.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.sweeps.design import design_matrix, design_size, problem

if TYPE_CHECKING:
    from sim.config import DesignConf

__all__ = ["OUTCOME_LABELS", "analyse", "main", "outcome_table", "plot"]

INDICES_FILE = "sensitivity_indices.csv"
FIGURE_FILE = "sensitivity.png"
CONF_LEVEL = 0.95
RESAMPLES = 200
# Axis labels (with units) of the common outcomes; others are labelled with their column name.
OUTCOME_LABELS = {
    "final.true_nps": "true NPS at the end of the run (NPS points)",
    "mean.true_nps": "mean true NPS over the run (NPS points)",
    "final.measured_nps": "measured NPS at the end of the run (NPS points)",
    "final.annual_retention": "annual retention, last 52 weeks (share)",
    "total.revenue": "revenue over the run (currency)",
    "final.active_customers": "active customers at the end (customers)",
}


PROG = "silosim-sensitivity"


def _first_value(override: str) -> str:
    """``seed=0,1`` -> ``seed=0``; ``seed=range(0,3)`` -> ``seed=0``; any other override unchanged."""
    key, sep, value = override.partition("=")
    if not sep:
        return override
    if value.startswith("range(") and value.endswith(")"):
        return f"{key}={value[6:-1].split(',')[0].strip()}"
    if "," in value and not value.startswith(("[", "{", "'", '"')):
        return f"{key}={value.split(',')[0]}"
    return override


def outcome_table(runs: pd.DataFrame, design: DesignConf, outcomes: list[str]) -> pd.DataFrame:
    """Mean outcome per design row (over seeds), in row order, checked against the design.

    Args:
        runs: The collected table (``runs.parquet``) of the experiment's sweep.
        design: The experiment's design.
        outcomes: Outcome columns.

    Returns:
        One row per design row (index ``design.row``), one column per outcome.

    Raises:
        ConfigError: If an outcome is not a column, rows are missing, or the runs' parameter values are not
            the design's (the directory holds another experiment's runs).
    """
    missing_cols = [o for o in outcomes if o not in runs.columns]
    if missing_cols:
        allowed = ", ".join(c for c in runs.columns if c.split(".")[0] in ("final", "mean", "total"))
        raise ConfigError(
            f"`design.outcomes` names {missing_cols}, which the collected runs do not have. Allowed: {allowed}."
        )
    n = design_size(design)
    if "design.row" not in runs.columns:
        raise ConfigError(
            "The sweep directory holds no runs of an experiment design (no `design.row` column); "
            "run the experiment first (without --analyse-only)."
        )
    means = runs.groupby("design.row")[outcomes].mean().reindex(range(n))
    absent = means.index[means[outcomes].isna().any(axis=1)].tolist()
    if absent:
        shown = ", ".join(map(str, absent[:10])) + (" ..." if len(absent) > 10 else "")
        raise ConfigError(
            f"{len(absent)} of the {n} design rows have no complete run yet (rows {shown}); run "
            "the same command again (without --analyse-only) to resume the sweep."
        )
    expected = design_matrix(design)
    for j, key in enumerate(design.parameters):
        if key in runs.columns:
            got = runs.groupby("design.row")[key].first().reindex(range(n)).to_numpy(dtype=float)
            if not np.allclose(got, expected[:, j], rtol=1e-9, atol=0.51 if np.allclose(got, np.round(got)) else 0):
                raise ConfigError(
                    f"The runs' values of `{key}` are not those of this design (method "
                    f"{design.method!r}, samples {design.samples}, seed {design.seed}); the sweep "
                    "directory holds another experiment's runs. Use another `--sweep-dir`."
                )
    return means


def analyse(means: pd.DataFrame, design: DesignConf, seed: int = 0) -> pd.DataFrame:
    """Sobol or Morris indices of each outcome column of ``means`` (rows in design order).

    Args:
        means: :func:`outcome_table`'s result.
        design: The design (method ``sobol`` or ``morris``).
        seed: Seed of SALib's bootstrap.

    Returns:
        Tidy indices: ``outcome, parameter, index, value, conf, ci_low, ci_high``.
    """
    from SALib.analyze import morris, sobol

    prob = problem(design)
    names = prob["names"]
    rows: list[dict[str, object]] = []

    def add(outcome: str, parameter: str, index: str, value: float, conf: float) -> None:
        rows.append(
            {
                "outcome": outcome,
                "parameter": parameter,
                "index": index,
                "value": float(value),
                "conf": float(conf),
                # mu* is a mean of absolute effects: its interval cannot reach below zero
                "ci_low": float(max(value - conf, 0.0) if index == "mu_star" else value - conf),
                "ci_high": float(value + conf),
            }
        )

    for outcome in means.columns:
        y = means[outcome].to_numpy(dtype=float)
        if design.method == "sobol":
            res = sobol.analyze(
                prob,
                y,
                calc_second_order=design.second_order,
                num_resamples=RESAMPLES,
                conf_level=CONF_LEVEL,
                seed=seed,
            )
            for i, name in enumerate(names):
                add(outcome, name, "S1", res["S1"][i], res["S1_conf"][i])
                add(outcome, name, "ST", res["ST"][i], res["ST_conf"][i])
            if design.second_order:
                for i in range(len(names)):
                    for k in range(i + 1, len(names)):
                        add(outcome, f"{names[i]} x {names[k]}", "S2", res["S2"][i, k], res["S2_conf"][i, k])
        elif design.method == "morris":
            x = design_matrix(design)
            res = morris.analyze(
                prob, x, y, num_resamples=RESAMPLES, conf_level=CONF_LEVEL, num_levels=design.levels, seed=seed
            )
            for i, name in enumerate(names):
                add(outcome, name, "mu_star", res["mu_star"][i], res["mu_star_conf"][i])
                # SALib gives no interval for sigma and mu: NaN, not a zero width that would look like certainty
                add(outcome, name, "sigma", res["sigma"][i], float("nan"))
                add(outcome, name, "mu", res["mu"][i], float("nan"))
        else:
            raise ConfigError(
                f"`design.method` is {design.method!r}, but sensitivity analysis needs 'sobol' or 'morris'."
            )
    return pd.DataFrame(rows)


def plot(indices: pd.DataFrame, method: str, path: Path, title: str) -> Path:
    """Bar chart of the indices with their confidence intervals as error bars, one panel per outcome.

    Args:
        indices: :func:`analyse`'s table.
        method: ``sobol`` or ``morris``.
        path: The PNG to write.
        title: Figure title.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = list(dict.fromkeys(indices["outcome"]))
    shown = ["S1", "ST"] if method == "sobol" else ["mu_star"]
    params = list(dict.fromkeys(indices.loc[indices["index"].isin(shown), "parameter"]))
    fig, axes = plt.subplots(
        1, len(outcomes), figsize=(4.8 * len(outcomes), 1.2 + 0.55 * len(params) + 1.5), squeeze=False
    )
    width = 0.8 / len(shown)
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        sub = indices[indices["outcome"] == outcome]
        for k, index in enumerate(shown):
            part = sub[sub["index"] == index].set_index("parameter").reindex(params)
            y = np.arange(len(params)) + (k - (len(shown) - 1) / 2) * width
            ax.barh(
                y,
                part["value"],
                height=width,
                xerr=part["conf"],
                capsize=3,
                label={"S1": "first-order S1", "ST": "total-order ST", "mu_star": "mu* (mean |effect|)"}[index],
            )
        ax.set_yticks(np.arange(len(params)), params, fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        label = OUTCOME_LABELS.get(outcome, outcome)
        if method == "sobol":
            ax.set_xlabel("share of the outcome's variance (0-1)")
        else:
            unit = label[label.rfind("(") + 1 : -1] if label.endswith(")") else "outcome units"
            ax.set_xlabel(f"mean absolute elementary effect ({unit} over the range)")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"{title}\nbars: index; error bars: {int(CONF_LEVEL * 100)}% bootstrap confidence interval", fontsize=10
    )
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def _count_complete(sweep: Path) -> int:
    from sim.outputs import MARKER

    try:
        return sum(1 for e in os.scandir(sweep) if e.is_dir() and os.path.exists(os.path.join(e.path, MARKER)))
    except OSError:
        return 0


def _run_sweep(experiment: str, overrides: list[str], sweep: Path, total: int) -> None:
    """Run (or resume) the experiment's sweep, printing how many runs are done while it works."""
    from sim.cli import user_error

    silosim = Path(sys.executable).parent / "silosim"
    command = [str(silosim), "-m", f"experiment={experiment}", *overrides, f"hydra.sweep.dir={sweep}"]
    sweep.mkdir(parents=True, exist_ok=True)
    log = sweep / "sweep.log"
    print(f"silosim-sensitivity: {total} runs into {sweep} (log: {log})", flush=True)
    with log.open("a") as handle:
        proc = subprocess.Popen(command, stdout=handle, stderr=subprocess.STDOUT)  # noqa: S603
        shown = -1
        while proc.poll() is None:
            done = _count_complete(sweep)
            if done != shown:
                print(f"silosim-sensitivity: {done}/{total} runs done", flush=True)
                shown = done
            time.sleep(2.0)
    done = _count_complete(sweep)
    print(f"silosim-sensitivity: {done}/{total} runs done", flush=True)
    if proc.returncode != 0:
        tail = log.read_text().strip().splitlines()[-3:]
        user_error(
            f"The sweep stopped with exit status {proc.returncode} after {done} of {total} runs: "
            f"{' '.join(tail)} (full log: {log}). Fix the cause and run the same command again to resume.",
            PROG,
        )


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-sensitivity`` console script."""
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    from sim.cli import _explain, register_experiment_dir, register_scenario_dir, user_error
    from sim.config import compose_config, to_config, validate
    from sim.sweeps.collect import RUNS_FILE, collect, report
    from sim.sweeps.design import validate_design

    parser = argparse.ArgumentParser(prog="silosim-sensitivity", description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", help="an experiment name (conf/experiment/ or experiment_dir=PATH)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. customers=2000")
    parser.add_argument(
        "--sweep-dir",
        help="where the runs go (default: the experiment's hydra.sweep.dir, or outputs/sensitivity/EXPERIMENT)",
    )
    parser.add_argument("--out", help="where to write the indices and the figure (default: the sweep directory)")
    parser.add_argument("--analyse-only", action="store_true", help="do not run anything; analyse the runs there")
    args = parser.parse_args(argv)
    overrides = []
    for item in args.overrides:
        key, _, value = item.partition("=")
        if key == "scenario_dir":
            register_scenario_dir(value)
        elif key == "experiment_dir":
            register_experiment_dir(value)
        overrides.append(item)
    model_overrides = [o for o in overrides if not o.startswith(("scenario_dir=", "experiment_dir=", "hydra."))]
    # A swept override (seed=0,1) is checked at its first value here; the sweep itself runs them all.
    first_values = [_first_value(o) for o in model_overrides]
    try:
        cfg = compose_config([f"experiment={args.experiment}", *first_values])
        typed = to_config(cfg)
        validate(typed)
        validate_design(typed)
    except ConfigError as exc:
        user_error(str(exc), PROG)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        user_error(_explain(exc, model_overrides, None), PROG)
    design = typed.design
    if design.method not in ("sobol", "morris"):
        user_error(
            f"`design.method` of experiment '{args.experiment}' is {design.method!r}, but "
            "silosim-sensitivity needs 'sobol' (Sobol indices) or 'morris' (Morris screening).",
            PROG,
        )
    sweep = Path(args.sweep_dir) if args.sweep_dir else _default_sweep_dir(args.experiment, model_overrides)
    rows = design_size(design)
    if not args.analyse_only:
        seeds = _seed_count(
            args.experiment, [o for o in overrides if not o.startswith(("scenario_dir=", "experiment_dir="))]
        )
        _run_sweep(args.experiment, overrides, sweep, rows * seeds)
    if sweep.exists() and not sweep.is_dir():
        user_error(
            f"The sweep directory is '{sweep}', but that is a file; pass the directory that holds the "
            "experiment's runs with --sweep-dir.",
            PROG,
        )
    if not sweep.is_dir():
        user_error(
            f"The sweep directory is '{sweep}', but it does not exist; run the experiment first (without "
            "--analyse-only), or pass the directory that holds its runs with --sweep-dir.",
            PROG,
        )
    result = collect(sweep, quiet=True) if args.analyse_only or not (sweep / RUNS_FILE).is_file() else None
    if result is not None:
        report(result, sweep)
    runs = pd.read_parquet(sweep / RUNS_FILE)
    try:
        means = outcome_table(runs, design, list(design.outcomes))
    except ConfigError as exc:
        user_error(str(exc), PROG)
    indices = analyse(means, design)
    out = Path(args.out) if args.out else sweep
    out.mkdir(parents=True, exist_ok=True)
    table = out / INDICES_FILE
    tmp = out / f".{INDICES_FILE}.tmp-{os.getpid()}"
    indices.to_csv(tmp, index=False, float_format="%.6g")
    os.replace(tmp, table)
    name = "Sobol indices" if design.method == "sobol" else "Morris screening"
    figure = plot(
        indices,
        design.method,
        out / FIGURE_FILE,
        f"{name}: experiment {args.experiment}, {rows} design rows, {len(runs)} runs",
    )
    _print_indices(indices, design.method)
    print(f"\nIndices: {table}\nFigure:  {figure}")


def _default_sweep_dir(experiment: str, overrides: list[str]) -> Path:
    """The experiment's ``hydra.sweep.dir`` if it sets a stable one, else ``outputs/sensitivity/EXPERIMENT``."""
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra
    from omegaconf import OmegaConf

    from sim.config import CONF_DIR

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        full = compose(
            config_name="config", overrides=[f"experiment={experiment}", *overrides], return_hydra_config=True
        )
    raw = OmegaConf.to_container(full.hydra.sweep, resolve=False)["dir"]
    if "${now:" in str(raw):
        return Path("outputs") / "sensitivity" / experiment
    return Path(str(full.hydra.sweep.dir))


def _seed_count(experiment: str, overrides: list[str]) -> int:
    """Runs per design row (the experiment's or the command line's seed sweep)."""
    from sim.sweeps.plan import plan_multirun

    plan = plan_multirun([f"experiment={experiment}", *overrides])
    rows = plan.design_rows or 1
    return max(1, plan.jobs // rows)


def _print_indices(indices: pd.DataFrame, method: str) -> None:
    shown = ["S1", "ST"] if method == "sobol" else ["mu_star", "sigma"]
    table = indices[indices["index"].isin(shown)].pivot_table(
        index=["outcome", "parameter"], columns="index", values=["value", "conf"], sort=False
    )
    with pd.option_context("display.width", 140, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(table)


if __name__ == "__main__":
    main()
