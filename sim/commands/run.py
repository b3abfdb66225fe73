"""The ``silosim`` command: a Hydra app that runs one scenario and writes a run directory.

    silosim scenario=closed_loop_followup customers=50000 weeks=156 seed=7
    silosim scenario=my_case scenario_dir=./my_scenarios
    silosim -m scenario=siloed_scorecards,shared_stage_metrics seed=0,1,2 hydra.sweep.dir=outputs/sweep
    silosim -m experiment=lhs_example
    silosim calibration=outputs/calibrate/<run>/calibrated.yaml scenario=closed_loop_followup

User errors (an unknown scenario, a bad value, a missing file) print one paragraph and exit with
status 2, with no traceback and no run directory. A multirun is checked the same way before any
job starts. A job whose directory already holds a complete run of the same configuration is
skipped, so re-running an interrupted sweep with the same command resumes it.

The job itself (the Hydra task, the checks before Hydra starts, the registration a worker needs) is
:mod:`sim.experiments.runs.task`; this console script adds the help page and prints a user error as
one paragraph.
"""

from __future__ import annotations

import sys

from sim.commands._common import EXIT_INTERRUPTED, paragraph, user_errors, wants_help
from sim.config import group_options
from sim.experiments.runs.task import TaskExit, launch, prepare, watch_parent

__all__ = ["main"]

PROG = "silosim"

HELP = """\
silosim: run one what-if scenario of the silo model and write its run directory.

Usage:  silosim [key=value ...]            one run
        silosim -m [key=a,b,c ...]         a sweep (Hydra multirun; resumes when rerun)

Common settings:
  scenario=NAME        the what-if scenario (default siloed_scorecards); one of:
                       {scenarios}
  scenario_dir=PATH    a directory of your own scenario files (<name>.yaml)
  customers=N          initial customers (default 20000)
  weeks=N              horizon in weeks (default 156, three years)
  seed=N               root seed; the same seed gives byte-identical metrics
  calibration=PATH     a calibrated.yaml written by silosim-calibrate
  output.customers=false   skip customers.parquet (large sweeps)
  hydra.run.dir=PATH   where the run directory goes (default outputs/runs/<time>_<scenario>_s<seed>)
  experiment=NAME      with -m: an experiment design (conf/experiment/: lhs_example, sobol_example, ...)
  hydra/launcher=NAME  with -m: where the runs go: local (all cores, default), slurm, slurm_local, dask
                       (hydra.launcher.address=tcp://HOST:8786, or a local cluster); docs/how-to/cluster.md
  any model parameter, e.g. governance.communication=0.9 (docs/parameters.md lists them all)

Outputs: metrics.parquet, departments.parquet, customers.parquet, summary.json, .hydra/config.yaml
(docs/reference/outputs.md). Exit status: 0 done, 1 a run failed, 2 bad input (nothing written), 4 the
system refused to write (a full disk, a read-only file system, a permission).

Other commands: silosim-compare (scenarios x replications, with a report), silosim-calibrate,
silosim-policy, silosim-sensitivity, silosim-collect, silosim-discover. Docs: README.md, docs/odd.md (the model),
docs/parameters.md (every parameter), docs/architecture.md (the code).
Hydra's own help: silosim --hydra-help."""


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    watch_parent()
    if wants_help(argv):
        print(HELP.format(scenarios=", ".join(group_options("scenario"))))
        return
    with user_errors(PROG):
        overrides = prepare(argv)
    try:
        launch(overrides)
    except TaskExit as exc:  # a job's user error (in a sweep too), or a single run's refused write
        print(paragraph(PROG, exc.message), file=sys.stderr)
        sys.exit(exc.code)
    except KeyboardInterrupt:  # the workers are stopped; complete runs are kept, a rerun resumes
        print(f"\n{PROG}: interrupted; complete runs are kept (the same command resumes).", file=sys.stderr)
        sys.exit(EXIT_INTERRUPTED)


if __name__ == "__main__":
    main()
