"""Every generated word of a comparison: headlines, captions and answer sentences, from one set of verdicts.

The report, its PDF, the slides, the workbook and the dashboard say what this module writes, so they
cannot disagree with each other or with the statistics. The rules:

- A direction (higher, lower, more, fewer, raise, rose, fell) is stated only when the interval the
  verdict rests on (adjusted for the number of comparisons when the summary table carries adjusted
  intervals) lies wholly on one side of zero; otherwise the words are "no clear difference".
- No superlative ("highest", "largest", "most") between alternatives: the comparison tests each
  alternative against the baseline, not the alternatives against each other.
- A number that rounds to zero is written ``0.0``, never ``-0.0`` or ``+0.0``; an effect declared
  but smaller than the last digit shown is "less than 0.1 points"; counts read as a person says
  them ("none of the 5", "all 5", "1 of 5"); totals are "over 3 years, per 5,000 customers at set-up",
  money carries the currency (``report.currency``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd

from sim.config import WEEKS_PER_YEAR

__all__ = [
    "OUTCOME_WORDS",
    "Answer",
    "Effect",
    "OutcomeWords",
    "Verdicts",
    "answers",
    "ci_name",
    "count_phrase",
    "fixes_phrase",
    "funnel_headline",
    "gap_headline",
    "horizon",
    "interval_text",
    "kpi_headline",
    "money",
    "number",
    "outcome_headline",
    "per_book",
    "retention_horizon",
    "shown_digits",
    "verdict_columns",
]


# ---------------------------------------------------------------------- numbers and counts
def number(value: float, digits: int = 1, sign: bool = False, thousands: bool = True) -> str:
    """A number as text; one that rounds to zero is ``0.0`` (no ``-0.0``, no ``+0.0``).

    >>> number(-0.04), number(2.345, sign=True), number(-0.04, sign=True), number(1234.5, 0)
    ('0.0', '+2.3', '0.0', '1,234')
    """
    if not math.isfinite(value):
        return "—"
    rounded = round(value, digits)
    if rounded == 0:
        return f"{0:.{digits}f}"
    spec = f"{'+' if sign else ''}{',' if thousands else ''}.{digits}f"
    return format(rounded, spec)


def magnitude(value: float, digits: int = 1) -> str:
    """The size of a declared effect: ``2.3``, or ``less than 0.1`` when it rounds to zero.

    >>> magnitude(-2.34), magnitude(0.03), magnitude(0.4, 0)
    ('2.3', 'less than 0.1', 'less than 1')
    """
    text = number(abs(value), digits)
    if float(text.replace(",", "")) == 0:
        return f"less than {10.0**-digits:.{digits}f}" if digits else "less than 1"
    return text


def count_phrase(n: int, total: int, noun: str) -> str:
    """A count of a total as a person says it (``noun`` is plural).

    >>> count_phrase(0, 5, "department KPIs"), count_phrase(5, 5, "department KPIs"), count_phrase(3, 5, "KPIs")
    ('none of the 5 department KPIs', 'all 5 department KPIs', '3 of 5 KPIs')
    >>> count_phrase(1, 1, "department KPIs"), count_phrase(0, 1, "department KPIs")
    ('the one department KPI', 'not the one department KPI')
    """
    if total == 1:
        singular = noun[:-1] if noun.endswith("s") else noun
        return f"the one {singular}" if n == 1 else f"not the one {singular}"
    if n == 0:
        return f"none of the {total} {noun}"
    if n == total:
        return f"both {noun}" if total == 2 else f"all {total} {noun}"
    return f"{n} of {total} {noun}"


def horizon(weeks: int) -> str:
    """``3 years``, ``1 year`` or ``16 weeks``.

    >>> horizon(156), horizon(52), horizon(16)
    ('3 years', '1 year', '16 weeks')
    """
    if weeks >= WEEKS_PER_YEAR and weeks % WEEKS_PER_YEAR == 0:
        years = weeks // WEEKS_PER_YEAR
        return f"{years} year{'s' if years != 1 else ''}"
    return f"{weeks} week{'s' if weeks != 1 else ''}"


def per_book(weeks: int, customers: int | None) -> str:
    """Totals in board language: ``over 3 years, per 5,000 customers at set-up``.

    >>> per_book(156, 5000), per_book(16, None)
    ('over 3 years, per 5,000 customers at set-up', 'over 16 weeks')
    """
    book = f", per {customers:,} customers at set-up" if customers else ""
    return f"over {horizon(weeks)}{book}"


def retention_horizon(weeks: int) -> str:
    """What 'annual retention' measures at this horizon, in words."""
    if weeks >= WEEKS_PER_YEAR:
        if weeks % WEEKS_PER_YEAR == 0:
            return f"annual retention in year {weeks // WEEKS_PER_YEAR}"
        return "annual retention in the final year"
    return f"annualised retention over {weeks} weeks"


def money(value: float, currency: str = "", digits: int = 0) -> str:
    """An amount with its currency: a symbol before it (``$1,234``), a code after it (``1,234 EUR``).

    >>> money(1234.4, "EUR"), money(74846157, "$"), money(12.5, "", 1)
    ('1,234 EUR', '$74,846,157', '12.5')
    """
    text = number(value, digits)
    if not currency:
        return text
    if currency.isalpha():
        return f"{text} {currency}"
    return f"{currency}{text}"


def ci_name(level: float, adjusted: bool) -> str:
    """``95% CI`` or ``adjusted 95% CI``."""
    return f"{'adjusted ' if adjusted else ''}{round(100 * level)}% CI"


def interval_text(low: float, high: float, digits: int = 1) -> str:
    """``-2.1 to +16.4`` (a bound that rounds to zero is ``0.0``)."""
    return f"{number(low, digits, sign=True)} to {number(high, digits, sign=True)}"


def verdict_columns(summary: pd.DataFrame, key: str) -> tuple[str, str]:
    """The columns of the interval a verdict on ``key`` rests on: adjusted if the table has them."""
    if f"{key}_diff_adj_ci_low" in summary:
        return f"{key}_diff_adj_ci_low", f"{key}_diff_adj_ci_high"
    return f"{key}_diff_ci_low", f"{key}_diff_ci_high"


# ---------------------------------------------------------------------- verdicts
@dataclass(frozen=True)
class OutcomeWords:
    """How one outcome is spoken of.

    Attributes:
        what: Its name in a sentence (``true NPS``).
        scale: Multiplier from the summary table's unit to the unit spoken (100 for a share in points).
        unit: The unit of a difference (``points``, ``customers``).
        up: The word for a clear increase (``higher``, ``more``).
        down: The word for a clear decrease (``lower``, ``fewer``).
        level_digits: Digits of a level (``+40``, ``83.6%``).
        level_suffix: After a level (``%``).
        signed_level: Whether a level carries its sign (NPS does).
        money: Whether it is an amount of money (the currency is shown).
    """

    what: str
    scale: float
    unit: str
    up: str
    down: str
    level_digits: int
    level_suffix: str = ""
    signed_level: bool = False
    money: bool = False

    def level(self, value: float, currency: str = "") -> str:
        """A level of this outcome in words (``+40``, ``83.6%``, ``7,910``, ``1,234 EUR``)."""
        if self.money:
            return money(value, currency)
        return number(self.scale * value, self.level_digits, sign=self.signed_level) + self.level_suffix

    def digits(self) -> int:
        """Digits of a difference of this outcome (whole customers and money units, tenths otherwise)."""
        return 0 if self.money or self.unit == "customers" else 1

    def difference(self, value: float, currency: str = "", digits: int | None = None) -> str:
        """A signed difference with its unit (``+7.2 points``, ``+312 customers``, ``+1,234 EUR``)."""
        digits = self.digits() if digits is None else digits
        text = number(self.scale * value, digits, sign=True)
        if self.money:
            return (
                text
                if not currency
                else ("" if text.startswith(("-", "0")) else "+") + money(self.scale * value, currency, digits)
            )
        return f"{text} {self.unit}".rstrip()


def shown_digits(low: float, high: float, digits: int) -> int:
    """Enough digits that an interval wholly on one side of zero does not print a bound of 0.

    >>> shown_digits(0.003, 0.2, 1), shown_digits(-2.1, 16.4, 1), shown_digits(0.4, 3.0, 0)
    (3, 1, 1)
    """
    if not (math.isfinite(low) and math.isfinite(high)) or low <= 0 <= high:
        return digits
    near = min(abs(low), abs(high))
    while digits < 6 and round(near, digits) == 0:
        digits += 1
    return digits


OUTCOME_WORDS: dict[str, OutcomeWords] = {
    "true_nps": OutcomeWords("true NPS", 1.0, "points", "higher", "lower", 0, signed_level=True),
    "measured_nps": OutcomeWords("measured NPS", 1.0, "points", "higher", "lower", 0, signed_level=True),
    "annual_retention": OutcomeWords("annual retention", 100.0, "points", "higher", "lower", 1, "%"),
    "active_customers": OutcomeWords("active customers", 1.0, "customers", "more", "fewer", 0),
    "cumulative_revenue": OutcomeWords("cumulative revenue", 1.0, "", "higher", "lower", 0, money=True),
    "customer_lifetime_value": OutcomeWords("customer lifetime value", 1.0, "", "higher", "lower", 0, money=True),
}


@dataclass(frozen=True)
class Effect:
    """One alternative's paired difference from the baseline on one outcome, and the verdict it supports.

    Attributes:
        scenario: The alternative.
        title: Its display title.
        outcome: The outcome's key.
        diff: Mean paired difference (alternative - baseline), in the summary table's unit.
        low: Low end of the interval the verdict rests on.
        high: High end.
        mean: The alternative's mean level.
        base_mean: The baseline's mean level.
    """

    scenario: str
    title: str
    outcome: str
    diff: float
    low: float
    high: float
    mean: float = math.nan
    base_mean: float = math.nan

    @property
    def judged(self) -> bool:
        """Whether the interval exists (two or more paired runs)."""
        return all(math.isfinite(v) for v in (self.diff, self.low, self.high))

    @property
    def verdict(self) -> int:
        """+1 (clearly higher), -1 (clearly lower) or 0 (no clear difference, or no interval)."""
        if not self.judged:
            return 0
        if self.low > 0:
            return 1
        if self.high < 0:
            return -1
        return 0


@dataclass(frozen=True)
class Verdicts:
    """Every alternative's effects against the baseline, and what the words about them need.

    Attributes:
        effects: Per alternative (in display order), per outcome key.
        baseline: The baseline scenario.
        baseline_title: Its display title.
        weeks: Horizon.
        level: Confidence level.
        adjusted: Whether the verdicts rest on intervals adjusted for the number of comparisons.
        customers: Customers at the start of every run (for "per 5,000 starting customers").
        currency: The currency of money (``report.currency``; empty: none named).
    """

    effects: dict[str, dict[str, Effect]]
    baseline: str
    baseline_title: str
    weeks: int
    level: float
    adjusted: bool
    customers: int | None = None
    currency: str = ""

    @classmethod
    def from_summary(
        cls,
        summary: pd.DataFrame,
        baseline: str,
        weeks: int,
        level: float,
        titles: Mapping[str, str] | None = None,
        customers: int | None = None,
        currency: str = "",
        order: Sequence[str] | None = None,
    ) -> Verdicts:
        """The verdicts a summary table supports (adjusted intervals when it carries them)."""
        titles = dict(titles or {})
        table = summary.set_index("scenario")
        scenarios = [s for s in (order or list(table.index)) if s != baseline and s in table.index]
        effects: dict[str, dict[str, Effect]] = {}
        for s in scenarios:
            row = table.loc[s]
            per: dict[str, Effect] = {}
            for key in OUTCOME_WORDS:
                if f"{key}_diff" not in table:
                    continue
                low_col, high_col = verdict_columns(summary, key)
                per[key] = Effect(
                    s,
                    titles.get(s, s),
                    key,
                    float(row[f"{key}_diff"]),
                    float(row[low_col]),
                    float(row[high_col]),
                    float(row.get(f"{key}_mean", math.nan)),
                    float(table.loc[baseline].get(f"{key}_mean", math.nan)) if baseline in table.index else math.nan,
                )
            effects[s] = per
        return cls(
            effects,
            baseline,
            titles.get(baseline, baseline),
            int(weeks),
            float(level),
            "annual_retention_diff_adj_ci_low" in summary,
            customers,
            currency,
        )

    @property
    def label(self) -> str:
        """``adjusted 95% CI`` or ``95% CI``."""
        return ci_name(self.level, self.adjusted)

    def of(self, outcome: str) -> list[Effect]:
        """Every alternative's effect on one outcome, in display order."""
        return [per[outcome] for per in self.effects.values() if outcome in per]


