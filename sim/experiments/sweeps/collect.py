"""``silosim-collect DIR``: turn a multirun directory into one tidy parquet table, run by run.

    silosim-collect outputs/experiments/lhs_example
    silosim-collect outputs/multirun/2026-11-23_10-12-01 --timeseries --out results/

Writes, into DIR (or ``--out``):

* ``runs.parquet``: one row per complete run: ``run`` (its directory, relative to DIR), ``scenario``,
  ``seed``, ``customers``, ``weeks``, every swept parameter (each overridden key and each design
  parameter, with its resolved value, from the run's ``parameters.json``) and every scalar outcome
  figure of ``summary.json`` flattened to dotted names (``final.true_nps``, ``final.annual_retention``,
  ``mean.true_nps``, ``total.revenue``, ...).
* ``incomplete.csv``: every directory that is not counted, with the reason: empty job directories
  (a run that failed or was interrupted), temporary directories of interrupted attempts, directories
  without a valid ``COMPLETE`` marker, and runs that repeat a configuration already counted.
* ``timeseries.parquet`` (with ``--timeseries``): every run's ``metrics.parquet``, with a ``run`` column.

Runs are read one at a time and written in row groups, so memory stays flat however many runs
there are. A run counts only if its ``COMPLETE`` marker lists every file present with its size; a
configuration (``.hydra/config.yaml``) is counted once, so nothing is double-counted. Output files
are written to temporary names and renamed, so an interrupted collection leaves no half-written table.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from sim.experiments.runs.files import atomic_write, safe_text, temporary_name
from sim.experiments.runs.rundir import MARKER, TEMP_DIR_PATTERN, is_complete

__all__ = ["CollectResult", "collect", "report", "scan"]

RUNS_FILE = "runs.parquet"
TIMESERIES_FILE = "timeseries.parquet"
INCOMPLETE_FILE = "incomplete.csv"
_RUN_FILES = {MARKER, "summary.json", "metrics.parquet", "departments.parquet", "parameters.json", ".hydra"}
_SUMMARY_KEYS = ("scenario", "seed", "customers", "weeks")
_BATCH_ROWS = 256
_BATCH_SERIES_ROWS = 200_000


@dataclass
class CollectResult:
    """What a collection found and wrote."""

    runs: int
    """Complete runs, each one row of ``runs.parquet``."""
    incomplete: list[tuple[str, str]] = field(default_factory=list)
    """(directory relative to the collected one, reason) for every directory not counted."""
    table: Path | None = None
    timeseries: Path | None = None
    incomplete_table: Path | None = None


def scan(root: Path) -> Iterator[tuple[Path, str | None]]:
    """Walk a multirun directory; yield (directory, None) for complete runs and (directory, reason) otherwise.

    Directories are visited in sorted order. A complete run's subdirectories, hidden directories other
    than temporary run directories (``.submitit``, ``.hydra``) and files are not descended into.

    Args:
        root: A multirun directory (or a single run directory).

    Yields:
        Each run directory with None, or each incomplete one with the reason it does not count.
    """
    if is_complete(root):
        yield root, None
        return
    try:
        entries = sorted(os.scandir(root), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False):
            continue
        path = Path(entry.path)
        temp = TEMP_DIR_PATTERN.match(entry.name)
        if temp:
            final = path.parent / temp["name"]
            state = "its run is complete" if is_complete(final) else "rerun the sweep to resume it"
            yield path, f"temporary directory of an interrupted or still running attempt ({state})"
            continue
        if entry.name.startswith("."):
            continue
        if is_complete(path):
            yield path, None
            continue
        names = {e.name for e in os.scandir(path)}
        if not names:
            yield path, "empty job directory: the run failed or was interrupted before writing (rerun to resume)"
        elif names & _RUN_FILES:
            reason = "COMPLETE marker does not match the files" if MARKER in names else "no COMPLETE marker"
            yield path, f"{reason}: not a finished run"
        else:
            yield from scan(path)


def _flatten(prefix: str, value: Any, out: dict[str, Any]) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            _flatten(f"{prefix}.{k}" if prefix else str(k), v, out)
    elif value is None or isinstance(value, bool | int | float | str):
        out[prefix] = value


def _row(run_dir: Path, root: Path) -> dict[str, Any]:
    """One table row of a complete run: identity, swept parameters, outcome figures."""
    summary = json.loads((run_dir / "summary.json").read_text())
    parameters_file = run_dir / "parameters.json"
    parameters = json.loads(parameters_file.read_text()) if parameters_file.is_file() else {}
    row: dict[str, Any] = {"run": run_dir.relative_to(root).as_posix() or "."}
    for key in _SUMMARY_KEYS:
        row[key] = summary.get(key)
    for key, value in parameters.items():
        if key not in row:
            row[key] = value if value is None or isinstance(value, bool | int | float | str) else json.dumps(value)
    outcomes: dict[str, Any] = {}
    for section, value in summary.items():
        if section not in _SUMMARY_KEYS:
            _flatten(section, value, outcomes)
    for key, value in outcomes.items():
        row.setdefault(key, value)
    return row


def _arrow_type(kinds: set[type]) -> pa.DataType:
    kinds = kinds - {type(None)}
    if kinds == {bool}:
        return pa.bool_()
    if kinds == {int}:
        return pa.int64()
    if kinds and kinds <= {int, float}:
        return pa.float64()
    return pa.string()


def _cast(value: Any, kind: pa.DataType) -> Any:
    if value is None:
        return None
    if kind == pa.string() and not isinstance(value, str):
        return json.dumps(value)
    if kind == pa.float64():
        return float(value)
    return value


def _config_digest(run_dir: Path) -> bytes:
    return hashlib.sha1((run_dir / ".hydra" / "config.yaml").read_bytes(), usedforsecurity=False).digest()


def _progress(done: int, total: int, quiet: bool) -> None:
    step = max(1, total // 10)
    if not quiet and total >= 200 and (done % step == 0 or done == total):
        print(f"silosim-collect: {done}/{total} runs collected", flush=True)


@dataclass
class _Census:
    """Pass 1 of a collection: which runs count, and the columns of the table with their types."""

    incomplete: list[tuple[str, str]] = field(default_factory=list)
    counted: dict[bytes, str] = field(default_factory=dict)  # configuration digest -> run (relative)
    kinds: dict[str, set[type]] = field(default_factory=dict)

    @property
    def schema(self) -> pa.Schema:
        """The runs table's schema (one column per key seen in any run)."""
        if not self.kinds:
            return pa.schema([("run", pa.string())])
        return pa.schema([(key, _arrow_type(k)) for key, k in self.kinds.items()])


