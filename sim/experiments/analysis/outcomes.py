"""The outcome registry: every figure a run is judged by, declared once.

An :class:`Outcome` has a name, a label and a unit for tables and figures, the place it takes in
a run's ``summary.json`` (``final.true_nps``), and how it is computed from the run's weekly
``metrics.parquet`` table. Everything that reports or judges runs reads this registry: the run
summary (:func:`run_summary`), the comparison's summary table and report
(:mod:`sim.experiments.analysis.runsets`), replications (:mod:`sim.experiments.replications`), the
calibration targets, the policy objectives, the dashboard's counters and the stylized facts'
checks (``silosim-validate``: every outcome with ``fact=True`` is measured on each of its runs, see
:mod:`sim.experiments.facts.measures`). To add an outcome, call :func:`register` with a new
:class:`Outcome` (``comparison=True`` puts it in every comparison's ``summary.csv``, ``fact=True``
lets a fact's check read it).

Most outcomes are computed from the weekly table alone. A few of the facts' measures need what the
table does not hold (each customer's score at the end, the spend of each NPS category week by week,
the departments' levers): their ``compute`` is None and the facts' run measures them while it runs.

Windows: "final" is the last recorded week, "last year" the last 52 weeks (or the whole run if it
is shorter), "total" and "mean" the whole recorded run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.config.vocabularies import WEEKS_PER_YEAR
from sim.engine.metrics import annual_retention, customer_lifetime_value

if TYPE_CHECKING:
    import pandas as pd

    from sim.engine.model import SiloModel

__all__ = [
    "OUTCOMES",
    "Outcome",
    "RunContext",
    "category_annual_churn",
    "comparison_outcomes",
    "compute",
    "fact_measures",
    "register",
    "run_summary",
]


@dataclass(frozen=True)
class RunContext:
    """What an outcome may need beyond the weekly table: the run's size and the valuation settings."""

    customers: int = 0
    """Initial customers of the run."""
    clv_discount_rate: float = 0.10
    """Annual discount rate of the customer lifetime value (Gupta & Lehmann 2003)."""
    discount_rate: float = 0.08
    """Annual discount rate of the book's net value (policy search)."""
    programme_cost_per_week: float = 0.0
    """Programme cost, currency per week per 1,000 initial customers (policy search)."""


@dataclass(frozen=True)
class Outcome:
    """One figure a run is judged by.

    Attributes:
        name: Registry key (``true_nps``).
        label: Plain words for tables and figures (``True NPS, final week``).
        unit: Its unit (``NPS points``, ``share``, ``customers``, ``currency``).
        compute: The figure from the run's weekly table and its context; None: measured while the run
            runs (a fact's measure the weekly table cannot give, :mod:`sim.experiments.facts.measures`).
        summary_key: Where it sits in ``summary.json`` (``final.true_nps``); None: not in the summary.
        kind: ``float``, ``int`` or ``bool``: how the summary stores it.
        comparison: Shown in every comparison's summary table and report.
        fmt: How a value is printed.
        bounds: The values it can take (lo, hi), for checking a target.
        fact: A stylized fact's check may read it: ``silosim-validate`` measures it on every run.
    """

    name: str
    label: str
    unit: str
    compute: Callable[[pd.DataFrame, RunContext], float] | None
    summary_key: str | None = None
    kind: type = float
    comparison: bool = False
    fmt: str = "{:.3g}"
    bounds: tuple[float, float] = (-math.inf, math.inf)
    fact: bool = False

    def format(self, value: float) -> str:
        """``value`` printed the outcome's way."""
        return self.fmt.format(value) if value is not None and math.isfinite(value) else "n/a"


OUTCOMES: dict[str, Outcome] = {}


def register(outcome: Outcome) -> Outcome:
    """Add an outcome to the registry (or replace the one of that name).

    Returns:
        The outcome.
    """
    OUTCOMES[outcome.name] = outcome
    return outcome


def comparison_outcomes() -> list[Outcome]:
    """The outcomes every comparison's summary table shows, in registration order."""
    return [o for o in OUTCOMES.values() if o.comparison]


def fact_measures() -> list[Outcome]:
    """The outcomes a stylized fact's check may read (``silosim-validate`` measures them), in registration order."""
    return [o for o in OUTCOMES.values() if o.fact]


