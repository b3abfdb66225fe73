"""Figures of research runs: sensitivity indices, the policy search's front and scenario discovery.

Held to the comparison report's standard (:mod:`sim.report.figures`): a title that states the
finding, computed from the results; parameters named in the words and units the schema documents
(``journey.handoff_failure_prob`` reads "Probability that a hand-off between departments fails
(probability)"), outcomes in the outcome registry's (``final.true_nps`` reads "True NPS, final week
(NPS points)"); readable axes (plain numbers with thousands separators, no offset text); the
report's Okabe-Ito colours.
"""

from __future__ import annotations

import functools
import os
import textwrap
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter
from omegaconf import DictConfig

from sim.experiments.analysis.outcomes import OUTCOMES
from sim.experiments.policy import objective_label
from sim.experiments.sweeps.sensitivity import CONF_LEVEL
from sim.report.figures import OKABE_ITO, RC

__all__ = [
    "discovery_markdown",
    "discovery_question",
    "outcome_label",
    "parameter_label",
    "plot_discovery",
    "plot_indices",
    "policy_front",
    "sensitivity_finding",
]

_BLUE, _ORANGE, _GREEN, _VERMILION = OKABE_ITO[1], OKABE_ITO[2], OKABE_ITO[3], OKABE_ITO[4]
_INDEX_WORDS = {"S1": "first-order S1", "ST": "total-order ST", "mu_star": "mu* (mean |elementary effect|)"}


def outcome_label(column: str) -> str:
    """``final.true_nps`` -> ``True NPS, final week (NPS points)``: the registry's words for a summary column."""
    for outcome in OUTCOMES.values():
        if outcome.summary_key == column:
            return f"{outcome.label} ({outcome.unit})"
    return column


@functools.lru_cache(maxsize=1)
def _defaults() -> Any:
    from sim.config import checked_config

    return checked_config([])


def parameter_label(key: str, width: int = 0) -> str:
    """A parameter's documented meaning and unit, e.g. "Probability that a hand-off ... fails (probability)".

    Falls back to the dotted key for a name that is not a model parameter (a lever, a sampled column).

    Args:
        key: Dotted key (``journey.handoff_failure_prob``).
        width: Wrap at this many characters (0: one line).

    Returns:
        The label.
    """
    from sim.config import find

    param = find(_defaults(), key)
    if param is None or not param.doc:
        return key
    words = param.doc.split(" (")[0].split("; ")[0]
    unit = param.meta.get("unit")
    text = f"{words} ({unit})" if unit else words
    return textwrap.fill(text, width) if width else text


def _plain(ax: Axes, axis: str = "x") -> None:
    """Plain tick labels with thousands separators (no ``1e6`` offset text over the axis label)."""

    def fmt(value: float, _pos: int) -> str:
        if value == 0:
            return "0"
        if abs(value) >= 1000:
            return f"{value:,.0f}"
        return f"{value:.3g}"

    (ax.xaxis if axis == "x" else ax.yaxis).set_major_formatter(FuncFormatter(fmt))


def _figure(figsize: tuple[float, float], ncols: int = 1) -> tuple[Figure, Any]:
    import matplotlib as mpl

    with mpl.rc_context(RC):
        fig = Figure(figsize=figsize, layout="constrained")
        axes = fig.subplots(1, ncols, squeeze=False)
    return fig, axes[0]


def _save(fig: Figure, path: Path, suffixes: tuple[str, ...] = (".png",)) -> Path:
    """Write the figure (each file through a temporary name), return the first file."""
    written = []
    for suffix in suffixes:
        target = path.with_suffix(suffix)
        tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}{suffix}")
        fig.savefig(tmp, dpi=120)
        os.replace(tmp, target)
        written.append(target)
    return written[0]


