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
import multiprocessing
import os
import sys
import textwrap
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.config import WEEKS_PER_QUARTER, WEEKS_PER_YEAR
from sim.config.run import scenario_title
from sim.experiments.analysis.runsets import RunSet, trajectory_bands
from sim.experiments.analysis.statistics import mean_ci
from sim.report.wording import (
    Verdicts,
    fixes_phrase,
    funnel_headline,
    gap_headline,
    kpi_headline,
    number,
    outcome_headline,
    per_book,
    verdict_columns,
)

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
    rs: RunSet, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, level: float, verdicts: Verdicts
) -> FigureFile:
    """True NPS over time per scenario, mean over replications with its confidence band."""
    bands = trajectory_bands(rs.metrics, "true_nps", level)
    fig, ax = _subplots(figsize=(10, 5.5))
    for s in order:
        _band(ax, bands, s, sty[s])
    ax.axhline(0, color="grey", linewidth=0.8)
    _weeks_axis(ax)
    ax.set_ylabel("True NPS (points, -100 to +100)")
    ax.legend(loc="best", fontsize=10)
    pct = round(100 * level)
    return _save(
        fig,
        out,
        "true_nps",
        outcome_headline(verdicts, "true_nps"),
        f"True NPS of all active customers each week; lines are means over replications, shaded bands "
        f"their {pct}% confidence intervals. The headline's verdict rests on the paired difference in the "
        f"final week ({verdicts.label}).",
    )


def _last_year_gap(metrics: pd.DataFrame, level: float) -> tuple[float, float, float]:
    """Measured minus true NPS averaged over the last year, per replication: mean and interval over replications."""
    steps = sorted(metrics["step"].unique())[-WEEKS_PER_YEAR:]
    last = metrics[metrics["step"].isin(steps)]
    per_run = (last["measured_nps"] - last["true_nps"]).groupby(last["seed"]).mean()
    ci = mean_ci(per_run.to_numpy(), level)
    return ci.mean, ci.low, ci.high


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
        gaps[s] = _last_year_gap(rs.metrics[rs.metrics["scenario"] == s], level)
        ax.set_title(f"{st.label}\nmeasured - true, last year: {number(gaps[s][0], sign=True)}", fontsize=10)
        _weeks_axis(ax)
    for ax in axes.flat[n:]:
        ax.set_visible(False)
    for ax in axes[:, 0]:
        ax.set_ylabel("NPS (points)")
    axes.flat[0].legend(loc="lower left", fontsize=9)
    title = gap_headline(gaps, {k: v.title for k, v in sty.items()}, level)
    return _save(
        fig,
        out,
        "nps_gap",
        title,
        "Solid: true NPS of all customers; dashed: NPS as the survey measures it (responders only, after any "
        "score gaming), averaged over a quarter. Bands are confidence intervals over replications.",
    )


def customers_and_retention(
    rs: RunSet,
    summary: pd.DataFrame,
    order: Sequence[str],
    sty: dict[str, ScenarioStyle],
    out: Path,
    level: float,
    verdicts: Verdicts,
) -> FigureFile:
    """Active customers over time and annual retention in the final year."""
    bands = trajectory_bands(rs.metrics, "active_customers", level)
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
        ax2.text(m_ + e_hi + 1.0, yi, f"{number(m_)}%", va="center", fontsize=10)
    ax2.set_yticks(y, [sty[s].label for s in order])
    ax2.set_xlim(0.0, 112.0)  # a rate's bars start at zero, so their lengths compare honestly
    ax2.set_xticks([0, 20, 40, 60, 80, 100])
    ax2.set_xlabel(f"Annual retention in the final year (%, axis from 0; bars: {round(100 * level)}% CI)")
    ax2.set_title("Annual retention")
    title = outcome_headline(verdicts, "active_customers")
    return _save(
        fig,
        out,
        "customers_retention",
        title,
        "Left: active customers each week (mean and confidence band over replications). Right: share of "
        "customers at the start of a week still customers a year on, measured over the final year.",
    )


