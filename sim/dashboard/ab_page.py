"""The A/B what-if page: a baseline against an alternative, replicated in the background, with the uncertainty.

The strategist picks a baseline and an alternative (another scenario, or a scenario with some levers
changed), a population, a horizon and a number of replications, and presses Run. The runs go to
all cores in the background (:mod:`sim.dashboard.whatif`) with a progress bar and a Cancel button;
then the page shows the answer sentence the report would write, the paired difference over time
with its confidence band, and the summary table. "Export as comparison" writes a normal comparison
directory (report, PDF, slides, workbook) that the Results page lists. Every typed input is checked
as it is entered: a bad one is marked in red with its message, and Run waits until it is fixed.
"""

from __future__ import annotations

import html
import math
import shutil
import threading
import time
from typing import Any

import solara
import solara.lab

from sim.config import ConfigError
from sim.dashboard.controls import BASELINE_SCENARIO, CONTROLS, scenario_controls, scenario_labels
from sim.dashboard.plots import DIFFERENCE_PANELS, whatif_figure
from sim.dashboard.results_page import Downloads
from sim.dashboard.tabs_page import Navigation
from sim.dashboard.whatif import (
    CancelledError,
    WhatIf,
    WhatIfResult,
    check_whatif,
    export_whatif,
    final_effect,
    parse_whatif,
    run_whatif,
)
from sim.experiments.compare.comparison import Comparison
from sim.experiments.runs.executor import fmt_duration
from sim.report.content import summary_text_table
from sim.report.html import table_html
from sim.report.wording import number

__all__ = ["DEFAULTS", "ABPage"]

# Three years, as the report: effects such as closed-loop follow-up's on retention build over years, and a shorter
# horizon would call them "no clear difference" in a meeting (a warning says so when the horizon is shorter).
DEFAULTS = {"customers": "2000", "weeks": "156", "replications": "5", "first_seed": "0"}
FULL_HORIZON_WEEKS = 156
DEFAULT_ALTERNATIVE = "closed_loop_followup"
SOURCE_INPUTS = (
    ("calibration", "Calibration (calibrated.yaml or its folder)"),
    ("scenario_dir", "Scenario folder (the client's *.yaml)"),
)
NUMBER_INPUTS = (
    ("customers", "Customers (initial)"),
    ("weeks", "Weeks (horizon)"),
    ("replications", "Replications (runs per arm)"),
    ("first_seed", "First seed"),
)


@solara.lab.task(prefer_threaded=True)
def run_task(spec: WhatIf, status: solara.Reactive[str], cancel: threading.Event) -> WhatIfResult:
    """Run the what-if in the background, reporting progress on the task and in words."""
    started = time.monotonic()

    def progress(done: int, total: int) -> None:
        run_task.progress = 100.0 * done / total
        elapsed = time.monotonic() - started
        left = f", about {fmt_duration(elapsed / done * (total - done))} left" if 0 < done < total else ""
        status.value = f"runs {done}/{total} done, elapsed {fmt_duration(elapsed)}{left}"

    return run_whatif(spec, progress=progress, cancelled=cancel.is_set)


@solara.lab.task(prefer_threaded=True)
def export_task(result: WhatIfResult) -> Comparison:
    """Write the what-if as a comparison directory with every deliverable."""
    return export_whatif(result)


def _whole_or_none(text: str) -> int | None:
    """A typed whole number, or None (the input's own message says what is wrong with it)."""
    try:
        value = float(str(text).replace(",", "").strip())
    except ValueError:
        return None
    return int(value) if value.is_integer() else None


def lever_text(name: str, value: float) -> str:
    """A lever's value as its slider label shows it (patience 0 is unlimited).

    >>> lever_text("followup_capacity", 5.0), lever_text("patience_weeks", 0), lever_text("response_rate", 0.13)
    ('5', 'unlimited', '0.13')
    """
    if name == "patience_weeks" and value == 0:
        return "unlimited"
    return f"{value:g}" if not CONTROLS[name].is_int else str(int(value))


@solara.component
def NumberInput(key: str, label: str, values: solara.Reactive[dict[str, str]], errors: dict[str, str]) -> None:
    """A typed input (a number, a path) with its message in red underneath when it is not allowed."""
    solara.InputText(
        label,
        value=values.value[key],
        on_value=lambda v: values.set({**values.value, key: v}),
        error=errors.get(key) or False,
        continuous_update=True,
    )


