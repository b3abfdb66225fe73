"""How sure the answer is: the parameter-uncertainty sentences, tornado figure and method paragraph of a report.

Used when a comparison ran with ``uncertainty=parameters`` (:mod:`sim.experiments.uncertainty`): its
``comparison.json`` holds the summary under ``uncertainty`` and its directory ``importance.csv``.
:func:`add_uncertainty` adds to the report's content, in place: a sentence per alternative on the
first page that says how sure the answer is and what it hinges on, a tornado figure of the effect
(not of the level) for the alternative the answer is most about, and a method paragraph on the two
kinds of uncertainty, and a table (:func:`uncertainty_text_table`) with, for each scenario and outcome, the
effect's two intervals, the share of plausible worlds in which it beats the baseline and the probability
that it is the best. The dashboard's Results page shows the same sentences, table and tornado. A
comparison without parameter draws is left exactly as it was.
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
from sim.report.wording import OUTCOME_WORDS, OutcomeWords, interval_text, number

if TYPE_CHECKING:
    from sim.experiments.compare.comparison import Comparison
    from sim.report.content import ReportContent, Table

__all__ = [
    "add_uncertainty",
    "calibration_sentences",
    "hinge_words",
    "how_sure_sentences",
    "method_paragraph",
    "uncertainty_sentence",
    "uncertainty_text_table",
]

OUTCOME = "true_nps"  # the outcome the sentences and the tornado are about (the table's first)
TORNADO_BARS = 8
# The outcomes of the table, in its order; how each is spoken of (scale, unit, digits) is wording.OUTCOME_WORDS.
_TABLE_OUTCOMES = (
    "true_nps",
    "annual_retention",
    "measured_nps",
    "active_customers",
    "cumulative_revenue",
    "customer_lifetime_value",
)


def _words(outcome: str) -> tuple[str, float, str]:
    """An outcome's name in a sentence, the scale of its differences and their unit (as the answer speaks)."""
    w = OUTCOME_WORDS.get(outcome)
    return (w.what, w.scale, w.unit) if w else (outcome.replace("_", " "), 1.0, "")


def _table_label(w: OutcomeWords, currency: str) -> str:
    """``True NPS, points``, ``Active customers``, ``Cumulative revenue, EUR``."""
    unit = (currency or "currency units") if w.money else ("" if w.unit == "customers" else w.unit)
    name = w.what[:1].upper() + w.what[1:]
    return f"{name}, {unit}" if unit else name


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
    words, scale, unit = _words(outcome)
    median = float(row["median"]) * scale
    up = median >= 0
    share = float(row["share_better"]) if up else 1.0 - float(row["share_better"])
    pct = round(100 * level)
    total = interval_text(scale * float(row["total_low"]), scale * float(row["total_high"]))
    noise = interval_text(scale * float(row["noise_low"]), scale * float(row["noise_high"]))
    text = (
        f"{title} {'raises' if up else 'lowers'} {words} in {share:.0%} of plausible worlds (median "
        f"{number(median, 1, sign=True)} {unit}, {pct}% range {total}; simulation noise alone {noise})"
    )
    hinge = hinge_words(row)
    return f"{text}; {hinge}." if hinge else f"{text}."


def how_sure_sentences(meta: Mapping[str, Any], baseline: str, titles: Mapping[str, str]) -> list[str]:
    """One :func:`uncertainty_sentence` per alternative (empty for a comparison without parameter draws).

    Draws too few of which were plausible to summarise give one sentence that says so instead, so a reader
    is never left to take the noise-only intervals for the whole uncertainty.

    Args:
        meta: The comparison's ``comparison.json``.
        baseline: The baseline scenario.
        titles: Display titles by scenario.

    Returns:
        The sentences, in the summary's order.
    """
    u = meta.get("uncertainty") or {}
    if u.get("note") and not u.get("summary"):
        note = str(u["note"])
        return [
            f"Not measured: {note[:1].upper()}{note[1:]}. Every interval here describes simulation noise only, so "
            "it understates how unsure the answer is."
        ]
    level = float(u.get("level", meta.get("confidence", 0.95)))
    rows = _alternatives(u, baseline)
    return [uncertainty_sentence(r, titles.get(r["scenario"], r["scenario"]), level) for r in rows]


def _alternatives(u: Mapping[str, Any], baseline: str) -> list[Mapping[str, Any]]:
    """The uncertainty summary's rows of the alternatives on the outcome the sentences are about."""
    return [r for r in u.get("summary") or [] if r["outcome"] == OUTCOME and r["scenario"] != baseline]