# -------------------------------------------------------------------------------- sensitivity
def sensitivity_finding(indices: pd.DataFrame, method: str) -> str:
    """The figure's finding: the parameter that matters most for each outcome, with its index and interval."""
    index = "ST" if method == "sobol" else "mu_star"
    parts = []
    for outcome in dict.fromkeys(indices["outcome"]):
        sub = indices[(indices["outcome"] == outcome) & (indices["index"] == index)]
        if sub.empty or not np.isfinite(sub["value"]).any():
            continue
        top = sub.loc[sub["value"].idxmax()]
        label = outcome_label(outcome).split(" (")[0]
        name = parameter_label(str(top["parameter"])).split(" (")[0]
        value = f"{top['value']:.2f}" if method == "sobol" else _number(top["value"])
        parts.append(f"{label}: {name[:1].lower()}{name[1:]} ({'ST' if method == 'sobol' else 'mu*'} {value})")
    return "Most influential: " + "; ".join(parts) if parts else "No parameter moves the outcomes"


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def plot_indices(indices: pd.DataFrame, method: str, path: Path, subtitle: str) -> Path:
    """Bars of the indices with their bootstrap confidence intervals, one panel per outcome.

    The title states which parameter matters most for each outcome; parameters are labelled by their
    documented meaning and unit, outcomes by the registry's label and unit.

    Args:
        indices: :func:`sim.experiments.sweeps.sensitivity.analyse`'s table.
        method: ``sobol`` or ``morris``.
        path: The PNG to write.
        subtitle: What was run (experiment, design rows, runs).

    Returns:
        ``path``.
    """
    outcomes = list(dict.fromkeys(indices["outcome"]))
    shown = ["S1", "ST"] if method == "sobol" else ["mu_star"]
    params = list(dict.fromkeys(indices.loc[indices["index"].isin(shown), "parameter"]))
    fig, axes = _figure((5.4 * len(outcomes) + 2.4, 1.6 + 0.62 * len(params) + 1.2), ncols=len(outcomes))
    width = 0.8 / len(shown)
    colours = {"S1": _BLUE, "ST": _ORANGE, "mu_star": _BLUE}
    for k, (ax, outcome) in enumerate(zip(axes, outcomes, strict=True)):
        sub = indices[indices["outcome"] == outcome]
        for j, index in enumerate(shown):
            part = sub[sub["index"] == index].set_index("parameter").reindex(params)
            y = np.arange(len(params)) + (j - (len(shown) - 1) / 2) * width
            ax.barh(y, part["value"], height=width, xerr=part["conf"], capsize=3, color=colours[index],
                    error_kw={"ecolor": "black", "elinewidth": 1}, label=_INDEX_WORDS[index])  # fmt: skip
        ax.set_yticks(
            np.arange(len(params)), [parameter_label(p, 34) for p in params] if k == 0 else [""] * len(params)
        )
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        label = outcome_label(outcome)
        if method == "sobol":
            ax.set_xlabel("share of the outcome's variance (0-1)")
        else:
            unit = label[label.rfind("(") + 1 : -1] if label.endswith(")") else "outcome units"
            ax.set_xlabel(f"mu*: mean |effect| of moving one parameter\n({unit})")
        _plain(ax)
        ax.set_title(textwrap.fill(label, 44), fontsize=10)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    finding = textwrap.fill(sensitivity_finding(indices, method), 120)
    fig.suptitle(
        f"{finding}\n{subtitle}; error bars: {int(CONF_LEVEL * 100)}% bootstrap confidence intervals", fontsize=10
    )
    return _save(fig, path)


# ------------------------------------------------------------------------------ policy front
def _policy_title(best: Mapping[str, Any], cfg: DictConfig, label: str) -> str:
    budget = float(cfg.policy.budget)
    if best["trial"] == "baseline":
        return f"No lever setting within the budget of {budget:g} beats the unchanged baseline on {label}"
    levers = [n for n in cfg.policy.levers if f"lever.{n}" in best]
    moved = ", ".join(
        f"{n.replace('_', ' ')} {best[f'lever.{n}']:.3g}"
        for n in levers
        if abs(float(best[f"lever.{n}"]) - float(cfg.policy.levers[n].baseline)) > 1e-9
    )
    diff, low, high = best["diff_vs_baseline"], best["diff_ci95_low"], best["diff_ci95_high"]
    clear = "a clear gain" if low > 0 else "not clearly better" if high >= 0 else "worse"
    return (
        f"Within a budget of {budget:g}, the best setting ({moved or 'the baseline levers'}, cost {best['cost']:.0f}) "
        f"changes {label} by {diff:+.3g} (paired 95% CI {low:+.3g} to {high:+.3g}): {clear}"
    )


def _errorbars(ax: Axes, frame: pd.DataFrame, **style: Any) -> None:
    """Means with their 95% CIs (``mean``, ``ci95_low``, ``ci95_high``) against cost."""
    spread = [frame["mean"] - frame["ci95_low"], frame["ci95_high"] - frame["mean"]]
    ax.errorbar(frame["cost"], frame["mean"], yerr=spread, **style)


