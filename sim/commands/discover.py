r"""``silosim-discover``: scenario discovery with PRIM on a collected sweep: under which conditions does it happen?

    silosim-discover outputs/experiments/discovery_example --outcome final.annual_retention \\
        --scenario closed_loop_followup --versus siloed_scorecards --above 0.02
    silosim-discover outputs/experiments/lhs_example --outcome final.true_nps --below 0

A case of interest is a run whose outcome (a column of the sweep's runs.parquet) lies above or
below the threshold, or, with --versus, a run whose outcome minus that of the paired run of the
other scenario (same parameters, same seed) does. PRIM (the EMA workbench's) peels the swept
parameters down to a box where the cases are dense, and reports the box's coverage (share of
all cases inside it), density (share of its runs that are cases) and the restricted parameters
with their limits and quasi-p-values. Writes discovery.md (also printed), boxes.csv,
peeling.csv, discovery.json and discovery.png/.svg into --out (default DIR/discovery). The sweep
is collected first if it has no runs.parquet.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pandas as pd

from sim.commands._common import CommandParser, user_errors
from sim.config import ConfigError
from sim.experiments.runs.files import atomic_write, safe_table
from sim.experiments.runs.provenance import provenance
from sim.experiments.sweeps.collect import RUNS_FILE, collect
from sim.experiments.sweeps.discovery import cases, discover, judged_scenario
from sim.report.research import discovery_markdown, discovery_question, parameter_label, plot_discovery

__all__ = ["main"]

PROG = "silosim-discover"


def _parser() -> CommandParser:
    parser = CommandParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("directory", help="a sweep directory (hydra.sweep.dir of a silosim -m sweep)")
    parser.add_argument("--outcome", required=True, help="a column of runs.parquet, e.g. final.annual_retention")
    side = parser.add_mutually_exclusive_group(required=True)
    side.add_argument("--above", type=float, help="cases of interest lie above this value")
    side.add_argument("--below", type=float, help="cases of interest lie below this value")
    parser.add_argument("--scenario", help="only this scenario's runs (with --versus: the scenario judged)")
    parser.add_argument("--versus", help="judge the difference from the paired run of this scenario")
    parser.add_argument("--inputs", help="comma-separated parameters that may explain it (default: every swept one)")
    parser.add_argument("--peel-alpha", type=float, default=0.05, help="share peeled off per step (0.05)")
    parser.add_argument("--paste-alpha", type=float, default=0.05, help="share pasted back per step (0.05)")
    parser.add_argument("--mass-min", type=float, default=0.05, help="smallest box, as a share of the runs (0.05)")
    parser.add_argument("--min-density", type=float, default=0.8, help="density the chosen box must reach (0.8)")
    parser.add_argument("--out", help="where to write the results (default: DIRECTORY/discovery)")
    return parser


def _runs(root: Path) -> pd.DataFrame:
    if not root.is_dir():
        raise ConfigError(
            f"The sweep directory is '{root}', but that is not a directory; pass the `hydra.sweep.dir` of a "
            "`silosim -m` sweep (an experiment design over the parameters to explain)."
        )
    if not (root / RUNS_FILE).is_file():
        collect(root, quiet=True)
    runs = pd.read_parquet(root / RUNS_FILE)
    if runs.empty:
        raise ConfigError(f"The sweep directory '{root}' holds no complete run; run the sweep first.")
    return runs


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-discover`` console script."""
    args = _parser().parse_args(argv)
    with user_errors(PROG):
        root = Path(args.directory)
        out = Path(args.out) if args.out else root / "discovery"
        if out.exists() and not out.is_dir():
            raise ConfigError(f"`--out` is '{out}', but that is a file; pass a directory for the results.")
        above = args.above is not None
        threshold = args.above if above else args.below
        inputs = [k.strip() for k in args.inputs.split(",") if k.strip()] if args.inputs else None
        runs = _runs(root)
        x, y, _value = cases(runs, args.outcome, threshold, above, args.scenario, args.versus, inputs)
        judged = judged_scenario(runs, args.scenario, args.versus) if args.versus else args.scenario
        settings = {"sweep": str(root), "outcome": args.outcome, "threshold": threshold, "above": above,
                    "scenario": args.scenario, "versus": args.versus, "inputs": list(x.columns),
                    "peel_alpha": args.peel_alpha, "paste_alpha": args.paste_alpha, "mass_min": args.mass_min,
                    "min_density": args.min_density}  # fmt: skip
        result = discover(x, y, args.peel_alpha, args.paste_alpha, args.mass_min, args.min_density)
    question = discovery_question(args.outcome, threshold, above, judged, args.versus)
    stamp = provenance(("ema-workbench",))
    report = discovery_markdown(question, result, settings, stamp)
    limits = result.limits.assign(meaning=[parameter_label(p) for p in result.limits["parameter"]])
    atomic_write(out / "boxes.csv", lambda tmp: safe_table(limits).to_csv(tmp, index=False))
    atomic_write(out / "peeling.csv", lambda tmp: safe_table(result.trajectory).to_csv(tmp, index=False))
    atomic_write(out / "discovery.md", lambda tmp: tmp.write_text(report))
    payload = {"question": question, "settings": settings, "runs": result.runs, "cases": result.cases,
               "base_rate": result.base_rate, "chosen_box": result.chosen, "box": result.box,
               "limits": limits.to_dict("records"), "provenance": stamp}  # fmt: skip
    atomic_write(out / "discovery.json", lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=str) + "\n"))
    figure = plot_discovery(result.trajectory, result.chosen, result.limits, question, out / "discovery")
    print(report)
    print(f"Results: {out}/ (discovery.md, boxes.csv, peeling.csv, discovery.json)\nFigure:  {figure}")
    sys.exit(0)


if __name__ == "__main__":
    main()
