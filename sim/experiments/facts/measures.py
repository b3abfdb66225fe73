"""The run that measures every stylized fact's measure (the registry's outcomes with ``fact=True``).

The measures are declared once, in the outcome registry (:mod:`sim.experiments.analysis.outcomes`). Most are
computed there from the run's weekly table; the few whose ``compute`` is None need what the table does not
hold, and are measured here while the run runs: the spend of each NPS category week by week (lifetime value),
each customer's journey satisfaction and touchpoint score after the first year, the departments' levers, each
customer's score at the end, the first quarter's problem causes and the cancellation notices.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.config import WEEKS_PER_QUARTER, WEEKS_PER_YEAR, checked_config
from sim.experiments.analysis.outcomes import OUTCOMES, category_annual_churn, compute, fact_measures

__all__ = [
    "DISTRIBUTION",
    "WINDOW",
    "measure_model",
    "measure_run",
]


WINDOW = WEEKS_PER_YEAR  # weeks: the journey-vs-touchpoint window (scores over one year, churn over the next)
SILO_MECHANISMS = ("campaign_volume", "cross_sell", "over_promise", "throughput", "handle_time", "collections")


QUARTER = WEEKS_PER_QUARTER  # weeks: the quarter whose problems name the top cause
DISTRIBUTION = ("share_detractors", "share_passives", "share_promoters", "share_tens", "share_five_or_below")


# ------------------------------------------------------------------------------------------------ one run
def measure_run(overrides: Sequence[str]) -> dict[str, float]:
    """Run one configuration and measure every fact measure of the outcome registry on it.

    Args:
        overrides: The run's configuration overrides (scenario, seed, population, horizon, ...).

    Returns:
        Measure name -> value (NaN where the run cannot say, e.g. no unresolved problem came up for renewal).
    """
    from sim.engine.model import SiloModel

    return measure_model(SiloModel(checked_config(list(overrides)), collect=False))


def measure_model(model: Any) -> dict[str, float]:
    """Run a model built at week 0 (``SiloModel``, fresh or continued from a shared warm-up) and measure it.

    Returns:
        Measure name -> value, as :func:`measure_run`.
    """
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
    metrics = model.metrics_frame()
    names = [o.name for o in fact_measures()]
    values = {
        **compute([name for name in names if OUTCOMES[name].compute is not None], metrics),
        **_seen(model, metrics, snapshot, spend),
        "time_to_fix_top_cause": _time_to_fix(model, first_quarter_problems),
        **_cancellation_gaps(model, noticed_before),
    }
    return {name: values[name] for name in names}


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


def _seen(model: Any, f: pd.DataFrame, snapshot: dict[str, np.ndarray], spend: _CategorySpend) -> dict[str, float]:
    """The measures the weekly table cannot give (their registry ``compute`` is None), but the two below."""
    churn_p = category_annual_churn(f, "promoters_share", "churned_promoters")
    churn_d = category_annual_churn(f, "detractors_share", "churned_detractors")
    per_week = spend.revenue / np.maximum(spend.weeks, 1)
    ltv_p, ltv_d = per_week[2] / churn_p, per_week[0] / churn_d
    store = model.store
    ltr = store.true_ltr[: store.n][store.active[: store.n]]
    return {
        "ltv_ratio_promoter_detractor": float(ltv_p / ltv_d) if ltv_d > 0 else math.nan,
        "journey_over_touchpoint": _journey_over_touchpoint(model, snapshot),
        "silo_lever_pressure": _lever_pressure(model),
        "share_detractors": float((ltr <= 6).mean()),
        "share_passives": float(((ltr >= 7) & (ltr <= 8)).mean()),
        "share_promoters": float((ltr >= 9).mean()),
        "share_tens": float((ltr == 10).mean()),
        "share_five_or_below": float((ltr <= 5).mean()),
        "programme_abandoned": float(model.programme.abandonments > 0),
    }