def uncertainty_text_table(
    meta: Mapping[str, Any], baseline: str, titles: Mapping[str, str], currency: str = "", outcomes: int = 0
) -> Table | None:
    """How sure each effect is, as a table: for each outcome and scenario, both intervals and the two shares.

    Args:
        meta: The comparison's ``comparison.json``.
        baseline: The baseline scenario (its rows carry only its probability of being the best).
        titles: Display titles by scenario.
        currency: The report's currency (``report.currency``), for the money outcomes.
        outcomes: Show only this many of the outcomes, in the table's order (0: all of them).

    Returns:
        The table, or None for a comparison without parameter draws.
    """
    from sim.report.content import Table

    u = meta.get("uncertainty") or {}
    summary = u.get("summary") or []
    if not summary:
        return None
    pct = round(100 * float(u.get("level", meta.get("confidence", 0.95))))
    columns = [
        "Outcome",
        "Scenario",
        "Effect vs baseline, median",
        f"{pct}% range, parameters and noise",
        f"{pct}% range, simulation noise only",
        "Beats the baseline in (share of plausible worlds)",
        "Probability of being the best",
        "Hinges most on",
    ]
    by_key = {(r["scenario"], r["outcome"]): r for r in summary}
    order = list(dict.fromkeys(r["scenario"] for r in summary))
    shown = _TABLE_OUTCOMES[:outcomes] if outcomes else _TABLE_OUTCOMES
    rows = []
    for outcome in shown:
        w = OUTCOME_WORDS[outcome]
        label, scale, digits = _table_label(w, currency), w.scale, w.digits()
        for scenario in order:
            r = by_key.get((scenario, outcome))
            if r is None:
                continue
            title = titles.get(scenario, scenario)
            best = f"{float(r['probability_best']):.0%}"
            if scenario == baseline:
                rows.append([label, f"{title} (baseline)", "—", "—", "—", "—", best, "—"])
                continue

            def rng(low: str, high: str, r: Mapping[str, Any] = r, scale: float = scale, digits: int = digits) -> str:
                return interval_text(scale * float(r[low]), scale * float(r[high]), digits)

            top = r.get("top1")
            hinge = "—"
            if isinstance(top, str) and top:
                hinge = top if r.get("top1_distinguishable") is not False else "none stands out"
            rows.append(
                [
                    label,
                    title,
                    number(scale * float(r["median"]), digits, sign=True),
                    rng("total_low", "total_high"),
                    rng("noise_low", "noise_high"),
                    f"{float(r['share_better']):.0%}",
                    best,
                    hinge,
                ]
            )
    return Table(columns, rows)


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
        f"{100 * u.get('plausible', {}).get('annual_retention', 0.075):g} points of the declared values): "
        f"{u.get('draws_plausible', u['draws'])} of {u.get('draws_complete', u['draws'])} did. The {pct}% range "
        "is the effect's spread over those "
        "worlds (with the noise of one run removed and the noise-only range added back); the share of plausible "
        "worlds is the probability, over worlds and noise, that the alternative beats the baseline. What the "
        "answer hinges on is each parameter's squared correlation with the effect across the worlds; a switching "
        "value is where a one-way sweep along that relation would change the effect's sign. Parameters a scenario "
        f"sets are held at their set values ({', '.join(u.get('held', [])) or 'none here'})."
        + _posterior_words(u.get("calibration"))
    )


def _posterior_words(c: Mapping[str, Any] | None) -> str:
    """The method paragraph's sentence on a calibration's posterior (empty without one)."""
    if not c or not c.get("posterior_keys"):
        return ""
    return (
        f" The parameters the calibration fitted to the client's records ({', '.join(c['posterior_keys'])}) were not "
        "drawn from their declared ranges but from the calibration's posterior: each world takes one whole posterior "
        "particle, so combinations the records ruled out are not drawn; their importance also carries what their "
        "posterior correlation with each other does."
    )


def calibration_sentences(u: Mapping[str, Any]) -> list[str]:
    """Where the fitted parameters' draws came from, for the assumptions page (empty without a calibration)."""
    c = u.get("calibration")
    if not c:
        return []
    lines = []
    if c.get("posterior_keys"):
        shown = []
        for p in c.get("parameters", []):
            if p["key"] not in c["posterior_keys"]:
                continue
            text = f"{p['key']} median {p['median']:.4g} (90% {p['low']:.4g} to {p['high']:.4g}"
            if "declared_low" in p:
                text += f"; declared {p['declared_low']:.4g} to {p['declared_high']:.4g}"
            shown.append(text + ")")
        lines.append(
            f"Parameter uncertainty: the {len(c['posterior_keys'])} parameters the calibration ({c['name']}) fitted "
            f"were drawn from its posterior, whole particles by weighted resampling ({c['particles']} particles, "
            f"{c['effective_particles']:g} effective): {'; '.join(shown)}. Every other uncertain parameter was "
            "drawn from its declared distribution."
        )
    if c.get("point_keys"):
        lines.append(
            f"Parameter uncertainty: the calibration ({c['name']}) is a point fit without a posterior, so the "
            f"parameters it fitted ({', '.join(c['point_keys'])}) were held at their fitted values and their "
            "uncertainty is NOT in the parameters-plus-noise ranges; calibrate with method=abc to carry it."
        )
    if c.get("user_keys"):
        given = ", ".join(c["user_keys"])
        lines.append(f"Fitted parameters given by distributions= instead (drawn, or held if fixed there): {given}.")
    if c.get("scenario_keys"):
        lines.append(f"Fitted parameters a scenario sets, held at its value: {', '.join(c['scenario_keys'])}.")
    return lines


def tornado(imp: pd.DataFrame, title: str, outcome: str, out_dir: Path) -> FigureFile:
    """The effect's tornado: for each of the top parameters, the effect at its 5% and 95% quantiles."""
    words, scale, unit = _words(outcome)
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
    content.calibration += calibration_sentences(u)  # where the fitted parameters' draws came from, in any case
    titles = comparison.titles
    sentences = how_sure_sentences(meta, comparison.baseline, titles)
    if not sentences:
        return
    content.answer_note = "How sure: " + " ".join(sentences) + " " + content.answer_note
    content.extra["how_sure"] = sentences
    content.method.append(method_paragraph(meta))
    rows = _alternatives(u, comparison.baseline)
    if not rows:  # too few plausible worlds: the sentence says so; there is no table or tornado to show
        return
    content.uncertainty = uncertainty_text_table(meta, comparison.baseline, titles, content.settings.currency)
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
