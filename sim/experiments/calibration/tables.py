"""A client's table read as text and parsed: encodings, separators, Excel, headers, dates, numbers, yes/no."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import re
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import ConfigError

__all__ = [
    "COLUMNS",
    "EXTENSIONS",
    "KINDS",
    "SURVEY_KINDS",
    "normal_header",
    "read_table",
]


KINDS = ("responses", "customers", "contacts")
EXTENSIONS = (".csv", ".xlsx")
SURVEY_KINDS = ("relationship", "transactional")
MAPPING_FILE = "columns.yaml"
YES = {"yes", "y", "true", "1", "ja", "oui", "si"}
NO = {"no", "n", "false", "0", "nein", "non"}
EXCEL_SERIAL = (20_000, 80_000)  # Excel day numbers read as dates: 1954-10-03 to 2119-01-10
EXCEL_ORIGIN = pd.Timestamp("1899-12-30")
DEFAULT_COMPLAINT_REASONS = ("complaint",)
SAMPLE_BYTES = 4096
# a row repeating these of an earlier row is a duplicate (contacts: several a day are possible, so none)
UNIQUE_KEYS: dict[str, tuple[str, ...]] = {
    "customers": ("customer_id",),
    "responses": ("respondent_id", "date", "survey"),
    "contacts": (),
}


@dataclasses.dataclass(frozen=True)
class Column:
    """A documented column: its name, type and whether the file must have it."""

    name: str
    kind: str  # id, date, score, survey, text, money, yesno
    required: bool = True
    blank_ok: bool = False
    doc: str = ""


COLUMNS: dict[str, tuple[Column, ...]] = {
    "responses": (
        Column("respondent_id", "id", doc="the customer who answered (the customers file's customer_id)"),
        Column("date", "date", doc="date of the response"),
        Column("score", "score", doc="likelihood to recommend, a whole number 0-10"),
        Column("survey", "survey", doc="survey kind: relationship or transactional"),
        Column("touchpoint", "text", required=False, blank_ok=True, doc="touchpoint the survey followed"),
    ),
    "customers": (
        Column("customer_id", "id", doc="unique customer number"),
        Column("start_date", "date", doc="date the customer joined"),
        Column("end_date", "date", blank_ok=True, doc="date the customer left; blank while active"),
        Column("annual_value", "money", required=False, blank_ok=True, doc="revenue per year, >= 0"),
    ),
    "contacts": (
        Column("customer_id", "id", doc="the customer who contacted"),
        Column("date", "date", doc="date of the contact"),
        Column("reason", "text", required=False, blank_ok=True, doc="reason, e.g. complaint or question"),
        Column("resolved_first_contact", "yesno", doc="resolved at this first contact: yes or no"),
    ),
}


# --------------------------------------------------------------------------------------------- the mapping file
@dataclasses.dataclass
class _Mapping:
    files: dict[str, str]
    columns: dict[str, dict[str, str]]
    date_format: str | None
    complaint_reasons: tuple[str, ...]


def _read_csv(path: Path, notes: list[str]) -> pd.DataFrame:
    """Every cell as text: encoding and separator found from the file, the header row kept as names."""
    data = path.read_bytes()
    if not data.strip():
        raise ConfigError(f"The file {path} is empty; it needs a header row and one row per record.")
    if b"\x00" in data[:SAMPLE_BYTES] or data[:4] == b"PK\x03\x04":
        raise ConfigError(
            f"The file {path} is not a text file (it looks like a binary or workbook file with a .csv name); export "
            "it as CSV (comma or semicolon separated, UTF-8) or save it as .xlsx."
        )
    if data.startswith(b"\xef\xbb\xbf"):
        text = data.decode("utf-8-sig")
    else:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            try:
                text = data.decode("cp1252")
                notes.append(f"{path.name} is not UTF-8; read as Windows-1252 (Western European).")
            except UnicodeDecodeError:
                text = data.decode("latin-1")
                notes.append(f"{path.name} is not UTF-8; read as Latin-1.")
    header = text.lstrip("\ufeff").splitlines()[0]
    counts = {sep: header.count(sep) for sep in (",", ";", "\t")}
    sep = max(counts, key=lambda s: counts[s])
    if counts[sep] == 0:
        raise ConfigError(
            f"The first row of {path} ({header[:80]!r}) has no comma, semicolon or tab, so its columns cannot be told "
            "apart; the first row must be the column headers, separated by commas or semicolons."
        )
    if sep != ",":
        notes.append(f"{path.name} is separated by {'semicolons' if sep == ';' else 'tabs'}.")
    try:
        frame = pd.read_csv(
            io.StringIO(text),
            sep=sep,
            dtype=str,
            keep_default_na=False,
            skipinitialspace=True,
            quoting=csv.QUOTE_MINIMAL,
        )
    except (pd.errors.ParserError, csv.Error) as exc:
        detail = re.sub(r"\s+", " ", str(exc)).strip().rstrip(".")
        raise ConfigError(
            f"The file {path} cannot be read as a table ({detail}); check that every row has the same number of "
            f"{'semicolons' if sep == ';' else 'separators'} and that quotes are closed."
        ) from None
    frame.attrs["decimal_comma"] = sep == ";"
    return frame


def _read_xlsx(path: Path) -> pd.DataFrame:
    """The first sheet, header row first; formulas read with their stored values, refused without them."""
    import zipfile

    from openpyxl import load_workbook

    try:
        values = load_workbook(path, read_only=True, data_only=True)
        formulas = load_workbook(path, read_only=True, data_only=False)
    except (zipfile.BadZipFile, KeyError, OSError, ValueError) as exc:
        raise ConfigError(
            f"The file {path} is not a readable .xlsx workbook ({type(exc).__name__}); save it again from a "
            "spreadsheet program as .xlsx, or export it as CSV."
        ) from None
    sheet, raw = values.worksheets[0], formulas.worksheets[0]
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    for i, (got, formula) in enumerate(zip(rows, raw.iter_rows(values_only=True), strict=False)):
        for j, (value, text) in enumerate(zip(got, formula, strict=False)):
            if value is None and isinstance(text, str) and text.startswith("="):
                from openpyxl.utils import get_column_letter

                raise ConfigError(
                    f"The file {path} has formula cells without a stored value (sheet {sheet.title!r}, cell "
                    f"{get_column_letter(j + 1)}{i + 1}: {text[:40]!r}): it was written by a program that does not "
                    "compute formulas. Open it in a spreadsheet program and save it, or export the values as CSV."
                )
    values.close()
    formulas.close()
    rows = [r for r in rows if any(v is not None and str(v).strip() for v in r)] if rows else []
    if not rows:
        raise ConfigError(f"The first sheet of {path} is empty; it needs a header row and one row per record.")
    header = ["" if v is None else str(v) for v in rows[0]]
    body = [[None if v is None else v for v in r[: len(header)]] + [None] * (len(header) - len(r)) for r in rows[1:]]
    frame = pd.DataFrame(body, columns=header, dtype=object)
    frame.attrs["decimal_comma"] = False
    return frame


def read_table(path: Path, notes: list[str]) -> pd.DataFrame:
    """A client's CSV (every cell as text) or XLSX (the first sheet) file, header row as the column names.

    Raises:
        ConfigError: If it cannot be read (one paragraph naming the file and what to do).
    """
    if path.suffix.lower() not in EXTENSIONS:
        raise ConfigError(f"The file {path} is not a .csv or .xlsx file; save it as one of those.")
    if not path.is_file():
        raise ConfigError(f"The file {path} does not exist.")
    frame = _read_xlsx(path) if path.suffix.lower() == ".xlsx" else _read_csv(path, notes)
    if frame.empty:
        raise ConfigError(f"The file {path} has a header row but no records.")
    return frame


def normal_header(name: object) -> str:
    """A header as matched: stripped, lower case, spaces and dashes as underscores."""
    return _normal(str(name))


def _normal(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", str(name).strip().lstrip("\ufeff")).casefold()


# ---------------------------------------------------------------------------------------------------- parsing
def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == ""


def _parse_date(value: Any, date_format: str | None) -> pd.Timestamp | None:
    if isinstance(value, datetime | date):
        return pd.Timestamp(value).normalize()
    if isinstance(value, int | float) and not isinstance(value, bool):
        number = float(value)
    else:
        text = str(value).strip()
        try:
            number = float(text) if re.fullmatch(r"\d+(\.\d+)?", text) else math.nan
        except ValueError:
            number = math.nan
        if math.isnan(number):
            try:
                if date_format:
                    return pd.Timestamp(datetime.strptime(text, date_format)).normalize()
                if not re.fullmatch(r"\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?", text):
                    return None
                return pd.Timestamp(text).normalize()
            except ValueError:
                return None
    if EXCEL_SERIAL[0] <= number <= EXCEL_SERIAL[1]:
        return (EXCEL_ORIGIN + pd.Timedelta(days=math.floor(number))).normalize()
    return None


def _parse_number(value: Any, decimal_comma: bool) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    text = str(value).strip().replace(" ", "").replace("\u00a0", "")
    if decimal_comma:
        text = text.replace(".", "").replace(",", ".")
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _parse_id(value: Any) -> str | None:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value).strip()
    return text or None


def _parse_cell(col: Column, value: Any, mapping: _Mapping, comma: bool) -> tuple[Any, str]:
    """One non-blank cell as its column's type, or None and why it cannot be read."""
    if col.kind == "date":
        return _parse_date(value, mapping.date_format), (
            f"is not a date ({'format ' + mapping.date_format if mapping.date_format else 'YYYY-MM-DD'})"
        )
    if col.kind in ("score", "money"):
        return _parse_number(value, comma), "is not a number"
    if col.kind == "yesno":
        text = str(value).strip().casefold()
        return (True if text in YES else False if text in NO else None), "is not yes or no"
    if col.kind == "survey":
        return str(value).strip().casefold(), ""
    if col.kind == "id":
        return _parse_id(value), "is not an id"
    return str(value).strip(), ""


_DTYPES = {"date": "datetime64[ns]", "score": "float64", "money": "float64", "yesno": "boolean"}


def _parse(kind: str, raw: pd.DataFrame, mapping: _Mapping) -> tuple[pd.DataFrame, list[tuple[int, str, str]]]:
    """Each cell to its type; returns the typed frame and the cells that could not be read (row, column, why)."""
    out = pd.DataFrame(index=raw.index)
    failed: list[tuple[int, str, str]] = []
    comma = bool(raw.attrs.get("decimal_comma"))
    for col in COLUMNS[kind]:
        if col.name not in raw:
            continue
        values: list[Any] = []
        for row, value in raw[col.name].items():
            parsed, why = (None, "") if _blank(value) else _parse_cell(col, value, mapping, comma)
            if parsed is None and why:
                failed.append((int(row), col.name, why))
            values.append(parsed)
        series = pd.Series(values, index=raw.index, dtype=object)
        if col.kind == "date":
            out[col.name] = pd.to_datetime(series).astype("datetime64[ns]")
        else:
            out[col.name] = series.astype(_DTYPES.get(col.kind, object))
    return out, failed


# ------------------------------------------------------------------------------------------------- validation
