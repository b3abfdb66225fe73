"""The Results page: the comparisons under ``outputs/``, one opened with its answer, figures and table.

A comparison run with ``uncertainty=parameters`` also shows how sure each effect is (sentences, the
table of both intervals and the tornado of what it hinges on), as its report does.

Lists every comparison directory (``silosim-compare`` output or an A/B export) newest first; the
one picked shows the answer the report gives, its summary table and figures, and offers the report
(PDF and HTML), the slides and the workbook for download.
"""

from __future__ import annotations

import html
from pathlib import Path

import solara

from sim.dashboard.results import DOWNLOADS, list_comparisons, open_comparison
from sim.dashboard.tabs_page import Navigation
from sim.dashboard.whatif import outputs_root
from sim.report.content import client_suffix
from sim.report.html import table_html

__all__ = ["Downloads", "ResultsPage"]


@solara.component
def Downloads(directory: Path) -> None:
    """A download button for each deliverable the comparison has."""
    with solara.Row(style={"flex-wrap": "wrap"}):
        for name, label, mime in DOWNLOADS:
            path = Path(directory) / name
            if path.exists():
                solara.FileDownload(lambda path=path: path.read_bytes(), filename=name, label=label, mime_type=mime)


@solara.component
def ComparisonView(path: Path) -> None:
    """One comparison: answer, table, figures, downloads."""
    try:
        view = open_comparison(path)
    except ValueError as exc:
        solara.Error(str(exc))
        return
    e = view.entry
    client = html.escape(client_suffix(e.title, e.client))
    sentences = "".join(f"<li><b>{html.escape(a.title)}</b>{html.escape(a.predicate)}</li>" for a in view.answers)
    how_sure = ""
    if view.how_sure:  # uncertainty=parameters: how sure each effect is, beside the verdicts it qualifies
        how_sure = "<p><b>How sure:</b></p><ul>" + "".join(f"<li>{html.escape(t)}</li>" for t in view.how_sure)
        how_sure += "</ul>"
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            f"<h2 class='comparison-title'>{html.escape(e.title)}{client}</h2>"
            f"<p style='color:#555'>{len(e.scenarios)} scenarios x {e.replications} replications, "
            f"{int(view.meta['customers']):,} customers, {int(view.meta['weeks'])} weeks; "
            f"{html.escape(str(e.path))}</p>"
            f"<div class='results-answer' style='background:#f4f7fb;border-left:5px solid #0072B2;padding:0.4em 1em'>"
            f"<ul>{sentences}</ul>{how_sure}</div>"
        ),
    )
    Downloads(e.path)
    solara.HTML(tag="div", unsafe_innerHTML=table_html(view.table))
    if view.uncertainty is not None:
        solara.HTML(
            tag="div",
            unsafe_innerHTML=(
                "<h3>How sure: parameter uncertainty and simulation noise</h3>"
                + table_html(view.uncertainty, "summary uncertainty")
                + f"<p style='color:#555;max-width:1100px'>{html.escape(view.uncertainty_method)}</p>"
            ),
        )
    with solara.Column(style={"max-width": "1100px"}):
        for figure in view.figures:
            solara.Image(figure, width="100%")


@solara.component
def ResultsPage() -> None:
    """The Results page: the list on top (full width, so long names never cover the page), the comparison below."""
    root = outputs_root()
    refresh = solara.use_reactive(0)
    entries = solara.use_memo(lambda: list_comparisons(root), [refresh.value])
    chosen = solara.use_reactive("")
    labels = {e.label: e for e in entries}
    label = chosen.value if chosen.value in labels else (entries[0].label if entries else "")
    with solara.AppBar():
        solara.AppBarTitle("silosim: results")
    Navigation()
    with solara.Row(style={"align-items": "center"}):
        if entries:
            with solara.Column(style={"flex-grow": "1"}):
                solara.Select(
                    f"Comparison ({len(entries)} under {root})", values=list(labels), value=label, on_value=chosen.set
                )
        solara.Button("Refresh the list", on_click=lambda: refresh.set(refresh.value + 1), outlined=True)
    if not entries:
        solara.Info(f"No comparison under {root.resolve()} yet: run silosim-compare, or export one from the A/B page.")
        return
    ComparisonView(labels[label].path)