# ---------------------------------------------------------------------- answer sentences
@dataclass(frozen=True)
class Answer:
    """One alternative's effect against the baseline, in words.

    Attributes:
        scenario: The alternative's name.
        title: Its display title (shown in bold).
        clauses: What it would do to each outcome, with the number and interval.
        baseline_title: The baseline's display title.
    """

    scenario: str
    title: str
    clauses: tuple[str, ...]
    baseline_title: str

    @property
    def predicate(self) -> str:
        """The sentence after the scenario's title."""
        return f" would {', and '.join(self.clauses)}, compared with {self.baseline_title}."

    @property
    def text(self) -> str:
        """The whole sentence."""
        return self.title + self.predicate


def _clause(effect: Effect, what: str, scale: float, label: str) -> str:
    d, lo, hi = (scale * v for v in (effect.diff, effect.low, effect.high))
    if not effect.judged:
        if not math.isfinite(d):
            return f"leave {what} without an estimate (no paired runs)"
        return f"make no clear difference to {what} ({number(d, sign=True)} points; too few paired runs to judge)"
    if effect.verdict == 0:
        return f"make no clear difference to {what} ({number(d, sign=True)} points, {label} {interval_text(lo, hi)})"
    verb = "raise" if effect.verdict > 0 else "lower"
    digits = shown_digits(lo, hi, 1)
    return f"{verb} {what} by {magnitude(d, digits)} points, {label} {interval_text(lo, hi, digits)}"