def compute(names: Iterable[str], metrics: pd.DataFrame, context: RunContext | None = None) -> dict[str, float]:
    """The named outcomes of one run.

    Args:
        names: Registry keys.
        metrics: The run's metrics.parquet table.
        context: Size and valuation settings (defaults if None).

    Returns:
        Name -> value.

    Raises:
        ValueError: If one of them is measured while a run runs (its ``compute`` is None).
    """
    context = context or RunContext()
    values = {}
    for name in names:
        outcome = OUTCOMES[name]
        if outcome.compute is None:
            raise ValueError(f"outcome {name!r} is measured while a run runs, not from its weekly table")
        values[name] = float(outcome.compute(metrics, context))
    return values


# --------------------------------------------------------------------------- computations
def _final(column: str) -> Callable[[pd.DataFrame, RunContext], float]:
    return lambda m, _: float(m[column].iloc[-1])


def _mean(column: str, last_year: bool = False) -> Callable[[pd.DataFrame, RunContext], float]:
    return lambda m, _: float((m.tail(WEEKS_PER_YEAR) if last_year else m)[column].mean())


def _total(column: str) -> Callable[[pd.DataFrame, RunContext], float]:
    return lambda m, _: float(m[column].sum())


def _annual_retention(m: pd.DataFrame, _: RunContext) -> float:
    return annual_retention(m["active_before"], m["churned"], WEEKS_PER_YEAR)


def _customer_lifetime_value(m: pd.DataFrame, context: RunContext) -> float:
    """Revenue per customer-year in the last year x r / (1 + d - r) (Gupta & Lehmann 2003)."""
    year = m.tail(WEEKS_PER_YEAR)
    customer_weeks = float(year["active_customers"].sum())
    annual_value = WEEKS_PER_YEAR * float(year["revenue"].sum()) / customer_weeks if customer_weeks else math.nan
    return customer_lifetime_value(annual_value, _annual_retention(m, context), context.clv_discount_rate)


def _per_customer_year(
    column: str, window: Callable[[pd.DataFrame], pd.DataFrame] | None = None
) -> Callable[[pd.DataFrame, RunContext], float]:
    """A weekly count summed over a window (default: the last year), per customer-year on the book.

    Customer-years are the active customers summed over the window's weeks, divided by the weeks in a year.
    """
    window = window or _last_year

    def rate(m: pd.DataFrame, _: RunContext) -> float:
        return _count_per_customer_year(window(m), column)

    return rate


def _first_year(m: pd.DataFrame) -> pd.DataFrame:
    return m.iloc[:WEEKS_PER_YEAR]


def _last_year(m: pd.DataFrame) -> pd.DataFrame:
    return m.iloc[-WEEKS_PER_YEAR:]


def _after_first_year(m: pd.DataFrame) -> pd.DataFrame:
    return m.iloc[WEEKS_PER_YEAR:]


def _whole(m: pd.DataFrame) -> pd.DataFrame:
    return m


def _window_mean(
    column: str, window: Callable[[pd.DataFrame], pd.DataFrame]
) -> Callable[[pd.DataFrame, RunContext], float]:
    return lambda m, _: float(window(m)[column].mean())


def _count_per_customer_year(frame: pd.DataFrame, column: str) -> float:
    customer_years = float(frame["active_customers"].sum()) / WEEKS_PER_YEAR
    return float(frame[column].sum()) / customer_years if customer_years else math.nan


def _initial_book_retention(m: pd.DataFrame, _: RunContext) -> float:
    """Share of the customers on the book at the start of week 0 still customers at the end."""
    start = float(m["active_before"].iloc[0])
    return float(m["initial_book_active"].iloc[-1]) / start if start else math.nan


def _book_growth(m: pd.DataFrame, _: RunContext) -> float:
    """Annual growth of the book over the last year: active customers at its end over those at its start, minus 1.

    A run shorter than a year has its growth annualised. 0 is a stationary book: acquisition replaces churn.
    """
    year = m.tail(WEEKS_PER_YEAR)
    start, end = float(year["active_before"].iloc[0]), float(year["active_customers"].iloc[-1])
    if start <= 0:
        return math.nan
    return (end / start) ** (WEEKS_PER_YEAR / len(year)) - 1.0