@solara.component
def WhatIfInputs(
    baseline: solara.Reactive[str],
    alternative: solara.Reactive[str],
    levers: solara.Reactive[dict[str, float]],
    numbers: solara.Reactive[dict[str, str]],
    errors: dict[str, str],
    labels: dict[str, tuple[str, str]],
    sources: solara.Reactive[dict[str, str]] | None = None,
) -> None:
    """The sidebar: the client's calibration and scenarios, the arms, the alternative's levers, the sizes.

    ``labels`` (:func:`scenario_labels`, read after the page has loaded the client's scenario folder) is passed
    in, not read here: this component reads no reactive value that changes when a folder is entered, so with the
    list read inside it, a folder typed straight into an empty input never reached the two lists.
    """
    if sources is not None:
        with solara.Card("The client (optional)"):
            solara.Text(
                "A calibration runs both arms on the client's calibrated baseline; a scenario folder adds the "
                "client's scenarios to both lists. Paths on this machine.",
                style={"font-size": "0.85em", "color": "#555"},
            )
            for key, label in SOURCE_INPUTS:
                NumberInput(key, label, sources, errors)
    by_title = {title: name for name, (title, _) in labels.items()}
    with solara.Card("A/B what-if"):
        solara.Select(
            "Baseline",
            values=list(by_title),
            value=labels[baseline.value][0],
            on_value=lambda t: baseline.set(by_title[t]),
        )

        def pick_alternative(title: str) -> None:
            alternative.set(by_title[title])
            levers.set(dict(scenario_controls(by_title[title])))  # the levers start at its own settings

        solara.Select(
            "Alternative", values=list(by_title), value=labels[alternative.value][0], on_value=pick_alternative
        )
        if errors.get("alternative"):
            solara.Error(errors["alternative"], dense=True, classes=["input-message"])
        for key, label in NUMBER_INPUTS:
            NumberInput(key, label, numbers, errors)
    with solara.Card("Change the alternative's levers"):
        solara.Text(
            "Each lever starts at the alternative scenario's own setting; a lever you move overrides it.",
            style={"font-size": "0.85em", "color": "#555"},
        )
        own = scenario_controls(alternative.value)
        for name, c in CONTROLS.items():
            slider = solara.SliderInt if c.is_int else solara.SliderFloat
            value = levers.value[name]
            moved = (
                ""
                if math.isclose(value, own[name], abs_tol=c.step / 2)
                else f" (scenario: {lever_text(name, own[name])})"
            )
            slider(
                f"{c.label}: {lever_text(name, value)}{moved}",
                value=value,
                min=c.lo,
                max=c.hi,
                step=c.step,
                on_value=lambda v, name=name: levers.set({**levers.value, name: v}),
            )
        if errors.get("levers"):
            solara.Error(errors["levers"], dense=True, classes=["input-message"])


def _difference_text(result: WhatIfResult) -> str:
    """The final week's paired differences with their intervals, tagged for people and the browser test."""
    parts = []
    for column, label, unit, fmt in DIFFERENCE_PANELS:
        d, lo, hi = final_effect(result, column)
        digits = 0 if ".0f" in fmt else 1
        d_, lo_, hi_ = (number(v, digits, sign=True) for v in (d, lo, hi))  # the report's numbers: never -0.0
        parts.append(
            f"{label}: <b data-value='diff-{column}'>{d_}</b> {unit} (adjusted 95% CI "
            f"<span data-value='low-{column}'>{lo_}</span> to "
            f"<span data-value='high-{column}'>{hi_}</span>)"
        )
    return f"<p>In week {result.spec.weeks}, alternative minus baseline: " + "; ".join(parts) + ".</p>"