def answers(
    summary: pd.DataFrame, baseline: str, weeks: int, level: float, titles: Mapping[str, str] | None = None
) -> list[Answer]:
    """One answer per alternative: its effect on retention and true NPS against the baseline.

    The verdict (raise, lower, no clear difference) rests on the adjusted interval when the summary
    table has one (``<outcome>_diff_adj_ci_low``), otherwise on the unadjusted one.

    Args:
        summary: The summary table.
        baseline: The baseline scenario.
        weeks: Horizon in weeks.
        level: Confidence level.
        titles: Display titles (default: the scenario names).

    Returns:
        Answers, the alternative with the largest retention gain (point estimate) first.
    """
    titles = dict(titles or {})
    verdicts = Verdicts.from_summary(summary, baseline, weeks, level, titles)
    ranked = sorted(verdicts.effects.values(), key=lambda per: -per["annual_retention"].diff)
    return [
        Answer(
            per["annual_retention"].scenario,
            per["annual_retention"].title,
            (
                _clause(per["annual_retention"], retention_horizon(weeks), 100.0, verdicts.label),
                _clause(per["true_nps"], "true NPS", 1.0, verdicts.label),
            ),
            verdicts.baseline_title,
        )
        for per in ranked
    ]


# ---------------------------------------------------------------------- figure headlines
def _names(effects: Sequence[Effect]) -> str:
    titles = [e.title for e in effects]
    if len(titles) <= 1:
        return "".join(titles)
    return ", ".join(titles[:-1]) + " and " + titles[-1]


