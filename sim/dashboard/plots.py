"""The dashboard's figures and counters: what a strategist watches while the model runs.

Every figure reads the running model (its records, departments, panel and network) and draws it;
the model knows nothing about the dashboard. Figures fill one card of Mesa's grid.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from html import escape
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.ticker import StrMethodFormatter

from sim.config import WEEKS_PER_QUARTER, WEEKS_PER_YEAR
from sim.config.run import scenario_title
from sim.dashboard.whatif import CONFIDENCE, WhatIfResult, difference_bands
from sim.engine.kpis import KPIS
from sim.engine.metrics import DETRACTOR_MAX, PROMOTER_MIN, annual_retention
from sim.engine.model import SiloModel
from sim.experiments.analysis.outcomes import compute
from sim.report.wording import Verdicts, outcome_headline

__all__ = [
    "CATEGORY_COLOURS",
    "Funnel",
    "category_of",
    "counters_html",
    "customers_figure",
    "department_kpi_figure",
    "funnel_counts",
    "funnel_figure",
    "headline",
    "levers_figure",
    "network_figure",
    "nps_figure",
    "panel_graph",
    "panel_positions",
    "trailing_retention",
    "whatif_figure",
]

RETENTION_WINDOW_WEEKS = WEEKS_PER_QUARTER  # trailing quarter over which weekly retention is annualised for the plot
# Figures fill one card of Mesa's grid (half the page wide, about 390 px high): 576 x 369 px.
FIGURE_INCHES, FIGURE_DPI = (6.4, 4.1), 90

# Colours: recommendation categories and the two NPS series (colour-blind-safe Okabe-Ito hues).
CATEGORY_COLOURS = {"promoter": "#009E73", "passive": "#E69F00", "detractor": "#D55E00", "churned": "#BBBBBB"}
TRUE_COLOUR, MEASURED_COLOUR = "#0072B2", "#CC79A7"


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
        ax.set_ylabel(KPIS[dept.kpi_name].unit, fontsize=7)
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


# ---------------------------------------------------------------------- text cards
def headline(model: SiloModel) -> dict[str, float | int | None]:
    """This week's headline numbers (the outcome registry's) and run totals shown in the counters card."""
    m = model.metrics_frame()
    if m.empty:
        return {"week": 0}
    last = m.iloc[-1]
    outcomes = compute(("true_nps", "measured_nps", "active_customers", "annual_retention", "program_active"), m)
    return {
        "week": len(m),
        **outcomes,
        "active_customers": int(outcomes["active_customers"]),
        "program_active": int(outcomes["program_active"]),
        "conflicting_contacts_week": int(last["conflicting_contacts"]),
        "conflicting_contacts_total": int(m["conflicting_contacts"].sum()),
        "conflicts_suppressed_total": int(m["conflicts_suppressed"].sum()),
        "handoff_failures_week": int(last["handoff_failures"]),
        "handoffs_week": int(last["handoffs"]),
        "handoff_failures_total": int(m["handoff_failures"].sum()),
    }


def _value(name: str, text: str) -> str:
    """A bold figure tagged with its name, so people read it and the browser test can find it."""
    return f'<b data-value="{name}">{escape(text)}</b>'


def counters_html(model: SiloModel) -> str:
    """The counters card: week, NPS, customers, conflicting contacts and hand-off failures."""
    h = headline(model)
    cfg = model.cfg
    week = _value("week", str(h["week"]))
    title = escape(scenario_title(cfg.scenario_name, getattr(getattr(cfg, "about", None), "title", "")))
    if h["week"] == 0:
        return (
            f"<p>Week {week} of {cfg.weeks} ({title}, {cfg.customers:,} customers, "
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
        f"(last {min(h['week'], WEEKS_PER_YEAR)} weeks, annualised)",
        f"Conflicting contacts {_value('conflicting_contacts_week', f'{h["conflicting_contacts_week"]:,}')} "
        f"this week, {_value('conflicting_contacts_total', f'{h["conflicting_contacts_total"]:,}')} in the run "
        f"({h['conflicts_suppressed_total']:,} suppressed by a shared customer view)",
        f"Hand-off failures {_value('handoff_failures_week', f'{h["handoff_failures_week"]:,}')} this week "
        f"({rate:.1f}% of {h['handoffs_week']:,} hand-offs), "
        f"{_value('handoff_failures_total', f'{h["handoff_failures_total"]:,}')} in the run",
    ]
    return (
        f"<p>Week {week} of {cfg.weeks}: {title}, programme {status}</p>"
        "<ul>" + "".join(f"<li>{i}</li>" for i in items) + "</ul>"
    )


# ---------------------------------------------------------------------- the A/B what-if
DIFFERENCE_PANELS = (
    ("true_nps", "True NPS", "NPS points", "{:+.1f}"),
    ("active_customers", "Active customers", "customers", "{:+,.0f}"),
)


def _difference_panel(ax: Any, result: WhatIfResult, column: str, label: str, unit: str) -> None:
    bands = difference_bands(result, column)
    x = bands["step"].to_numpy() + 1
    ax.fill_between(
        x, bands["low"], bands["high"], color=TRUE_COLOUR, alpha=0.2, linewidth=0, label="95% CI, week by week"
    )
    ax.plot(x, bands["mean"], color=TRUE_COLOUR, linewidth=2, label="mean paired difference")
    ax.axhline(0, color="black", linewidth=0.9)
    ax.set_title(f"{label}: alternative minus baseline", fontsize=10)
    ax.set_ylabel(f"difference ({unit})")
    ax.set_xlabel("week")
    ax.grid(alpha=0.3)


def whatif_figure(result: WhatIfResult) -> Figure:
    """The A/B what-if: the paired difference of true NPS and of active customers over time, with 95% bands.

    The bands are pointwise intervals week by week; the title's verdict and interval are the answer's
    (the final week, adjusted for the outcomes compared), so the figure never contradicts the sentence.
    """
    fig = _new_figure(11.0, 4.3)
    axes = fig.subplots(1, len(DIFFERENCE_PANELS))
    for ax, (column, label, unit, _) in zip(axes, DIFFERENCE_PANELS, strict=True):
        _difference_panel(ax, result, column, label, unit)
    axes[0].legend(loc="upper left", fontsize=8)
    spec = result.spec
    # the answer's verdict and interval (final week, adjusted), in the report's words, not the band's
    verdicts = Verdicts.from_summary(
        result.summary, spec.baseline, spec.weeks, CONFIDENCE, result.titles, spec.customers
    )
    title = textwrap.fill(outcome_headline(verdicts, "true_nps"), 110)
    fig.suptitle(title, fontsize=11, fontweight="bold")
    return fig
