"""How sure the answer is: the parameter-uncertainty sentences, tornado figure and method paragraph of a report.

Used when a comparison ran with ``uncertainty=parameters`` (:mod:`sim.experiments.uncertainty`): its
``comparison.json`` holds the summary under ``uncertainty`` and its directory ``importance.csv``.
:func:`add_uncertainty` adds to the report's content, in place: a sentence per alternative on the
first page that says how sure the answer is and what it hinges on, a tornado figure of the effect
(not of the level) for the alternative the answer is most about, and a method paragraph on the two
kinds of uncertainty. A comparison without parameter draws is left exactly as it was.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from sim.experiments.uncertainty.draws import IMPORTANCE_FILE
from sim.report.figures import RC, FigureFile, _save

if TYPE_CHECKING:
    from sim.experiments.compare.comparison import Comparison
    from sim.report.content import ReportContent

__all__ = ["add_uncertainty", "hinge_words", "method_paragraph", "uncertainty_sentence"]

OUTCOME = "true_nps"  # the outcome the sentences and the tornado are about (the table's first)
_WORDS = {"true_nps": ("true NPS", 1.0, "points"), "annual_retention": ("annual retention", 100.0, "points")}
TORNADO_BARS = 8


def _param_doc(key: str) -> str:
    """A parameter's meaning in a few words (its schema doc up to the first comma or full stop)."""
    from sim.config import compose_config, find, to_config

    p = find(to_config(compose_config([])), key)
    doc = p.doc if p is not None else ""
    short = doc.split(". ")[0].split(", ")[0].split(" (")[0]
    return short[:1].lower() + short[1:]


def _default_of(key: str) -> float | None:
    from sim.config import compose_config, find, to_config

    p = find(to_config(compose_config([])), key)
    return float(p.value) if p is not None and isinstance(p.value, int | float) else None


def hinge_words(row: Mapping[str, Any]) -> str:
    """``the answer hinges most on KEY (meaning); its sign would change if ...`` for a summary row.

    A top parameter whose importance cannot be told from zero is named as such, not as what the answer hinges on.
    """
    key = row.get("top1")
    if not isinstance(key, str) or not key:
        return ""
    if row.get("top1_distinguishable") is False:
        share = float(row.get("top1_importance") or 0.0)
        return (
            f"no single assumption stands out with these draws (the largest, `{key}` ({_param_doc(key)}), explains "
            f"{share:.0%} of the spread across worlds but cannot be told from zero)"
        )
    text = f"the answer hinges most on `{key}` ({_param_doc(key)})"
    switch, default = row.get("top1_switch_sign"), _default_of(key)
    if switch is not None and not (isinstance(switch, float) and math.isnan(switch)) and default is not None:
        side = "below" if switch < default else "above"
        return f"{text}; its sign would change if it were {side} {switch:.3g} (declared value {default:.3g})"
    return f"{text}; no value in its plausible range changes the sign"


def uncertainty_sentence(row: Mapping[str, Any], title: str, level: float, outcome: str = OUTCOME) -> str:
    """One alternative's effect with how sure it is, in words.

    Args:
        row: Its row of the uncertainty summary (``uncertainty.csv``).
        title: Its display title.
        level: Level of the intervals.
        outcome: The outcome (``true_nps`` or ``annual_retention``).

    Returns:
        ``Title raises true NPS in 96% of plausible worlds (median +5.1 points, 95% range +1.2 to +9.0;
        simulation noise alone +4.8 to +5.4); the answer hinges most on ...``.
    """
    words, scale, unit = _WORDS.get(outcome, (outcome.replace("_", " "), 1.0, ""))
    median = float(row["median"]) * scale
    up = median >= 0
    share = float(row["share_better"]) if up else 1.0 - float(row["share_better"])
    pct = round(100 * level)
    text = (
        f"{title} {'raises' if up else 'lowers'} {words} in {share:.0%} of plausible worlds (median {median:+.1f} "
        f"{unit}, {pct}% range {scale * float(row['total_low']):+.1f} to {scale * float(row['total_high']):+.1f}; "
        f"simulation noise alone {scale * float(row['noise_low']):+.1f} to {scale * float(row['noise_high']):+.1f})"
    )
    hinge = hinge_words(row)
    return f"{text}; {hinge}." if hinge else f"{text}."


