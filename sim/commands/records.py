"""``silosim-records FOLDER``: check a client's raw records and measure the targets a calibration fits.

    silosim-records client_exports/
    silosim-records client_exports/ --out reports/acme_data --as-of 2025-12-31

Reads the folder's responses, customers and contacts (CSV or XLSX; README, "The client's own
records"), validates every row (types, ranges, dates, duplicates, responses from unknown customers,
contacts before a customer started) and writes into --out (default outputs/records/<time>):
targets.yaml (each target with its 95% sampling interval), data_quality.csv (every row left out,
with file, row, column, value and problem) and data_report.pdf/.png (one page of the client's data).
``silosim-calibrate data=FOLDER`` does the same inside a calibration.

Exit status: 0 the records were read (rows with a problem are left out and listed); 2 a file cannot
be read, a column is missing, or more than --max-excluded of a file's rows have a problem (every
problem is listed: file, row, column, value), and nothing is written.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from sim.commands._common import EXIT_USER_ERROR, CommandParser, user_errors
from sim.experiments.calibration.records import RecordsProblemsError

if TYPE_CHECKING:
    from sim.experiments.calibration.record_targets import RecordTargets
    from sim.experiments.calibration.records import ClientRecords

__all__ = ["main", "record_problems", "report_records"]

PROG = "silosim-records"
SHOWN_PROBLEMS = 10  # problems printed when the rows are left out (all are in data_quality.csv)


@contextmanager
def record_problems(prog: str) -> Iterator[None]:
    """Print too many problems in a client's records as one block (heading, one line each) and exit 2."""
    try:
        yield
    except RecordsProblemsError as exc:
        body = "\n".join(f"  {line}" for line in exc.lines)
        print(f"{prog}: error: {' '.join(exc.heading.split())}\n{body}", file=sys.stderr)
        sys.exit(EXIT_USER_ERROR)


def report_records(records: ClientRecords, measured: RecordTargets) -> None:
    """Print what was read, what was left out (the first problems) and the targets with their intervals."""
    from sim.experiments.calibration.record_targets import RECORD_TARGETS

    read = ", ".join(f"{records.files[k]} {n:,} rows" for k, n in records.read_rows.items())
    print(f"Client records in {records.folder}: {read}.")
    for note in records.notes:
        print(f"  note: {note}")
    if not records.quality.empty:
        rows = records.quality.drop_duplicates(["file", "row"])
        print(f"  {len(rows):,} row(s) left out with a problem (all listed in data_quality.csv), e.g.:")
        for r in records.quality.head(SHOWN_PROBLEMS).itertuples(index=False):
            print(f"    {r.file} row {r.row}, column {r.column}: {r.value!r} {r.problem}")
    print(
        f"Targets over {measured.start.strftime('%Y-%m-%d')} (exclusive) to {measured.as_of:%Y-%m-%d}, "
        "with 95% sampling intervals:"
    )
    for name, t in measured.targets.items():
        unit = RECORD_TARGETS[name][1]
        print(f"  {name:38s} {t.value:10.4g}   ({t.low:.4g} to {t.high:.4g}; n = {t.n:,}; {unit})")
    for note in measured.notes:
        print(f"  note: {note}")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-records`` console script."""
    parser = CommandParser(prog=PROG, description=__doc__.split("\n\n")[0])
    parser.add_argument("folder", help="the folder holding responses, customers and contacts (.csv or .xlsx)")
    parser.add_argument("--out", help="where to write the targets and the data report (default outputs/records/<time>)")
    parser.add_argument("--as-of", help="last day of the year measured, YYYY-MM-DD (default: the last date found)")
    parser.add_argument(
        "--max-excluded", type=float, default=0.05, help="largest share of a file's rows that may be left out"
    )
    args = parser.parse_args(argv)
    from sim.experiments.calibration.outputs import write_record_outputs
    from sim.experiments.calibration.record_targets import measure_targets
    from sim.experiments.calibration.records import read_records
    from sim.experiments.runs.files import atomic_directory, require_fresh
    from sim.report.datareport import write_data_report

    out = Path(args.out) if args.out else Path("outputs/records") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    with user_errors(PROG), record_problems(PROG):
        if not 0 <= args.max_excluded <= 1:
            from sim.config import ConfigError

            raise ConfigError(f"`--max-excluded` is {args.max_excluded:g}, but it must be a share in [0, 1].")
        require_fresh(out, "--out", "data reports")
        records = read_records(Path(args.folder), max_excluded=args.max_excluded, key="--max-excluded")
        measured = measure_targets(records, args.as_of)
        report_records(records, measured)
        with atomic_directory(out) as tmp:
            write_record_outputs(records, measured, tmp)
            write_data_report(records, measured, tmp)
    print(f"Written: {out}/targets.yaml, data_quality.csv, data_report.pdf and data_report.png")


if __name__ == "__main__":
    main()
