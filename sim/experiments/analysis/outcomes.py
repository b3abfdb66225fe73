"""The outcome registry: every figure a run is judged by, declared once.

An :class:`Outcome` has a name, a label and a unit for tables and figures, the place it takes in
a run's ``summary.json`` (``final.true_nps``), and how it is computed from the run's weekly
``metrics.parquet`` table. Everything that reports or judges runs reads this registry: the run
summary (:func:`run_summary`), the comparison's summary table and report
(:mod:`sim.experiments.analysis.runsets`), replications (:mod:`sim.experiments.replications`), the
calibration targets, the policy objectives and the dashboard's counters. To add an outcome, call
:func:`register` with a new :class:`Outcome` (``comparison=True`` puts it in every comparison's
``summary.csv``).

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
    "comparison_outcomes",
    "compute",
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
        compute: The figure from the run's weekly table and its context.
        summary_key: Where it sits in ``summary.json`` (``final.true_nps``); None: not in the summary.
        kind: ``float``, ``int`` or ``bool``: how the summary stores it.
        comparison: Shown in every comparison's summary table and report.
        fmt: How a value is printed.
        bounds: The values it can take (lo, hi), for checking a target.
    """

    name: str
    label: str
    unit: str
    compute: Callable[[pd.DataFrame, RunContext], float]
    summary_key: str | None = None
    kind: type = float
    comparison: bool = False
    fmt: str = "{:.3g}"
    bounds: tuple[float, float] = (-math.inf, math.inf)

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


def compute(names: Iterable[str], metrics: pd.DataFrame, context: RunContext | None = None) -> dict[str, float]:
    """The named outcomes of one run.

    Args:
        names: Registry keys.
        metrics: The run's metrics.parquet table.
        context: Size and valuation settings (defaults if None).

    Returns:
        Name -> value.
    """
    context = context or RunContext()
    return {name: float(OUTCOMES[name].compute(metrics, context)) for name in names}


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


def _per_customer_year(column: str) -> Callable[[pd.DataFrame, RunContext], float]:
    """A weekly count summed over the last year, per customer-year on the book (active customers x weeks / 52)."""

    def rate(m: pd.DataFrame, _: RunContext) -> float:
        year = m.tail(WEEKS_PER_YEAR)
        customer_years = float(year["active_customers"].sum()) / WEEKS_PER_YEAR
        return float(year[column].sum()) / customer_years if customer_years else math.nan

    return rate


def _initial_book_retention(m: pd.DataFrame, _: RunContext) -> float:
    """Share of the customers on the book at the start of week 0 still customers at the end."""
    start = float(m["active_before"].iloc[0])
    return float(m["initial_book_active"].iloc[-1]) / start if start else math.nan


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
            "final.annual_retention", comparison=True, fmt=_SHARE, bounds=(0, 1)),
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
            bounds=(0, 1)),
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


def run_summary(model: SiloModel, context: RunContext | None = None) -> dict[str, Any]:
    """A finished run's ``summary.json``: identity, every outcome that has a summary place, the programme.

    Args:
        model: A finished model.
        context: Valuation settings (defaults if None).

    Returns:
        ``scenario``, ``seed``, ``customers``, ``weeks``, the outcome sections (``final``, ``mean``,
        ``total``, ``last_year``) and ``programme``.
    """
    cfg = model.cfg
    metrics = model.metrics_frame()
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
