"""The interactive dashboard: a Mesa SolaraViz page over :class:`~sim.model.SiloModel`.

Start it with ``make dashboard`` (or ``solara run sim.app --host 127.0.0.1``) and open
http://127.0.0.1:8765. The sidebar holds Mesa's usual Step / play / Reset buttons and the
controls; a changed control takes effect when the model is reset, as in every Mesa app.

A control is a Hydra override on top of the chosen scenario. The scenario-level controls
(shared stage-metric weight, follow-up capacity and cut-off, response rate, engagement,
communication, patience) start at the baseline defaults of the schema; a control left at that
baseline value keeps whatever the chosen scenario sets, a control moved away from it overrides
the scenario. The "Settings in force" card shows every value the running model uses and where
it comes from, so the rule never has to be guessed.

Data flows one way: this module reads the model (its records, departments, panel and network)
and draws it; the model knows nothing about the dashboard.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING, Any

import networkx as nx
import numpy as np
import pandas as pd
import solara
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import StrMethodFormatter
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from sim.config import CONF_DIR, SiloConfig, compose_config
from sim.metrics import DETRACTOR_MAX, PROMOTER_MIN, annual_retention
from sim.model import SiloModel

if TYPE_CHECKING:
    from collections.abc import Callable

__all__ = [
    "CONTROLS",
    "DEFAULT_CUSTOMERS",
    "SCENARIOS",
    "Control",
    "DashboardModel",
    "Funnel",
    "Page",
    "category_of",
    "control_overrides",
    "counters_html",
    "customers_figure",
    "department_kpi_figure",
    "funnel_counts",
    "funnel_figure",
    "headline",
    "levers_figure",
    "model_params",
    "network_figure",
    "nps_figure",
    "panel_graph",
    "panel_positions",
    "settings_html",
    "trailing_retention",
]

SCENARIOS = sorted(p.stem for p in (CONF_DIR / "scenario").glob("*.yaml"))
BASELINE_SCENARIO = "siloed_scorecards"
_SCHEMA = SiloConfig()  # schema defaults: the baseline every scenario-level control starts from

# Default population of the dashboard: the model's own default (MODEL.md, 20,000). One week at
# 20,000 customers costs about 10 ms and the warm-up in the constructor about 0.3 s on a laptop
# core; redrawing the figures costs several times a week's simulation, so the population is not
# what limits responsiveness. The render interval is (see RENDER_INTERVAL_WEEKS).
DEFAULT_CUSTOMERS = _SCHEMA.customers
CUSTOMERS_RANGE = (1_000, 100_000, 1_000)  # slider min, max, step; 100,000 steps at about 0.1 s/week
WEEKS_RANGE = (4, 520, 4)  # up to ten years, in months of four weeks
# Redraw every 5 simulated weeks (about a month). Mesa's render-interval slider runs 1, 3, 5, ...
# and snaps any other value onto that grid, so the default must lie on it.
RENDER_INTERVAL_WEEKS = 5
PLAY_INTERVAL_MS = 50  # pause between redraws while playing
RETENTION_WINDOW_WEEKS = 13  # trailing quarter over which weekly retention is annualised for the plot
# Figures fill one card of Mesa's grid (half the page wide, about 390 px high): 576 x 369 px.
FIGURE_INCHES, FIGURE_DPI = (6.4, 4.1), 90
PATIENCE_MAX_WEEKS = 156  # the patience slider's range: up to the default three-year horizon

# Colours: recommendation categories and the two NPS series (colour-blind-safe Okabe-Ito hues).
CATEGORY_COLOURS = {"promoter": "#009E73", "passive": "#E69F00", "detractor": "#D55E00", "churned": "#BBBBBB"}
TRUE_COLOUR, MEASURED_COLOUR = "#0072B2", "#CC79A7"

# Units of each own-KPI measure (see the departments.parquet columns in the README).
KPI_UNITS = {
    "leads": "leads / week\nper 1,000 customers",
    "new_sales": "new sales / week\nper 1,000 customers",
    "cost_efficiency": "output per staff hour\n(x no push)",
    "handle_time_efficiency": "contacts per staff hour\n(x no push)",
    "collections_rate": "late payers who paid\n(share)",
}

_COMPOSE_LOCK = threading.Lock()  # Hydra's global state is not thread-safe; sessions reset in threads


# ------------------------------------------------------------------------ controls
@dataclass(frozen=True)
class Control:
    """A scenario-level control: the slider and the Hydra key it overrides.

    Attributes:
        key: Hydra override key, e.g. ``governance.executive_engagement``.
        label: Short slider label in the sidebar.
        doc: What the control sets, with its unit (shown in the settings card).
        baseline: The schema default; at this value the control keeps the scenario's own setting.
        lo: Slider minimum.
        hi: Slider maximum.
        step: Slider step.
    """

    key: str
    label: str
    doc: str
    baseline: float
    lo: float
    hi: float
    step: float

    @property
    def is_int(self) -> bool:
        """Whether the slider is an integer slider."""
        return all(isinstance(v, int) for v in (self.baseline, self.lo, self.hi, self.step))


_gov, _fb = _SCHEMA.governance, _SCHEMA.feedback
CONTROLS: dict[str, Control] = {
    "shared_stage_weight": Control(
        "governance.scorecard.shared_stage",
        "Shared stage weight",
        "Weight of shared stage metrics in every scorecard (weight, beside the own-KPI weight)",
        _gov.scorecard.shared_stage,
        0.0,
        2.0,
        0.05,
    ),
    "followup_capacity": Control(
        "feedback.inner_loop.capacity",
        "Follow-up capacity",
        "Detractor follow-ups per week per 1,000 initial customers (inner loop; 0 = none)",
        _fb.inner_loop.capacity,
        0.0,
        20.0,
        0.5,
    ),
    "followup_max_wait_weeks": Control(
        "feedback.inner_loop.max_wait_weeks",
        "Follow-up target delay",
        "Follow-up target delay: weeks a detractor may wait for a call-back before it is dropped",
        _fb.inner_loop.max_wait_weeks,
        1,
        26,
        1,
    ),
    "response_rate": Control(
        "feedback.survey.response_rate",
        "Survey response rate",
        "Share of invited customers who answer the survey (probability)",
        _fb.survey.response_rate,
        0.01,
        0.6,
        0.01,
    ),
    "executive_engagement": Control(
        "governance.executive_engagement",
        "Executive engagement",
        "Executive engagement, 0-1: sets how fast the programme is adopted",
        _gov.executive_engagement,
        0.0,
        1.0,
        0.05,
    ),
    "communication": Control(
        "governance.communication",
        "Communication",
        "Communication, 0-1: share of the front line that applies the new decision rules",
        _gov.communication,
        0.0,
        1.0,
        0.05,
    ),
    "patience_weeks": Control(
        "governance.patience_weeks",
        "Patience (weeks)",
        "Corporate patience: weeks until measured NPS must have gained the target (0 = the scenario's)",
        0,
        0,
        PATIENCE_MAX_WEEKS,
        1,
    ),  # 0 stands for the schema default None (unlimited patience)
}


def _fmt(value: float) -> str:
    """A control value as Hydra override text."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def control_overrides(
    scenario_name: str,
    customers: int,
    weeks: int,
    seed: int,
    **controls: float,
) -> tuple[list[str], dict[str, str]]:
    """Translate dashboard controls into Hydra overrides, as the ``silosim`` command would receive them.

    Scenario, customers, weeks and seed always apply. A scenario-level control (one of
    :data:`CONTROLS`) applies only when it differs from its baseline value; at the baseline it
    leaves the scenario's own setting in force.

    Args:
        scenario_name: A scenario in ``scenarios/``.
        customers: Initial number of customers.
        weeks: Horizon in weeks.
        seed: Root seed.
        **controls: Values of the scenario-level controls, by name in :data:`CONTROLS`.

    Returns:
        The override list and, for each scenario-level control, ``"control"`` if it overrides
        the scenario or ``"scenario"`` if it leaves the scenario's setting in force.

    Raises:
        ValueError: If a control name is unknown.
    """
    unknown = sorted(set(controls) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown dashboard controls {unknown}; known: {sorted(CONTROLS)}")
    overrides = [f"scenario={scenario_name}", f"customers={int(customers)}", f"weeks={int(weeks)}", f"seed={seed}"]
    source: dict[str, str] = {}
    for name, control in CONTROLS.items():
        value = controls.get(name, control.baseline)
        if math.isclose(value, control.baseline, abs_tol=control.step / 2):  # sliders return float noise
            source[name] = "scenario"
            continue
        overrides.append(f"{control.key}={_fmt(value)}")
        source[name] = "control"
    return overrides, source


def _parse_seed(seed: int | str) -> int:
    """The seed from the sidebar's text box as an integer (a user error names the bad value)."""
    from sim.config import ConfigError

    try:
        value = int(str(seed).strip())
    except ValueError:
        raise ConfigError(f"Invalid configuration: `seed` is {seed!r}, but it must be a whole number >= 0.") from None
    return value


# --------------------------------------------------------------------------- model
class DashboardModel(SiloModel):
    """SiloModel built from keyword controls, as SolaraViz's ``model_params`` require.

    The controls become Hydra overrides (:func:`control_overrides`), composed exactly as the
    ``silosim`` command composes them; :class:`SiloModel` then validates the configuration and
    runs its warm-up. The model stops (``running`` is False) at the configured horizon.

    Attributes:
        overrides: The Hydra overrides the model was composed from.
        control_source: For each scenario-level control, whether it overrides the scenario.
    """

    def __init__(
        self,
        scenario_name: str = BASELINE_SCENARIO,
        customers: int = DEFAULT_CUSTOMERS,
        weeks: int = _SCHEMA.weeks,
        seed: int | str = _SCHEMA.seed,
        shared_stage_weight: float = CONTROLS["shared_stage_weight"].baseline,
        followup_capacity: float = CONTROLS["followup_capacity"].baseline,
        followup_max_wait_weeks: int = CONTROLS["followup_max_wait_weeks"].baseline,  # type: ignore[assignment]
        response_rate: float = CONTROLS["response_rate"].baseline,
        executive_engagement: float = CONTROLS["executive_engagement"].baseline,
        communication: float = CONTROLS["communication"].baseline,
        patience_weeks: int = CONTROLS["patience_weeks"].baseline,  # type: ignore[assignment]
    ) -> None:
        """Compose the configuration from the controls and build the model.

        Args:
            scenario_name: Scenario to start from (a file in ``scenarios/``).
            customers: Initial number of customers.
            weeks: Horizon in weeks; the model stops there.
            seed: Root seed (an integer, or its text from the sidebar).
            shared_stage_weight: ``governance.scorecard.shared_stage``.
            followup_capacity: ``feedback.inner_loop.capacity``.
            followup_max_wait_weeks: ``feedback.inner_loop.max_wait_weeks``.
            response_rate: ``feedback.survey.response_rate``.
            executive_engagement: ``governance.executive_engagement``.
            communication: ``governance.communication``.
            patience_weeks: ``governance.patience_weeks`` (0 keeps the scenario's setting).

        Raises:
            ConfigError: If the resulting configuration is invalid.
        """
        self.overrides, self.control_source = control_overrides(
            scenario_name,
            customers,
            weeks,
            _parse_seed(seed),
            shared_stage_weight=shared_stage_weight,
            followup_capacity=followup_capacity,
            followup_max_wait_weeks=followup_max_wait_weeks,
            response_rate=response_rate,
            executive_engagement=executive_engagement,
            communication=communication,
            patience_weeks=patience_weeks,
        )
        with _COMPOSE_LOCK:
            cfg = compose_config(self.overrides)
        super().__init__(cfg)
        self.running = self.week < self.cfg.weeks

    def step(self) -> None:
        """Simulate one week, unless the horizon is reached (then only stop running)."""
        if self.week < self.cfg.weeks:
            super().step()
        self.running = self.week < self.cfg.weeks


# ------------------------------------------------------------------------- figures
def _new_figure(width: float = FIGURE_INCHES[0], height: float = FIGURE_INCHES[1]) -> Figure:
    """A figure sized for one dashboard card."""
    return Figure(figsize=(width, height), dpi=FIGURE_DPI, layout="constrained")


def _week_axis(ax: Any, weeks: int) -> None:
    """Label the x axis as simulated weeks over the whole horizon."""
    ax.set_xlabel("week")
    ax.set_xlim(0, max(weeks, 1))
    ax.grid(alpha=0.3)


def nps_figure(model: SiloModel) -> Figure:
    """True NPS of all active customers against NPS as the survey measures it."""
    m = model.metrics_frame()
    fig = _new_figure()
    ax = fig.subplots()
    if not m.empty:
        ax.plot(m["step"], m["true_nps"], color=TRUE_COLOUR, label="true NPS (all active customers)")
        ax.plot(
            m["step"],
            m["measured_nps"],
            color=MEASURED_COLOUR,
            linestyle="--",
            label=f"measured NPS (survey, {model.cfg.feedback.survey.window_weeks}-week window)",
        )
        ax.legend(loc="lower left", fontsize=8)
    ax.set_title("True vs measured NPS")
    ax.set_ylabel("NPS (% promoters - % detractors)")
    _week_axis(ax, model.cfg.weeks)
    return fig


def trailing_retention(
    active_before: pd.Series, churned: pd.Series, window: int = RETENTION_WINDOW_WEEKS
) -> np.ndarray:
    """Annual retention implied by the weekly churn of the trailing ``window`` weeks, for every week.

    Args:
        active_before: Active customers at the start of each week.
        churned: Customers lost in each week.
        window: Trailing weeks to annualise.

    Returns:
        One value in [0, 1] per week (NaN where undefined).
    """
    ab, ch = np.asarray(active_before, dtype=float), np.asarray(churned, dtype=float)
    return np.array(
        [
            annual_retention(ab[max(0, i + 1 - window) : i + 1], ch[max(0, i + 1 - window) : i + 1])
            for i in range(ab.size)
        ]
    )


def customers_figure(model: SiloModel) -> Figure:
    """Active customers and annualised retention."""
    m = model.metrics_frame()
    fig = _new_figure()
    top, bottom = fig.subplots(2, 1, sharex=True)
    if not m.empty:
        top.plot(m["step"], m["active_customers"], color="#333333")
        bottom.plot(m["step"], 100 * trailing_retention(m["active_before"], m["churned"]), color="#0072B2")
    top.set_title("Active customers and retention")
    top.set_ylabel("active customers")
    top.yaxis.set_major_formatter(StrMethodFormatter("{x:,.0f}"))
    bottom.set_ylabel(f"annual retention (%)\ntrailing {RETENTION_WINDOW_WEEKS} weeks")
    _week_axis(top, model.cfg.weeks)
    _week_axis(bottom, model.cfg.weeks)
    top.set_xlabel("")
    return fig


def department_kpi_figure(model: SiloModel) -> Figure:
    """Each department's own KPI (its unit on its axis) and every scorecard on one axis."""
    d = model.departments_frame()
    names = [dept.name for dept in model.departments]
    cols = 3
    rows = -(-(len(names) + 1) // cols)
    fig = _new_figure()
    axes = np.atleast_1d(fig.subplots(rows, cols, sharex=True)).ravel()
    for ax, dept in zip(axes, model.departments, strict=False):
        if not d.empty:
            own = d[d["department"] == dept.name]
            ax.plot(own["step"], own["kpi"], color="#333333")
        ax.set_title(dept.name, fontsize=9)
        ax.set_ylabel(KPI_UNITS.get(dept.kpi_name, dept.kpi_name), fontsize=7)
        _week_axis(ax, model.cfg.weeks)
    score_ax = axes[len(names)]
    if not d.empty:
        for name in names:
            own = d[d["department"] == name]
            score_ax.plot(own["step"], own["scorecard"], label=name)
        score_ax.legend(fontsize=6, loc="lower left")
    score_ax.set_title("Scorecards", fontsize=9)
    score_ax.set_ylabel("scorecard\n(1 = first review period)", fontsize=7)
    _week_axis(score_ax, model.cfg.weeks)
    for ax in axes[len(names) + 1 :]:
        ax.set_visible(False)
    for ax in axes[: (rows - 1) * cols]:  # the shared week axis is labelled on the bottom row only
        ax.set_xlabel("")
    fig.suptitle("Department KPIs (each on its own unit) and scorecards")
    return fig


def levers_figure(model: SiloModel) -> Figure:
    """Every department's lever settings, as its local search moves them."""
    d = model.departments_frame()
    fig = _new_figure()
    ax = fig.subplots()
    if not d.empty:
        for dept in model.departments:
            own = d[d["department"] == dept.name]
            for lever in dept.levers:
                ax.plot(own["step"], own[f"lever_{lever}"], label=f"{dept.name}: {lever.replace('_', ' ')}")
        ax.legend(fontsize=7, loc="upper left", ncol=2)
    ax.set_title("Department levers (local search on each scorecard)")
    ax.set_ylabel("lever setting (0 = off, 1 = full push)")
    ax.set_ylim(-0.02, 1.25)  # headroom for the legend
    _week_axis(ax, model.cfg.weeks)
    return fig


@dataclass(frozen=True)
class Funnel:
    """Cumulative closed-loop counts since week 0."""

    responses: int
    detractors: int
    followups: int
    recoveries: int
    fixes: int
    queue: int


def funnel_counts(model: SiloModel) -> Funnel:
    """The closed-loop funnel of the run so far: responses, detractors, follow-ups, recoveries."""
    m = model.metrics_frame()
    if m.empty:
        return Funnel(0, 0, 0, 0, 0, 0)
    return Funnel(
        int(m["survey_responses"].sum()),
        int(m["detractor_responses"].sum()),
        int(m["followups"].sum()),
        int(m["recoveries"].sum()),
        int(m["rootcause_fixes"].sum()),
        int(m["followup_queue"].iloc[-1]),
    )


def funnel_figure(model: SiloModel) -> Figure:
    """Survey responses -> detractor responses -> follow-ups -> recoveries, cumulative."""
    f = funnel_counts(model)
    stages = ["survey responses", "detractor responses", "followed up (inner loop)", "recovered"]
    values = [f.responses, f.detractors, f.followups, f.recoveries]
    fig = _new_figure(FIGURE_INCHES[0], 3.4)
    ax = fig.subplots()
    y = np.arange(len(stages))[::-1]
    ax.barh(y, values, color=["#999999", CATEGORY_COLOURS["detractor"], "#0072B2", CATEGORY_COLOURS["promoter"]])
    ax.set_yticks(y, stages)
    top = max(values) if max(values) > 0 else 1
    for i, (yy, v) in enumerate(zip(y, values, strict=True)):
        share = f" ({100 * v / values[i - 1]:.0f}% of above)" if i and values[i - 1] else ""
        ax.text(v + 0.01 * top, yy, f"{v:,}{share}", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.45)
    ax.set_xlabel("customers, cumulative since week 0")
    ax.set_title(
        f"Closed-loop funnel, cumulative since week 0\n(root-cause fixes: {f.fixes}; "
        f"call-backs waiting now: {f.queue:,})",
        fontsize=10,
    )
    ax.grid(axis="x", alpha=0.3)
    return fig


def panel_graph(model: SiloModel) -> nx.Graph:
    """The tracked customer panel and its network neighbours, with the links among them."""
    net = model.network
    panel = np.array([c.row for c in model.panel], dtype=np.int64)
    src, dst = net.src.astype(np.int64), net.dst.astype(np.int64)
    touching = np.isin(src, panel) | np.isin(dst, panel)
    nodes = np.union1d(panel, np.concatenate([src[touching], dst[touching]]))
    among = np.isin(src, nodes) & np.isin(dst, nodes)
    graph = nx.Graph()
    graph.add_nodes_from(nodes.tolist())
    graph.add_edges_from(zip(src[among].tolist(), dst[among].tolist(), strict=True))
    return graph


def category_of(model: SiloModel, rows: np.ndarray) -> list[str]:
    """Promoter / passive / detractor by true likelihood to recommend, or ``churned`` for customers who left."""
    st = model.store
    ltr, active = st.true_ltr[rows], st.active[rows]
    return [
        "churned" if not a else "promoter" if s >= PROMOTER_MIN else "detractor" if s <= DETRACTOR_MAX else "passive"
        for s, a in zip(ltr, active, strict=True)
    ]


def _neighbourhood_of(model: SiloModel, graph: nx.Graph) -> dict[int, int]:
    """The panel member each node is drawn around (its own row for a member; the first member it neighbours)."""
    panel = sorted(c.row for c in model.panel)
    home = {row: row for row in panel}
    for row in panel:
        for n in sorted(graph.neighbors(row)):
            home.setdefault(n, row)
    return home


def panel_positions(model: SiloModel, graph: nx.Graph) -> dict[int, tuple[float, float]]:
    """Positions for the panel network: panel members on a grid, each ringed by its neighbours.

    The panel is a random sample of a small world of thousands of customers, so its members
    rarely share neighbours; a force layout would crush each member's neighbourhood into a dot.
    A deterministic grid keeps every neighbourhood readable and nodes in place between redraws.
    """
    panel = sorted(c.row for c in model.panel)
    cols = max(1, round(np.sqrt(len(panel) * 1.6)))  # a grid a little wider than tall, like the card
    home = _neighbourhood_of(model, graph)
    pos: dict[int, tuple[float, float]] = {row: (float(k % cols), -float(k // cols)) for k, row in enumerate(panel)}
    for row in panel:
        ring = [n for n in sorted(graph.neighbors(row)) if home[n] == row and n != row]
        cx, cy = pos[row]
        for i, n in enumerate(ring):
            angle = 2 * np.pi * i / len(ring)
            pos[n] = (cx + 0.33 * np.cos(angle), cy + 0.33 * np.sin(angle))
    return pos


def network_figure(model: SiloModel) -> Figure:
    """The panel's word-of-mouth network coloured by recommendation category."""
    graph = panel_graph(model)
    layout = panel_positions(model, graph)
    rows = np.array(list(graph.nodes), dtype=np.int64)
    cats = category_of(model, rows)
    panel = {c.row for c in model.panel}
    fig = _new_figure()
    ax = fig.subplots()
    # links within one member's neighbourhood are drawn plainly; links between neighbourhoods (rare in
    # a large book, common in a small one) are real too but drawn faintly so the neighbourhoods stay legible
    home = _neighbourhood_of(model, graph)
    local = [(u, v) for u, v in graph.edges if home[u] == home[v]]
    across = [(u, v) for u, v in graph.edges if home[u] != home[v]]
    nx.draw_networkx_edges(graph, layout, edgelist=across, ax=ax, edge_color="#BBBBBB", width=0.4, alpha=0.3)
    nx.draw_networkx_edges(graph, layout, edgelist=local, ax=ax, edge_color="#999999", width=0.6)
    for is_panel, size in ((False, 12), (True, 60)):
        members = [i for i, r in enumerate(rows) if (int(r) in panel) == is_panel]
        if members:
            nx.draw_networkx_nodes(
                graph,
                layout,
                nodelist=[int(rows[i]) for i in members],
                ax=ax,
                node_size=size,
                node_color=[CATEGORY_COLOURS[cats[i]] for i in members],
                edgecolors="black" if is_panel else "none",
                linewidths=0.8,
            )
    counts = {
        k: sum(1 for r, c in zip(rows, cats, strict=True) if int(r) in panel and c == k) for k in CATEGORY_COLOURS
    }
    handles = [
        Line2D(
            [],
            [],
            marker="o",
            linestyle="",
            color=colour,
            markeredgecolor="black",
            label=f"{name}: {counts[name]} in panel",
        )
        for name, colour in CATEGORY_COLOURS.items()
    ]
    fig.legend(handles=handles, loc="outside lower center", ncol=4, fontsize=8, frameon=False)
    ax.set_title(
        f"Tracked panel: {len(panel)} customers (outlined) and their network neighbours,\n"
        "coloured by true likelihood to recommend",
        fontsize=10,
    )
    ax.set_axis_off()
    return fig


# ---------------------------------------------------------------------- text cards
def headline(model: SiloModel) -> dict[str, float | int | None]:
    """This week's headline numbers and run totals shown in the counters card."""
    m = model.metrics_frame()
    if m.empty:
        return {"week": 0}
    last = m.iloc[-1]
    return {
        "week": len(m),
        "true_nps": float(last["true_nps"]),
        "measured_nps": float(last["measured_nps"]),
        "active_customers": int(last["active_customers"]),
        "annual_retention": annual_retention(m["active_before"], m["churned"]),
        "conflicting_contacts_week": int(last["conflicting_contacts"]),
        "conflicting_contacts_total": int(m["conflicting_contacts"].sum()),
        "conflicts_suppressed_total": int(m["conflicts_suppressed"].sum()),
        "handoff_failures_week": int(last["handoff_failures"]),
        "handoffs_week": int(last["handoffs"]),
        "handoff_failures_total": int(m["handoff_failures"].sum()),
        "program_active": int(last["program_active"]),
    }


def _value(name: str, text: str) -> str:
    """A bold figure tagged with its name, so people read it and the browser test can find it."""
    return f'<b data-value="{name}">{escape(text)}</b>'


def counters_html(model: SiloModel) -> str:
    """The counters card: week, NPS, customers, conflicting contacts and hand-off failures."""
    h = headline(model)
    cfg = model.cfg
    week = _value("week", str(h["week"]))
    if h["week"] == 0:
        return (
            f"<p>Week {week} of {cfg.weeks} ({escape(cfg.scenario_name)}, {cfg.customers:,} customers, "
            f"seed {cfg.seed}): press Step or play to simulate.</p>"
        )
    prog = model.programme
    status = (
        "abandoned (patience ran out)"
        if prog.abandoned
        else "active"
        if h["program_active"]
        else "none"
        if not prog.present
        else "not started"
    )
    rate = 100 * h["handoff_failures_week"] / h["handoffs_week"] if h["handoffs_week"] else float("nan")
    items = [
        f"True NPS {_value('true_nps', f'{h["true_nps"]:+.1f}')}; "
        f"measured NPS {_value('measured_nps', f'{h["measured_nps"]:+.1f}')}",
        f"Active customers {_value('active_customers', f'{h["active_customers"]:,}')}; annual retention "
        f"{_value('annual_retention', f'{100 * h["annual_retention"]:.1f}%')} "
        f"(last {min(h['week'], 52)} weeks, annualised)",
        f"Conflicting contacts {_value('conflicting_contacts_week', f'{h["conflicting_contacts_week"]:,}')} "
        f"this week, {_value('conflicting_contacts_total', f'{h["conflicting_contacts_total"]:,}')} in the run "
        f"({h['conflicts_suppressed_total']:,} suppressed by a shared customer view)",
        f"Hand-off failures {_value('handoff_failures_week', f'{h["handoff_failures_week"]:,}')} this week "
        f"({rate:.1f}% of {h['handoffs_week']:,} hand-offs), "
        f"{_value('handoff_failures_total', f'{h["handoff_failures_total"]:,}')} in the run",
    ]
    return (
        f"<p>Week {week} of {cfg.weeks}: {escape(cfg.scenario_name)}, programme {status}</p>"
        "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    )


def settings_html(model: DashboardModel) -> str:
    """The settings in force and where each comes from (the chosen scenario or a control)."""
    cfg = model.cfg
    values = {
        "shared_stage_weight": cfg.governance.scorecard.shared_stage,
        "followup_capacity": cfg.feedback.inner_loop.capacity,
        "followup_max_wait_weeks": cfg.feedback.inner_loop.max_wait_weeks,
        "response_rate": cfg.feedback.survey.response_rate,
        "executive_engagement": cfg.governance.executive_engagement,
        "communication": cfg.governance.communication,
        "patience_weeks": "unlimited" if cfg.governance.patience_weeks is None else cfg.governance.patience_weeks,
    }
    rows = "".join(
        f"<tr><td><b>{escape(c.label)}</b>: {escape(c.doc)}</td>"
        f"<td style='padding: 0 10px' data-setting='{name}'>{values[name]}</td>"
        f"<td>{'your control' if model.control_source[name] == 'control' else 'scenario'}</td></tr>"
        for name, c in CONTROLS.items()
    )
    return (
        f"<p>Settings in force: scenario <b>{escape(cfg.scenario_name)}</b>, {cfg.customers:,} customers, "
        f"{cfg.weeks} weeks, seed {cfg.seed}.</p>"
        "<table><tr><th align='left'>setting</th><th>in force</th><th>from</th></tr>" + rows + "</table>"
        "<p>A control left at its baseline value keeps the scenario's setting; a changed control "
        "takes effect when you press Reset.</p>"
    )


# ---------------------------------------------------------------- solara components
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


def model_params() -> dict[str, Any]:
    """SolaraViz's ``model_params``: one sidebar input per constructor keyword of DashboardModel."""
    params: dict[str, Any] = {
        "scenario_name": {"type": "Select", "value": BASELINE_SCENARIO, "values": SCENARIOS, "label": "Scenario"},
        "customers": {
            "type": "SliderInt",
            "value": DEFAULT_CUSTOMERS,
            "min": CUSTOMERS_RANGE[0],
            "max": CUSTOMERS_RANGE[1],
            "step": CUSTOMERS_RANGE[2],
            "label": "Customers (initial)",
        },
        "weeks": {
            "type": "SliderInt",
            "value": _SCHEMA.weeks,
            "min": WEEKS_RANGE[0],
            "max": WEEKS_RANGE[1],
            "step": WEEKS_RANGE[2],
            "label": "Weeks (horizon)",
        },
        "seed": {"type": "InputText", "value": str(_SCHEMA.seed), "label": "Seed"},
    }
    for name, c in CONTROLS.items():
        params[name] = {
            "type": "SliderInt" if c.is_int else "SliderFloat",
            "value": c.baseline,
            "min": c.lo,
            "max": c.hi,
            "step": c.step,
            "label": c.label,
        }
    return params


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
