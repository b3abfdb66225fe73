"""Figures of a comparison for an executive audience.

Every figure has a title that states its finding (computed from the runs, never written in
advance), units on labelled axes and confidence bands or bars. Scenarios are called by their
display titles (``about.title``). A scenario keeps one colour, line style and marker in every
figure; colours are the Okabe-Ito palette (safe for colour blindness) and line styles, markers
and hatches keep scenarios apart in greyscale print. The effects figure draws the intervals the
verdicts rest on (adjusted for the number of comparisons, as the summary table says).
"""

from __future__ import annotations

import io
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import WEEKS_PER_QUARTER, WEEKS_PER_YEAR
from sim.config.run import scenario_title
from sim.experiments.analysis import RunSet, trajectory_bands

__all__ = ["FIGURE_NAMES", "FigureFile", "ScenarioStyle", "make_figures", "styles", "verdict_columns"]

# The figures of a comparison, in report order (figures/<name>.png and .svg).
FIGURE_NAMES = (
    "true_nps",
    "effects_forest",
    "customers_retention",
    "nps_gap",
    "kpis_vs_outcomes",
    "closed_loop_funnel",
)

OKABE_ITO = ("#000000", "#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")
LINESTYLES = ("-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 1)), (0, (8, 2)))
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
HATCHES = ("", "//", "..", "xx", "\\\\", "++", "oo", "--")


@dataclass(frozen=True)
class ScenarioStyle:
    """How one scenario is drawn everywhere."""

    label: str
    title: str
    color: str
    linestyle: str | tuple
    marker: str
    hatch: str


@dataclass(frozen=True)
class FigureFile:
    """A written figure: its name, title, a one-line caption, its files, and the PNG without its title.

    Attributes:
        name: File stem (``true_nps``).
        title: The finding it states.
        caption: One line on how to read it.
        png: The PNG (150 dpi), title included.
        svg: The SVG, title included.
        untitled_png: The same PNG without the title, for a slide whose own title states the finding.
    """

    name: str
    title: str
    caption: str
    png: Path
    svg: Path
    untitled_png: bytes = b""


def verdict_columns(summary: pd.DataFrame, key: str) -> tuple[str, str]:
    """The columns of the interval a verdict on ``key`` rests on: adjusted if the table has them."""
    if f"{key}_diff_adj_ci_low" in summary:
        return f"{key}_diff_adj_ci_low", f"{key}_diff_adj_ci_high"
    return f"{key}_diff_ci_low", f"{key}_diff_ci_high"


def styles(order: Sequence[str], baseline: str, titles: Mapping[str, str] | None = None) -> dict[str, ScenarioStyle]:
    """One style per scenario, labelled with its display title; the baseline is black and solid."""
    titles = titles or {}
    name = {s: titles.get(s) or scenario_title(s) for s in order}
    rest = [s for s in order if s != baseline]
    out = {
        baseline: ScenarioStyle(
            f"{name[baseline]} (baseline)", name[baseline], OKABE_ITO[0], LINESTYLES[0], MARKERS[0], HATCHES[0]
        )
    }
    for i, s in enumerate(rest, start=1):
        k = i % len(OKABE_ITO)
        out[s] = ScenarioStyle(name[s], name[s], OKABE_ITO[k], LINESTYLES[k], MARKERS[k], HATCHES[k])
    return out


def _horizon(weeks: int) -> str:
    if weeks % WEEKS_PER_YEAR == 0:
        years = weeks // WEEKS_PER_YEAR
        return f"{years} year{'s' if years != 1 else ''}"
    return f"{weeks} weeks"


# House style, applied only while the figures are drawn (the caller's settings are left alone).
RC = {
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "figure.titlesize": 14,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "svg.fonttype": "none",
    "figure.dpi": 100,
}


def _subplots(nrows: int = 1, ncols: int = 1, **kw: object) -> tuple[Figure, object]:
    """A figure without pyplot (no global state, any backend) and its axes, as ``plt.subplots`` returns them."""
    fig = Figure(figsize=kw.pop("figsize", (10, 5)), layout="constrained")  # type: ignore[arg-type]
    axes = fig.subplots(nrows, ncols, **kw)  # type: ignore[arg-type]
    return fig, axes


def _save(fig: Figure, out_dir: Path, name: str, title: str, caption: str) -> FigureFile:
    # wrapped to the figure's width (about 8.5 bold characters an inch at the title size), never clipped
    width = max(40, int(fig.get_figwidth() * 8.5))
    heading = fig.suptitle(textwrap.fill(title, width), fontweight="bold", x=0.01, ha="left")
    png, svg = out_dir / f"{name}.png", out_dir / f"{name}.svg"
    fig.savefig(png, dpi=150, bbox_inches="tight")
    fig.savefig(svg, bbox_inches="tight")
    heading.set_visible(False)
    untitled = io.BytesIO()
    fig.savefig(untitled, format="png", dpi=150, bbox_inches="tight")
    return FigureFile(name, title, caption, png, svg, untitled.getvalue())


def _band(ax: Axes, bands: pd.DataFrame, scenario: str, st: ScenarioStyle, label: str | None = None) -> None:
    b = bands[bands["scenario"] == scenario]
    x = b["step"].to_numpy() + 1
    ax.fill_between(x, b["low"], b["high"], color=st.color, alpha=0.15, linewidth=0)
    ax.plot(
        x,
        b["mean"],
        color=st.color,
        linestyle=st.linestyle,
        linewidth=2,
        label=label or st.label,
        marker=st.marker,
        markevery=max(1, len(x) // 6),
        markersize=5,
    )


def _weeks_axis(ax: Axes) -> None:
    ax.set_xlabel("Week")
    ax.grid(axis="y", alpha=0.3)


# ---------------------------------------------------------------------- figures
def nps_trajectories(
    rs: RunSet, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, level: float
) -> FigureFile:
    """True NPS over time per scenario, mean over replications with its confidence band."""
    bands = trajectory_bands(rs.metrics, "true_nps", level)
    weeks = int(rs.metrics["step"].max()) + 1
    final = bands[bands["step"] == weeks - 1].set_index("scenario")["mean"]
    best = max(order, key=lambda s: final[s])
    base = order[0]  # make_figures puts the baseline first
    fig, ax = _subplots(figsize=(10, 5.5))
    for s in order:
        _band(ax, bands, s, sty[s])
    ax.axhline(0, color="grey", linewidth=0.8)
    _weeks_axis(ax)
    ax.set_ylabel("True NPS (points, -100 to +100)")
    ax.legend(loc="best", fontsize=10)
    if best == base:
        title = f"No alternative beats {sty[base].title} on true NPS after {_horizon(weeks)}"
    else:
        title = (
            f"{sty[best].title} ends {_horizon(weeks)} with the highest true NPS: "
            f"{final[best]:+.0f} vs {final[base]:+.0f} at baseline"
        )
    pct = round(100 * level)
    return _save(
        fig,
        out,
        "true_nps",
        title,
        f"True NPS of all active customers each week; lines are means over replications, shaded bands "
        f"their {pct}% confidence intervals.",
    )


def nps_gap(rs: RunSet, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, level: float) -> FigureFile:
    """True vs measured NPS per scenario: the gap that survey selection and score gaming open."""
    true_b = trajectory_bands(rs.metrics, "true_nps", level)
    meas_b = trajectory_bands(rs.metrics.dropna(subset=["measured_nps"]), "measured_nps", level)
    n = len(order)
    cols = min(n, 4)
    rows = int(np.ceil(n / cols))
    fig, axes = _subplots(rows, cols, figsize=(3.6 * cols, 3.4 * rows), sharex=True, sharey=True, squeeze=False)
    gaps = {}
    for ax, s in zip(axes.flat, order, strict=False):
        st = sty[s]
        _band(ax, true_b, s, st, "True NPS")
        m = meas_b[meas_b["scenario"] == s]
        x = m["step"].to_numpy() + 1
        smooth = {c: m[c].rolling(WEEKS_PER_QUARTER, min_periods=1).mean() for c in ("mean", "low", "high")}
        ax.fill_between(x, smooth["low"], smooth["high"], color="grey", alpha=0.2, linewidth=0)
        ax.plot(
            x,
            smooth["mean"],
            color="dimgrey",
            linestyle="--",
            linewidth=1.8,
            label="Measured NPS (survey, quarter average)",
        )
        last_year = rs.metrics[(rs.metrics["scenario"] == s)].groupby("step")[["measured_nps", "true_nps"]].mean()
        last_year = last_year.iloc[-WEEKS_PER_YEAR:]
        gaps[s] = float((last_year["measured_nps"] - last_year["true_nps"]).mean())
        ax.set_title(f"{st.label}\nmeasured - true, last year: {gaps[s]:+.1f}", fontsize=10)
        _weeks_axis(ax)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("NPS (points)")
    axes.flat[0].legend(loc="lower left", fontsize=9)
    worst = max(order, key=lambda s: gaps[s])
    if gaps[worst] >= 3:
        title = f"Measured NPS overstates true NPS most under {sty[worst].title}: {gaps[worst]:+.1f} points"
    else:
        span = max(abs(g) for g in gaps.values())
        title = f"Measured NPS tracks true NPS within {span:.1f} points on average in every scenario"
    return _save(
        fig,
        out,
        "nps_gap",
        title,
        "Solid: true NPS of all customers; dashed: NPS as the survey measures it (responders only, after any "
        "score gaming), averaged over a quarter. Bands are confidence intervals over replications.",
    )


def customers_and_retention(
    rs: RunSet, summary: pd.DataFrame, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, level: float
) -> FigureFile:
    """Active customers over time and annual retention in the final year."""
    bands = trajectory_bands(rs.metrics, "active_customers", level)
    weeks = int(rs.metrics["step"].max()) + 1
    fig, (ax1, ax2) = _subplots(1, 2, figsize=(13, 5.2), gridspec_kw={"width_ratios": [1.6, 1]})
    for s in order:
        _band(ax1, bands, s, sty[s])
    _weeks_axis(ax1)
    ax1.set_ylabel("Active customers")
    ax1.yaxis.set_major_formatter(mpl.ticker.FuncFormatter(lambda v, _: f"{v:,.0f}"))
    ax1.legend(loc="upper left", fontsize=9)
    ax1.set_title("Active customers")
    s_idx = summary.set_index("scenario").loc[list(order)]
    y = np.arange(len(order))[::-1]
    mean = 100 * s_idx["annual_retention_mean"].to_numpy()
    err = np.vstack(
        [
            mean - 100 * s_idx["annual_retention_ci_low"].to_numpy(),
            100 * s_idx["annual_retention_ci_high"].to_numpy() - mean,
        ]
    )
    for yi, s, m_, e_lo, e_hi in zip(y, order, mean, err[0], err[1], strict=True):
        st = sty[s]
        ax2.barh(yi, m_, color=st.color, alpha=0.85 if st.hatch == "" else 0.6, hatch=st.hatch, edgecolor="black")
        ax2.errorbar(m_, yi, xerr=[[e_lo], [e_hi]], color="black", capsize=4, linewidth=1.2)
        ax2.text(m_ + e_hi + 0.3, yi, f"{m_:.1f}%", va="center", fontsize=10)
    ax2.set_yticks(y, [sty[s].label for s in order])
    lo = max(0.0, float(np.nanmin(mean - err[0])) - 5)
    ax2.set_xlim(lo, min(100.0, float(np.nanmax(mean + err[1])) + 4))
    ax2.set_xlabel(f"Annual retention in the final year (%; bars: {round(100 * level)}% CI)")
    ax2.set_title("Annual retention")
    final = s_idx["active_customers_mean"]
    base, best = order[0], max(order, key=lambda s: final[s])
    if best == base:
        title = f"{sty[base].title} keeps as many customers as any alternative after {_horizon(weeks)}"
    else:
        title = (
            f"{sty[best].title} keeps the most customers: {final[best]:,.0f} after {_horizon(weeks)} "
            f"vs {final[base]:,.0f} at baseline"
        )
    return _save(
        fig,
        out,
        "customers_retention",
        title,
        "Left: active customers each week (mean and confidence band over replications). Right: share of "
        "customers at the start of a week still customers a year on, measured over the final year.",
    )


def kpis_vs_outcomes(rs: RunSet, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path) -> FigureFile:
    """Department KPIs (indexed to the first quarter) against true NPS: the silo 'false positive'."""
    quarter = WEEKS_PER_QUARTER
    d = rs.departments.dropna(subset=["kpi"])
    n = len(order)
    fig, axes = _subplots(2, n, figsize=(3.4 * n + 1, 6.4), sharex=True, sharey="row", squeeze=False)
    depts = list(dict.fromkeys(d["department"]))
    dept_styles = {name: (OKABE_ITO[(i + 1) % 8], LINESTYLES[i % 8], MARKERS[i % 8]) for i, name in enumerate(depts)}
    rose_falls: dict[str, tuple[int, float]] = {}
    for j, s in enumerate(order):
        ax_k, ax_n = axes[0, j], axes[1, j]
        ds = d[d["scenario"] == s]
        rose = 0
        for name in depts:
            k = ds[ds["department"] == name].groupby("step")["kpi"].mean()
            if k.empty:
                continue
            ref = k.iloc[:quarter].mean()
            index = 100 * k / ref if ref else k * np.nan
            smooth = index.rolling(quarter, min_periods=1).mean()
            color, ls, mk = dept_styles[name]
            ax_k.plot(
                smooth.index + 1,
                smooth,
                color=color,
                linestyle=ls,
                marker=mk,
                markevery=max(1, len(smooth) // 5),
                markersize=4,
                label=name,
            )
            rose += int(index.iloc[-quarter:].mean() > 100)
        ax_k.axhline(100, color="grey", linewidth=0.8)
        ax_k.set_title(sty[s].label, fontsize=10)
        nps = rs.metrics[rs.metrics["scenario"] == s].groupby("step")["true_nps"].mean()
        ax_n.plot(
            nps.index + 1,
            nps.rolling(quarter, min_periods=1).mean(),
            color=sty[s].color,
            linestyle=sty[s].linestyle,
            linewidth=2,
        )
        ax_n.axhline(0, color="grey", linewidth=0.8)
        _weeks_axis(ax_n)
        change = float(nps.iloc[-quarter:].mean() - nps.iloc[:quarter].mean())
        ax_n.set_title(f"True NPS {change:+.1f} points, first to last quarter", fontsize=9)
        rose_falls[s] = (rose, change)
    axes[0, 0].set_ylabel("Department KPI\n(index, first quarter = 100)")
    axes[1, 0].set_ylabel("True NPS (points)")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    base = order[0]
    rose, change = rose_falls[base]
    trend = "fell" if change < 0 else "rose"
    title = (
        f"Under {sty[base].title}, {rose} of {len(depts)} department KPIs rose while true NPS "
        f"{trend} {abs(change):.1f} points"
    )
    return _save(
        fig,
        out,
        "kpis_vs_outcomes",
        title,
        "Top: each department's own KPI, indexed to its first-quarter level and smoothed over a quarter "
        "(mean over replications). Bottom: true NPS, smoothed the same way. KPIs that rise while NPS falls "
        "are the silo 'false positive'.",
    )


def closed_loop_funnel(
    rs: RunSet, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, level: float
) -> FigureFile:
    """Detractors surveyed, followed up and recovered, and root causes fixed, per run."""
    m = rs.metrics
    per_run = m.groupby(["scenario", "seed"])[
        ["detractor_responses", "followups", "recoveries", "rootcause_fixes"]
    ].sum()
    mean = per_run.groupby("scenario").mean().loc[list(order)]
    stages = [
        ("detractor_responses", "Detractors who answered the survey"),
        ("followups", "Followed up by the front line"),
        ("recoveries", "Recovered (won back)"),
    ]
    fig, ax = _subplots(figsize=(11, 1.2 + 1.1 * len(order)))
    height = 0.8 / len(stages)
    y = np.arange(len(order))[::-1]
    shades = ("#bdbdbd", "#737373", "#252525")
    for k, (col, label) in enumerate(stages):
        vals = mean[col].to_numpy()
        pos = y + (1 - k) * height
        ax.barh(
            pos, vals, height=height * 0.95, color=shades[k], hatch=("", "//", "")[k], edgecolor="black", label=label
        )
        for p, v in zip(pos, vals, strict=True):
            ax.text(v, p, f" {v:,.0f}", va="center", fontsize=9)
    for yi, s in zip(y, order, strict=True):
        fixes = mean.loc[s, "rootcause_fixes"]
        ax.text(
            1.0,
            yi,
            f"root causes fixed: {fixes:.1f}",
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=9,
            color=sty[s].color if sty[s].color != "#F0E442" else "black",
        )
    ax.set_yticks(y, [sty[s].label for s in order])
    ax.set_xlabel("Customers per run, whole horizon (mean over replications)")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlim(0, float(mean[[c for c, _ in stages]].to_numpy().max()) * 1.35 or 1)
    best = max(order, key=lambda s: mean.loc[s, "recoveries"])
    if mean.loc[best, "recoveries"] <= 0:
        title = "No scenario follows up detractors: the closed loop is absent everywhere"
    else:
        share = mean.loc[best, "recoveries"] / max(mean.loc[best, "detractor_responses"], 1)
        title = (
            f"{sty[best].title} wins back {mean.loc[best, 'recoveries']:,.0f} detractors per run "
            f"({100 * share:.0f}% of those who answered)"
        )
    return _save(
        fig,
        out,
        "closed_loop_funnel",
        title,
        "The inner loop: detractors who answered the survey, how many the front line called back, and how "
        "many were recovered. The outer loop: root causes fixed for every customer (right).",
    )


def forest(
    summary: pd.DataFrame, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, level: float
) -> FigureFile:
    """Paired effects of each scenario against the baseline, with confidence intervals."""
    base = order[0]
    others = [s for s in order if s != base]
    s_idx = summary.set_index("scenario")
    panels = [
        ("true_nps", "True NPS, final week\n(NPS points)", 1.0),
        ("annual_retention", "Annual retention, final year\n(percentage points)", 100.0),
        ("active_customers", "Active customers, final week\n(% of baseline)", None),
        ("customer_lifetime_value", "Customer lifetime value\n(% of baseline)", None),
    ]
    fig, axes = _subplots(1, len(panels), figsize=(15, 1.6 + 0.7 * max(len(others), 1)), sharey=True)
    y = np.arange(len(others))[::-1]
    for ax, (key, label, scale) in zip(axes, panels, strict=True):
        base_mean = s_idx.loc[base, f"{key}_mean"]
        k = scale if scale is not None else 100.0 / base_mean
        low_col, high_col = verdict_columns(summary, key)
        for yi, s in zip(y, others, strict=True):
            st = sty[s]
            d, lo, hi = (k * s_idx.loc[s, col] for col in (f"{key}_diff", low_col, high_col))
            ax.errorbar(
                d,
                yi,
                xerr=[[d - lo], [hi - d]],
                fmt=st.marker,
                color=st.color,
                markersize=8,
                capsize=4,
                linewidth=2,
                markeredgecolor="black",
            )
        ax.axvline(0, color="black", linewidth=1)
        ax.set_xlabel(label)
        ax.grid(axis="x", alpha=0.3)
    axes[0].set_yticks(y, [sty[s].label for s in others])
    pct = round(100 * level)
    best = max(others, key=lambda s: s_idx.loc[s, "annual_retention_diff"]) if others else base
    r = s_idx.loc[best]
    low_col, high_col = verdict_columns(summary, "annual_retention")
    adjusted = low_col.endswith("_adj_ci_low")
    ci_name = f"adjusted {pct}% CI" if adjusted else f"{pct}% CI"
    ci = (
        f"{100 * r['annual_retention_diff']:+.1f} points ({ci_name} {100 * r[low_col]:+.1f}"
        f" to {100 * r[high_col]:+.1f})"
    )
    if r[low_col] > 0:
        title = f"{sty[best].title} has the largest retention gain over {sty[base].title}: {ci}"
    elif r[high_col] < 0:
        title = f"Every alternative loses retention against {sty[base].title}; smallest loss: {sty[best].title}, {ci}"
    else:
        title = f"No scenario clearly changes retention against {sty[base].title}; largest: {sty[best].title}, {ci}"
    bars = (
        f"{pct}% confidence intervals adjusted for the number of comparisons the report makes (see Method)"
        if adjusted
        else f"{pct}% confidence intervals"
    )
    return _save(
        fig,
        out,
        "effects_forest",
        title,
        f"Difference from the baseline, replication by replication (same seeds: paired), with {bars}. An "
        "interval that does not cross zero is a clear effect.",
    )


def make_figures(
    rs: RunSet,
    summary: pd.DataFrame,
    order: Sequence[str],
    baseline: str,
    out_dir: Path,
    level: float = 0.95,
    titles: Mapping[str, str] | None = None,
) -> list[FigureFile]:
    """Write every figure of a comparison as PNG and SVG.

    Args:
        rs: The runs.
        summary: The summary table (:func:`sim.analysis.summary_table`).
        order: Scenarios in display order.
        baseline: The baseline scenario.
        out_dir: Directory for the files.
        level: Confidence level of the bands.
        titles: Display title of each scenario (default: its file name in words).

    Returns:
        The figures in report order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    order = [baseline, *[s for s in order if s != baseline]]
    sty = styles(order, baseline, titles)
    with mpl.rc_context(RC):
        return [
            nps_trajectories(rs, order, sty, out_dir, level),
            forest(summary, order, sty, out_dir, level),
            customers_and_retention(rs, summary, order, sty, out_dir, level),
            nps_gap(rs, order, sty, out_dir, level),
            kpis_vs_outcomes(rs, order, sty, out_dir),
            closed_loop_funnel(rs, order, sty, out_dir, level),
        ]