def _quarter_change(
    rows: pd.DataFrame, column: str, level: float, relative: bool = False
) -> tuple[float, float, float]:
    """Last quarter's mean minus the first quarter's (as a share of the first if ``relative``), per replication.

    Returns:
        The mean over replications and its confidence interval (NaN bounds with fewer than two).
    """
    changes = []
    for _, run in rows.groupby("seed"):
        series = run.groupby("step")[column].mean()
        first, last = series.iloc[:WEEKS_PER_QUARTER].mean(), series.iloc[-WEEKS_PER_QUARTER:].mean()
        if relative:
            changes.append(last / first - 1.0 if first else np.nan)
        else:
            changes.append(last - first)
    ci = mean_ci(changes, level)
    return ci.mean, ci.low, ci.high


def kpis_vs_outcomes(
    rs: RunSet, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, level: float
) -> FigureFile:
    """Department KPIs (indexed to the first quarter) against true NPS: the silo 'false positive'."""
    quarter = WEEKS_PER_QUARTER
    d = rs.departments.dropna(subset=["kpi"])
    n = len(order)
    fig, axes = _subplots(2, n, figsize=(3.4 * n + 1, 6.4), sharex=True, sharey="row", squeeze=False)
    depts = list(dict.fromkeys(d["department"]))
    dept_styles = {name: (OKABE_ITO[(i + 1) % 8], LINESTYLES[i % 8], MARKERS[i % 8]) for i, name in enumerate(depts)}
    rose_falls: dict[str, tuple[int, int, tuple[float, float, float]]] = {}
    for j, s in enumerate(order):
        ax_k, ax_n = axes[0, j], axes[1, j]
        ds = d[d["scenario"] == s]
        rose = fell = 0
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
            change_ci = _quarter_change(ds[ds["department"] == name], "kpi", level, relative=True)
            rose += int(change_ci[1] > 0)
            fell += int(change_ci[2] < 0)
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
        change = _quarter_change(rs.metrics[rs.metrics["scenario"] == s], "true_nps", level)
        ax_n.set_title(f"True NPS {number(change[0], sign=True)} points, first to last quarter", fontsize=9)
        rose_falls[s] = (rose, fell, change)
    axes[0, 0].set_ylabel("Department KPI\n(index, first quarter = 100)")
    axes[1, 0].set_ylabel("True NPS (points)")
    axes[0, -1].legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), fontsize=9)
    base = order[0]
    rose, fell, change = rose_falls[base]
    weeks = int(rs.metrics["step"].max()) + 1
    title = kpi_headline(sty[base].title, rose, fell, len(depts), change, weeks, level)
    return _save(
        fig,
        out,
        "kpis_vs_outcomes",
        title,
        "Top: each department's own KPI, indexed to its first-quarter level and smoothed over a quarter "
        "(mean over replications). Bottom: true NPS, smoothed the same way. KPIs that rise while NPS falls "
        f"are the silo 'false positive'. A KPI 'rose' or 'fell' when the {round(100 * level)}% confidence interval "
        "of its change, first to last quarter, over replications lies on one side of zero.",
    )


def closed_loop_funnel(
    rs: RunSet, order: Sequence[str], sty: dict[str, ScenarioStyle], out: Path, customers: int | None
) -> FigureFile:
    """Detractors surveyed, followed up and recovered, and root causes fixed, over the horizon."""
    m = rs.metrics
    weeks = int(m["step"].max()) + 1
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
            fixes_phrase(fixes),
            transform=ax.get_yaxis_transform(),
            ha="right",
            va="center",
            fontsize=9,
            color=sty[s].color if sty[s].color != "#F0E442" else "black",
        )
    ax.set_yticks(y, [sty[s].label for s in order])
    book = per_book(weeks, customers)
    ax.set_xlabel(f"Customers {book} (mean over replications)")
    ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), ncol=3, fontsize=9)
    ax.grid(axis="x", alpha=0.3)
    ax.set_xlim(0, float(mean[[c for c, _ in stages]].to_numpy().max()) * 1.35 or 1)
    recovered = {s: (float(mean.loc[s, "recoveries"]), float(mean.loc[s, "detractor_responses"])) for s in order}
    title = funnel_headline(recovered, {k: v.title for k, v in sty.items()}, book)
    return _save(
        fig,
        out,
        "closed_loop_funnel",
        title,
        "The inner loop: detractors who answered the survey, how many the front line called back, and how "
        "many were recovered. The outer loop: root causes fixed for every customer (right).",
    )


