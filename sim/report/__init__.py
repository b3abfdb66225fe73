"""Presentation: a comparison's figures, report, slides, workbook and PDF, and research figures.

Reads what the experiments produce (run directories, summary tables); nothing below imports it.
:func:`write_deliverables` writes every deliverable of a comparison into its directory (the
``present`` hook of :func:`sim.experiments.compare.run.run_comparison`, of ``silosim-compare from=DIR``
and of the dashboard's export); :func:`compare` runs a comparison and writes them, from Python (a
notebook, a script) with the settings of ``silosim-compare``.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sim.experiments.compare.comparison import Comparison
from sim.experiments.compare.planning import plan
from sim.experiments.compare.run import arguments_of, run_comparison
from sim.experiments.compare.settings import prepare
from sim.report.content import build_content, report_currency
from sim.report.figures import make_figures
from sim.report.html import write_report
from sim.report.pdf import NO_BROWSER, find_chromium, pdf_pages, print_pdf
from sim.report.slides import write_slides
from sim.report.text import print_summary
from sim.report.uncertainty import add_uncertainty
from sim.report.workbook import write_workbook

__all__ = ["compare", "print_summary", "write_deliverables"]

PROG = "silosim-compare"


def _say(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


def _timed(what: str, write: Callable[[], Any]) -> Any:
    started = time.monotonic()
    result = write()
    _say(f"{what} ({time.monotonic() - started:.1f} s)")
    return result


def _export(what: str, write: Callable[[], Any], comparison: Comparison) -> None:
    """Write one export (slides, workbook); if it fails, say so and keep the comparison and its runs.

    The failure is recorded in ``comparison.meta["deliverable_errors"]`` (the command then exits 1), and
    ``silosim-compare from=DIR`` writes the export again once the cause is fixed.
    """
    try:
        _timed(what, write)
    except Exception as exc:  # an export must never cost the runs; the error is reported, not hidden
        message = f"{what} not written: {type(exc).__name__}: {exc}"
        comparison.meta.setdefault("deliverable_errors", []).append(message)
        _say(f"{message}; the runs and the other deliverables are kept (rebuild it with from=DIR)")


def _write_pdf(directory: Path, comparison: Comparison) -> None:
    """report.pdf from report.html, if report.pdf is wanted and a browser is there; otherwise one line says why."""
    if not comparison.meta.get("report", {}).get("pdf", True):
        return
    browser = find_chromium()
    if browser is None:
        _say(NO_BROWSER)
        return
    started = time.monotonic()
    try:
        pdf = print_pdf(directory / "report.html", directory / "report.pdf", browser)
    except (RuntimeError, OSError, subprocess.SubprocessError) as exc:
        _say(f"report.pdf not written: {exc}")
        return
    _say(f"report.pdf, {pdf_pages(pdf)} pages ({time.monotonic() - started:.1f} s)")


def write_deliverables(directory: Path, comparison: Comparison) -> None:
    """Write every deliverable of a comparison: figures, report.html, report.pptx, summary.xlsx, report.pdf.

    Each step prints one line with its time on stderr. Every deliverable uses the scenarios' display
    titles, the comparison's multiple-comparison adjustment and its ``report.*`` settings.

    Args:
        directory: The comparison directory (or the temporary one it is being built in).
        comparison: The comparison's runs, summary table and settings.
    """
    figures = _timed(
        "figures",
        lambda: make_figures(
            comparison.runs,
            comparison.summary,
            comparison.order,
            comparison.baseline,
            directory / "figures",
            comparison.confidence,
            comparison.titles,
            int(comparison.meta["customers"]),
            report_currency(comparison.meta),
        ),
    )
    content = build_content(comparison, figures)
    add_uncertainty(content, comparison, directory / "figures")  # uncertainty=parameters: how sure, what it hinges on
    _timed("report.html", lambda: write_report(directory / "report.html", content, warn=_say))
    comparison.meta.pop("deliverable_errors", None)
    _export("report.pptx", lambda: write_slides(directory / "report.pptx", content), comparison)
    _export("summary.xlsx", lambda: write_workbook(directory / "summary.xlsx", comparison, content), comparison)
    _write_pdf(directory, comparison)


def compare(out: str | Path, **settings: Any) -> Comparison:
    """Run a comparison and write its deliverables, with the settings of ``silosim-compare``.

    Example::

        comparison = compare("outputs/nb", scenarios=["siloed_scorecards", "closed_loop_followup"],
                             replications=5, customers=3000, weeks=104)
        comparison.summary

    Model parameters and report settings are passed with their dotted key as a string:
    ``**{"governance.communication": 0.9, "report.client": "Acme"}``.

    Args:
        out: Output directory (must not exist or be empty).
        **settings: Comparison settings and model overrides.

    Returns:
        The comparison (its directory, runs, summary table and settings).

    Raises:
        ConfigError: For bad settings (one paragraph naming the key, the value and what is allowed).
        RuntimeError: If no run completed, or every run of the baseline failed.
    """
    arguments = arguments_of(settings, out)
    return run_comparison(plan(prepare(arguments)), arguments, present=write_deliverables)