def _census(root: Path) -> _Census:
    """Walk the sweep once: complete runs (each configuration counted once) and why the rest do not count.

    Nothing is kept per run but its configuration digest and name (a few hundred bytes), so memory does not
    grow with the runs' size.
    """
    census = _Census()
    for path, reason in scan(root):
        rel = path.relative_to(root).as_posix() or "."
        if reason is not None:
            census.incomplete.append((rel, reason))
            continue
        try:
            digest = _config_digest(path)
            row = _row(path, root)
        except (OSError, ValueError) as exc:
            census.incomplete.append((rel, f"unreadable run files: {exc}"))
            continue
        if digest in census.counted:
            census.incomplete.append(
                (rel, f"same configuration and seed as {census.counted[digest]}, which is counted")
            )
            continue
        census.counted[digest] = rel
        for key, value in row.items():
            census.kinds.setdefault(key, set()).add(type(value))
    return census


class _SeriesWriter:
    """Every run's weekly metrics into one parquet file, in row groups of about ``_BATCH_SERIES_ROWS`` rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.writer: pq.ParquetWriter | None = None
        self.schema: pa.Schema | None = None
        self.batch: list[pa.Table] = []
        self.rows = 0

    def add(self, run_dir: Path, rel: str) -> None:
        metrics = pq.read_table(run_dir / "metrics.parquet")
        metrics = metrics.add_column(0, "run", pa.array([rel] * metrics.num_rows, pa.string()))
        self.schema = self.schema or metrics.schema
        self.batch.append(_conform(metrics, self.schema))
        self.rows += metrics.num_rows
        if self.rows >= _BATCH_SERIES_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.batch:
            return
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.path, self.schema, compression="zstd")
        self.writer.write_table(pa.concat_tables(self.batch))
        self.batch.clear()
        self.rows = 0

    def close(self) -> None:
        self.flush()
        if self.writer is not None:
            self.writer.close()
        else:  # no run: an empty table with the run column
            pq.write_table(pa.table({"run": pa.array([], pa.string())}), self.path)


def _write_runs(root: Path, census: _Census, table: Path, series: Path | None, quiet: bool) -> int:
    """Pass 2: stream the counted runs' rows (and weekly series) into the tables; returns the runs written."""
    schema = census.schema
    writer = pq.ParquetWriter(table, schema, compression="zstd")
    series_writer = _SeriesWriter(series) if series is not None else None
    batch: list[dict[str, Any]] = []
    done, total = 0, len(census.counted)
    for path, reason in scan(root):
        rel = path.relative_to(root).as_posix() or "."
        if reason is not None:
            continue
        try:
            if census.counted.get(_config_digest(path)) != rel:  # a duplicate, or a run finished after pass 1
                continue
            row = _row(path, root)
        except (OSError, ValueError):  # removed or rewritten since pass 1
            continue
        batch.append({f.name: _cast(row.get(f.name), f.type) for f in schema})
        if len(batch) >= _BATCH_ROWS:
            writer.write_table(pa.Table.from_pylist(batch, schema=schema))
            batch.clear()
        if series_writer is not None:
            series_writer.add(path, rel)
        done += 1
        _progress(done, total, quiet)
    if batch:
        writer.write_table(pa.Table.from_pylist(batch, schema=schema))
    writer.close()
    if series_writer is not None:
        series_writer.close()
    return done


