"""The comparison as a workbook (``summary.xlsx``, openpyxl) an analyst can filter, chart and paste from.

Sheets: **Summary** (each scenario's outcomes: mean and confidence interval), **Paired differences**
(each alternative x outcome against the baseline: the difference, its interval, the interval its
verdict rests on after the multiple-comparison adjustment, the paired t-test p-values and the
verdict), **Runs** (every run's outcomes), **Parameters** (those that differ between the scenarios)
and **About** (the comparison's settings, the method note, the provenance, the command). Values are
the summary table's own numbers (not rounded text), shown with number formats by unit; headers are
frozen, filtered and sized so nothing needs fixing before it is read.

No cell is a formula: a text that starts like one (``=``, ``+``, ``-``, ``@``, a tab or a carriage
return, OWASP's triggers; a scenario title or a client name such as ``=HYPERLINK(...)``) or reads like
an error code (``#N/A``) is stored as text with Excel's quote prefix, which shows it as written and
never evaluates it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.drawing.image import Image as SheetImage
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import column_index_from_string, get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.analysis.statistics import direction
from sim.experiments.compare.comparison import Comparison
from sim.experiments.runs.files import FORMULA_TRIGGERS, atomic_write
from sim.report.content import ReportContent, ci_name, parameter_value, report_currency
from sim.report.uncertainty import how_sure_sentences

__all__ = ["SHEETS", "number_format", "write_workbook"]

SHEETS = ("Summary", "Paired differences", "Runs", "Parameters", "About")
MAX_WIDTH = 60
_FORMATS = {"NPS points": "+0.0;-0.0;0.0", "share": "0.0%", "customers": "#,##0"}
P_FORMAT = "0.0000"
VERDICTS = {1: "higher", -1: "lower", 0: "no clear difference"}  # the words of sim/report/wording.py


def number_format(unit: str, difference: bool = False) -> str:
    """The Excel number format of an outcome's values (or of differences of them) by its unit."""
    fmt = _FORMATS.get(unit, "#,##0")
    if difference and fmt == "0.0%":
        return "+0.0%;-0.0%;0.0%"
    if difference and fmt == "#,##0":
        return "+#,##0;-#,##0;0"
    return fmt


def _cell_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return _cell_value(value.item())
    return value


def _as_text(ws: Worksheet) -> None:
    """Every text cell stays text: one that would be a formula or an error code is stored as quoted text."""
    for row in ws.iter_rows():
        for cell in row:
            value = cell.value
            if isinstance(value, str) and (cell.data_type in ("f", "e") or value.startswith(FORMULA_TRIGGERS)):
                cell.data_type = "s"
                cell.quotePrefix = True


class _Sheets:
    """Writes sheets in the theme's font and header colour."""

    def __init__(self, content: ReportContent) -> None:
        theme = content.settings.theme
        self.book = Workbook()
        self.font = theme.font
        self.header_fill = PatternFill("solid", fgColor=theme.primary.lstrip("#").upper())
        self.header_font = Font(name=theme.font, bold=True, color="FFFFFF")
        self.body_font = Font(name=theme.font)

    def sheet(
        self, title: str, header: Sequence[str], rows: Sequence[Sequence[Any]], formats: Sequence[str | None]
    ) -> Worksheet:
        """A data sheet: bold coloured header, frozen header and first column, filter, formats, widths."""
        ws = self.book.create_sheet(title)
        ws.append(list(header))
        for row in rows:
            ws.append([_cell_value(v) for v in row])
        for cell in ws[1]:
            cell.font, cell.fill = self.header_font, self.header_fill
            cell.alignment = Alignment(wrap_text=True, vertical="top")
        for j, fmt in enumerate(formats, start=1):
            for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
                cell.font = self.body_font
                if fmt:
                    cell.number_format = fmt
        _as_text(ws)
        ws.freeze_panes = "B2"
        if rows:
            ws.auto_filter.ref = ws.dimensions
        self.widths(ws, header, rows, formats)
        return ws

    @staticmethod
    def widths(ws: Worksheet, header: Sequence[str], rows: Sequence[Sequence[Any]], formats: Sequence[Any]) -> None:
        """Columns as wide as their content (numbers as displayed), headers wrapped beyond that."""
        for j, name in enumerate(header, start=1):
            values = [r[j - 1] for r in rows]
            shown = [len(f"{v:,.4f}") if isinstance(v, float) else len(str(v)) for v in values if v is not None]
            if formats[j - 1] and shown:
                shown = [min(s, 14) for s in shown]
            width = max([min(len(str(name)), 18), *shown, 8]) + 2
            ws.column_dimensions[get_column_letter(j)].width = min(width, MAX_WIDTH)


def _unit(unit: str, currency: str) -> str:
    """An outcome's unit with the report's currency in place of 'currency units'."""
    return unit.replace("currency units", currency) if currency else unit


