"""The per-run measures a fact's checks read, and the run that measures them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.config import WEEKS_PER_QUARTER, WEEKS_PER_YEAR, checked_config

__all__ = [
    "MEASURES",
    "measure_run",
]


WINDOW = WEEKS_PER_YEAR  # weeks: the journey-vs-touchpoint window (scores over one year, churn over the next)
SILO_MECHANISMS = ("campaign_volume", "cross_sell", "over_promise", "throughput", "handle_time", "collections")


@dataclass(frozen=True)
class Measure:
    """A per-run figure a check can read."""

    label: str
    unit: str


MEASURES: dict[str, Measure] = {
    "true_nps_trend": Measure("Trend of true NPS over the horizon", "points / year"),
    "expectation_drift": Measure("Change in customers' mean expectation over the horizon", "points (0-10)"),
    "true_nps_y1": Measure("True NPS, year 1", "NPS points"),
    "true_nps_y3": Measure("True NPS, last 52 weeks", "NPS points"),
    "true_nps_y3_minus_y1": Measure("True NPS, last 52 weeks less year 1", "NPS points"),
    "measured_nps_y3": Measure("Measured NPS, last 52 weeks", "NPS points"),
    "touchpoint_score_y3": Measure("Mean touchpoint score, last 52 weeks", "points (0-10)"),
    "promoter_referral_share": Measure("Share of referrals given by promoters", "share"),
    "renewal_quick_minus_slow": Measure("Renewal rate: quick resolution less slow", "share"),
    "renewal_slow_minus_unresolved": Measure("Renewal rate: slow resolution less unresolved", "share"),
    "churn_ratio_detractor_promoter": Measure("Annual churn, detractors over promoters", "ratio"),
    "ltv_ratio_promoter_detractor": Measure("Lifetime value, promoters over detractors", "ratio"),
    "open_problem_nps_gap": Measure("True NPS with an open problem less without", "NPS points"),
    "journey_over_touchpoint": Measure("Churn prediction: journey satisfaction over touchpoint score", "ratio"),
    "silo_lever_pressure": Measure("Silo lever pressure (silo levers less hand-off care), year 3", "0-1 setting"),
    "share_detractors": Measure("Customers scoring 0-6 at the end", "share"),
    "share_passives": Measure("Customers scoring 7-8 at the end", "share"),
    "share_promoters": Measure("Customers scoring 9-10 at the end", "share"),
    "share_tens": Measure("Customers scoring 10 at the end", "share"),
    "share_five_or_below": Measure("Customers scoring 5 or below at the end", "share"),
    "annual_retention": Measure("Annual retention", "share"),
    "first_contact_resolution": Measure("First-contact resolution, last 52 weeks", "share"),
    "renewal_silent_minus_unresolved": Measure("Renewal rate: silent (never complained) less unresolved", "share"),
    "share_quick": Measure("Problem holders at renewal: resolved quickly", "share"),
    "share_slow": Measure("Problem holders at renewal: resolved slowly", "share"),
    "share_unresolved": Measure("Problem holders at renewal: complained, unresolved", "share"),
    "share_silent": Measure("Problem holders at renewal: never complained (silent)", "share"),
    "invitations_per_customer_year": Measure("Survey invitations per customer-year", "per customer-year"),
    "responses_per_customer_year": Measure("Survey responses per customer-year", "per customer-year"),
    "time_to_fix_top_cause": Measure("Weeks until the first quarter's top problem cause is fixed", "weeks"),
    "cancellation_conflict_churn_gap": Measure(
        "Customers who left: cancellation notice and offer less notice only", "share"
    ),
    "cancellation_conflict_ltr_gap": Measure(
        "True likelihood to recommend: cancellation notice and offer less notice only", "points (0-10)"
    ),
    "cancellation_conflicts_suppressed_share_y3": Measure(
        "Cancellation conflicts the shared view stopped, last 52 weeks", "share"
    ),
    "first_contact_resolution_y1": Measure("First-contact resolution, year 1", "share"),
    "overload_failures_y1": Measure(
        "Inbound touches failed for lack of capacity, year 1, per 1,000 customers a week", "per 1,000 customer-weeks"
    ),
    "true_nps_y23": Measure("True NPS, years 2-3", "NPS points"),
    "programme_adoption_y3": Measure("Programme adoption, last 52 weeks", "0-1"),
    "programme_abandoned": Measure("Programme abandoned (share of runs)", "share"),
}
CLASSES = ("quick", "slow", "unresolved", "silent")  # resolution classes of problem holders at renewal
QUARTER = WEEKS_PER_QUARTER  # weeks: the quarter whose problems name the top cause
DISTRIBUTION = ("share_detractors", "share_passives", "share_promoters", "share_tens", "share_five_or_below")


# ------------------------------------------------------------------------------------------------ one run
def measure_run(overrides: Sequence[str]) -> dict[str, float]:
    """Run one configuration and compute every measure of :data:`MEASURES` from it.

    Args:
        overrides: The run's configuration overrides (scenario, seed, population, horizon, ...).

    Returns:
        Measure name -> value (NaN where the run cannot say, e.g. no unresolved problem came up for renewal).
    """
    from sim.engine.model import SiloModel

    model = SiloModel(checked_config(list(overrides)), collect=False)
    store, weeks = model.store, model.cfg.weeks
    start = (store.touch_score_sum[: store.n].copy(), store.touch_count[: store.n].copy())
    noticed_before = store.cancellation_notice[: store.n].copy()  # notices of the warm-up: not compared
    spend = _CategorySpend()
    snapshot: dict[str, np.ndarray] = {}
    first_quarter_problems = np.zeros(len(model.journey.names), dtype=np.int64)
    for week in range(weeks):
        model.step()
        spend.add(model)
        if week < QUARTER:
            first_quarter_problems += model.journey.week.problems_by_cause
        if week == WINDOW - 1:
            snapshot = _journey_snapshot(model, start)
    return {
        **_measures(model, snapshot, spend),
        "time_to_fix_top_cause": _time_to_fix(model, first_quarter_problems),
        **_cancellation_gaps(model, noticed_before),
    }


def _time_to_fix(model: Any, first_quarter_problems: np.ndarray) -> float:
    """Weeks from the programme's start until the first quarter's top problem cause is first fixed.

    The top cause is the touchpoint that caused the most problems in weeks 0-12; fixed means its fix took effect.
    The horizon if it never is.
    """
    top = model.journey.names[int(np.argmax(first_quarter_problems))]
    weeks = [week for week, name in model.fixed_touchpoints if name == top]
    start = model.cfg.governance.program_start_week
    return float(min(weeks) - start) if weeks else float(model.cfg.weeks - start)


def _cancellation_gaps(model: Any, noticed_before: np.ndarray) -> dict[str, float]:
    """Customers with a cancellation notice in the recorded weeks: with a cancellation conflict less without.

    Those who also got a cross-sell offer in a notice's week (a cancellation conflict) less those who got only
    notices, in the share who left during the recorded weeks and in true likelihood to recommend at the end (or
    when they left).
    """
    store = model.store
    n = store.n
    fresh = store.cancellation_notice[:n].copy()
    fresh[: noticed_before.size] &= ~noticed_before
    both = fresh & store.cancellation_conflict[:n]
    only = fresh & ~store.cancellation_conflict[:n]
    if not both.any() or not only.any():
        return {"cancellation_conflict_churn_gap": math.nan, "cancellation_conflict_ltr_gap": math.nan}
    left = store.left_step[:n] >= 0
    ltr = store.true_ltr[:n].astype(np.float64)
    return {
        "cancellation_conflict_churn_gap": float(left[both].mean() - left[only].mean()),
        "cancellation_conflict_ltr_gap": float(ltr[both].mean() - ltr[only].mean()),
    }


class _CategorySpend:
    """Revenue and customer-weeks by NPS category, summed over the recorded weeks."""

    def __init__(self) -> None:
        self.revenue = np.zeros(3)  # detractors, passives, promoters
        self.weeks = np.zeros(3)

    def add(self, model: Any) -> None:
        store = model.store
        active = store.active[: store.n]
        ltr = store.true_ltr[: store.n][active]
        category = np.where(ltr >= 9, 2, np.where(ltr <= 6, 0, 1))
        value = store.value[: store.n][active] * np.asarray(model.cfg.market.spend_by_category)[category]
        self.revenue += np.bincount(category, weights=value, minlength=3)
        self.weeks += np.bincount(category, minlength=3)


def _journey_snapshot(model: Any, start: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """At the end of the first year: each active customer's journey satisfaction and mean touchpoint score.

    Journey satisfaction is the customer's running satisfaction with the touches as lived (hand-off failures,
    conflicting and repeat contacts included) less the grudge problems left behind; the touchpoint score is
    the mean of the scores the departments recorded at the customer's touches over the year.
    """
    store = model.store
    n = store.n
    total, count = store.touch_score_sum[:n].astype(np.float64), store.touch_count[:n].astype(np.float64)
    total[: start[0].size] -= start[0]
    count[: start[1].size] -= start[1]
    rows = np.flatnonzero(store.active[:n] & (count >= 3))
    return {
        "rows": rows,
        # the journey as the customer lives it: running satisfaction less the resentment problems left behind
        "satisfaction": (store.satisfaction[rows] - store.grudge[rows]).astype(np.float64),
        "touchpoint": total[rows] / count[rows],
    }


def _journey_over_touchpoint(model: Any, snapshot: dict[str, np.ndarray]) -> float:
    """How much better journey satisfaction ranks next year's leavers than the recorded touchpoint scores."""
    if not snapshot or model.cfg.weeks < 2 * WINDOW:
        return float("nan")
    left = model.store.left_step[snapshot["rows"]]
    leaves = ((left >= WINDOW) & (left < 2 * WINDOW)).astype(np.float64)
    if leaves.min() == leaves.max():
        return float("nan")
    journey = -stats.spearmanr(snapshot["satisfaction"], leaves).statistic
    touchpoint = -stats.spearmanr(snapshot["touchpoint"], leaves).statistic
    return float(journey / touchpoint) if touchpoint > 0 else float("nan")