def outcome_headline(verdicts: Verdicts, outcome: str) -> str:
    """The headline on one outcome at the end of the horizon: who is clearly higher or lower, or no clear difference.

    Args:
        verdicts: The comparison's verdicts.
        outcome: An outcome key of :data:`OUTCOME_WORDS`.

    Returns:
        One sentence, without a full stop.
    """
    words = OUTCOME_WORDS[outcome]
    effects = verdicts.of(outcome)
    when = f"after {horizon(verdicts.weeks)}"
    base = verdicts.baseline_title
    cur = verdicts.currency
    if not effects:
        return f"{base} alone: no alternative to compare {words.what} with"
    up = [e for e in effects if e.verdict > 0]
    down = [e for e in effects if e.verdict < 0]
    if len(effects) == 1:
        e = effects[0]
        levels = f"{words.level(e.mean, cur)} vs {words.level(e.base_mean, cur)}"
        if not e.judged:
            return f"{e.title} vs {base} {when}: {levels} {words.what} (too few paired runs to judge)"
        ci = f"{verdicts.label} {_diff_interval(words, e, cur)}"
        if e.verdict == 0:
            return f"No clear difference in {words.what} {when}: {e.title} {levels} at baseline ({ci})"
        direction = words.up if e.verdict > 0 else words.down
        digits = shown_digits(words.scale * e.low, words.scale * e.high, words.digits())
        ci = f"{verdicts.label} {interval_text(words.scale * e.low, words.scale * e.high, digits)}"
        return (
            f"{e.title} ends {horizon(verdicts.weeks)} with {direction} {words.what} than {base}: {levels} "
            f"({words.difference(e.diff, cur, digits)}, {ci})"
        )
    n = len(effects)
    if not up and not down:
        levels = ""
        if n <= 3:
            shown = ", ".join(f"{e.title} {words.level(e.mean, cur)}" for e in effects)
            levels = f" {shown} vs {words.level(effects[0].base_mean, cur)} at baseline;"
        return f"No clear difference in {words.what} {when}:{levels} no {verdicts.label} against {base} clears zero"
    parts = []
    for group, direction in ((up, words.up), (down, words.down)):
        if not group:
            continue
        if len(group) == 1:
            e = group[0]
            digits = shown_digits(words.scale * e.low, words.scale * e.high, words.digits())
            size = (
                f" ({words.difference(e.diff, cur, digits)}, {verdicts.label} "
                f"{interval_text(words.scale * e.low, words.scale * e.high, digits)})"
            )
            parts.append(f"{e.title} ends with {direction} {words.what} than {base}{size}")
            continue
        who = _names(group) if len(group) == 2 else f"{len(group)} of {n} alternatives"
        parts.append(f"{who} end with {direction} {words.what} than {base}")
    unclear = n - len(up) - len(down)
    verb = "shows" if unclear == 1 else "show"
    tail = f"; {count_phrase(unclear, n, 'alternatives')} {verb} no clear difference" if unclear else ""
    return f"{', and '.join(parts)} {when}{tail}"