def _net_value(m: pd.DataFrame, context: RunContext) -> float:
    """Discounted revenue minus discounted programme cost over the run, per initial customer."""
    customers = context.customers or float(m["active_before"].iloc[0])
    discount = (1.0 + context.discount_rate) ** (-m["step"].to_numpy() / WEEKS_PER_YEAR)
    revenue = float((m["revenue"].to_numpy() * discount).sum()) / customers
    cost = float((context.programme_cost_per_week * customers / 1000.0 * discount).sum()) / customers
    return revenue - cost


_PCT, _NPS, _SHARE = "{:.1%}", "{:+.1f}", "{:.3f}"
for _outcome in (
    # the comparison's outcomes, in the order its table shows them
    Outcome("true_nps", "True NPS, final week", "NPS points", _final("true_nps"), "final.true_nps",
            comparison=True, fmt=_NPS, bounds=(-100, 100)),
    Outcome("measured_nps", "Measured NPS, final week", "NPS points", _final("measured_nps"),
            "final.measured_nps", comparison=True, fmt=_NPS, bounds=(-100, 100)),
    Outcome("annual_retention", "Annual retention, last year", "share", _annual_retention,
            "final.annual_retention", comparison=True, fmt=_SHARE, bounds=(0, 1), fact=True),
    Outcome("active_customers", "Active customers, final week", "customers", _final("active_customers"),
            "final.active_customers", kind=int, comparison=True, fmt="{:,.0f}", bounds=(0, math.inf)),
    Outcome("cumulative_revenue", "Cumulative revenue", "currency units", _total("revenue"), "total.revenue",
            comparison=True, fmt="{:,.0f}", bounds=(0, math.inf)),
    Outcome("customer_lifetime_value", "Customer lifetime value", "currency units per customer",
            _customer_lifetime_value, comparison=True, fmt="{:,.0f}", bounds=(0, math.inf)),
    # the rest of the run summary
    Outcome("nps_gap", "Measured minus true NPS, final week", "NPS points",
            lambda m, _: float(m["measured_nps"].iloc[-1] - m["true_nps"].iloc[-1]), "final.nps_gap", fmt=_NPS),
    Outcome("mean_satisfaction", "Mean satisfaction, final week", "0-10 scale", _final("mean_satisfaction"),
            "final.mean_satisfaction", fmt="{:.2f}", bounds=(0, 10)),
    Outcome("weekly_revenue", "Revenue, final week", "currency units per week", _final("revenue"),
            "final.weekly_revenue", fmt="{:,.0f}"),
    Outcome("program_active", "Programme running, final week", "yes/no", _final("program_active"),
            "final.program_active", kind=bool, fmt="{:.0f}"),
    Outcome("initial_book_retention", "Customers on the book at week 0 still customers at the end", "share",
            _initial_book_retention, "final.initial_book_retention", fmt=_SHARE, bounds=(0, 1)),
    Outcome("mean_true_nps", "True NPS, mean over the run", "NPS points", _mean("true_nps"), "mean.true_nps",
            fmt=_NPS, bounds=(-100, 100)),
    Outcome("mean_measured_nps", "Measured NPS, mean over the run", "NPS points", _mean("measured_nps"),
            "mean.measured_nps", fmt=_NPS, bounds=(-100, 100)),
    Outcome("first_contact_resolution", "First-contact resolution, mean over the run", "share",
            _mean("first_contact_resolution"), "mean.first_contact_resolution", fmt=_SHARE, bounds=(0, 1)),
    Outcome("mean_touchpoint_score", "Touchpoint score as departments record it, mean", "0-10 scale",
            _mean("mean_touchpoint_score"), "mean.mean_touchpoint_score", fmt="{:.2f}", bounds=(0, 10)),
    Outcome("mean_weekly_revenue", "Revenue per week, mean over the run", "currency units per week",
            _mean("revenue"), "mean.weekly_revenue", fmt="{:,.0f}"),
    Outcome("conflicting_contacts_per_week", "Conflicting contacts per week", "contacts per week",
            _mean("conflicting_contacts"), "mean.conflicting_contacts_per_week", fmt="{:.1f}"),
    Outcome("handoff_failures_per_week", "Failed hand-offs per week", "hand-offs per week",
            _mean("handoff_failures"), "mean.handoff_failures_per_week", fmt="{:.1f}"),
    Outcome("acquired", "Customers acquired", "customers", _total("acquired"), "total.acquired", kind=int),
    Outcome("churned", "Customers lost", "customers", _total("churned"), "total.churned", kind=int),
    Outcome("referrals", "Referrals made", "referrals", _total("referrals"), "total.referrals", kind=int),
    Outcome("followups", "Detractor follow-ups", "follow-ups", _total("followups"), "total.followups", kind=int),
    Outcome("recoveries", "Detractors recovered", "customers", _total("recoveries"), "total.recoveries", kind=int),
    Outcome("rootcause_fixes", "Root causes fixed", "fixes", _total("rootcause_fixes"), "total.rootcause_fixes",
            kind=int),
    # what a client measures (calibration targets): the last year, as the client's own reports see it
    Outcome("measured_nps_last_year", "Measured NPS (survey), mean of the weekly rolling value over the last year",
            "NPS points", _mean("measured_nps", last_year=True), "last_year.measured_nps", fmt=_NPS,
            bounds=(-100, 100)),
    Outcome("annual_churn", "Annual churn, last year: 1 - annual retention", "share",
            lambda m, c: 1.0 - _annual_retention(m, c), "last_year.annual_churn", fmt=_SHARE, bounds=(0, 1)),
    Outcome("first_contact_resolution_last_year", "First-contact resolution, mean over the last year", "share",
            _mean("first_contact_resolution", last_year=True), "last_year.first_contact_resolution", fmt=_SHARE,
            bounds=(0, 1), fact=True),
    # a calibration holds the book (a stationary status quo, or the client's own growth) with this one
    Outcome("book_growth", "Annual growth of the book, last year: active customers at its end over its start, "
            "minus 1", "share a year", _book_growth, fmt="{:+.3f}", bounds=(-1, math.inf)),
    # a client's records measure these too (sim/experiments/calibration/record_targets.py): counts per customer-year
    Outcome("survey_responses_per_customer_year", "Survey responses (both kinds) per customer-year, last year",
            "responses per customer-year", _per_customer_year("survey_responses"), fmt="{:.3f}", bounds=(0, math.inf)),
    Outcome("complaint_contacts_per_customer_year", "Contacts about a problem per customer-year, last year",
            "contacts per customer-year", _per_customer_year("problem_contacts"), fmt="{:.3f}", bounds=(0, math.inf)),
    # policy search
    Outcome("net_value", "Book value net of programme cost: discounted revenue minus discounted cost, per initial "
            "customer", "discounted currency per initial customer", _net_value, fmt="{:,.1f}"),
):  # fmt: skip
    register(_outcome)


