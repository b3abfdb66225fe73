"""``silosim-validate``: run the stylized facts the model must reproduce and say which hold.

    silosim-validate                                       # every fact: 20 seeds x 20,000 customers
    silosim-validate seeds=10 customers=10000 jobs=2
    silosim-validate only=[stationary_baseline,tarp_retention_ordering]
    silosim-validate overrides=[customer.touch_noise_sd=1.2]   # does a changed model still hold?

The facts, their sources, statistics and thresholds are declared in conf/validate.yaml; the
measures they read are in sim/experiments/facts/measures.py. Every scenario x seed the facts need is
run once; paired checks compare two scenarios on the same seeds. Prints the table (fact, check,
value with confidence interval, threshold, holds) and writes validation.md, validation.json,
validation.png and runs.csv into out (default outputs/validation/<time>).

Exit status: 0 every fact holds; 1 a fact fails (the table says which); 2 bad input (nothing run
or written); 130 interrupted (nothing written).
"""

from __future__ import annotations

import sys
import time

import pandas as pd

from sim.commands._common import EXIT_FAILED, user_errors, wants_help
from sim.experiments.facts.spec import load_spec
from sim.experiments.facts.suite import fact_holds, results, run_validation, table, write_outputs

__all__ = ["main"]

PROG = "silosim-validate"


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-validate`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        return
    with user_errors(PROG):
        spec = load_spec(argv)
        started = time.monotonic()
        runs = run_validation(spec)
        checked = results(spec, runs)
        out = write_outputs(spec, checked, runs, time.monotonic() - started)
    verdicts = fact_holds(spec, checked)
    with pd.option_context("display.width", 250, "display.max_colwidth", 60, "display.max_columns", 20):
        print(table(spec, checked).to_string(index=False))
    failed = [name for name, ok in verdicts.items() if not ok]
    print(
        f"\n{len(verdicts) - len(failed)} of {len(verdicts)} facts hold."
        + (f" Failing: {', '.join(failed)}." if failed else "")
    )
    print(f"Validation report: {out / 'validation.md'}")
    if failed:
        sys.exit(EXIT_FAILED)


if __name__ == "__main__":
    main()
