"""``silosim-compare``: scenarios x replications with common random numbers, aggregated into a report.

    silosim-compare                                   # the headline comparison (conf/comparison/headline.yaml)
    silosim-compare replications=5 customers=5000 weeks=104
    silosim-compare scenarios=[siloed_scorecards,our_plan] scenario_dir=./my_scenarios
    silosim-compare comparison=all_scenarios out=outputs/board_pack report.client="Acme Insurance"
    silosim-compare calibration=outputs/calibrate/<run>/calibrated.yaml   # calibrated to a client
    silosim-compare uncertainty=parameters draws=64 customers=3000 replications=10   # how sure, what it hinges on
    silosim-compare from=outputs/board_pack report.client="Other Client" confidence=0.9 baseline=...

Replication r of every scenario uses seed first_seed + r (common random numbers), so the
differences against the baseline are paired. Writes a comparison directory: runs/,
comparison.parquet, summary.csv, runs.csv, comparison.json, figures/, report.html, report.pptx,
summary.xlsx and report.pdf (when Chromium is installed). The report path is the last line printed.

from=DIR rebuilds the summary, figures, report, slides, workbook and PDF of a finished comparison
in place, without running anything: with another client, title, logo or theme (report.*), another
confidence level, multiple-comparison adjustment or baseline among the scenarios run.

Exit status: 0 done, 1 some runs failed (reported and left out), 2 bad input (nothing run or
written), 130 interrupted (no comparison is published; the complete runs are kept in the hidden
.<out>.partial directory and the same command resumes from them).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.commands._common import EXIT_FAILED, EXIT_OS_ERROR, user_errors, wants_help
from sim.experiments.compare.comparison import Comparison
from sim.experiments.compare.planning import plan
from sim.experiments.compare.rebuild import REBUILD_SETTINGS, rebuild_comparison
from sim.experiments.compare.run import NoRunCompletedError, run_comparison
from sim.experiments.compare.settings import CompareConf, prepare
from sim.report import print_summary, write_deliverables
from sim.report.content import report_currency

__all__ = ["main"]

PROG = "silosim-compare"
FROM = "from"


def _source(argv: list[str]) -> tuple[str | None, list[str]]:
    """``from=DIR`` taken out of the arguments (None if not given)."""
    rest, source = [], None
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key == FROM:
            source = value
        else:
            rest.append(arg)
    return source, rest


def _print_paths(comparison: Comparison) -> None:
    out = comparison.out
    print(f"\nComparison directory: {out}")
    for label, name in (("Slides", "report.pptx"), ("Workbook", "summary.xlsx"), ("PDF", "report.pdf")):
        if (out / name).exists():
            print(f"{label}: {out / name}")
    print(f"Report: {out / 'report.html'}")


def _print_table(comparison: Comparison) -> None:
    """The comparison's summary table, in the currency its report names."""
    print_summary(
        comparison.summary,
        comparison.baseline,
        comparison.confidence,
        comparison.titles,
        report_currency(comparison.meta),
    )


def _rebuild(source: str, argv: list[str]) -> None:
    with user_errors(PROG):
        comparison = rebuild_comparison(Path(source), argv, write_deliverables, [PROG, f"{FROM}={source}", *argv])
    _print_table(comparison)
    _print_paths(comparison)
    if comparison.meta.get("deliverable_errors"):
        sys.exit(EXIT_FAILED)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-compare`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        print("Settings (key=value):", ", ".join(CompareConf.__dataclass_fields__))
        print("Any model parameter (docs/parameters.md) given as key=value is applied to every scenario.")
        print(f"With from=DIR only these may be given: {', '.join(REBUILD_SETTINGS)} (and report.*).")
        return
    source, argv = _source(argv)
    if source is not None:
        _rebuild(source, argv)
        return
    with user_errors(PROG):
        p = plan(prepare(argv))
        try:
            comparison = run_comparison(p, argv, present=write_deliverables)
        except RuntimeError as exc:
            print(f"{PROG}: error: {exc}", file=sys.stderr)
            # every run stopped because the system refused a write (a full disk, say): the command's own status too
            refused = isinstance(exc, NoRunCompletedError) and exc.status == EXIT_OS_ERROR
            sys.exit(EXIT_OS_ERROR if refused else EXIT_FAILED)
    _print_table(comparison)
    failures = comparison.runs.failures
    if not failures.empty:
        print(f"\n{len(failures)} run(s) failed and are left out of the comparison:")
        for _, failure in failures.iterrows():
            print(f"  {failure['scenario']}, seed {failure['seed']}: {failure['error']} ({failure['path']})")
    _print_paths(comparison)
    if not failures.empty or comparison.meta.get("deliverable_errors"):
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
