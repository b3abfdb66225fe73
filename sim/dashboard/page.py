"""The interactive dashboard: a Mesa SolaraViz page over :class:`~sim.engine.model.SiloModel`.

Start it with ``make dashboard`` (or ``solara run sim.dashboard.page --host 127.0.0.1``) and open
http://127.0.0.1:8765. The sidebar holds Mesa's usual Step / play / Reset buttons and the
controls (:mod:`sim.dashboard.controls`); a changed control takes effect when the model is reset,
as in every Mesa app. The cards are the figures and counters of :mod:`sim.dashboard.plots`; the
"Settings in force" card shows every value the running model uses and where it comes from, so the
rule of the controls never has to be guessed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import solara
from matplotlib.figure import Figure
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim.dashboard.controls import DashboardModel, model_params, settings_html
from sim.dashboard.plots import (
    counters_html,
    customers_figure,
    department_kpi_figure,
    funnel_figure,
    levers_figure,
    network_figure,
    nps_figure,
)
from sim.engine.model import SiloModel

__all__ = ["COMPONENTS", "Page"]

# Redraw every 5 simulated weeks (about a month). Mesa's render-interval slider runs 1, 3, 5, ...
# and snaps any other value onto that grid, so the default must lie on it.
RENDER_INTERVAL_WEEKS = 5
PLAY_INTERVAL_MS = 50  # pause between redraws while playing


def _figure_card(make: Callable[[Any], Figure]) -> Callable[[Any], Any]:
    """A Solara component that redraws ``make(model)`` whenever Mesa signals an update."""

    @solara.component
    def FigureCard(model: SiloModel) -> None:
        update_counter.get()
        solara.FigureMatplotlib(make(model), format="png")

    FigureCard.__name__ = f"{make.__name__}_card"
    return FigureCard


@solara.component
def Counters(model: SiloModel) -> None:
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


@solara.component
def Page() -> None:
    """The dashboard page: one DashboardModel per browser session, shown with Mesa's SolaraViz."""
    model = solara.use_memo(DashboardModel, [])
    SolaraViz(
        model,
        components=COMPONENTS,
        model_params=model_params(),
        name="silosim: silos, loyalty and NPS",
        play_interval=PLAY_INTERVAL_MS,
        render_interval=RENDER_INTERVAL_WEEKS,
    )
