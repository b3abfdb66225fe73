"""Generated words obey the statistics: no headline, caption or answer contradicts the verdict it rests on.

Property-based (hypothesis): summary tables with effects on both sides of zero, and intervals that do
and do not cross zero (some of them tiny, to provoke "-0.0"), go through every generator of
:mod:`sim.report.wording`; a direction word appears only where the interval says so, "no clear
difference" where it does not, there is never a superlative between alternatives, never a signed zero.
"""

from __future__ import annotations

import math
import re

import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.report.wording import (
    OUTCOME_WORDS,
    Verdicts,
    answers,
    count_phrase,
    fixes_phrase,
    funnel_headline,
    gap_headline,
    kpi_headline,
    number,
    outcome_headline,
    per_book,
)

SIGNED_ZERO = re.compile(r"(?<![\d.,])[+-]0(\.0+)?(?![\d.,])")
SUPERLATIVES = re.compile(r"\b(highest|lowest|largest|smallest|most|least|best|worst)\b", re.IGNORECASE)
UP = {"higher", "more", "raise", "rose", "overstates"}
DOWN = {"lower", "fewer", "fell", "understates"}
NO_CLEAR = "no clear"


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z]+", text.lower()))


# an interval around a point estimate: wholly above zero, wholly below, or across it, at any scale
magnitudes = st.sampled_from([1e-4, 0.003, 0.04, 0.6, 7.2, 350.0])


@st.composite
def effect(draw: st.DrawFn) -> tuple[float, float, float]:
    scale = draw(magnitudes)
    kind = draw(st.sampled_from(["above", "below", "across", "touching"]))
    width = scale * draw(st.floats(0.05, 2.0))
    if kind == "above":
        low = scale * draw(st.floats(0.001, 1.0))
    elif kind == "below":
        low = -scale * draw(st.floats(0.001, 1.0)) - width
    elif kind == "touching":
        low = 0.0
    else:
        low = -width * draw(st.floats(0.05, 0.95))
    diff = low + width * draw(st.floats(0.0, 1.0))
    return diff, low, low + width


@st.composite
def summaries(draw: st.DrawFn) -> pd.DataFrame:
    n = draw(st.integers(1, 4))
    rows = [{"scenario": "base"}]
    for i in range(n):
        rows.append({"scenario": f"alt{i}"})
    adjusted = draw(st.booleans())
    suffix = "_adj_ci" if adjusted else "_ci"
    base_levels = {"true_nps": 33.0, "annual_retention": 0.836, "active_customers": 7910.0}
    for key in OUTCOME_WORDS:
        base_level = base_levels.get(key, 1000.0)
        rows[0].update({f"{key}_mean": base_level, f"{key}_diff": 0.0, f"{key}_diff{suffix}_low": 0.0})
        rows[0][f"{key}_diff{suffix}_high"] = 0.0
        for row in rows[1:]:
            d, lo, hi = draw(effect())
            if key == "annual_retention":
                d, lo, hi = d / 100, lo / 100, hi / 100
            row.update({f"{key}_diff": d, f"{key}_diff{suffix}_low": lo, f"{key}_diff{suffix}_high": hi})
            row[f"{key}_mean"] = base_level + d
    return pd.DataFrame(rows)


TITLES = {"base": "Siloed scorecards", "alt0": "Contoso plan", "alt1": "Plan B", "alt2": "Plan C", "alt3": "Plan D"}


def _check_headline(text: str, verdicts: list[int]) -> None:
    assert not SIGNED_ZERO.search(text), text
    assert not SUPERLATIVES.search(text), text
    words = _words(text)
    if not any(verdicts):
        assert NO_CLEAR in text.lower(), text
        assert not words & (UP | DOWN), text
    if all(v >= 0 for v in verdicts):
        assert not words & DOWN, text
    if all(v <= 0 for v in verdicts):
        assert not words & UP, text
    if any(v > 0 for v in verdicts):
        assert words & UP, text
    if any(v < 0 for v in verdicts):
        assert words & DOWN, text