def _diff_interval(words: OutcomeWords, effect: Effect, currency: str) -> str:
    digits = words.digits()
    return interval_text(words.scale * effect.low, words.scale * effect.high, digits)


def kpi_headline(
    base_title: str,
    rose: int,
    fell: int,
    departments: int,
    nps_change: tuple[float, float, float],
    weeks: int,
    level: float,
) -> str:
    """The silo 'false positive' headline: department KPIs against true NPS under the baseline.

    Args:
        base_title: The baseline's display title.
        rose: Departments whose KPI clearly rose (interval over replications above zero).
        fell: Departments whose KPI clearly fell.
        departments: Departments with a KPI.
        nps_change: True NPS change first to last quarter: mean, interval low and high (over replications).
        weeks: Horizon.
        level: Confidence level of the intervals.

    Returns:
        One sentence, without a full stop.
    """
    mean, low, high = nps_change
    when = f"over {horizon(weeks)}"
    if rose:
        head = f"Under {base_title}, {count_phrase(rose, departments, 'department KPIs')} rose {when}"
    elif fell:
        head = f"Under {base_title}, {count_phrase(fell, departments, 'department KPIs')} fell {when}"
    else:
        head = f"Under {base_title}, no department KPI changed clearly {when}"
    ci = f"{round(100 * level)}% CI"
    if not all(math.isfinite(v) for v in (mean, low, high)):
        return f"{head}; true NPS changed {number(mean, sign=True)} points (too few runs to judge)"
    digits = shown_digits(low, high, 1)
    if low > 0:
        nps = f"true NPS rose {magnitude(mean, digits)} points ({ci} {interval_text(low, high, digits)})"
    elif high < 0:
        nps = f"true NPS fell {magnitude(mean, digits)} points ({ci} {interval_text(low, high, digits)})"
    else:
        nps = f"true NPS showed no clear change ({number(mean, sign=True)} points, {ci} {interval_text(low, high)})"
    joint = " while " if rose and high < 0 else "; "
    return head + joint + nps