# --------------------------------------------------------------------------- the stylized facts' measures
# Years: year 1 is the first 52 recorded weeks, year 3 (``_y3``) the last 52, years 2-3 (``_y23``) all after year 1.
CLASSES = ("quick", "slow", "unresolved", "silent")  # resolution classes of problem holders at renewal


def category_annual_churn(metrics: pd.DataFrame, share: str, churned: str) -> float:
    """Annual churn of one NPS category: its leavers over its exposure (active customers x category share)."""
    exposure = (metrics["active_before"] * metrics[share].shift(1).fillna(metrics[share])).sum()
    weekly = metrics[churned].sum() / exposure if exposure > 0 else float("nan")
    return float(1.0 - (1.0 - weekly) ** WEEKS_PER_YEAR)


def _renewal_rate(metrics: pd.DataFrame, name: str) -> float:
    decisions = metrics[f"renewals_{name}"].sum()
    return float(metrics[f"renewed_{name}"].sum() / decisions) if decisions > 0 else float("nan")


def _renewal_gap(better: str, worse: str) -> Callable[[pd.DataFrame, RunContext], float]:
    return lambda m, _: _renewal_rate(m, better) - _renewal_rate(m, worse)


def _class_share(name: str) -> Callable[[pd.DataFrame, RunContext], float]:
    """Renewal decisions of customers with a problem in the year, by the resolution class of the worst one."""

    def share(m: pd.DataFrame, _: RunContext) -> float:
        counts = {c: float(m[f"renewals_{c}"].sum()) for c in CLASSES}
        total = sum(counts.values())
        return counts[name] / total if total else math.nan

    return share


def _true_nps_trend(m: pd.DataFrame, _: RunContext) -> float:
    return float(np.polyfit(m["step"].to_numpy() / WEEKS_PER_YEAR, m["true_nps"].to_numpy(), 1)[0])