def collect(
    root: Path,
    out_dir: Path | None = None,
    timeseries: bool = False,
    quiet: bool = False,
) -> CollectResult:
    """Collect every run under ``root`` into ``runs.parquet`` (and optionally ``timeseries.parquet``).

    Args:
        root: A multirun directory (or one run directory).
        out_dir: Where to write the tables; ``root`` if None.
        timeseries: Also write every run's weekly metrics, with a ``run`` column.
        quiet: Print nothing.

    Returns:
        The number of runs, the incomplete directories and the files written.

    Raises:
        NotADirectoryError: If ``root`` is not a readable directory.
    """
    root = Path(root)
    if not root.is_dir() or not os.access(root, os.R_OK | os.X_OK):
        raise NotADirectoryError(str(root))
    out_dir = Path(out_dir) if out_dir is not None else root
    out_dir.mkdir(parents=True, exist_ok=True)
    census = _census(root)
    table_path = out_dir / RUNS_FILE
    series_path = out_dir / TIMESERIES_FILE if timeseries else None
    tmp_table, tmp_series = temporary_name(table_path), temporary_name(out_dir / TIMESERIES_FILE)
    try:
        done = _write_runs(root, census, tmp_table, tmp_series if timeseries else None, quiet)
        os.replace(tmp_table, table_path)
        if series_path is not None:
            os.replace(tmp_series, series_path)
    except BaseException:
        for tmp in (tmp_table, tmp_series):
            tmp.unlink(missing_ok=True)
        raise

    def write_incomplete(path: Path) -> None:
        with path.open("w", newline="") as handle:
            out = csv.writer(handle)
            out.writerow(["directory", "reason"])
            out.writerows([safe_text(cell) for cell in row] for row in census.incomplete)

    incomplete_path = atomic_write(out_dir / INCOMPLETE_FILE, write_incomplete)
    return CollectResult(
        runs=done,
        incomplete=census.incomplete,
        table=table_path,
        timeseries=series_path,
        incomplete_table=incomplete_path,
    )


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Give a run's metrics the columns of the first run's (missing ones null, extra ones dropped)."""
    columns = [
        table[f.name].cast(f.type) if f.name in table.column_names else pa.nulls(table.num_rows, f.type) for f in schema
    ]
    return pa.Table.from_arrays(columns, schema=schema)


def report(result: CollectResult, root: Path, limit: int = 20) -> None:
    """Print what a collection found: runs, incomplete directories (up to ``limit``), files written."""
    print(f"silosim-collect: {result.runs} complete runs in {root} -> {result.table}")
    if result.timeseries:
        print(f"silosim-collect: weekly metrics of every run -> {result.timeseries}")
    if result.incomplete:
        print(
            f"silosim-collect: {len(result.incomplete)} directories not counted (listed in {result.incomplete_table}):"
        )
        for rel, reason in result.incomplete[:limit]:
            print(f"  {rel}: {reason}")
        if len(result.incomplete) > limit:
            print(f"  ... and {len(result.incomplete) - limit} more")
