"""Loyalty: problems and their resolution, the weekly churn hazard, the annual renewal.

Problem resolution speed drives retention (TARP, via Barlow & Moller): at the
annual renewal, a customer whose worst problem of the year was resolved
quickly, slowly or never renews with TARP's probabilities for minor and major
problems, times a satisfaction factor. Between renewals a weekly churn hazard
rises with low satisfaction, an open problem, a conflicting contact this week
and active detractors among the customer's network neighbours.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.config.vocabularies import WEEKS_PER_YEAR
from sim.engine.customers import QUICK, SLOW, UNRESOLVED

if TYPE_CHECKING:
    from sim.config.schema import CustomerConf
    from sim.engine.customers import CustomerStore
    from sim.engine.journey import Journey
    from sim.engine.streams import Streams

__all__ = ["age_problems", "close_problems", "renewal_probability", "renewals", "resolve", "retire", "weekly_churn"]


def close_problems(store: CustomerStore, rows: np.ndarray, outcome: np.ndarray | int, lift: float) -> None:
    """Close the open problems of ``rows`` with ``outcome`` and record the worst outcome so far.

    Args:
        store: Customer store.
        rows: Customers whose problem closes (each must have one open).
        outcome: QUICK, SLOW or UNRESOLVED, per row or for all.
        lift: Satisfaction change on closing (positive for a resolution, negative for giving up).
    """
    if rows.size == 0:
        return
    code = np.broadcast_to(np.asarray(outcome, dtype=np.int8), rows.shape)
    major = store.problem_major[rows]
    store.resolution[rows] = np.maximum(store.resolution[rows], code)
    worse = (code > store.year_resolution[rows]) | ((code == store.year_resolution[rows]) & major)
    store.year_resolution[rows[worse]] = code[worse]
    store.year_major[rows[worse]] = major[worse]
    store.problem_cause[rows] = -1
    store.problem_age[rows] = 0
    store.problem_contacts[rows] = 0
    store.satisfaction[rows] = np.clip(store.satisfaction[rows] + lift, 0.0, 10.0)


def resolve(store: CustomerStore, rows: np.ndarray, quick_weeks: int, lift: float) -> None:
    """Resolve problems: quickly if within ``quick_weeks`` of opening, slowly otherwise."""
    outcome = np.where(store.problem_age[rows] <= quick_weeks, QUICK, SLOW)
    close_problems(store, rows, outcome, lift)


def age_problems(store: CustomerStore, customer: CustomerConf) -> int:
    """Age open problems by a week, drag satisfaction, and let customers give up on old ones.

    Returns:
        Problems given up as unresolved this week.
    """
    n = store.n
    open_rows = np.flatnonzero(store.active[:n] & (store.problem_cause[:n] >= 0))
    store.problem_age[open_rows] += 1
    store.satisfaction[open_rows] = np.maximum(0.0, store.satisfaction[open_rows] - customer.open_problem_drag)
    given_up = open_rows[store.problem_age[open_rows] > customer.give_up_weeks]
    close_problems(store, given_up, UNRESOLVED, -customer.unresolved_penalty)
    return int(given_up.size)


def retire(store: CustomerStore, rows: np.ndarray, week: int) -> None:
    """Customers ``rows`` leave in ``week``."""
    store.active[rows] = False
    store.left_step[rows] = week


def renewal_probability(store: CustomerStore, rows: np.ndarray, customer: CustomerConf) -> np.ndarray:
    """Probability that each customer in ``rows`` renews.

    The TARP renewal rate of the year's worst problem times a satisfaction factor.
    """
    code = store.year_resolution[rows].astype(np.int64)
    code = np.where(store.problem_cause[rows] >= 0, np.maximum(code, SLOW), code)  # still open: at best slow
    table = np.array(
        [
            [customer.renewal_no_problem, *customer.renewal_minor],
            [customer.renewal_no_problem, *customer.renewal_major],
        ]
    )
    base = table[store.year_major[rows].astype(np.int64), code]
    sat = store.satisfaction[rows].astype(np.float64)
    factor = 1.0 / (1.0 + np.exp(-customer.renewal_satisfaction_slope * (sat - customer.renewal_satisfaction_mid)))
    return base * factor


def renewals(store: CustomerStore, week: int, journey: Journey, streams: Streams, customer: CustomerConf) -> np.ndarray:
    """The annual renewal: a renewal touch at each anniversary, then the decision.

    Returns:
        Rows that did not renew (they leave this week).
    """
    due = store.anniversaries(week, WEEKS_PER_YEAR)
    renewal = journey.touchpoint_of_kind["renewal"]
    over = journey.overloaded(due, renewal, streams)
    journey.touch(store, due, renewal, streams, failed_extra=over)
    renew = streams.uniform("renewal:decide", due) < renewal_probability(store, due, customer)
    journey.record_outcome("renewal", int(renew.sum()), int(due.size))
    store.year_resolution[due] = 0
    store.year_major[due] = False
    return due[~renew]


def weekly_churn(
    store: CustomerStore,
    streams: Streams,
    customer: CustomerConf,
    exposed: tuple[np.ndarray, np.ndarray],
    wom_churn: float,
) -> np.ndarray:
    """The weekly churn decision of every active customer.

    Args:
        store: Customer store.
        streams: Random streams.
        customer: Customer parameters.
        exposed: Rows with active-detractor neighbours and how many each has (sparse).
        wom_churn: Hazard multiplier added per active-detractor neighbour.

    Returns:
        Rows that churn this week.
    """
    n = store.n
    # the hazard of every row in float32, in place; the multipliers touch only the rows they apply to
    hazard = np.subtract(np.float32(customer.churn_reference_satisfaction), store.satisfaction[:n])
    hazard *= np.float32(customer.churn_satisfaction_slope)
    np.exp(hazard, out=hazard)
    hazard *= np.float32(customer.base_weekly_churn)
    hazard[np.flatnonzero(store.problem_cause[:n] >= 0)] *= np.float32(1.0 + customer.open_problem_churn)
    hazard[np.flatnonzero(store.conflict[:n])] *= np.float32(1.0 + customer.conflicting_contact_churn)
    exposed_rows, neighbours = exposed
    hazard[exposed_rows] *= (1.0 + wom_churn * neighbours).astype(np.float32)
    np.minimum(hazard, np.float32(customer.max_weekly_churn), out=hazard)
    churns = streams.dense_bernoulli("churn", n, hazard)
    churns &= store.active[:n]
    return np.flatnonzero(churns)