def _promoter_referral_share(m: pd.DataFrame, _: RunContext) -> float:
    referrals = m["referrals"].sum()
    return float(m["referrals_from_promoters"].sum() / referrals) if referrals else math.nan


def _churn_ratio_detractor_promoter(m: pd.DataFrame, _: RunContext) -> float:
    churn_p = category_annual_churn(m, "promoters_share", "churned_promoters")
    churn_d = category_annual_churn(m, "detractors_share", "churned_detractors")
    return churn_d / churn_p if churn_p > 0 else math.nan


def _suppressed_share_y3(m: pd.DataFrame, _: RunContext) -> float:
    """Of the cancellation conflicts that would have happened in the last 52 weeks, the share the view stopped."""
    year = _last_year(m)
    stopped = year["cancellation_conflicts_suppressed"].sum()
    total = stopped + year["cancellation_conflicts"].sum()
    return float(stopped / total) if total > 0 else math.nan


_SEEN = None  # measured while the run runs (sim.experiments.facts.measures), not from the weekly table
for _outcome in (
    # in the order silosim-validate's runs.csv lists them
    Outcome("true_nps_trend", "Trend of true NPS over the horizon", "points / year", _true_nps_trend, fact=True),
    Outcome("expectation_drift", "Change in customers' mean expectation over the horizon", "points (0-10)",
            lambda m, _: float(m["mean_expectation"].iloc[-1] - m["mean_expectation"].iloc[0]), fact=True),
    Outcome("true_nps_y1", "True NPS, year 1", "NPS points", _window_mean("true_nps", _first_year), fact=True),
    Outcome("true_nps_y3", "True NPS, last 52 weeks", "NPS points", _window_mean("true_nps", _last_year), fact=True),
    Outcome("true_nps_y3_minus_y1", "True NPS, last 52 weeks less year 1", "NPS points",
            lambda m, _: float(_last_year(m)["true_nps"].mean() - _first_year(m)["true_nps"].mean()), fact=True),
    Outcome("measured_nps_y3", "Measured NPS, last 52 weeks", "NPS points",
            _window_mean("measured_nps", _last_year), fact=True),
    Outcome("touchpoint_score_y3", "Mean touchpoint score, last 52 weeks", "points (0-10)",
            _window_mean("mean_touchpoint_score", _last_year), fact=True),
    Outcome("promoter_referral_share", "Share of referrals given by promoters", "share", _promoter_referral_share,
            fact=True),
    Outcome("renewal_quick_minus_slow", "Renewal rate: quick resolution less slow", "share",
            _renewal_gap("quick", "slow"), fact=True),
    Outcome("renewal_slow_minus_unresolved", "Renewal rate: slow resolution less unresolved", "share",
            _renewal_gap("slow", "unresolved"), fact=True),
    Outcome("churn_ratio_detractor_promoter", "Annual churn, detractors over promoters", "ratio",
            _churn_ratio_detractor_promoter, fact=True),
    Outcome("ltv_ratio_promoter_detractor", "Lifetime value, promoters over detractors", "ratio", _SEEN, fact=True),
    Outcome("open_problem_nps_gap", "True NPS with an open problem less without", "NPS points",
            lambda m, _: float((m["true_nps_open_problem"] - m["true_nps_no_open_problem"]).mean()), fact=True),
    Outcome("journey_over_touchpoint", "Churn prediction: journey satisfaction over touchpoint score", "ratio",
            _SEEN, fact=True),
    Outcome("silo_lever_pressure", "Silo lever pressure (silo levers less hand-off care), year 3", "0-1 setting",
            _SEEN, fact=True),
    Outcome("share_detractors", "Customers scoring 0-6 at the end", "share", _SEEN, fact=True),
    Outcome("share_passives", "Customers scoring 7-8 at the end", "share", _SEEN, fact=True),
    Outcome("share_promoters", "Customers scoring 9-10 at the end", "share", _SEEN, fact=True),
    Outcome("share_tens", "Customers scoring 10 at the end", "share", _SEEN, fact=True),
    Outcome("share_five_or_below", "Customers scoring 5 or below at the end", "share", _SEEN, fact=True),
    Outcome("renewal_silent_minus_unresolved", "Renewal rate: silent (never complained) less unresolved", "share",
            _renewal_gap("silent", "unresolved"), fact=True),
    Outcome("share_quick", "Problem holders at renewal: resolved quickly", "share", _class_share("quick"), fact=True),
    Outcome("share_slow", "Problem holders at renewal: resolved slowly", "share", _class_share("slow"), fact=True),
    Outcome("share_unresolved", "Problem holders at renewal: complained, unresolved", "share",
            _class_share("unresolved"), fact=True),
    Outcome("share_silent", "Problem holders at renewal: never complained (silent)", "share",
            _class_share("silent"), fact=True),
    Outcome("invitations_per_customer_year", "Survey invitations per customer-year", "per customer-year",
            _per_customer_year("survey_invitations", _whole), fact=True),
    Outcome("responses_per_customer_year", "Survey responses per customer-year", "per customer-year",
            _per_customer_year("survey_responses", _whole), fact=True),
    Outcome("cancellation_conflicts_suppressed_share_y3", "Cancellation conflicts the shared view stopped, "
            "last 52 weeks", "share", _suppressed_share_y3, fact=True),
    Outcome("first_contact_resolution_y1", "First-contact resolution, year 1", "share",
            _window_mean("first_contact_resolution", _first_year), fact=True),
    Outcome("overload_failures_y1", "Inbound touches failed for lack of capacity, year 1, per 1,000 customers a "
            "week", "per 1,000 customer-weeks",
            lambda m, _: 1000.0 * _count_per_customer_year(_first_year(m), "overload_failures") / WEEKS_PER_YEAR,
            fact=True),
    Outcome("true_nps_y23", "True NPS, years 2-3", "NPS points", _window_mean("true_nps", _after_first_year),
            fact=True),
    Outcome("programme_adoption_y3", "Programme adoption, last 52 weeks", "0-1",
            _window_mean("programme_adoption", _last_year), fact=True),
    Outcome("programme_abandoned", "Programme abandoned (share of runs)", "share", _SEEN, fact=True),
    Outcome("time_to_fix_top_cause", "Weeks until the first quarter's top problem cause is fixed", "weeks", _SEEN,
            fact=True),
    Outcome("cancellation_conflict_churn_gap", "Customers who left: cancellation notice and offer less notice only",
            "share", _SEEN, fact=True),
    Outcome("cancellation_conflict_ltr_gap", "True likelihood to recommend: cancellation notice and offer less "
            "notice only", "points (0-10)", _SEEN, fact=True),
):  # fmt: skip
    register(_outcome)