@settings(max_examples=300, deadline=None)
@given(summaries(), st.sampled_from([16, 52, 104, 156]), st.sampled_from(["", "EUR", "$"]))
def test_no_headline_contradicts_its_verdict(summary: pd.DataFrame, weeks: int, currency: str) -> None:
    verdicts = Verdicts.from_summary(summary, "base", weeks, 0.95, TITLES, 5000, currency)
    for outcome in OUTCOME_WORDS:
        effects = verdicts.of(outcome)
        _check_headline(outcome_headline(verdicts, outcome), [e.verdict for e in effects])
        if len(effects) == 1:  # one alternative: its own direction, nothing else
            text = outcome_headline(verdicts, outcome)
            assert effects[0].title in text
    for answer in answers(summary, "base", weeks, 0.95, TITLES):
        per = verdicts.effects[answer.scenario]
        for clause, key in zip(answer.clauses, ("annual_retention", "true_nps"), strict=True):
            _check_headline(clause, [per[key].verdict])
        assert answer.text.startswith(TITLES[answer.scenario]) and answer.text.endswith("Siloed scorecards.")


@settings(max_examples=300, deadline=None)
@given(
    st.integers(1, 6).flatmap(lambda n: st.tuples(st.just(n), st.integers(0, n), st.integers(0, n))),
    effect(),
    st.sampled_from([16, 156]),
)
def test_the_kpi_headline_says_rose_or_fell_only_when_the_intervals_do(
    counts: tuple[int, int, int], nps: tuple[float, float, float], weeks: int
) -> None:
    departments, rose, fell = counts
    fell = min(fell, departments - rose)
    text = kpi_headline("Siloed scorecards", rose, fell, departments, nps, weeks, 0.95)
    assert not SIGNED_ZERO.search(text) and not SUPERLATIVES.search(text), text
    assert not re.search(r"\b0 of\b", text), text  # "none of the 5", not "0 of 5"
    nps_part = text.split("true NPS", 1)[1]
    _, low, high = nps
    if low > 0:
        assert nps_part.startswith(" rose"), text
    elif high < 0:
        assert nps_part.startswith(" fell"), text
    else:
        assert "no clear change" in nps_part and not _words(nps_part) & {"rose", "fell"}, text
    kpi_part = text.split("true NPS", 1)[0]
    if rose == 0 and fell == 0:
        assert "no department KPI changed clearly" in kpi_part, text
    if rose:
        assert " rose " in kpi_part and any(w in kpi_part for w in (f"{rose} of", "all", "both", "the one")), text


@settings(max_examples=200, deadline=None)
@given(st.dictionaries(st.sampled_from(list(TITLES)), effect(), min_size=1, max_size=4))
def test_the_gap_headline_follows_each_interval(gaps: dict[str, tuple[float, float, float]]) -> None:
    text = gap_headline(gaps, TITLES, 0.95)
    over = [s for s, g in gaps.items() if g[1] > 0]
    under = [s for s, g in gaps.items() if g[2] < 0]
    assert not SIGNED_ZERO.search(text) and not SUPERLATIVES.search(text), text
    assert ("overstates" in text) == bool(over) and ("understates" in text) == bool(under), text
    if not over and not under:
        assert text.startswith("No clear gap"), text


