"""The live model page: one model run week by week, with Mesa's Step / play / Reset and the cards.

Laid out as Mesa's SolaraViz lays out a model (a sidebar with the controls and the model's
parameters, the cards in Mesa's draggable grid), but with its own inputs and controller so that bad
input never reaches the model: every input is checked as it is entered, a bad one (a seed that is
not a whole number) shows its message in red under the input, and Reset then leaves the running
model alone and says why, instead of raising. Scenarios are listed by their display titles.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import solara
import solara.lab
from matplotlib.figure import Figure
from mesa.visualization.solara_viz import make_initial_grid_layout
from mesa.visualization.utils import force_update, update_counter

from sim.config import ConfigError
from sim.dashboard.controls import DashboardModel, model_params, parse_seed, scenario_labels, settings_html
from sim.dashboard.plots import (
    counters_html,
    customers_figure,
    department_kpi_figure,
    funnel_figure,
    levers_figure,
    network_figure,
    nps_figure,
)
from sim.dashboard.tabs_page import Navigation

__all__ = ["COMPONENTS", "PLAY_INTERVAL_MS", "RENDER_INTERVAL_WEEKS", "LivePage", "default_values", "input_errors"]

# Redraw every 5 simulated weeks (about a month). The render-interval slider runs 1, 3, 5, ... (Mesa's),
# so the default must lie on it.
RENDER_INTERVAL_WEEKS = 5
PLAY_INTERVAL_MS = 50  # pause between redraws while playing
NOT_RESET = "The model was not reset: fix the input marked in red first."


def _figure_card(make: Callable[[Any], Figure]) -> Callable[[Any], Any]:
    """A Solara component that redraws ``make(model)`` whenever the model advances."""

    @solara.component
    def FigureCard(model: DashboardModel) -> None:
        update_counter.get()
        solara.FigureMatplotlib(make(model), format="png")

    FigureCard.__name__ = f"{make.__name__}_card"
    return FigureCard


@solara.component
def Counters(model: DashboardModel) -> None:
    """Headline counters as HTML (solara.Markdown would load KaTeX, which solara-assets does not bundle)."""
    update_counter.get()
    solara.HTML(tag="div", unsafe_innerHTML=counters_html(model))


@solara.component
def Settings(model: DashboardModel) -> None:
    """Settings in force as a table."""
    update_counter.get()
    solara.HTML(tag="div", unsafe_innerHTML=settings_html(model))


COMPONENTS: list[Any] = [
    Counters,
    _figure_card(nps_figure),
    _figure_card(customers_figure),
    _figure_card(funnel_figure),
    _figure_card(network_figure),
    _figure_card(department_kpi_figure),
    _figure_card(levers_figure),
    Settings,
]


def default_values() -> dict[str, Any]:
    """The inputs' starting values (DashboardModel's defaults; the seed as the text box holds it)."""
    return {name: spec["value"] for name, spec in model_params().items()}


def input_errors(values: dict[str, Any]) -> dict[str, str]:
    """A message per input whose value the model cannot take (only the seed is free text)."""
    try:
        parse_seed(values["seed"])
    except ConfigError as exc:
        return {"seed": str(exc)}
    return {}


@solara.component
def ModelInputs(values: solara.Reactive[dict[str, Any]], errors: solara.Reactive[dict[str, str]]) -> None:
    """One input per parameter of :func:`model_params`; scenarios by title, a bad seed marked in red."""
    labels = scenario_labels()
    by_title = {title: name for name, (title, _) in labels.items()}

    def set_value(name: str, value: Any) -> None:
        values.set({**values.value, name: value})
        errors.set(input_errors(values.value))

    for name, spec in model_params().items():
        kind, label, value = spec["type"], spec["label"], values.value[name]
        if kind == "Select":
            solara.Select(
                label,
                values=[labels[v][0] for v in spec["values"]],
                value=labels[value][0],
                on_value=lambda title, name=name: set_value(name, by_title[title]),
            )
            solara.Text(labels[value][1], style={"font-size": "0.85em", "color": "#555"})
        elif kind == "InputText":
            solara.InputText(
                label,
                value=str(value),
                on_value=lambda v, name=name: set_value(name, v),
                error=errors.value.get(name) or False,
                continuous_update=True,
            )
        else:
            slider = solara.SliderInt if kind == "SliderInt" else solara.SliderFloat
            slider(
                label,
                value=value,
                min=spec["min"],
                max=spec["max"],
                step=spec["step"],
                on_value=lambda v, name=name: set_value(name, v),
            )


@solara.component
def LiveController(
    model: solara.Reactive[DashboardModel],
    values: solara.Reactive[dict[str, Any]],
    errors: solara.Reactive[dict[str, str]],
    play_interval: solara.Reactive[int],
    render_interval: solara.Reactive[int],
) -> None:
    """Reset, play/pause and Step, as in Mesa's ModelController; Reset refuses bad input and says why."""
    playing = solara.use_reactive(False)
    running = solara.use_reactive(model.value.running)
    message = solara.use_reactive("")

    def do_step() -> None:
        for _ in range(render_interval.value):
            model.value.step()
            running.value = model.value.running
            if not running.value:
                break
        force_update()

    def play() -> None:
        while running.value and playing.value:
            time.sleep(play_interval.value / 1000)
            do_step()

    solara.lab.use_task(play, dependencies=[playing.value, running.value], prefer_threaded=True)

    def do_reset() -> None:
        playing.value = False
        problems = input_errors(values.value)
        if problems:
            errors.set(problems)
            message.set(NOT_RESET)
            return
        try:
            kwargs = {**values.value, "seed": parse_seed(values.value["seed"])}
            fresh = DashboardModel(**kwargs)
        except ConfigError as exc:
            message.set(f"The model was not reset: {exc}")
            return
        message.set("")
        model.value = fresh
        running.value = fresh.running
        force_update()

    with solara.Row(justify="space-between"):
        solara.Button(label="Reset", color="primary", on_click=do_reset)
        solara.Button(
            label="▶" if not playing.value else "❚❚",
            color="primary",
            on_click=lambda: playing.set(not playing.value),
            disabled=not running.value,
        )
        solara.Button(label="Step", color="primary", on_click=do_step, disabled=playing.value or not running.value)
    if message.value:
        solara.Error(message.value, classes=["reset-message"], dense=True)