def run_summary(
    model: SiloModel, context: RunContext | None = None, metrics: pd.DataFrame | None = None
) -> dict[str, Any]:
    """A finished run's ``summary.json``: identity, every outcome that has a summary place, the programme.

    Args:
        model: A finished model.
        context: Valuation settings (defaults if None).
        metrics: ``model.metrics_frame()``, if the caller has built it already.

    Returns:
        ``scenario``, ``seed``, ``customers``, ``weeks``, the outcome sections (``final``, ``mean``,
        ``total``, ``last_year``) and ``programme``.
    """
    cfg = model.cfg
    metrics = model.metrics_frame() if metrics is None else metrics
    summary: dict[str, Any] = {"scenario": cfg.scenario_name, "seed": cfg.seed}
    if metrics.empty:
        return {**summary, "weeks": 0}
    summary.update(customers=cfg.customers, weeks=len(metrics))
    context = context or RunContext(customers=cfg.customers)
    for outcome in OUTCOMES.values():
        if outcome.summary_key is None:
            continue
        section, key = outcome.summary_key.split(".", 1)
        value = outcome.compute(metrics, context)
        summary.setdefault(section, {})[key] = _as_kind(value, outcome.kind)
    summary["programme"] = {
        "present": model.programme.present,
        "abandoned": model.programme.abandoned,
        "fixed_touchpoints": [{"step": s, "touchpoint": t} for s, t in model.fixed_touchpoints],
    }
    return summary


def _as_kind(value: float, kind: type) -> Any:
    if kind is float or value is None or not np.isfinite(value):
        return float(value)
    return kind(round(value)) if kind is int else bool(value)


def describe(names: Iterable[str]) -> Mapping[str, tuple[str, str]]:
    """Label and unit of each named outcome (for tables that list them)."""
    return {name: (OUTCOMES[name].label, OUTCOMES[name].unit) for name in names}
