"""``silosim-export-records``: write a run's customers, survey responses and contacts as a client's records.

    silosim-export-records out=acme_synthetic customers=3000 weeks=52 seed=7
    silosim-export-records out=acme_xlsx format=xlsx scenario=closed_loop_followup customers.rating_bias_mean=-1

Runs one configuration (every ``silosim`` override works: scenario, customers, weeks, seed, industry,
calibration=PATH, any model parameter) and writes customers, responses and contacts (.csv, or .xlsx
with format=xlsx) into out, in exactly the format ``silosim-calibrate data=`` and ``silosim-records``
read (README, "The client's own records"), plus run.yaml: the configuration and the run's own
measured figures over its last year, which the records' targets reproduce. Week 0 of the recorded
run starts on start (default: 1 January of the year that makes the run end
before this year, so no date lies in the future).

Exit status: 0 written; 2 bad input (nothing written).
"""

from __future__ import annotations

import math
import sys
from datetime import date, datetime
from pathlib import Path

from sim.commands._common import user_errors, wants_help

__all__ = ["main"]

PROG = "silosim-export-records"
FORMATS = ("csv", "xlsx")
OWN_KEYS = ("out", "format", "start")


def _own(argv: list[str]) -> tuple[dict[str, str], list[str]]:
    own, rest = {}, []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key in OWN_KEYS:
            own[key] = value
        else:
            rest.append(arg)
    return own, rest


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-export-records`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        return
    import yaml
    from omegaconf import OmegaConf

    from sim.config import ConfigError, checked_config
    from sim.config.vocabularies import WEEKS_PER_YEAR
    from sim.experiments.calibration.export_records import export_run, write_records
    from sim.experiments.runs.files import atomic_directory, require_fresh

    own, overrides = _own(argv)
    with user_errors(PROG):
        if "out" not in own or not own["out"]:
            raise ConfigError(
                "`out` is not given, but the records need a new folder to go to, e.g. out=acme_synthetic."
            )
        out = Path(own["out"]).expanduser()
        fmt = own.get("format", "csv")
        if fmt not in FORMATS:
            raise ConfigError(f"`format` is '{fmt}', but it must be one of {', '.join(FORMATS)}.")
        cfg = checked_config(overrides)
        # by default the run ends in the last full calendar year: 1 January as many years back as it lasts
        start = date(date.today().year - math.ceil(cfg.weeks / WEEKS_PER_YEAR), 1, 1)
        if "start" in own:
            try:
                start = datetime.strptime(own["start"], "%Y-%m-%d").date()
            except ValueError:
                raise ConfigError(f"`start` is '{own['start']}', but it must be a date YYYY-MM-DD.") from None
        end = date.fromordinal(start.toordinal() + 7 * cfg.weeks - 1)
        if end > date.today():
            raise ConfigError(
                f"`start` is {start}, but {cfg.weeks} weeks from it end on {end}, after today; the records would hold "
                "dates in the future. Choose an earlier start."
            )
        require_fresh(out, "out", "exported records")
        print(f"Running {cfg.scenario_name}: {cfg.customers:,} customers, {cfg.weeks} weeks, seed {cfg.seed} ...")
        run = export_run(cfg, start)
        with atomic_directory(out) as tmp:
            write_records(run, tmp, fmt)
            about = {
                "written_by": f"{PROG} {' '.join(argv)}",
                "start": str(start),
                "measured_last_year": {k: round(float(v), 6) for k, v in run.measured.items()},
                "config": OmegaConf.to_container(OmegaConf.structured(cfg), resolve=True),
            }
            (tmp / "run.yaml").write_text(yaml.safe_dump(about, sort_keys=False))
    counts = ", ".join(f"{k} {len(v):,} rows" for k, v in run.tables.items())
    print(f"Written to {out}: {counts}; run.yaml holds the configuration and the run's own figures.")


if __name__ == "__main__":
    main()