def _summary(comparison: Comparison, currency: str = "") -> tuple[list[str], list[list[Any]], list[str | None]]:
    titles, baseline, s = comparison.titles, comparison.baseline, comparison.summary
    pct = round(100 * comparison.confidence)
    header = ["Scenario", "File", "Description", "Runs"]
    formats: list[str | None] = [None, None, None, "0"]
    for o in comparison_outcomes():
        unit = f" ({_unit(o.unit, currency)})" if o.unit != "share" else ""
        header += [f"{o.label}{unit}: mean", f"{pct}% CI low", f"{pct}% CI high"]
        formats += [number_format(o.unit)] * 3
    rows = []
    for _, r in s.iterrows():
        row: list[Any] = [
            titles[r["scenario"]] + (" (baseline)" if r["scenario"] == baseline else ""),
            r["scenario"],
            comparison.descriptions.get(r["scenario"], ""),
            int(r["replications"]),
        ]
        for o in comparison_outcomes():
            row += [r[f"{o.name}_mean"], r[f"{o.name}_ci_low"], r[f"{o.name}_ci_high"]]
        rows.append(row)
    return header, rows, formats


def _differences(comparison: Comparison) -> tuple[list[str], list[list[Any]], list[str | None], list[str]]:
    """Header, rows, column formats and each row's unit (for the value columns) of the Paired differences sheet."""
    s, level = comparison.summary.set_index("scenario"), comparison.confidence
    pct = round(100 * level)
    method = comparison.adjustment
    adjusted = ci_name(level, method != "none")
    header = [
        "Scenario",
        "Outcome",
        "Unit",
        "Baseline mean",
        "Difference (scenario - baseline)",
        f"{pct}% CI low",
        f"{pct}% CI high",
        f"{adjusted} low ({method})",
        f"{adjusted} high ({method})",
        "Level of that interval",
        "p-value (paired t-test)",
        f"p-value adjusted ({method})",
        "Verdict",
    ]
    rows, units = [], []
    for scenario in [x for x in comparison.order if x != comparison.baseline]:
        r = s.loc[scenario]
        for o in comparison_outcomes():
            k = o.name
            verdict = direction(r[f"{k}_diff_adj_ci_low"], r[f"{k}_diff_adj_ci_high"])
            rows.append(
                [
                    comparison.titles[scenario],
                    o.label,
                    "percentage points" if o.unit == "share" else _unit(o.unit, report_currency(comparison.meta)),
                    s.loc[comparison.baseline, f"{k}_mean"],
                    r[f"{k}_diff"],
                    r[f"{k}_diff_ci_low"],
                    r[f"{k}_diff_ci_high"],
                    r[f"{k}_diff_adj_ci_low"],
                    r[f"{k}_diff_adj_ci_high"],
                    r[f"{k}_diff_adj_level"],
                    r[f"{k}_diff_p"],
                    r[f"{k}_diff_p_adj"],
                    VERDICTS[verdict],
                ]
            )
            units.append(o.unit)
    formats: list[str | None] = [None] * 9 + ["0.00%", P_FORMAT, P_FORMAT, None]
    return header, rows, formats, units


def _format_by_unit(ws: Worksheet, units: Sequence[str]) -> None:
    """Baseline mean in the outcome's own format; the difference and its intervals signed (columns D-I)."""
    for i, unit in enumerate(units, start=2):
        ws.cell(i, 4).number_format = number_format(unit)
        for j in range(5, 10):
            ws.cell(i, j).number_format = number_format(unit, difference=True)


def _runs(comparison: Comparison) -> tuple[list[str], list[list[Any]], list[str | None]]:
    o = comparison.runs.outcomes.sort_values(["scenario", "seed"])
    outcomes = comparison_outcomes()
    header = ["Scenario", "File", "Seed", "Replication", *[x.label for x in outcomes]]
    rows = [
        [comparison.titles.get(r["scenario"], r["scenario"]), r["scenario"], int(r["seed"]), int(r["replication"])]
        + [r[x.name] for x in outcomes]
        for _, r in o.iterrows()
    ]
    return header, rows, [None, None, "0", "0", *[number_format(x.unit) for x in outcomes]]