def _annual_churn(metrics: pd.DataFrame, share: str, churned: str) -> float:
    """Annual churn of one NPS category: its leavers over its exposure (active customers x category share)."""
    exposure = (metrics["active_before"] * metrics[share].shift(1).fillna(metrics[share])).sum()
    weekly = metrics[churned].sum() / exposure if exposure > 0 else float("nan")
    return float(1.0 - (1.0 - weekly) ** WEEKS_PER_YEAR)


def _rate(metrics: pd.DataFrame, name: str) -> float:
    decisions = metrics[f"renewals_{name}"].sum()
    return float(metrics[f"renewed_{name}"].sum() / decisions) if decisions > 0 else float("nan")


def _class_shares(metrics: pd.DataFrame) -> dict[str, float]:
    """Renewal decisions of customers with a problem in the year, by the resolution class of the worst one."""
    counts = {name: float(metrics[f"renewals_{name}"].sum()) for name in CLASSES}
    total = sum(counts.values())
    return {f"share_{name}": counts[name] / total if total else math.nan for name in CLASSES}


def _per_customer_year(metrics: pd.DataFrame, column: str) -> float:
    """A weekly count summed over the run, per customer-year (active customers summed over the weeks / 52)."""
    exposure = metrics["active_customers"].sum() / WEEKS_PER_YEAR
    return float(metrics[column].sum() / exposure) if exposure > 0 else math.nan


