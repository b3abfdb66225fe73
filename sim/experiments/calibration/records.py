"""A client's raw records: read, validate and keep account of every row left out.

A client hands over up to three exports in one folder (CSV or XLSX), each found by its name
(``responses``, ``customers``, ``contacts`` with the extension ``.csv`` or ``.xlsx``):

* ``responses``: ``respondent_id``, ``date``, ``score`` (0-10), ``survey`` (``relationship`` or
  ``transactional``), ``touchpoint`` (optional);
* ``customers``: ``customer_id``, ``start_date``, ``end_date`` (blank while active),
  ``annual_value`` (optional);
* ``contacts``: ``customer_id``, ``date``, ``reason`` (optional), ``resolved_first_contact`` (yes/no).

Headers match case-insensitively (spaces and dashes count as underscores); other columns are
ignored. A client whose exports use other headers or file names adds ``columns.yaml`` to the folder::

    responses: {file: nps_export.xlsx, columns: {respondent_id: Kundennummer, score: LTR}}
    contacts: {columns: {resolved_first_contact: FCR}, complaint_reasons: [complaint, problem]}
    date_format: "%d/%m/%Y"       # dates not in ISO 8601 (2024-03-31), e.g. 31/03/2024

Reading copes with what exports look like: UTF-8 with or without a byte-order mark, Windows-1252
or Latin-1 text (noted), comma, semicolon or tab separators (a semicolon file reads decimal
commas), dates as ISO text, as Excel dates or as Excel serial numbers, and workbook formulas
with their stored values. A workbook whose formulas have no stored value (never opened in a
spreadsheet program) is refused, as is a file that is not text or not a workbook.

Validation is declared with pandera (schemas per file: types, ranges, allowed values, dates not
in the future, duplicates; chosen because it reports every failing cell lazily, with its row, in
one table), then the checks across files: responses and contacts from customers the customer
file does not know, and contacts or responses before the customer started. A row with any
problem is excluded and listed in the ``data_quality`` table (file, row, column, value, problem);
nothing is dropped silently. Row numbers are the file's own (the header is row 1).
"""

from __future__ import annotations

import dataclasses
import math
from datetime import date, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.experiments.calibration.tables import (
    COLUMNS,
    DEFAULT_COMPLAINT_REASONS,
    EXTENSIONS,
    KINDS,
    MAPPING_FILE,
    SURVEY_KINDS,
    UNIQUE_KEYS,
    _blank,
    _Mapping,
    _normal,
    _parse,
    read_table,
)

__all__ = [
    "ClientRecords",
    "Problem",
    "RecordsProblemsError",
    "read_records",
]


@dataclasses.dataclass(frozen=True)
class Problem:
    """One problem with one cell (or row) of a client's file."""

    file: str
    row: int
    column: str
    value: str
    problem: str

    def line(self) -> str:
        """The problem as one line: file, row, column, value and what is wrong."""
        return f"{self.file} row {self.row}, column {self.column}: {self.value!r} {self.problem}"


class RecordsProblemsError(ConfigError):
    """Too many rows of a client's records fail validation: the problems as one block of lines."""

    def __init__(self, heading: str, problems: list[Problem], shown: int = 30) -> None:
        """Keep the heading and the problems; the message is the heading and one line per problem."""
        self.heading = heading
        self.problems = problems
        lines = [p.line() for p in problems[:shown]]
        if len(problems) > shown:
            lines.append(f"... and {len(problems) - shown} more problem(s) of the same kinds.")
        self.lines = lines
        super().__init__(heading + "\n" + "\n".join(f"  {line}" for line in lines))


@dataclasses.dataclass
class ClientRecords:
    """The valid rows of a client's files, the rows left out and why, and notes on how the files were read."""

    folder: Path
    tables: dict[str, pd.DataFrame]
    files: dict[str, str]
    quality: pd.DataFrame
    notes: list[str]
    read_rows: dict[str, int]
    complaint_reasons: tuple[str, ...] = DEFAULT_COMPLAINT_REASONS

    @property
    def responses(self) -> pd.DataFrame | None:
        """The valid survey responses, or None without a responses file."""
        return self.tables.get("responses")

    @property
    def customers(self) -> pd.DataFrame | None:
        """The valid customers, or None without a customers file."""
        return self.tables.get("customers")

    @property
    def contacts(self) -> pd.DataFrame | None:
        """The valid contacts, or None without a contacts file."""
        return self.tables.get("contacts")

    def excluded(self, kind: str) -> int:
        """Rows of one file left out."""
        if self.quality.empty:
            return 0
        return int(self.quality.loc[self.quality["file"] == self.files.get(kind, ""), "row"].nunique())


