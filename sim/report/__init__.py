"""Presentation: a comparison's figures, its report and its summary table, and research figures.

Reads what the experiments produce (run directories, summary tables); nothing below imports it.
:func:`compare` runs a comparison and writes every deliverable, from Python (a notebook, a script)
with the settings of ``silosim-compare``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sim.experiments.compare import Comparison, arguments_of, plan, prepare, run_comparison
from sim.report.figures import make_figures
from sim.report.html import write_report
from sim.report.text import print_summary

__all__ = ["compare", "print_summary", "write_deliverables"]


def write_deliverables(directory: Path, comparison: Comparison) -> None:
    """Write a comparison's figures (``figures/``) and its report (``report.html``) into ``directory``.

    Args:
        directory: The comparison directory (or the temporary one it is being built in).
        comparison: The comparison's runs, summary table and settings.
    """
    figures = make_figures(
        comparison.runs,
        comparison.summary,
        comparison.order,
        comparison.baseline,
        directory / "figures",
        comparison.confidence,
    )
    write_report(
        directory / "report.html", comparison.summary, comparison.runs, figures, comparison.meta, comparison.configs
    )


def compare(out: str | Path, **settings: Any) -> Comparison:
    """Run a comparison and write its deliverables, with the settings of ``silosim-compare``.

    Example::

        comparison = compare("outputs/nb", scenarios=["siloed_scorecards", "closed_loop_followup"],
                             replications=5, customers=3000, weeks=104)
        comparison.summary

    Model parameters are passed with their dotted key as a string: ``**{"governance.communication": 0.9}``.

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