@solara.component
def Steps(model: DashboardModel) -> None:
    """The week the model has reached."""
    update_counter.get()
    solara.Text(f"Week: {max(model.week, 0)} of {model.cfg.weeks}")


@solara.component
def Cards(components: list[Any], model: DashboardModel) -> None:
    """The model's cards in Mesa's draggable, resizable grid.

    Mesa's ComponentsView puts a tab bar over even a single page (a stray "PAGE 0" tab); this leaves it out.
    """
    layout, set_layout = solara.use_state(make_initial_grid_layout(len(components)))
    solara.GridDraggable(
        items=[card(model) for card in components],
        grid_layout=layout,
        resizable=True,
        draggable=True,
        on_grid_layout=set_layout,
    )


@solara.component
def LivePage() -> None:
    """The live model page: one DashboardModel per browser session."""
    first = solara.use_memo(DashboardModel, [])
    model = solara.use_reactive(first)
    values = solara.use_reactive(default_values())
    errors = solara.use_reactive({})
    play_interval = solara.use_reactive(PLAY_INTERVAL_MS)
    render_interval = solara.use_reactive(RENDER_INTERVAL_WEEKS)
    with solara.AppBar():
        solara.AppBarTitle("silosim: silos, loyalty and NPS")
    Navigation()
    with solara.Sidebar(), solara.Column():
        with solara.Card("Controls"):
            solara.SliderInt("Play Interval (ms)", value=play_interval, min=1, max=500, step=10)
            solara.SliderInt("Render Interval (steps)", value=render_interval, min=1, max=100, step=2)
            LiveController(model, values, errors, play_interval, render_interval)
        with solara.Card("Model Parameters"):
            ModelInputs(values, errors)
        with solara.Card("Information"):
            Steps(model.value)
    Cards(COMPONENTS, model.value)