@solara.component
def ResultView(result: WhatIfResult) -> None:
    """The answer, the paired difference over time with its band, the table, and the export."""
    spec = result.spec
    sentences = "".join(f"<li><b>{html.escape(a.title)}</b>{html.escape(a.predicate)}</li>" for a in result.answers())
    solara.HTML(
        tag="div",
        unsafe_innerHTML=(
            f"<div class='whatif-answer' style='background:#f4f7fb;border-left:5px solid #0072B2;"
            f"padding:0.4em 1em'><ul>{sentences}</ul></div>{_difference_text(result)}"
            f"<p style='color:#555;font-size:0.9em'>{spec.replications} replications per arm, seeds "
            f"{spec.seeds[0]} to {spec.seeds[-1]}, {spec.customers:,} customers, {spec.weeks} weeks; runs took "
            f"{result.wall_seconds:.1f} s. The answer's intervals are adjusted for the "
            f"{len(result.summary.filter(like='_diff_p_adj').columns)} outcomes compared (Bonferroni), as the "
            "report's are; the shaded bands below are 95% intervals of the paired difference week by week, not "
            "adjusted.</p>"
        ),
    )
    with solara.Column(classes=["whatif-figure"]):
        solara.FigureMatplotlib(whatif_figure(result), format="png")
    table = summary_text_table(result.summary, spec.baseline, 0.95, result.titles)
    solara.HTML(tag="div", unsafe_innerHTML=table_html(table))
    with solara.Row():
        solara.Button(
            "Export as comparison",
            color="primary",
            on_click=lambda: export_task(result),
            disabled=export_task.pending,
        )
    if export_task.pending:
        solara.Text("Writing the comparison: figures, report, slides, workbook, PDF ...")
        solara.ProgressLinear(True)
    elif export_task.error:
        solara.Error(f"Export failed: {export_task.exception}")
    elif export_task.finished and export_task.value is not None and export_task.value.out in result.exported:
        comparison = export_task.value
        solara.Success(f"Exported to {comparison.out}", classes=["export-done"])
        solara.Text("It is listed on the Results page.")
        Downloads(comparison.out)


@solara.component
def RunState(previous: Any, status: solara.Reactive[str]) -> None:
    """Progress while the runs go; then the result, or why there is none."""
    if run_task.pending:
        solara.ProgressLinear(
            run_task.progress if run_task.progress is not None else True, classes=["whatif-progress-bar"]
        )
        solara.Text(status.value, classes=["whatif-progress"])
    elif run_task.error:
        exc = run_task.exception
        if isinstance(exc, CancelledError):
            solara.Info("Cancelled; nothing was kept.")
        elif isinstance(exc, ConfigError):
            solara.Error(f"The what-if cannot run: {exc}")
        else:
            solara.Error(f"A run failed: {type(exc).__name__}: {exc}")
    elif run_task.finished and run_task.value is not None:
        previous.current = run_task.value
        ResultView(run_task.value)


@solara.component
def ABPage() -> None:
    """The A/B what-if page."""
    baseline = solara.use_reactive(BASELINE_SCENARIO)
    alternative = solara.use_reactive(DEFAULT_ALTERNATIVE)
    levers = solara.use_reactive(dict(scenario_controls(DEFAULT_ALTERNATIVE)))
    numbers = solara.use_reactive(dict(DEFAULTS))
    sources = solara.use_reactive({"calibration": "", "scenario_dir": ""})
    status = solara.use_reactive("")
    cancel = solara.use_memo(threading.Event, [])
    previous: Any = solara.use_ref(None)

    spec, errors = parse_whatif(baseline.value, alternative.value, levers.value, **numbers.value, **sources.value)
    if spec is not None:
        errors = check_whatif(spec)

    def start() -> None:
        if spec is None or errors:
            return
        if previous.current is not None:  # the runs of the last what-if are no longer needed (exports are copies)
            shutil.rmtree(previous.current.staging, ignore_errors=True)
        cancel.clear()
        status.set("starting the workers ...")
        run_task(spec, status, cancel)

    with solara.AppBar():
        solara.AppBarTitle("silosim: A/B what-if")
    Navigation()
    with solara.Sidebar():
        WhatIfInputs(baseline, alternative, levers, numbers, errors, scenario_labels(), sources)
    solara.HTML(  # not solara.Markdown: it would load KaTeX, which solara-assets does not bundle
        tag="p",
        unsafe_innerHTML=(
            "Compare a <b>baseline</b> with an <b>alternative</b>: another scenario, or a scenario with some levers "
            "changed. Both run over the same seeds (common random numbers), so their difference is paired; the "
            "runs use every core in the background."
        ),
    )
    with solara.Row():
        solara.Button("Run A/B", color="primary", on_click=start, disabled=bool(errors) or run_task.pending)
        if run_task.pending:
            solara.Button("Cancel", on_click=cancel.set, outlined=True)
    if errors:
        solara.Warning("Fix the inputs marked in red in the sidebar to run.", dense=True, classes=["inputs-warning"])
    weeks = _whole_or_none(numbers.value["weeks"])
    if weeks is not None and 0 < weeks < FULL_HORIZON_WEEKS:
        solara.Warning(
            f"{weeks} weeks is shorter than the report's three years ({FULL_HORIZON_WEEKS} weeks). Effects such "
            "as closed-loop follow-up's on retention build over years, so a shorter run may show 'no clear "
            "difference' where the three-year comparison finds one.",
            dense=True,
            classes=["horizon-warning"],
        )
    RunState(previous, status)