def _suppressed_share(metrics: pd.DataFrame) -> float:
    """Of the cancellation conflicts that would have happened in the last 52 weeks, the share the view stopped."""
    stopped = metrics["cancellation_conflicts_suppressed"].sum()
    total = stopped + metrics["cancellation_conflicts"].sum()
    return float(stopped / total) if total > 0 else math.nan


def _lever_pressure(model: Any) -> float:
    """Mean year-3 setting of the silo levers less the mean hand-off care (higher: more silo)."""
    frame = model.departments_frame()
    recent = frame[frame["step"] >= model.cfg.weeks - WINDOW]
    silo, care = [], []
    for name, department in model.cfg.org.departments.items():
        rows = recent[recent["department"] == name]
        for lever, conf in department.levers.items():
            value = float(rows[f"lever_{lever}"].mean())
            if conf.mechanism in SILO_MECHANISMS:
                silo.append(value)
            elif conf.mechanism == "handoff_care":
                care.append(value)
    return float(np.mean(silo) - (np.mean(care) if care else 0.0)) if silo else float("nan")


def _measures(model: Any, snapshot: dict[str, np.ndarray], spend: _CategorySpend) -> dict[str, float]:
    from sim.engine.metrics import annual_retention

    f = model.metrics_frame()
    year1, year3 = f.iloc[:WINDOW], f.iloc[-WINDOW:]
    slope = float(np.polyfit(f["step"].to_numpy() / WEEKS_PER_YEAR, f["true_nps"].to_numpy(), 1)[0])
    churn_p = _annual_churn(f, "promoters_share", "churned_promoters")
    churn_d = _annual_churn(f, "detractors_share", "churned_detractors")
    per_week = spend.revenue / np.maximum(spend.weeks, 1)
    ltv_p, ltv_d = per_week[2] / churn_p, per_week[0] / churn_d
    store = model.store
    ltr = store.true_ltr[: store.n][store.active[: store.n]]
    referrals = f["referrals"].sum()
    return {
        "true_nps_trend": slope,
        "expectation_drift": float(f["mean_expectation"].iloc[-1] - f["mean_expectation"].iloc[0]),
        "true_nps_y1": float(year1["true_nps"].mean()),
        "true_nps_y3": float(year3["true_nps"].mean()),
        "true_nps_y3_minus_y1": float(year3["true_nps"].mean() - year1["true_nps"].mean()),
        "measured_nps_y3": float(year3["measured_nps"].mean()),
        "touchpoint_score_y3": float(year3["mean_touchpoint_score"].mean()),
        "promoter_referral_share": float(f["referrals_from_promoters"].sum() / referrals) if referrals else math.nan,
        "renewal_quick_minus_slow": _rate(f, "quick") - _rate(f, "slow"),
        "renewal_slow_minus_unresolved": _rate(f, "slow") - _rate(f, "unresolved"),
        "churn_ratio_detractor_promoter": churn_d / churn_p if churn_p > 0 else math.nan,
        "ltv_ratio_promoter_detractor": float(ltv_p / ltv_d) if ltv_d > 0 else math.nan,
        "open_problem_nps_gap": float((f["true_nps_open_problem"] - f["true_nps_no_open_problem"]).mean()),
        "journey_over_touchpoint": _journey_over_touchpoint(model, snapshot),
        "silo_lever_pressure": _lever_pressure(model),
        "share_detractors": float((ltr <= 6).mean()),
        "share_passives": float(((ltr >= 7) & (ltr <= 8)).mean()),
        "share_promoters": float((ltr >= 9).mean()),
        "share_tens": float((ltr == 10).mean()),
        "share_five_or_below": float((ltr <= 5).mean()),
        "annual_retention": float(annual_retention(f["active_before"], f["churned"])),
        "first_contact_resolution": float(year3["first_contact_resolution"].mean()),
        "renewal_silent_minus_unresolved": _rate(f, "silent") - _rate(f, "unresolved"),
        **_class_shares(f),
        "invitations_per_customer_year": _per_customer_year(f, "survey_invitations"),
        "responses_per_customer_year": _per_customer_year(f, "survey_responses"),
        "cancellation_conflicts_suppressed_share_y3": _suppressed_share(year3),
        "first_contact_resolution_y1": float(year1["first_contact_resolution"].mean()),
        "overload_failures_y1": 1000.0 * _per_customer_year(year1, "overload_failures") / WEEKS_PER_YEAR,
        "true_nps_y23": float(f.iloc[WINDOW:]["true_nps"].mean()),
        "programme_adoption_y3": float(year3["programme_adoption"].mean()),
        "programme_abandoned": float(model.programme.abandonments > 0),
    }