def test_the_issues_cases_read_as_the_statistics_say() -> None:
    """The walkthrough's cases (issue 23): +7.2 (adjusted CI -2.1 to +16.4) is no clear difference, not 'highest'."""
    summary = pd.DataFrame(
        [
            {"scenario": "base", "true_nps_mean": 33.0, "true_nps_diff": 0.0},
            {
                "scenario": "alt0",
                "true_nps_mean": 40.2,
                "true_nps_diff": 7.2,
                "true_nps_diff_adj_ci_low": -2.1,
                "true_nps_diff_adj_ci_high": 16.4,
            },
        ]
    )
    summary["annual_retention_diff"] = [0.0, 0.065]
    summary["annual_retention_diff_adj_ci_low"] = [0.0, 0.021]
    summary["annual_retention_diff_adj_ci_high"] = [0.0, 0.109]
    summary["annual_retention_mean"] = [0.827, 0.892]
    v = Verdicts.from_summary(summary, "base", 156, 0.95, TITLES, 5000)
    assert outcome_headline(v, "true_nps") == (
        "No clear difference in true NPS after 3 years: Contoso plan +40 vs +33 at baseline "
        "(adjusted 95% CI -2.1 to +16.4)"
    )
    assert outcome_headline(v, "annual_retention") == (
        "Contoso plan ends 3 years with higher annual retention than Siloed scorecards: 89.2% vs 82.7% "
        "(+6.5 points, adjusted 95% CI +2.1 to +10.9)"
    )
    [answer] = answers(summary, "base", 156, 0.95, TITLES)
    assert answer.clauses[1] == "make no clear difference to true NPS (+7.2 points, adjusted 95% CI -2.1 to +16.4)"
    # "3 of 5 department KPIs rose while true NPS fell 0.0 points"
    assert kpi_headline("Siloed scorecards", 3, 0, 5, (-0.02, -0.9, 0.85), 156, 0.95) == (
        "Under Siloed scorecards, 3 of 5 department KPIs rose over 3 years; true NPS showed no clear change "
        "(0.0 points, 95% CI -0.9 to +0.8)"
    )
    # "0 of 5 department KPIs rose while true NPS fell 2.3 points"
    assert kpi_headline("Siloed scorecards", 0, 0, 5, (-2.3, -3.1, -1.5), 156, 0.95) == (
        "Under Siloed scorecards, no department KPI changed clearly over 3 years; true NPS fell 2.3 points "
        "(95% CI -3.1 to -1.5)"
    )
    assert kpi_headline("Siloed scorecards", 3, 1, 5, (-2.3, -3.1, -1.5), 156, 0.95).startswith(
        "Under Siloed scorecards, 3 of 5 department KPIs rose over 3 years while true NPS fell 2.3 points"
    )
    # "root causes fixed: 0.0", "wins back 1,760 detractors per run"
    assert fixes_phrase(0.0) == "no root causes fixed" and fixes_phrase(0.04) == "fewer than 1 root cause fixed"
    assert funnel_headline({"base": (0.0, 900.0), "alt0": (1760.0, 5000.0)}, TITLES, per_book(156, 5000)) == (
        "Contoso plan wins back 1,760 detractors over 3 years, per 5,000 customers at set-up "
        "(35% of those who answered the survey)"
    )


def test_numbers_and_counts_read_as_a_person_says_them() -> None:
    assert [number(v) for v in (-0.04, 0.04, -0.05001, 1234.56)] == ["0.0", "0.0", "-0.1", "1,234.6"]
    assert number(-0.0, sign=True) == "0.0" and number(2.0, sign=True) == "+2.0"
    assert math.isnan(float("nan")) and number(float("nan")) == "—"
    assert count_phrase(0, 5, "department KPIs") == "none of the 5 department KPIs"
    assert count_phrase(2, 2, "department KPIs") == "both department KPIs"


def test_several_alternatives_name_the_clear_ones_and_count_the_rest() -> None:
    rows = [("base", 0.0, 0.0, 0.0), ("alt0", 0.067, 0.009, 0.126), ("alt1", 0.005, -0.076, 0.087)]
    summary = pd.DataFrame(
        [
            {
                "scenario": s,
                "annual_retention_mean": 0.851 + d,
                "annual_retention_diff": d,
                "annual_retention_diff_adj_ci_low": lo,
                "annual_retention_diff_adj_ci_high": hi,
            }
            for s, d, lo, hi in rows
        ]
    )
    v = Verdicts.from_summary(summary, "base", 156, 0.95, {**TITLES, "alt1": "Shared stage metrics"})
    assert outcome_headline(v, "annual_retention") == (
        "Contoso plan ends with higher annual retention than Siloed scorecards (+6.7 points, adjusted 95% CI +0.9 "
        "to +12.6) after 3 years; 1 of 2 alternatives shows no clear difference"
    )
    unclear = summary.assign(annual_retention_diff_adj_ci_low=lambda f: f["annual_retention_diff"] - 0.2)
    v = Verdicts.from_summary(unclear, "base", 156, 0.95, {**TITLES, "alt1": "Shared stage metrics"})
    assert outcome_headline(v, "annual_retention") == (
        "No clear difference in annual retention after 3 years: Contoso plan 91.8%, Shared stage metrics 85.6% vs "
        "85.1% at baseline; no adjusted 95% CI against Siloed scorecards clears zero"
    )
