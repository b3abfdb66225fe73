"""``silosim-calibrate``: fit the baseline's declared free parameters to a client's observed figures.

    silosim-calibrate target.nps=12 target.annual_retention=0.86
    silosim-calibrate target.nps=30 target.annual_churn=0.1 target.first_contact_resolution=0.75 trials=60
    silosim-calibrate data=client_exports/
    silosim-calibrate data=client_exports/ method=abc abc.population=40 abc.generations=6

method=abc is Bayesian (ABC-SMC with pyabc): the posterior of the free parameters (posterior.csv,
posterior.md with 90% credible intervals, posterior.png), kept generation by generation in
out_dir/abc.db, so the same command resumes a killed run; calibrated.yaml holds the posterior median.
Each prior is the free parameter's declared uncertainty truncated to its bounds (abc.prior=declared), or
uniform over the bounds (abc.prior=uniform, for a client far from the default baseline).

With data=FOLDER the targets are measured from the client's raw records (responses, customers,
contacts; CSV or XLSX, see README) with their sampling uncertainty, each tolerance is the target's
95% half-width, and out_dir also gets targets.yaml, data_quality.csv (every row left out, and why)
and data_report.pdf/.png (the one-page report of the client's data). Problems in the records are
listed with file, row, column and value; too many (data_max_excluded) stop the command.

Settings: conf/calibrate.yaml (targets, model, replications, method, trials, out_dir) and the
``calibrate`` group (the free parameters and their bounds, the tolerances). Each trial runs the
baseline over the same seeds (common random numbers); the best fit is re-run on fresh seeds and
reported with a 95% confidence interval. Writes calibrated.yaml (closest_fit.yaml when a target
cannot be met), fit.csv, fit.md, fit.json, trials.csv and config.yaml into out_dir; every command
accepts the calibrated file as calibration=PATH.

Exit status: 0 all targets met; 2 bad input (nothing written); 3 a target could not be met (the
closest fit is written, labelled as such, and a paragraph names the target and the closest value).
"""

from __future__ import annotations

import os
import sys

from sim.commands._common import EXIT_UNREACHABLE, paragraph, user_errors, wants_help
from sim.commands.records import record_problems, report_records
from sim.experiments.calibration.fit import calibrate, fmt_target
from sim.experiments.calibration.outputs import bound_warning, markdown_report, unreachable_message, write_outputs
from sim.experiments.calibration.spec import CalibrationSpec, load_spec
from sim.experiments.runs.resources import check_memory, describe_time

__all__ = ["main"]

PROG = "silosim-calibrate"


def _workers(spec: CalibrationSpec) -> int:
    """Runs that go at once: ``jobs`` processes (-1: every core), at most the replications run together."""
    at_once = spec.abc.population if spec.abc is not None else max(spec.replications, spec.report_replications)
    cores = os.cpu_count() or 1
    return max(1, min(cores if spec.jobs == -1 else spec.jobs, at_once))


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-calibrate`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        return
    with user_errors(PROG), record_problems(PROG):
        spec = load_spec(argv)
        check_memory(spec.base.customers, spec.base.weeks, spec.base.warmup_weeks, _workers(spec), "jobs")
        if spec.records is not None and spec.record_targets is not None:
            report_records(spec.records, spec.record_targets)
        shown = ", ".join(f"{k} {fmt_target(k, v)}" for k, v in spec.targets.items())
        budget = (
            f"ABC-SMC, {spec.abc.generations} generations of {spec.abc.population} particles (one replication each)"
            if spec.abc is not None
            else f"{spec.trials} trials x {spec.replications} replications"
        )
        base = spec.base
        if spec.abc is not None:  # each generation runs until its population is accepted: at least this many runs
            runs, took = spec.abc.generations * spec.abc.population, "at least the population of every generation, "
        else:
            runs, took = spec.trials * spec.replications + spec.report_replications, ""
        took += describe_time(runs, base.customers, base.weeks, base.warmup_weeks, _workers(spec))
        print(
            f"Calibrating {', '.join(f.key for f in spec.free)} to {shown}: {budget} of {base.customers:,} "
            f"customers x {base.weeks} weeks; {took}"
        )
        result = calibrate(spec, progress=lambda line: print(line, flush=True))
        written = write_outputs(spec, result)
        if spec.records is not None and spec.record_targets is not None:
            from sim.report.datareport import write_data_report

            write_data_report(spec.records, spec.record_targets, written.parent)
    print()
    print(markdown_report(spec, result))
    if result.posterior is not None:
        from sim.experiments.calibration.abc import posterior_markdown

        print(posterior_markdown(spec, result.posterior))
    print(f"Output directory: {written.parent}")
    warning = bound_warning(spec, result)
    if warning and result.reachable:
        print(paragraph(PROG, warning, prefix=""), file=sys.stderr)
    if not result.reachable:
        print(paragraph(PROG, unreachable_message(spec, result, written), prefix=""), file=sys.stderr)
        sys.exit(EXIT_UNREACHABLE)
    print(f"Apply it: silosim calibration={written} [scenario=...]")


if __name__ == "__main__":
    main()