def _read_mapping(folder: Path) -> _Mapping:
    """``columns.yaml``: other file names, other headers, a date format, the reasons that are complaints."""
    import yaml

    path = folder / MAPPING_FILE
    mapping = _Mapping({}, {}, None, DEFAULT_COMPLAINT_REASONS)
    if not path.is_file():
        return mapping
    try:
        node = yaml.safe_load(path.read_text(encoding="utf-8-sig"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"The mapping file {path}{line} is not valid UTF-8 YAML; {_allowed_mapping()}") from None
    if node is None:
        return mapping
    if not isinstance(node, dict):
        raise ConfigError(f"The mapping file {path} holds {type(node).__name__}, but {_allowed_mapping()}")
    unknown = sorted(set(node) - {*KINDS, "date_format"})
    if unknown:
        raise ConfigError(f"The mapping file {path} has the key {unknown[0]!r}, but {_allowed_mapping()}")
    date_format = node.get("date_format")
    if date_format is not None:
        if not isinstance(date_format, str) or "%" not in date_format:
            raise ConfigError(
                f"`date_format` in {path} is {date_format!r}, but it must be a strftime pattern such as '%d/%m/%Y'."
            )
        mapping.date_format = date_format
    for kind in KINDS:
        _mapping_entry(kind, node.get(kind) or {}, path, mapping)
    return mapping


def _mapping_entry(kind: str, entry: Any, path: Path, mapping: _Mapping) -> None:
    """One file's entry of the mapping file: its file name, its headers, (contacts) the complaint reasons."""
    if not isinstance(entry, dict) or set(entry) - {"file", "columns", "complaint_reasons"}:
        raise ConfigError(f"`{kind}` in {path} is {entry!r}, but {_allowed_mapping()}")
    if "file" in entry:
        name = str(entry["file"])
        if Path(name).name != name or Path(name).suffix.lower() not in EXTENSIONS:
            raise ConfigError(
                f"`{kind}.file` in {path} is {name!r}, but it must be a file name in the same folder ending "
                f"in {' or '.join(EXTENSIONS)}."
            )
        mapping.files[kind] = name
    columns = entry.get("columns") or {}
    known = [c.name for c in COLUMNS[kind]]
    if not isinstance(columns, dict) or set(columns) - set(known):
        bad = sorted(set(columns) - set(known))[0] if isinstance(columns, dict) else columns
        raise ConfigError(
            f"`{kind}.columns` in {path} names {bad!r}, but it maps the documented columns ({', '.join(known)}) "
            "to the headers of the client's file, e.g. {score: LTR}."
        )
    mapping.columns[kind] = {str(k): str(v) for k, v in columns.items()}
    if "complaint_reasons" in entry:
        reasons = entry["complaint_reasons"]
        if kind != "contacts" or not isinstance(reasons, list) or not reasons:
            raise ConfigError(
                f"`{kind}.complaint_reasons` in {path} is {reasons!r}, but only contacts take it: a list of the "
                "reasons that count as complaints, e.g. [complaint, problem]."
            )
        mapping.complaint_reasons = tuple(str(r).strip().casefold() for r in reasons)


def _allowed_mapping() -> str:
    return (
        f"{MAPPING_FILE} may hold date_format (a strftime pattern) and, for each of {', '.join(KINDS)}, file (the "
        "file name), columns (documented column: the client's header) and, for contacts, complaint_reasons."
    )


# ------------------------------------------------------------------------------------------------ reading files
def _find_files(folder: Path, mapping: _Mapping) -> dict[str, Path]:
    if not folder.is_dir():
        raise ConfigError(
            f"`data` is '{folder}', but that is not a folder; give the folder holding the client's "
            f"{', '.join(KINDS)} files (.csv or .xlsx)."
        )
    found: dict[str, Path] = {}
    by_name = {p.name.casefold(): p for p in folder.iterdir() if p.is_file()}
    for kind in KINDS:
        if kind in mapping.files:
            path = folder / mapping.files[kind]
            if not path.is_file():
                raise ConfigError(
                    f"`{kind}.file` in {folder / MAPPING_FILE} is '{mapping.files[kind]}', but there is no such file "
                    f"in {folder}."
                )
            found[kind] = path
            continue
        candidates = [by_name[f"{kind}{ext}"] for ext in EXTENSIONS if f"{kind}{ext}" in by_name]
        if len(candidates) > 1:
            raise ConfigError(
                f"The folder {folder} holds both {candidates[0].name} and {candidates[1].name}; keep one {kind} file."
            )
        if candidates:
            found[kind] = candidates[0]
    if not found:
        present = sorted(by_name)[:8]
        raise ConfigError(
            f"The folder {folder} holds none of the client files {', '.join(f'{k}.csv|.xlsx' for k in KINDS)} "
            f"(it holds {present or 'nothing'}); name the files so, or map other names in {MAPPING_FILE}."
        )
    return found


def _select_columns(kind: str, path: Path, frame: pd.DataFrame, mapping: _Mapping) -> pd.DataFrame:
    """The documented columns under their documented names (others dropped); a missing required one is an error."""
    headers = {_normal(h): h for h in frame.columns}
    chosen: dict[str, Any] = {}
    missing = []
    for col in COLUMNS[kind]:
        wanted = mapping.columns.get(kind, {}).get(col.name, col.name)
        header = headers.get(_normal(wanted))
        if header is None:
            if col.required:
                missing.append((col.name, wanted))
            continue
        chosen[col.name] = frame[header]
    if missing:
        name, wanted = missing[0]
        via = f" (mapped to {wanted!r} in {MAPPING_FILE})" if wanted != name else ""
        shown = ", ".join(repr(str(h)) for h in list(frame.columns)[:10])
        raise ConfigError(
            f"The file {path} has no column {name!r}{via}; its headers are {shown}. A {kind} file needs "
            f"{', '.join(c.name for c in COLUMNS[kind] if c.required)}; map other headers in {MAPPING_FILE}, "
            "e.g. {" + f"{kind}: {{columns: {{{name}: <your header>}}}}" + "}."
        )
    out = pd.DataFrame(chosen)
    out.index = pd.RangeIndex(2, 2 + len(out))  # the file's own row numbers: the header is row 1
    out.attrs["decimal_comma"] = frame.attrs.get("decimal_comma", False)
    return out


_CHECK_TEXT = {
    "not_nullable": "is blank, but the column must have a value",
    "in_range(0, 10)": "is outside 0-10 (a score is a whole number from 0 to 10)",
    "whole_score": "is not a whole number (a score is 0, 1, ..., 10)",
    "greater_than_or_equal_to(0)": "is negative, but a value per year must be at least 0",
    "not_in_future": "is after today",
    "end_after_start": "is before the start_date",
}


def _schema(kind: str, today: pd.Timestamp) -> Any:
    """The pandera schema of one file's typed columns."""
    import pandera.pandas as pa

    not_future = pa.Check(lambda s: s <= today, name="not_in_future", element_wise=False, ignore_na=True)
    cols: dict[str, pa.Column] = {}
    for col in COLUMNS[kind]:
        checks: list[pa.Check] = []
        if col.kind == "date":
            dtype: Any = "datetime64[ns]"
            checks.append(not_future)
        elif col.kind == "score":
            dtype = "float64"
            checks += [
                pa.Check.in_range(0, 10),
                pa.Check(lambda s: (s % 1) == 0, name="whole_score", ignore_na=True),
            ]
        elif col.kind == "money":
            dtype = "float64"
            checks.append(pa.Check.ge(0))
        elif col.kind == "yesno":
            dtype = "boolean"
        elif col.kind == "survey":
            dtype = object
            checks.append(pa.Check.isin(SURVEY_KINDS))
        else:
            dtype = object
        cols[col.name] = pa.Column(dtype, checks=checks, nullable=col.blank_ok, required=False, coerce=False)
    frame_checks = []
    if kind == "customers":
        frame_checks.append(
            pa.Check(
                lambda df: df["end_date"].isna() | (df["end_date"] >= df["start_date"]),
                name="end_after_start",
            )
        )
    unique = list(UNIQUE_KEYS[kind]) or None
    return pa.DataFrameSchema(cols, checks=frame_checks, unique=unique, report_duplicates="exclude_first")


def _schema_problems(kind: str, typed: pd.DataFrame, today: pd.Timestamp) -> list[tuple[int, str, str]]:
    """Every failing cell of one file by its pandera schema: (row, column, problem)."""
    import pandera.errors

    try:
        _schema(kind, today).validate(typed, lazy=True)
    except pandera.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return []
    out = []
    for case in cases.itertuples(index=False):
        if case.index is None or (isinstance(case.index, float) and math.isnan(case.index)):
            continue
        check = str(case.check)
        column = str(case.column) if case.column is not None else ""
        if check == "isin(('relationship', 'transactional'))" or check.startswith("isin("):
            text = f"is not a survey kind ({' or '.join(SURVEY_KINDS)})"
        elif "unique" in check:  # one problem per repeated row (pandera lists each field of a several-field key)
            keys = UNIQUE_KEYS[kind]
            text = "repeats an earlier row (a duplicate)" + (f" of {', '.join(keys)}" if len(keys) > 1 else "")
            column = keys[0]
        elif check == "end_after_start":
            column, text = "end_date", _CHECK_TEXT[check]
        else:
            text = _CHECK_TEXT.get(check, f"fails the check {check}")
        out.append((int(case.index), column, text))
    return list(dict.fromkeys(out))


def _cross_problems(tables: dict[str, pd.DataFrame]) -> list[tuple[str, int, str, str]]:
    """Rows that contradict another file: unknown customers, contacts and responses before the customer started."""
    customers = tables.get("customers")
    out: list[tuple[str, int, str, str]] = []
    if customers is None:
        return out
    start = customers.drop_duplicates("customer_id").set_index("customer_id")["start_date"]
    for kind, id_col in (("responses", "respondent_id"), ("contacts", "customer_id")):
        frame = tables.get(kind)
        if frame is None:
            continue
        ids = frame[id_col]
        known = ids.isin(start.index) | ids.isna()
        for row in frame.index[~known]:
            out.append((kind, int(row), id_col, "is not a customer_id of the customers file"))
        began = ids.map(start)
        early = known & began.notna() & frame["date"].notna() & (frame["date"] < began)
        what = "contact" if kind == "contacts" else "response"
        for row in frame.index[early]:
            out.append((kind, int(row), "date", f"is before this customer's start_date (a {what} before joining)"))
    return out


# ------------------------------------------------------------------------------------------------------- reading
def read_records(
    folder: Path | str, *, max_excluded: float = 0.05, today: date | None = None, key: str = "data_max_excluded"
) -> ClientRecords:
    """Read and validate a client's folder of records.

    Args:
        folder: The folder holding responses, customers and contacts (CSV or XLSX), and optionally columns.yaml.
        max_excluded: Largest share of any file's rows that may fail validation and be left out; more is an error.
        today: Dates after this are problems (default: today).
        key: The setting that gave ``max_excluded``, for the message.

    Returns:
        The valid rows, the ``data_quality`` table of every row left out and why, and reading notes.

    Raises:
        ConfigError: A file cannot be read, a required column is missing, or the mapping file is wrong (one
            paragraph); :class:`RecordsProblemsError` when more than ``max_excluded`` of a file's rows fail.
    """
    folder = Path(folder).expanduser()
    mapping = _read_mapping(folder) if folder.is_dir() else _Mapping({}, {}, None, DEFAULT_COMPLAINT_REASONS)
    paths = _find_files(folder, mapping)
    reference = pd.Timestamp(today or date.today())
    notes: list[str] = []
    raw: dict[str, pd.DataFrame] = {}
    typed: dict[str, pd.DataFrame] = {}
    problems: list[Problem] = []
    for kind, path in paths.items():
        frame = read_table(path, notes)
        raw[kind] = _select_columns(kind, path, frame, mapping)
        typed[kind], failed = _parse(kind, raw[kind], mapping)
        cells = {(row, col) for row, col, _ in failed}
        problems += [_problem(path.name, raw[kind], row, col, why) for row, col, why in failed]
        problems += [
            _problem(path.name, raw[kind], row, col, why)
            for row, col, why in _schema_problems(kind, typed[kind], reference)
            if (row, col) not in cells
        ]
    problems += [_problem(paths[kind].name, raw[kind], row, col, why) for kind, row, col, why in _cross_problems(typed)]
    names = {kind: path.name for kind, path in paths.items()}
    problems.sort(key=lambda p: (list(names.values()).index(p.file), p.row, p.column))
    bad_rows = {kind: {p.row for p in problems if p.file == names[kind]} for kind in paths}
    too_many = [
        (kind, len(rows), len(typed[kind]))
        for kind, rows in bad_rows.items()
        if len(rows) > max_excluded * len(typed[kind])
    ]
    if too_many:
        shown = "; ".join(f"{names[k]}: {n} of {total} rows" for k, n, total in too_many)
        raise RecordsProblemsError(
            f"The client's records in {folder} have {len(problems)} problem(s), and rows with a problem would be left "
            f"out: more than the {max_excluded:.1%} of a file allowed (`{key}`) for {shown}. Correct the "
            "files (each problem below names the file, the row, the column and the value), or map other headers, "
            f"a date format or file names in {MAPPING_FILE}:",
            problems,
        )
    tables = {kind: typed[kind].drop(index=sorted(bad_rows[kind])) for kind in paths}
    quality = pd.DataFrame(
        [{**dataclasses.asdict(p), "action": "row excluded"} for p in problems],
        columns=["file", "row", "column", "value", "problem", "action"],
    )
    return ClientRecords(
        folder=folder,
        tables=tables,
        files=names,
        quality=quality,
        notes=notes,
        read_rows={kind: len(typed[kind]) for kind in paths},
        complaint_reasons=mapping.complaint_reasons,
    )


def _problem(file: str, raw: pd.DataFrame, row: int, column: str, why: str) -> Problem:
    value = raw.at[row, column] if column in raw and row in raw.index else ""
    if isinstance(value, datetime | pd.Timestamp):
        shown = value.strftime("%Y-%m-%d")
    elif _blank(value):
        shown = ""
    elif isinstance(value, float | np.floating) and float(value).is_integer():
        shown = str(int(value))
    else:
        shown = str(value)
    return Problem(file, row, column, shown, why)