def gap_headline(gaps: Mapping[str, tuple[float, float, float]], titles: Mapping[str, str], level: float) -> str:
    """How far measured NPS is from true NPS over the last year, scenario by scenario.

    Args:
        gaps: Per scenario, measured minus true NPS over the last year: mean, interval low and high.
        titles: Display title per scenario.
        level: Confidence level of the intervals.

    Returns:
        One sentence, without a full stop.
    """
    ci = f"{round(100 * level)}% CI"
    over = {s: g for s, g in gaps.items() if math.isfinite(g[1]) and g[1] > 0}
    under = {s: g for s, g in gaps.items() if math.isfinite(g[2]) and g[2] < 0}
    n = len(gaps)
    if not over and not under:
        span = max((abs(g[0]) for g in gaps.values() if math.isfinite(g[0])), default=0.0)
        return f"No clear gap between measured and true NPS in the last year (within {magnitude(span)} points)"
    parts = []
    for group, verb in ((over, "overstates"), (under, "understates")):
        if not group:
            continue
        s, (mean, low, high) = max(group.items(), key=lambda kv: abs(kv[1][0]))
        digits = shown_digits(low, high, 1)
        size = f"{magnitude(mean, digits)} points ({ci} {interval_text(low, high, digits)})"
        if len(group) == 1:
            parts.append(f"measured NPS {verb} true NPS under {titles.get(s, s)} by {size}")
        else:
            where = count_phrase(len(group), n, "scenarios")
            parts.append(f"measured NPS {verb} true NPS under {where}, by up to {size} ({titles.get(s, s)})")
    text = "; ".join(parts)
    return text[0].upper() + text[1:] + " in the last year"


def fixes_phrase(fixes: float) -> str:
    """Root causes fixed, as a person says it (a mean over replications).

    >>> fixes_phrase(0.0), fixes_phrase(0.4), fixes_phrase(1.0), fixes_phrase(12.3)
    ('no root causes fixed', 'fewer than 1 root cause fixed', '1 root cause fixed', '12 root causes fixed')
    """
    if not math.isfinite(fixes) or fixes <= 0:
        return "no root causes fixed"
    if fixes < 0.5:
        return "fewer than 1 root cause fixed"
    n = round(fixes)
    return f"{n:,} root cause{'s' if n != 1 else ''} fixed"


def funnel_headline(recoveries: Mapping[str, tuple[float, float]], titles: Mapping[str, str], book: str) -> str:
    """The closed loop's headline: detractors won back.

    Args:
        recoveries: Per scenario, mean detractors recovered and mean detractors who answered the survey.
        titles: Display title per scenario.
        book: The totals' scope (:func:`per_book`).

    Returns:
        One sentence, without a full stop.
    """
    winning = {s: r for s, r in recoveries.items() if round(r[0]) >= 1}
    if not winning:
        return "No scenario wins back detractors: the closed loop is absent everywhere"
    if len(winning) == 1:
        s, (won, answered) = next(iter(winning.items()))
        share = won / answered if answered > 0 else 0.0
        return (
            f"{titles.get(s, s)} wins back {won:,.0f} detractor{'s' if round(won) != 1 else ''} {book} "
            f"({100 * share:.0f}% of those who answered the survey)"
        )
    counts = ", ".join(f"{titles.get(s, s)} {won:,.0f}" for s, (won, _) in winning.items())
    return f"Detractors won back {book}: {counts}"
