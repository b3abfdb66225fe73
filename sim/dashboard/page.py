"""The interactive dashboard: three pages over the model, served by Solara.

Start it with ``make dashboard`` (or ``solara run sim.dashboard.page --host 127.0.0.1``) and open
http://127.0.0.1:8765. The pages, one tab each:

- **Live model** (``/``, :mod:`sim.dashboard.live_page`): one model run week by week with Step /
  play / Reset, the cards of :mod:`sim.dashboard.plots` and the "Settings in force" card.
- **A/B what-if** (``/ab``, :mod:`sim.dashboard.ab_page`): a baseline against an alternative over
  replications in the background on all cores, the paired difference with its confidence band and
  the answer sentence; "Export as comparison" writes a normal comparison directory.
- **Results** (``/results``, :mod:`sim.dashboard.results_page`): the comparisons under
  ``outputs/`` (``$SILOSIM_OUTPUTS``), with their answer, figures and table, and the report, slides
  and workbook to download.
"""

from __future__ import annotations

import solara
import solara.server.settings

from sim.dashboard.ab_page import ABPage
from sim.dashboard.live_page import COMPONENTS, LivePage
from sim.dashboard.results_page import ResultsPage
from sim.dashboard.tabs_page import PAGES

__all__ = ["COMPONENTS", "routes"]

# No "Made with Solara" badge: it is fixed over the page's bottom right corner, on a table's last column.
solara.server.settings.theme.show_banner = False

_COMPONENTS = {"/": LivePage, "/ab": ABPage, "/results": ResultsPage}
routes = [solara.Route(path=path.strip("/") or "/", component=_COMPONENTS[path], label=label) for path, label in PAGES]
