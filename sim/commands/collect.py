"""``silosim-collect DIR``: turn a multirun directory into one tidy parquet table, run by run.

    silosim-collect outputs/experiments/lhs_example
    silosim-collect outputs/multirun/2026-11-23_10-12-01 --timeseries --out results/

Writes runs.parquet (one row per complete run: its swept parameters and every outcome of its
summary.json), incomplete.csv (every directory not counted, with the reason) and, with
--timeseries, timeseries.parquet. See :mod:`sim.experiments.sweeps.collect`.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from sim.commands._common import CommandParser, user_error, user_errors
from sim.experiments.runs.files import check_writable
from sim.experiments.sweeps.collect import collect, report

__all__ = ["main"]

PROG = "silosim-collect"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-collect`` console script."""
    parser = CommandParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="a multirun directory (hydra.sweep.dir) or a run directory")
    parser.add_argument("--out", help="where to write runs.parquet and incomplete.csv (default: DIRECTORY)")
    parser.add_argument("--timeseries", action="store_true", help="also write timeseries.parquet")
    args = parser.parse_args(argv)
    root = Path(args.directory)
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        user_error(
            f"The directory to collect is '{args.directory}', but that is not a readable directory. Pass "
            "a multirun directory (the `hydra.sweep.dir` of a `silosim -m` sweep) or a run directory.",
            PROG,
        )
    out = Path(args.out) if args.out else root
    if out.exists() and not out.is_dir():
        user_error(
            f"`--out` is '{out}', but that is a file; pass a directory for runs.parquet and incomplete.csv.", PROG
        )
    with user_errors(PROG):
        check_writable(out, "--out" if args.out else "--out (default: the directory collected)")  # before reading
        result = collect(root, out, timeseries=args.timeseries)
    report(result, root)
    sys.exit(0)


if __name__ == "__main__":
    main()