def forest(
    summary: pd.DataFrame,
    order: Sequence[str],
    sty: dict[str, ScenarioStyle],
    out: Path,
    level: float,
    verdicts: Verdicts,
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
    # two by two, about the shape of a 16:9 slide's body, so it fills the slide it is shown on
    height = 2 * (1.5 + 0.45 * max(len(others), 1)) + 0.4
    fig, grid = _subplots(2, 2, figsize=(12, height), sharey=True)
    axes = list(grid.flat)
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
        ax.set_xlabel(label.replace("\n", " "))
        ax.grid(axis="x", alpha=0.3)
        ax.set_ylim(-0.6, len(others) - 0.4)
    for ax in (axes[0], axes[2]):
        ax.set_yticks(y, [textwrap.fill(sty[s].label, 28) for s in others])
    pct = round(100 * level)
    adjusted = verdicts.adjusted
    title = outcome_headline(verdicts, "annual_retention")
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
    customers: int | None = None,
    currency: str = "",
) -> list[FigureFile]:
    """Write every figure of a comparison as PNG and SVG; every headline comes from :mod:`sim.report.wording`.

    Args:
        rs: The runs.
        summary: The summary table (:func:`sim.analysis.summary_table`).
        order: Scenarios in display order.
        baseline: The baseline scenario.
        out_dir: Directory for the files.
        level: Confidence level of the bands.
        titles: Display title of each scenario (default: its file name in words).
        customers: Customers at the start of every run (totals are "per N starting customers").
        currency: The currency of money (``report.currency``).

    Returns:
        The figures in report order.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    order = [baseline, *[s for s in order if s != baseline]]
    sty = styles(order, baseline, titles)
    weeks = int(rs.metrics["step"].max()) + 1
    verdicts = Verdicts.from_summary(
        summary, baseline, weeks, level, {s: st.title for s, st in sty.items()}, customers, currency, order
    )
    with mpl.rc_context(RC):
        return _render(
            [
                lambda: nps_trajectories(rs, order, sty, out_dir, level, verdicts),
                lambda: forest(summary, order, sty, out_dir, level, verdicts),
                lambda: customers_and_retention(rs, summary, order, sty, out_dir, level, verdicts),
                lambda: nps_gap(rs, order, sty, out_dir, level),
                lambda: kpis_vs_outcomes(rs, order, sty, out_dir, level),
                lambda: closed_loop_funnel(rs, order, sty, out_dir, customers),
            ]
        )


_PENDING: list[Callable[[], FigureFile]] = []  # the figures a forked renderer draws (inherited, never pickled)


def _draw_pending(index: int) -> FigureFile:
    return _PENDING[index]()


def _render(figures: list[Callable[[], FigureFile]]) -> list[FigureFile]:
    """Draw the figures, in their order; on Linux, in forked processes on up to two cores.

    Drawing and saving a figure three times (PNG, SVG, the untitled PNG) is CPU-bound matplotlib work that one
    process does one figure at a time: about 10 s of a comparison that waits for it. A forked process inherits
    the runs and the settings (nothing is pickled but the finished figure) and the rcParams in force. Only a
    single-threaded process forks (a dashboard serving requests draws here too, and a fork copies no thread but
    the caller's: a lock another thread held would stay held), and only where fork is the safe default (Linux).
    """
    workers = min(2, len(figures), os.cpu_count() or 1)
    if workers < 2 or sys.platform != "linux" or threading.active_count() > 1:
        return [draw() for draw in figures]
    _PENDING[:] = figures
    try:
        context = multiprocessing.get_context("fork")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            return list(pool.map(_draw_pending, range(len(figures))))
    finally:
        _PENDING.clear()