def policy_front(
    points: pd.DataFrame, front: pd.DataFrame, best: Mapping[str, Any], cfg: DictConfig, path: Path
) -> None:
    """The policy search's settings and front: objective (mean, 95% CI) against programme cost, as PNG and SVG.

    Args:
        points: Every evaluated setting (baseline and trials) with ``cost``, ``mean``, its CI and ``feasible``.
        front: The front (:func:`sim.experiments.policy.frontier`).
        best: The best setting within budget, with its paired difference from the baseline.
        cfg: The policy configuration (objective, budget, replications, model size).
        path: Where to write (the suffix is replaced by .png and .svg).
    """
    label, unit = objective_label(cfg)
    fig, (ax,) = _figure((9, 5.6))
    for feasible, colour, name in ((True, "0.55", "setting within budget"), (False, _VERMILION, "over budget")):
        part = points[points["feasible"] == feasible]
        if part.empty:
            continue
        face = colour if feasible else "white"
        style = {"fmt": "o", "color": colour, "mfc": face, "alpha": 0.7, "ms": 5, "elinewidth": 0.8}
        _errorbars(ax, part, **style, label=f"{name} (mean, 95% CI)")
    front_style = {"fmt": "-o", "drawstyle": "steps-post", "color": _BLUE, "capsize": 3, "lw": 2}
    _errorbars(ax, front, **front_style, label="front: nothing as cheap is better")
    ax.plot([best["cost"]], [best["mean"]], marker="*", ms=18, color=_ORANGE, mec="black", ls="none",
            label="best within budget")  # fmt: skip
    ax.axvline(float(cfg.policy.budget), color=_VERMILION, ls="--", lw=1.2, label=f"budget {cfg.policy.budget:g}")
    trials = len(points) - 1
    over = int((~points["feasible"]).sum())
    ax.set_xlabel("Programme cost (currency per week per 1,000 initial customers)")
    ax.set_ylabel(textwrap.fill(f"{label[:1].upper()}{label[1:]} ({unit})", 48))
    _plain(ax, "x")
    _plain(ax, "y")
    ax.set_title(
        textwrap.fill(_policy_title(best, cfg, label), 95)
        + f"\n{trials} settings ({over} over budget) x {int(cfg.replications)} replications, "
        f"{int(cfg.model.customers):,} customers x {int(cfg.model.weeks)} weeks",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    _save(fig, path, (".png", ".svg"))


# ------------------------------------------------------------------------------ discovery
def _clearest(limits: pd.DataFrame) -> str:
    """The restriction least likely to be noise (the smallest quasi-p-value), in words."""
    if limits.empty:
        return "no parameter is restricted"
    qp = limits[["qp_low", "qp_high"]].min(axis=1, skipna=True)
    row = limits.loc[qp.fillna(np.inf).idxmin()]
    name = parameter_label(str(row["parameter"])).split(" (")[0]
    p = qp.loc[row.name]
    more = f" ({len(limits) - 1} more restricted, see the right panel)" if len(limits) > 1 else ""
    return (
        f"the clearest condition: {name[:1].lower()}{name[1:]} between {row['low']:.3g} and {row['high']:.3g}"
        f"{f' (quasi-p {p:.2g})' if np.isfinite(p) else ''}{more}"
    )


def plot_discovery(trajectory: pd.DataFrame, chosen: int, limits: pd.DataFrame, question: str, path: Path) -> Path:
    """PRIM's peeling trajectory (coverage against density) and the chosen box's limits, as PNG and SVG.

    Args:
        trajectory: One row per box of the peeling: ``coverage``, ``density``, ``mass``, ``res_dim``.
        chosen: Index (row) of the chosen box in ``trajectory``.
        limits: The chosen box's restricted parameters: ``parameter``, ``low``, ``high``, ``range_low``,
            ``range_high`` (the sampled range).
        question: The cases of interest in words (the title names them).
        path: Where to write (the suffix is replaced by .png and .svg).

    Returns:
        The PNG.
    """
    fig, (ax, bx) = _figure((13, 5.4), ncols=2)
    dims = trajectory["res_dim"].astype(int)
    points = ax.scatter(trajectory["coverage"], trajectory["density"], c=dims, cmap="viridis", s=26, zorder=3)
    ax.plot(trajectory["coverage"], trajectory["density"], color="0.7", lw=1, zorder=2)
    box = trajectory.iloc[chosen]
    ax.plot([box["coverage"]], [box["density"]], marker="*", ms=18, color=_ORANGE, mec="black", ls="none",
            zorder=4, label=f"chosen box: coverage {box['coverage']:.0%}, density {box['density']:.0%}")  # fmt: skip
    colourbar = fig.colorbar(points, ax=ax, ticks=sorted(set(dims)))
    colourbar.set_label("parameters restricted")
    ax.set_xlabel("coverage: share of all cases of interest inside the box")
    ax.set_ylabel("density: share of runs inside the box that are cases")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    ax.set_title("Peeling trajectory (each point a box; peeling moves left and up)", fontsize=10)
    n = len(limits)
    for i, row in enumerate(limits.itertuples()):
        span = row.range_high - row.range_low or 1.0
        lo, hi = (row.low - row.range_low) / span, (row.high - row.range_low) / span
        bx.barh(i, hi - lo, left=lo, height=0.5, color=_BLUE, alpha=0.8)
        bx.text(lo, i + 0.36, f"{row.low:.3g}", ha="center", va="top", fontsize=8)
        bx.text(hi, i + 0.36, f"{row.high:.3g}", ha="center", va="top", fontsize=8)
    bx.set_yticks(range(n), [parameter_label(p, 40) for p in limits["parameter"]])
    bx.set_xlim(-0.05, 1.05)
    bx.set_ylim(n - 0.5, -0.7)
    bx.set_xlabel("position in the range sampled (0 lowest, 1 highest)")
    bx.set_title("Where the box lies in each restricted parameter's range", fontsize=10)
    bx.grid(axis="x", alpha=0.3)
    fig.suptitle(
        textwrap.fill(
            f"{question}: {box['density']:.0%} of the runs in the box are such cases, and the box holds "
            f"{box['coverage']:.0%} of all of them; {_clearest(limits)}",
            130,
        ),
        fontsize=11,
    )
    return _save(fig, path, (".png", ".svg"))


def discovery_question(outcome: str, threshold: float, above: bool, scenario: str | None, versus: str | None) -> str:
    """The cases of interest in words: "Closed loop followup raises annual retention, last year by more than 0.02"."""
    label = outcome_label(outcome).split(" (")[0]
    label = label[:1].lower() + label[1:]
    unit = outcome_label(outcome)[len(outcome_label(outcome).split(" (")[0]) :].strip(" ()")
    amount = f"{abs(threshold):g}{f' {unit}' if unit and unit != 'share' else ''}"
    if versus is not None:
        who = (scenario or "the scenario").replace("_", " ")
        against = versus.replace("_", " ")
        if above and threshold >= 0:
            return f"{who[:1].upper()}{who[1:]} raises {label} by more than {amount} over {against}"
        if not above and threshold <= 0:
            return f"{who[:1].upper()}{who[1:]} lowers {label} by more than {amount} against {against}"
        side = "above" if above else "below"
        return f"{label[:1].upper()}{label[1:]} of {who} minus {against} is {side} {threshold:g}"
    where = f" ({scenario.replace('_', ' ')})" if scenario else ""
    return f"{label[:1].upper()}{label[1:]}{where} is {'above' if above else 'below'} {threshold:g}"


def discovery_markdown(question: str, result: Any, settings: Mapping[str, Any], provenance: Mapping[str, Any]) -> str:
    """The discovery as a Markdown report: the question, the chosen box, its restrictions and the provenance.

    Args:
        question: :func:`discovery_question`'s words.
        result: The :class:`sim.experiments.sweeps.discovery.Discovery`.
        settings: The sweep directory, the outcome, the threshold and PRIM's settings.
        provenance: :func:`sim.experiments.runs.provenance.provenance` with the EMA workbench's version.

    Returns:
        The report.
    """
    box = result.box
    unit = "pairs of runs" if settings.get("versus") else "runs"
    lines = [
        f"# Scenario discovery: {question}",
        "",
        f"Sweep `{settings['sweep']}`: {result.runs} {unit}, of which {result.cases} are cases of interest "
        f"({result.base_rate:.0%}, the density of the whole sampled space).",
        "",
        f"PRIM (EMA workbench {provenance['packages'].get('ema-workbench')}; peel_alpha {settings['peel_alpha']:g}, "
        f"paste_alpha {settings['paste_alpha']:g}, mass_min {settings['mass_min']:g}) peeled {len(result.trajectory)} "
        f"boxes; the chosen one (box {result.chosen}: "
        + (
            f"the highest coverage at a density of at least {settings['min_density']:.0%}"
            if result.dense_enough
            else f"no box reaches a density of {settings['min_density']:.0%}, so the densest"
        )
        + f") has **coverage {box['coverage']:.0%}** (share of all cases "
        f"inside it), **density {box['density']:.0%}** (share of its runs that are cases) and mass "
        f"{box['mass']:.0%} (share of all runs inside it).",
        "",
        "| parameter | meaning (unit) | box low | box high | sampled range | quasi-p (low, high) |",
        "|---|---|---|---|---|---|",
    ]
    for row in result.limits.itertuples():
        qp = ", ".join("-" if not np.isfinite(v) else f"{v:.2g}" for v in (row.qp_low, row.qp_high))
        lines.append(
            f"| `{row.parameter}` | {parameter_label(row.parameter)} | {row.low:.4g} | {row.high:.4g} | "
            f"{row.range_low:.4g} to {row.range_high:.4g} | {qp} |"
        )
    if result.limits.empty:
        lines.append("| (none) | the box is the whole sampled space | | | | |")
    lines += [
        "",
        "A quasi-p-value above about 0.05 marks a restriction that noise alone could explain.",
        "",
        f"Provenance: silosim {provenance['silosim']}, commit {provenance['git_commit'] or 'n/a'}"
        f"{' (dirty tree)' if provenance.get('git_dirty') else ''}, Python {provenance['python']}, "
        f"{provenance['platform']}.",
    ]
    return "\n".join(lines) + "\n"
