"""A client's raw records: reading what exports look like, refusing what cannot be read, listing every bad row."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error, run_command, run_main

from sim.config import ConfigError
from sim.experiments.calibration.record_targets import kaplan_meier, km_retention, measure_targets, nps_target, wilson
from sim.experiments.calibration.records import RecordsProblemsError, read_records

TODAY = date(2025, 6, 30)

CUSTOMERS = """customer_id,start_date,end_date,annual_value
A1,2023-01-10,,120.5
A2,2023-06-01,2024-08-15,99
A3,2024-03-01,,80
A4,2022-05-05,2024-02-01,
"""
RESPONSES = """respondent_id,date,score,survey,touchpoint
A1,2024-02-01,10,relationship,
A2,2024-03-01,9,relationship,
A3,2024-04-01,7,relationship,
A1,2024-05-01,3,relationship,
A3,2024-06-01,8,transactional,help_desk
"""
CONTACTS = """customer_id,date,reason,resolved_first_contact
A1,2024-02-10,complaint,yes
A2,2024-03-10,complaint,no
A3,2024-04-10,question,yes
A1,2024-05-10,complaint,Yes
"""


def folder(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    """A client folder holding ``files`` (text written as UTF-8, bytes as they are)."""
    root = tmp_path / "client"
    root.mkdir(exist_ok=True)
    for name, content in files.items():
        path = root / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def good(**replace: str | bytes) -> dict[str, str | bytes]:
    """The three valid files, some replaced."""
    return {"customers.csv": CUSTOMERS, "responses.csv": RESPONSES, "contacts.csv": CONTACTS, **replace}


def xlsx_bytes(tmp_path: Path, rows: list[list[object]]) -> bytes:
    """A one-sheet workbook written by openpyxl (formulas are stored without a computed value)."""
    from openpyxl import Workbook

    wb = Workbook()
    for row in rows:
        wb.active.append(row)
    path = tmp_path / "book.xlsx"
    wb.save(path)
    return path.read_bytes()


# --------------------------------------------------------------------------------------------- what is handled
def test_valid_files_are_read_typed_and_nothing_is_left_out(tmp_path: Path) -> None:
    records = read_records(folder(tmp_path, good()), today=TODAY)
    assert records.quality.empty
    assert records.read_rows == {"responses": 5, "customers": 4, "contacts": 4}
    assert records.responses["score"].tolist() == [10, 9, 7, 3, 8]
    assert records.customers["end_date"].isna().tolist() == [True, False, True, False]
    assert records.contacts["resolved_first_contact"].tolist() == [True, False, True, True]


def test_bom_latin1_semicolons_decimal_commas_excel_serials_and_other_headers_are_read(tmp_path: Path) -> None:
    customers = "Kunde;Beginn;Ende;Wert\nA1;2023-01-10;;1.120,50\nA2;45078;2024-08-15;99,5\n"  # 45078 = 2023-06-01
    contacts = "customer_id,date,reason,resolved_first_contact\nA1,2024-02-10,réclamation,oui\n"
    responses = "respondent_id,date,score,survey\nA1,01/02/2024,10,Relationship\n"
    mapping = (
        "customers: {columns: {customer_id: Kunde, start_date: Beginn, end_date: Ende, annual_value: Wert}}\n"
        "contacts: {complaint_reasons: [réclamation]}\n"
        "date_format: '%d/%m/%Y'\n"
    )
    root = folder(
        tmp_path,
        {
            "customers.csv": b"\xef\xbb\xbf" + customers.encode("utf-8"),
            "contacts.csv": contacts.encode("latin-1"),
            "responses.csv": responses,
            "columns.yaml": mapping,
        },
    )
    # date_format applies to every file: ISO dates in the other files do not fit it
    with pytest.raises(RecordsProblemsError) as caught:
        read_records(root, today=TODAY)
    assert "customers.csv row 2, column start_date: '2023-01-10' is not a date (format %d/%m/%Y)" in str(caught.value)
    (root / "columns.yaml").write_text(mapping.replace("date_format: '%d/%m/%Y'\n", ""), encoding="utf-8")
    (root / "responses.csv").write_text(responses.replace("01/02/2024", "2024-02-01"), encoding="utf-8")
    records = read_records(root, today=TODAY)
    assert records.quality.empty
    assert records.customers["annual_value"].tolist() == [1120.5, 99.5]
    assert records.customers["start_date"].tolist() == [pd.Timestamp("2023-01-10"), pd.Timestamp("2023-06-01")]
    assert records.contacts["reason"].tolist() == ["réclamation"]
    assert records.complaint_reasons == ("réclamation",)
    assert any("Windows-1252" in n for n in records.notes) and any("semicolons" in n for n in records.notes)
    assert records.responses["survey"].tolist() == ["relationship"]


def test_xlsx_with_dates_numbers_and_extra_columns_is_read(tmp_path: Path) -> None:
    from datetime import datetime

    book = xlsx_bytes(
        tmp_path,
        [
            ["Customer_ID", "Start Date", "end-date", "annual_value", "segment"],
            ["A1", datetime(2023, 1, 10), None, 120.5, "gold"],
            [2, 45078, datetime(2024, 8, 15), 99, "silver"],
        ],
    )
    records = read_records(folder(tmp_path, {"customers.xlsx": book}), today=TODAY)
    assert records.customers["customer_id"].tolist() == ["A1", "2"]
    assert records.customers["start_date"].tolist() == [pd.Timestamp("2023-01-10"), pd.Timestamp("2023-06-01")]
    assert "segment" not in records.customers


def test_workbook_formulas_are_read_by_the_values_a_spreadsheet_stored(tmp_path: Path) -> None:
    import zipfile

    book = tmp_path / "saved.xlsx"
    book.write_bytes(_formula_book(tmp_path))
    # as a spreadsheet program saves it: the formula with its computed value (openpyxl stores none)
    with zipfile.ZipFile(book) as z:
        parts = {name: z.read(name) for name in z.namelist()}
    sheet = "xl/worksheets/sheet1.xml"
    assert b"<f>4+5</f><v></v>" in parts[sheet]
    parts[sheet] = parts[sheet].replace(b"<f>4+5</f><v></v>", b"<f>4+5</f><v>9</v>")
    with zipfile.ZipFile(book, "w") as z:
        for name, data in parts.items():
            z.writestr(name, data)
    records = read_records(folder(tmp_path, {"responses.xlsx": book.read_bytes()}), today=TODAY)
    assert records.responses["score"].tolist() == [9]


# ------------------------------------------------------------------------------------ bad rows: every one listed
BAD_ROWS = [
    (
        "responses.csv",
        RESPONSES.replace("A2,2024-03-01,9,", "A2,2024-03-01,11,"),
        "row 3, column score: '11' is outside 0-10",
    ),
    (
        "responses.csv",
        RESPONSES.replace("A2,2024-03-01,9,", "A2,2024-03-01,9.5,"),
        "row 3, column score: '9.5' is not a whole",
    ),
    (
        "responses.csv",
        RESPONSES.replace("A2,2024-03-01,9,", "A2,2024-03-01,=A1+1,"),
        "row 3, column score: '=A1+1' is not a number",
    ),
    (
        "responses.csv",
        RESPONSES.replace("2024-03-01", "2024-13-01"),
        "row 3, column date: '2024-13-01' is not a date",
    ),
    (
        "responses.csv",
        RESPONSES.replace("2024-03-01", "2026-03-01"),
        "row 3, column date: '2026-03-01' is after today",
    ),
    (
        "responses.csv",
        RESPONSES.replace("9,relationship", "9,relationshp"),
        "row 3, column survey: 'relationshp' is not a survey kind",
    ),
    (
        "responses.csv",
        RESPONSES.replace("A2,2024-03-01", "Z9,2024-03-01"),
        "row 3, column respondent_id: 'Z9' is not a customer_id",
    ),
    (
        "responses.csv",
        RESPONSES.replace("A2,2024-03-01,9", ",2024-03-01,9"),
        "row 3, column respondent_id: '' is blank",
    ),
    (
        "responses.csv",
        RESPONSES + "A1,2024-05-01,3,relationship,\n",
        "row 7, column respondent_id: 'A1' repeats an earlier row",
    ),
    (
        "customers.csv",
        CUSTOMERS + "A2,2023-06-01,,\n",
        "customers.csv row 6, column customer_id: 'A2' repeats an earlier row",
    ),
    (
        "customers.csv",
        CUSTOMERS.replace("2024-08-15", "2023-01-01"),
        "row 3, column end_date: '2023-01-01' is before the start_date",
    ),
    (
        "customers.csv",
        CUSTOMERS.replace("120.5", "-4"),
        "row 2, column annual_value: '-4' is negative",
    ),
    (
        "contacts.csv",
        CONTACTS.replace("A2,2024-03-10", "A2,2023-03-10"),
        "row 3, column date: '2023-03-10' is before this customer's start_date",
    ),
    (
        "contacts.csv",
        CONTACTS.replace("complaint,no", "complaint,maybe"),
        "row 3, column resolved_first_contact: 'maybe' is not yes or no",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("name", "content", "expected"), BAD_ROWS, ids=[e[2][:40] for e in BAD_ROWS])
def test_every_bad_row_is_named_by_file_row_column_and_value_and_left_out(
    tmp_path: Path, name: str, content: str, expected: str
) -> None:
    root = folder(tmp_path, good(**{name: content}))
    with pytest.raises(RecordsProblemsError) as caught:
        read_records(root, today=TODAY)  # a few rows: one bad row is more than 5% of the file
    assert expected in str(caught.value), str(caught.value)
    assert f"{name}:" in caught.value.heading  # the file over the limit is named
    records = read_records(root, today=TODAY, max_excluded=1.0)  # allowed: left out and listed, not dropped silently
    rows = records.quality
    assert len(rows) == 1 and rows["file"].iloc[0] == name and rows["action"].iloc[0] == "row excluded"
    line = f"{name} row {rows['row'].iloc[0]}, column {rows['column'].iloc[0]}: {rows['value'].iloc[0]!r}"
    assert expected.split(" is")[0].split(":")[0] in line
    kind = name.removesuffix(".csv")
    assert len(records.tables[kind]) == records.read_rows[kind] - 1


# ---------------------------------------------------------------------------- unreadable files: one paragraph
def _formula_book(tmp_path: Path) -> bytes:
    return xlsx_bytes(
        tmp_path, [["respondent_id", "date", "score", "survey"], ["A1", "2024-02-01", "=4+5", "relationship"]]
    )


MALFORMED = [
    (
        "empty folder",
        {},
        ["holds none of the client files"],
    ),
    (
        "csv and xlsx",
        {"responses.xlsx": b"x"},
        ["holds both", "keep one responses file"],
    ),
    (
        "missing column",
        {"responses.csv": RESPONSES.replace("score", "ltr")},
        ["has no column 'score'", "'ltr'", "columns.yaml"],
    ),
    (
        "binary as csv",
        {"contacts.csv": b"\x00\x01\x02binary"},
        ["is not a text file"],
    ),
    (
        "workbook as csv",
        {"contacts.csv": b"PK\x03\x04rest"},
        ["is not a text file"],
    ),
    (
        "no separator",
        {"contacts.csv": "customer_id|date|resolved\nA1|2024-01-01|yes\n"},
        ["no comma, semicolon or tab"],
    ),
    (
        "ragged csv",
        {"contacts.csv": 'customer_id,date,resolved_first_contact\nA1,"2024-01-01,yes\n'},
        ["cannot be read as a table"],
    ),
    (
        "header only",
        {"contacts.csv": "customer_id,date,resolved_first_contact\n"},
        ["has a header row but no records"],
    ),
    (
        "empty file",
        {"contacts.csv": ""},
        ["is empty"],
    ),
    (
        "broken xlsx",
        {"responses.csv": None, "responses.xlsx": b"PK\x03\x04 not a zip"},
        ["not a readable .xlsx"],
    ),
    (
        "formula without value",
        {"responses.csv": None, "responses.xlsx": "FORMULA"},
        ["formula cells without a stored value", "cell C2", "'=4+5'"],
    ),
    (
        "mapping: bad key",
        {"columns.yaml": "respones: {}\n"},
        ["has the key 'respones'", "date_format"],
    ),
    (
        "mapping: unknown column",
        {"columns.yaml": "responses: {columns: {nps: LTR}}\n"},
        ["names 'nps'", "respondent_id"],
    ),
    (
        "mapping: missing file",
        {"columns.yaml": "responses: {file: nps.csv}\n"},
        ["is 'nps.csv', but there is no such file"],
    ),
    (
        "mapping: not yaml",
        {"columns.yaml": "responses: [unclosed\n"},
        ["not valid UTF-8 YAML"],
    ),
    (
        "mapping: bad date format",
        {"columns.yaml": "date_format: dd/mm/yyyy\n"},
        ["`date_format`", "strftime pattern"],
    ),
]  # fmt: skip


@pytest.mark.parametrize(("case", "files", "fragments"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_a_file_that_cannot_be_read_is_one_paragraph_naming_it(
    tmp_path: Path, case: str, files: dict[str, object], fragments: list[str]
) -> None:
    content = {} if case == "empty folder" else good()
    for name, value in files.items():
        if value is None:
            content.pop(name)
        elif value == "FORMULA":
            content[name] = _formula_book(tmp_path)
        else:
            content[name] = value  # type: ignore[assignment]
    root = folder(tmp_path, content)
    with pytest.raises(ConfigError) as caught:
        read_records(root, today=TODAY)
    message = str(caught.value)
    assert not isinstance(caught.value, RecordsProblemsError) and "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_silosim_records_prints_the_problems_as_one_block_and_writes_nothing(tmp_path: Path) -> None:
    bad = RESPONSES.replace("A2,2024-03-01,9,", "A2,2024-03-01,11,").replace("A3,2024-04-01", "Z9,2024-04-01")
    root = folder(tmp_path, good(**{"responses.csv": bad}))
    out = run_main("silosim-records", str(root), "--out", str(tmp_path / "report"), cwd=tmp_path)
    block = assert_user_error(
        out,
        "silosim-records",
        [
            "responses.csv: 2 of 5 rows",
            "responses.csv row 3, column score: '11' is outside 0-10",
            "responses.csv row 4, column respondent_id: 'Z9' is not a customer_id",
            "`--max-excluded`",
        ],
    )
    assert block.count("responses.csv row") == 2
    assert len(out.stderr.strip().splitlines()) == 3  # heading and one line per problem
    assert not (tmp_path / "report").exists()
    out = run_main("silosim-records", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert_user_error(out, "silosim-records", ["is not a folder"])


@pytest.mark.e2e
def test_silosim_records_runs_as_a_process(tmp_path: Path) -> None:
    """The console script itself (the other tests run its ``main`` in-process)."""
    out = run_command("silosim-records", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert_user_error(out, "silosim-records", ["is not a folder"])


def test_silosim_records_writes_targets_quality_and_the_data_report(tmp_path: Path) -> None:
    bad = RESPONSES.replace("A2,2024-03-01,9,", "A2,2024-03-01,11,")
    root = folder(tmp_path, good(**{"responses.csv": bad}))
    report = tmp_path / "report"
    out = run_main("silosim-records", str(root), "--out", str(report), "--max-excluded", "0.5", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert "1 row(s) left out" in out.stdout and "'11' is outside 0-10" in out.stdout
    quality = pd.read_csv(report / "data_quality.csv")
    assert quality[["file", "row", "column", "value"]].values.tolist() == [["responses.csv", 3, "score", 11]]
    import yaml

    targets = yaml.safe_load((report / "targets.yaml").read_text())
    assert targets["files"]["responses.csv"] == {"rows": 5, "excluded": 1}
    assert set(targets["targets"]) >= {"nps", "annual_retention", "first_contact_resolution"}
    assert (report / "data_report.pdf").stat().st_size > 10_000 and (report / "data_report.png").stat().st_size > 10_000


# ------------------------------------------------------------------------------------------ targets, pinned
def test_nps_and_its_interval_pin_numbers() -> None:
    t = nps_target(np.array([10] * 50 + [8] * 30 + [3] * 20))
    # p = 0.5, d = 0.2: var = (0.7 - 0.09) / 100, se = 7.81 points
    assert t.value == pytest.approx(30.0)
    assert t.high - t.value == pytest.approx(1.96 * 100 * np.sqrt(0.61 / 100), abs=0.01)
    lo, hi = wilson(0, 10)
    assert lo == 0.0 and hi == pytest.approx(0.2775, abs=1e-4)


def test_kaplan_meier_with_delayed_entry_is_the_product_of_the_risk_sets() -> None:
    # entries 0,0,4,0,6; exits 5 (event), 8 (censored), 9 (event), 12 (event), 15 (censored)
    km = kaplan_meier(np.array([5.0, 8, 9, 12, 15]), np.array([1, 0, 1, 1, 0]), np.array([0.0, 0, 4, 0, 6]))
    # t=5: at risk the three entered at 0 and the one entered at 4 (not yet the one entering at 6): 3/4 survive
    s5 = 3 / 4
    s9 = s5 * (1 - 1 / 3)  # at 9: subjects 3, 4, 5 at risk
    s12 = s9 * (1 - 1 / 2)  # at 12: subjects 4, 5
    assert km["survival"].tolist() == pytest.approx([1.0, s5, s9, s12])
    assert (km["low"] <= km["survival"]).all() and (km["high"] >= km["survival"]).all()


def test_record_targets_pin_numbers_over_the_year(tmp_path: Path) -> None:
    records = read_records(folder(tmp_path, good()), today=TODAY)
    measured = measure_targets(records, "2024-12-31")
    t = measured.targets
    # relationship responses: 10, 9, 7, 3 -> 2 promoters, 1 detractor of 4
    assert t["nps"].value == pytest.approx(25.0) and t["nps"].n == 4
    assert measured.distribution["responses"].tolist() == [0, 0, 0, 1, 0, 0, 0, 1, 0, 1, 1]
    # complaint contacts: 3 (the question is not one), 2 resolved
    assert t["first_contact_resolution"].value == pytest.approx(2 / 3) and t["first_contact_resolution"].n == 3
    # exposure over 2024-01-02 .. 2024-12-31 (364 days): A1 364, A2 226, A3 305, A4 30 days
    years = (364 + 226 + 305 + 30) / 364
    assert measured.customer_years == pytest.approx(years)
    assert t["complaint_contacts_per_customer_year"].value == pytest.approx(3 / years)
    assert t["survey_responses_per_customer_year"].value == pytest.approx(5 / years)
    # Kaplan-Meier: A4 leaves at day 30 with 3 at risk (A3 not yet joined), A2 at day 226 with 3 at risk
    assert t["annual_retention"].value == pytest.approx((2 / 3) * (2 / 3))
    direct = km_retention(records.customers, measured.start, measured.as_of)
    assert direct.value == t["annual_retention"].value


def test_a_target_the_records_cannot_give_is_named(tmp_path: Path) -> None:
    root = folder(tmp_path, {"responses.csv": RESPONSES})
    records = read_records(root, today=TODAY)
    assert set(measure_targets(records).targets) == {"nps"}
    with pytest.raises(ConfigError, match="`data_as_of` is 'soon'"):
        measure_targets(records, "soon")
