"""The journey as a swimlane: stages across, departments down, hand-offs as arrows, failure hot spots coloured.

Each touchpoint is a box in its stage's column and its owning department's lane, coloured by its
failure rate per touch (a sequential scale, with its colour bar); an arrow runs from a touchpoint
to each touchpoint of the next stage that another department owns (a hand-off, where customers
fall between silos). The title states how many hand-offs the journey has and where it fails most.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from sim.experiments.journeymap import handoffs
from sim.experiments.runs.files import atomic_write
from sim.report.figures import RC

if TYPE_CHECKING:
    from pathlib import Path

    from sim.experiments.journeymap import JourneyMap

__all__ = ["write_swimlane"]

BOX_W, GAP = 0.86, 0.12  # a touchpoint's box width (share of a stage column) and the space between boxes
UNIT = 0.62  # height of one box in a lane, in lane units
DARK = 0.65  # boxes coloured beyond this share of the scale get white text


def _lanes(journey: JourneyMap) -> tuple[dict[str, tuple[float, float]], dict[tuple[str, str], list[str]]]:
    """Each department's lane (top, height) and the touchpoints of each (stage, department) cell."""
    cells = {
        (stage, dept): [k for k, tp in journey.touchpoints.items() if tp["stage"] == stage and tp["owner"] == dept]
        for stage in journey.stages
        for dept in journey.departments
    }
    lanes, top = {}, 0.0
    for dept in journey.departments:
        stack = max([len(cells[stage, dept]) for stage in journey.stages] + [1])
        height = stack * UNIT + (stack + 1) * GAP
        lanes[dept] = (top, height)
        top += height
    return lanes, cells


def _positions(journey: JourneyMap) -> tuple[dict[str, tuple[float, float]], dict[str, tuple[float, float]]]:
    """Centre (x, y) of each touchpoint's box (several in one cell are stacked), and the lanes."""
    lanes, cells = _lanes(journey)
    out = {}
    for s, stage in enumerate(journey.stages):
        for dept in journey.departments:
            top, height = lanes[dept]
            keys = cells[stage, dept]
            used = len(keys) * UNIT + (len(keys) - 1) * GAP
            first = top + (height - used) / 2 + UNIT / 2
            for j, key in enumerate(keys):
                out[key] = (float(s), first + j * (UNIT + GAP))
    return out, lanes


def write_swimlane(journey: JourneyMap, out: Path) -> list[Path]:
    """Draw the swimlane of ``journey`` as ``<out>.png`` and ``<out>.pdf`` (``out`` without its suffix).

    Returns:
        The files written.
    """
    pos, lanes = _positions(journey)
    rates = {k: float(tp["failure_prob"]) for k, tp in journey.touchpoints.items()}
    top = max(max(rates.values()), 1e-6)
    cmap = mpl.colormaps["YlOrRd"]
    norm = mpl.colors.Normalize(vmin=0.0, vmax=100 * top)
    links = handoffs(journey.stages, journey.touchpoints)
    worst = max(rates, key=lambda k: rates[k])
    total = sum(h for _, h in lanes.values())
    with mpl.rc_context(RC):
        fig = Figure(figsize=(max(9.0, 1.9 * len(journey.stages) + 2), 1.5 * total + 1.6))
        fig.set_layout_engine("constrained")
        ax = fig.subplots()
        for i, (lane_top, height) in enumerate(lanes.values()):
            ax.axhspan(lane_top, lane_top + height, color="#f2f2f2" if i % 2 == 0 else "white", zorder=0)
        for key, (x, y) in pos.items():
            tp = journey.touchpoints[key]
            box = FancyBboxPatch(
                (x - BOX_W / 2, y - UNIT / 2),
                BOX_W,
                UNIT,
                boxstyle="round,pad=0.01,rounding_size=0.05",
                facecolor=cmap(norm(100 * rates[key])),
                edgecolor="#333333",
                zorder=3,
            )
            ax.add_patch(box)
            label = journey.labels[key] if len(journey.labels[key]) <= 24 else journey.labels[key][:22] + "..."
            ink = "white" if norm(100 * rates[key]) > DARK else "black"  # readable on the darkest reds
            ax.text(x, y - 0.1, label, ha="center", va="center", fontsize=8, zorder=4, color=ink)
            kind = f"{tp['kind']}, {100 * rates[key]:.1f}%"
            ax.text(x, y + 0.14, kind, ha="center", va="center", fontsize=7, zorder=4, color=ink)
        for src, dst in links:
            (x0, y0), (x1, y1) = pos[src], pos[dst]
            arrow = FancyArrowPatch(
                (x0 + BOX_W / 2, y0),
                (x1 - BOX_W / 2, y1),
                arrowstyle="-|>",
                mutation_scale=10,
                color="#0072B2",
                lw=1.2,
                connectionstyle="arc3,rad=0.1",
                zorder=5,
            )
            ax.add_patch(arrow)
        ax.set_xlim(-0.6, len(journey.stages) - 0.4)
        ax.set_ylim(total, 0.0)
        ax.set_xticks(range(len(journey.stages)), [journey.labels[s] for s in journey.stages])
        ax.set_yticks([t + h / 2 for t, h in lanes.values()], list(lanes))
        ax.set_xlabel("Journey stage, in order (arrows: hand-offs between departments)")
        ax.set_ylabel("Owning department")
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(mpl.cm.ScalarMappable(norm=norm, cmap=cmap), ax=ax, shrink=0.8)
        bar.set_label("Failure rate per touch (%)")
        fig.suptitle(
            f"The journey: {len(journey.stages)} stages, {len(journey.touchpoints)} touchpoints, {len(links)} "
            f"hand-offs; fails most at {journey.labels[worst]} ({100 * rates[worst]:.1f}% of touches)",
            fontweight="bold",
            x=0.01,
            ha="left",
        )
        png = atomic_write(out.with_suffix(".png"), lambda tmp: fig.savefig(tmp, format="png", dpi=130))
        pdf = atomic_write(out.with_suffix(".pdf"), lambda tmp: fig.savefig(tmp, format="pdf"))
    return [png, pdf]