def _parameter_cell(value: Any, key: str) -> Any:
    """A parameter's value in a cell: a number as a number, a boolean as yes/no, unset as 'not set'."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)) and not (isinstance(value, float) and math.isnan(value)):
        return value
    if hasattr(value, "item"):
        return _parameter_cell(value.item(), key)
    return parameter_value(value, key)


def _parameters(frame: pd.DataFrame) -> tuple[list[str], list[list[Any]]]:
    """The parameters that differ, by documented name and key, with their values as numbers where they are."""
    scenarios = [c for c in frame.columns if c not in ("parameter", "key")]
    rows = [
        [r["parameter"], r["key"], *(_parameter_cell(r[c], r["key"]) for c in scenarios)] for _, r in frame.iterrows()
    ]
    return ["Parameter", "Key", *scenarios], rows


def _about(comparison: Comparison, content: ReportContent) -> list[tuple[str, Any]]:
    meta = comparison.meta
    rows: list[tuple[str, Any]] = [
        ("Title", content.title),
        ("Client", content.client or "—"),
        ("Date", content.date),
        ("Comparison", meta["name"]),
        ("Scenarios", ", ".join(comparison.titles[s] for s in comparison.order)),
        ("Baseline", comparison.titles[comparison.baseline]),
        ("Replications per scenario", meta["replications"]),
        ("Seeds", ", ".join(str(x) for x in meta.get("seeds", []))),
        ("Customers at set-up", meta["customers"]),
        ("Currency", content.settings.currency or "currency units (report.currency not set)"),
        ("Weeks", meta["weeks"]),
        ("Confidence level", comparison.confidence),
        ("Multiple-comparison adjustment", comparison.adjustment),
        ("Paired differences judged", meta.get("family_size")),
        ("How many comparisons", content.comparisons_note),
        ("CLV discount rate", meta.get("clv_discount_rate")),
        ("Runs took (s)", meta.get("wall_seconds")),
        ("Reproduce", content.command),
    ]
    rows += [(f"Assumption {i}", a) for i, a in enumerate(content.assumptions, start=1)]
    rows += [(f"Calibration {i}", a) for i, a in enumerate(content.calibration, start=1)]
    if content.provenance:
        rows += [(f"Provenance: {k}", v) for k, v in content.provenance]
    else:
        rows.append(("Provenance", "not recorded"))
    return rows


def _fitted_sources(c: dict[str, Any]) -> tuple[list[str], list[list[Any]]]:
    """One row per parameter the calibration fitted: where its draws came from, its posterior and declared ranges."""
    source = {
        **dict.fromkeys(c.get("posterior_keys", []), "posterior"),
        **dict.fromkeys(c.get("point_keys", []), "held at the fitted value (point calibration)"),
        **dict.fromkeys(c.get("user_keys", []), "distributions= file"),
        **dict.fromkeys(c.get("scenario_keys", []), "held at the scenario's value"),
    }
    header = ["parameter", "drawn from", "fitted", "posterior median", "posterior 5%", "posterior 95%", "declared"]
    header += ["declared 5%", "declared 95%"]
    keys = ("fitted", "median", "low", "high", "declared", "declared_low", "declared_high")
    rows = [[p["key"], source.get(p["key"], ""), *(p.get(k) for k in keys)] for p in c.get("parameters", [])]
    return header, rows


def _wrapped(ws: Worksheet, column: str) -> Worksheet:
    """A column of sentences: one and a half times the widest data column, its text wrapped below the header."""
    ws.column_dimensions[column].width = MAX_WIDTH * 1.5
    j = column_index_from_string(column)
    for (cell,) in ws.iter_rows(min_row=2, min_col=j, max_col=j):
        cell.alignment = Alignment(wrap_text=True, vertical="top")
    return ws


def write_workbook(path: Path, comparison: Comparison, content: ReportContent) -> Path:
    """Write the workbook (atomically).

    Args:
        path: Where to write ``summary.xlsx``.
        comparison: The comparison (its summary table, runs and settings).
        content: What the deliverables say (titles, notes, provenance, theme).

    Returns:
        The path written.
    """
    sheets = _Sheets(content)
    sheets.book.remove(sheets.book.active)
    sheets.sheet("Summary", *_summary(comparison, content.settings.currency))
    header, rows, formats, units = _differences(comparison)
    _format_by_unit(sheets.sheet("Paired differences", header, rows, formats), units)
    sheets.sheet("Runs", *_runs(comparison))
    drawn = comparison.meta.get("uncertainty") or {}
    uncertain = drawn.get("summary") or []
    if uncertain:  # uncertainty=parameters: both intervals, share of worlds, probability best, what it hinges on
        header = list(uncertain[0])
        rows = [[r.get(k) for k in header] for r in uncertain]
        sheets.sheet("Parameter uncertainty", header, rows, [None] * len(header))
    elif drawn.get("note"):  # draws run, too few plausible worlds: the sheet says so, as the report does
        sentences = how_sure_sentences(comparison.meta, comparison.baseline, comparison.titles)
        _wrapped(sheets.sheet("Parameter uncertainty", ["not measured"], [[t] for t in sentences], [None]), "A")
    if (drawn.get("calibration") or {}).get("parameters"):  # calibration=DIR with draws: where each came from
        header, rows = _fitted_sources(drawn["calibration"])
        sheets.sheet("Calibrated parameters", header, rows, [None] * len(header))
    if content.parameter_values is not None and content.parameters is not None:
        header, rows = _parameters(content.parameter_values)
        sheets.sheet("Parameters", header, rows, [None, None] + ["General"] * (len(header) - 2))
    else:
        sheets.sheet("Parameters", ["parameter"], [["none: the scenarios share one configuration"]], [None])
    about = _wrapped(sheets.sheet("About", ["Setting", "Value"], _about(comparison, content), [None, None]), "B")
    if content.settings.logo:
        logo = SheetImage(content.settings.logo)
        scale = min(1.0, 160 / max(logo.width, 1), 60 / max(logo.height, 1))
        logo.width, logo.height = logo.width * scale, logo.height * scale
        about.add_image(logo, "D2")
    return atomic_write(path, lambda tmp: sheets.book.save(str(tmp)))
