"""``silosim-sensitivity``: Sobol indices or Morris screening with SALib, run through the sweep machinery.

    silosim-sensitivity sobol_example                       # sweep (parallel, resumable), then analyse
    silosim-sensitivity morris_example customers=2000       # overrides go to every run
    silosim-sensitivity sobol_example --analyse-only        # analyse the runs already in the sweep directory

The experiment (conf/experiment/<name>.yaml, or experiment_dir=PATH) declares the method
(design.method: sobol or morris), the uncertain parameters and their bounds, and the outcomes
(design.outcomes, columns of the collected table such as final.true_nps). The runs are a
``silosim -m experiment=<name>`` sweep into a stable directory (--sweep-dir, or
hydra.sweep.dir=DIR, or the experiment's own), so they run on any launcher and an interrupted
analysis resumes where it stopped. Writes sensitivity_indices.csv and sensitivity.png.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from sim.commands._common import EXIT_FAILED, CommandParser, user_errors
from sim.config import ConfigError, checked_config, register_group_dir
from sim.config.compose import split_user_dirs
from sim.experiments.launcher import launch_multirun
from sim.experiments.runs.files import atomic_write, safe_table
from sim.experiments.sweeps.collect import RUNS_FILE, collect, report
from sim.experiments.sweeps.design import design_size
from sim.experiments.sweeps.sensitivity import (
    INDICES_FILE,
    analyse,
    default_sweep_dir,
    first_values,
    outcome_table,
    runs_per_row,
)
from sim.report.research import plot_indices

__all__ = ["main"]

PROG = "silosim-sensitivity"
FIGURE_FILE = "sensitivity.png"


def _parser() -> CommandParser:
    parser = CommandParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("experiment", help="an experiment name (conf/experiment/ or experiment_dir=PATH)")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides for every run, e.g. customers=2000")
    parser.add_argument(
        "--sweep-dir",
        help="where the runs go (default: hydra.sweep.dir=DIR if given, else the experiment's, "
        "else outputs/sensitivity/EXPERIMENT)",
    )
    parser.add_argument("--out", help="where to write the indices and the figure (default: the sweep directory)")
    parser.add_argument("--analyse-only", action="store_true", help="do not run anything; analyse the runs there")
    return parser


def _sweep_dir(args: object, overrides: list[str], model_overrides: list[str]) -> Path:
    """The sweep directory: --sweep-dir, else hydra.sweep.dir=DIR on the command line, else the experiment's."""
    given = next((o.split("=", 1)[1] for o in overrides if o.startswith("hydra.sweep.dir=")), None)
    if args.sweep_dir and given and Path(args.sweep_dir).resolve() != Path(given).resolve():
        raise ConfigError(
            f"`--sweep-dir` is '{args.sweep_dir}' and `hydra.sweep.dir` is '{given}'; give one sweep directory."
        )
    chosen = args.sweep_dir or given
    return Path(chosen) if chosen else default_sweep_dir(args.experiment, model_overrides)


def _run_sweep(experiment: str, overrides: list[str], sweep: Path, total: int) -> None:
    """Run (or resume) the experiment's sweep; a sweep that stops exits 1 with the end of its log."""
    log = sweep / "sweep.log"
    print(f"{PROG}: {total} runs into {sweep} (log: {log})", flush=True)
    launched = launch_multirun([f"experiment={experiment}", *overrides], sweep, total, log)
    if launched.returncode != 0:
        tail = " ".join(log.read_text().strip().splitlines()[-3:])
        print(
            f"{PROG}: error: the sweep stopped with exit status {launched.returncode} after {launched.done} of "
            f"{total} runs: {tail} (full log: {log}). Fix the cause and run the same command again to resume.",
            file=sys.stderr,
        )
        sys.exit(EXIT_FAILED)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-sensitivity`` console script."""
    # intermixed: `hydra.sweep.dir=DIR` or any override may follow an option such as --analyse-only
    args = _parser().parse_intermixed_args(argv)
    with user_errors(PROG):
        run_overrides, dirs = split_user_dirs(args.overrides)
        for group, directory in dirs.items():
            register_group_dir(group, directory)
        overrides = [o for o in args.overrides if not o.startswith("hydra.sweep.dir=")]
        model_overrides = [o for o in run_overrides if not o.startswith("hydra.")]
        # A swept override (seed=0,1) is checked at its first value here; the sweep itself runs them all.
        design = checked_config([f"experiment={args.experiment}", *first_values(model_overrides)]).design
        if design.method not in ("sobol", "morris"):
            raise ConfigError(
                f"`design.method` of experiment '{args.experiment}' is {design.method!r}, but "
                "silosim-sensitivity needs 'sobol' (Sobol indices) or 'morris' (Morris screening)."
            )
        sweep = _sweep_dir(args, args.overrides, model_overrides)
        if sweep.exists() and not sweep.is_dir():
            raise ConfigError(
                f"The sweep directory is '{sweep}', but that is a file; pass a directory with --sweep-dir."
            )
        rows = design_size(design)
        if not args.analyse_only:
            seeds = runs_per_row(args.experiment, [o for o in run_overrides if not o.startswith("hydra.sweep.dir=")])
            _run_sweep(args.experiment, overrides, sweep, rows * seeds)
        if not sweep.is_dir():
            raise ConfigError(
                f"The sweep directory is '{sweep}', but it does not exist; run the experiment first (without "
                "--analyse-only), or pass the directory that holds its runs with --sweep-dir."
            )
        if args.analyse_only or not (sweep / RUNS_FILE).is_file():
            report(collect(sweep, quiet=True), sweep)
        runs = pd.read_parquet(sweep / RUNS_FILE)
        indices = analyse(outcome_table(runs, design, list(design.outcomes)), design)
    out = Path(args.out) if args.out else sweep
    safe = safe_table(indices)
    table = atomic_write(out / INDICES_FILE, lambda tmp: safe.to_csv(tmp, index=False, float_format="%.6g"))
    name = "Sobol indices" if design.method == "sobol" else "Morris screening"
    subtitle = f"{name} of experiment {args.experiment}: {rows} design rows, {len(runs)} runs"
    figure = plot_indices(indices, design.method, out / FIGURE_FILE, subtitle)
    _print_indices(indices, design.method)
    print(f"\nIndices: {table}\nFigure:  {figure}")


def _print_indices(indices: pd.DataFrame, method: str) -> None:
    shown = ["S1", "ST"] if method == "sobol" else ["mu_star", "sigma"]
    table = indices[indices["index"].isin(shown)].pivot_table(
        index=["outcome", "parameter"], columns="index", values=["value", "conf"], sort=False
    )
    with pd.option_context("display.width", 140, "display.max_columns", 20, "display.float_format", "{:.3f}".format):
        print(table)


if __name__ == "__main__":
    main()