def method_paragraph(meta: Mapping[str, Any]) -> str:
    """The two kinds of uncertainty, in plain words."""
    u = meta["uncertainty"]
    pct = round(100 * float(u.get("level", 0.95)))
    return (
        "Two kinds of uncertainty. Simulation noise: a simulated company is a random draw of customers and luck, so "
        f"repeating a run gives a slightly different answer; the noise-only ranges come from {meta['replications']} "
        "replications with every parameter at its declared value, and say how precisely the runs pin the effect "
        "down if the parameters are right. Parameter uncertainty: most parameters are informed assumptions, so "
        f"{u['draws']} plausible worlds were drawn, each setting all {len(u.get('varied', []))} uncertain parameters "
        "at once from the ranges docs/parameters.md declares (a Latin hypercube, the same worlds for every "
        f"scenario), and each scenario was run once in each. A world counts as plausible only if its baseline "
        "reproduces what the model was calibrated to (true NPS within "
        f"{u.get('plausible', {}).get('true_nps', 20):g} points and annual retention within "
        f"{100 * u.get('plausible', {}).get('annual_retention', 0.075):g} points of the declared values'): "
        f"{u.get('draws_plausible', u['draws'])} of {u.get('draws_complete', u['draws'])} did. The {pct}% range "
        "is the effect's spread over those "
        "worlds (with the noise of one run removed and the noise-only range added back); the share of plausible "
        "worlds is the probability, over worlds and noise, that the alternative beats the baseline. What the "
        "answer hinges on is each parameter's squared correlation with the effect across the worlds; a switching "
        "value is where a one-way sweep along that relation would change the effect's sign. Parameters a scenario "
        f"sets are held at their set values ({', '.join(u.get('held', [])) or 'none here'})."
    )


def tornado(imp: pd.DataFrame, title: str, outcome: str, out_dir: Path) -> FigureFile:
    """The effect's tornado: for each of the top parameters, the effect at its 5% and 95% quantiles."""
    words, scale, unit = _WORDS.get(outcome, (outcome.replace("_", " "), 1.0, ""))
    top = imp.head(TORNADO_BARS).iloc[::-1]
    with mpl.rc_context(RC):
        fig, ax = plt.subplots(figsize=(10, 1.2 + 0.45 * len(top)))
        y = np.arange(len(top))
        low, high = scale * top["effect_low"].to_numpy(), scale * top["effect_high"].to_numpy()
        centre = scale * float(top["effect_mean"].iloc[0]) if "effect_mean" in top else float(np.mean([low, high]))
        ax.barh(y, low - centre, left=centre, color="#0072B2", label="parameter at its 5% quantile")
        ax.barh(y, high - centre, left=centre, color="#E69F00", label="parameter at its 95% quantile")
        ax.axvline(centre, color="black", linewidth=1)
        ax.axvline(0, color="grey", linewidth=1, linestyle="--")
        ax.set_yticks(y, list(top["parameter"]))
        ax.set_xlabel(f"Effect on {words} against the baseline ({unit})")
        ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12 - 0.6 / len(top)), ncol=2, fontsize=9, frameon=False)
        ax.grid(axis="x", alpha=0.3)
        first = top.iloc[-1]["parameter"] if len(top) else "no parameter"
        fig_title = f"What the effect of {title} on {words} hinges on: most of all {first}"
        if len(top) and not bool(top.iloc[-1]["distinguishable"]):
            fig_title = f"No single assumption stands out for the effect of {title} on {words}; the largest: {first}"
        caption = (
            "Each bar is the effect (not the level) with one parameter at the low or high end of its plausible range "
            "and the others as drawn, from a straight line through the parameter draws; the vertical line is the "
            "draws' mean effect, the dashed one zero. importance.csv lists every parameter."
        )
        figure = _save(fig, out_dir, "tornado", fig_title, caption)
        plt.close(fig)
    return figure


def add_uncertainty(content: ReportContent, comparison: Comparison, figures_dir: Path) -> None:
    """Add the parameter-uncertainty sentences, the tornado figure and the method paragraph, if there were draws.

    Args:
        content: The report's content (changed in place).
        comparison: The comparison.
        figures_dir: Where the figures are written.
    """
    meta = comparison.meta
    u = meta.get("uncertainty")
    if not u:
        return
    level = float(u.get("level", comparison.confidence))
    rows = [r for r in u["summary"] if r["outcome"] == OUTCOME and r["scenario"] != comparison.baseline]
    titles = comparison.titles
    sentences = [uncertainty_sentence(r, titles.get(r["scenario"], r["scenario"]), level) for r in rows]
    if not sentences:
        return
    content.answer_note = "How sure: " + " ".join(sentences) + " " + content.answer_note
    content.method.append(method_paragraph(meta))
    path = figures_dir.parent / IMPORTANCE_FILE  # the directory being written (a rebuild writes it aside)
    if not path.exists():
        path = Path(comparison.out) / IMPORTANCE_FILE
    if not path.exists():
        return
    imp = pd.read_csv(path)
    lead = max(rows, key=lambda r: abs(float(r["median"])))
    mine = imp[(imp["scenario"] == lead["scenario"]) & (imp["outcome"] == OUTCOME)]
    if not mine.empty:
        figure = tornado(mine, titles.get(lead["scenario"], lead["scenario"]), OUTCOME, figures_dir)
        content.figures.append(figure)
