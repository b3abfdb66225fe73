"""Loyalty: problems and their resolution, the weekly churn hazard, the annual renewal.

Problem resolution speed drives retention (TARP, via Barlow & Moller): at the
annual renewal, a customer whose worst problem of the year was resolved
quickly, slowly or never renews with TARP's probabilities for minor and major
problems, times an attitude factor. Between renewals a weekly churn hazard
rises as the customer's likelihood to recommend falls, with an open problem, a
conflicting contact this week and active detractors among the customer's
network neighbours. Both follow the NPS category, not satisfaction alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.config.vocabularies import WEEKS_PER_YEAR
from sim.engine.customers import QUICK, SILENT, SLOW, UNRESOLVED
from sim.engine.streams import compact, draw_bits

if TYPE_CHECKING:
    from sim.config.schema import CustomerConf
    from sim.engine.customers import CustomerStore
    from sim.engine.journey import Journey
    from sim.engine.streams import Streams

__all__ = [
    "InitialBook",
    "age_problems",
    "close_problems",
    "fade_grudges",
    "initial_book",
    "problem_renewal_loss",
    "renewal_probability",
    "renewals",
    "resolve",
    "retire",
    "survival",
    "weekly_churn",
]


def close_problems(
    store: CustomerStore, rows: np.ndarray, outcome: np.ndarray | int, lift: float, dents: Sequence[float]
) -> None:
    """Close the open problems of ``rows`` with ``outcome`` and record the worst outcome so far.

    The problem leaves a grudge (``customer.attitude_dent``), larger the slower it was resolved, which lowers the
    customer's likelihood to recommend and fades (:func:`fade_grudges`): customers remember, then forget.

    Args:
        store: Customer store.
        rows: Customers whose problem closes (each must have one open).
        outcome: QUICK, SLOW, UNRESOLVED or SILENT, per row or for all.
        lift: Satisfaction change on closing (positive for a resolution, negative for giving up).
        dents: Attitude lost after a problem resolved quickly, slowly, never, and never complained about.
    """
    if rows.size == 0:
        return
    code = np.broadcast_to(np.asarray(outcome, dtype=np.int8), rows.shape)
    store.grudge[rows] += np.asarray([0.0, *dents], dtype=np.float32)[code]
    major = store.problem_major[rows]
    store.resolution[rows] = np.maximum(store.resolution[rows], code)
    worse = (code > store.year_resolution[rows]) | ((code == store.year_resolution[rows]) & major)
    store.year_resolution[rows[worse]] = code[worse]
    store.year_major[rows[worse]] = major[worse]
    store.problem_cause[rows] = -1
    store.problem_age[rows] = 0
    store.problem_contacts[rows] = 0
    store.problem_complains[rows] = False
    store.satisfaction[rows] = np.clip(store.satisfaction[rows] + lift, 0.0, 10.0)


def resolve(store: CustomerStore, rows: np.ndarray, customer: CustomerConf, lift: float) -> None:
    """Resolve problems: quickly if within ``quick_resolution_weeks`` of opening, slowly otherwise."""
    outcome = np.where(store.problem_age[rows] <= customer.quick_resolution_weeks, QUICK, SLOW)
    close_problems(store, rows, outcome, lift, customer.attitude_dent)


def age_problems(store: CustomerStore, customer: CustomerConf) -> int:
    """Age open problems by a week, drag satisfaction, and let customers give up on old ones.

    A problem older than ``give_up_weeks`` closes: as unresolved if the customer complained about it, as silent
    if they never did (TARP's least loyal customers); either way the customer gives up on it. A customer who has
    contacted support ``give_up_contacts`` times about it without a resolution gives up too (unresolved).

    Returns:
        Problems given up this week (unresolved and silent).
    """
    n = store.n
    open_rows = np.flatnonzero(store.active[:n] & (store.problem_cause[:n] >= 0))
    store.problem_age[open_rows] += 1
    store.satisfaction[open_rows] = np.maximum(0.0, store.satisfaction[open_rows] - customer.open_problem_drag)
    hopeless = store.problem_contacts[open_rows] >= customer.give_up_contacts  # only complainers contact support
    given_up = open_rows[(store.problem_age[open_rows] > customer.give_up_weeks) | hopeless]
    outcome = np.where(store.problem_complains[given_up], UNRESOLVED, SILENT)
    close_problems(store, given_up, outcome, -customer.unresolved_penalty, customer.attitude_dent)
    return int(given_up.size)


def fade_grudges(store: CustomerStore, half_life_weeks: float) -> None:
    """A week passes: every active customer's grudge fades by the share that makes it halve in ``half_life_weeks``.

    A departed customer's grudge stays as it was, so the score they left with stays theirs.
    """
    n = store.n
    _fade(store.grudge[:n], store.active[:n], np.float32(0.5 ** (1.0 / half_life_weeks)))


@njit(cache=True)
def _fade(grudge: np.ndarray, active: np.ndarray, factor: np.float32) -> None:
    """Grudge *= factor where active (float32; only rows holding a grudge change)."""
    for i in range(grudge.size):
        grudge[i] = grudge[i] * factor if active[i] else grudge[i]


def retire(store: CustomerStore, rows: np.ndarray, week: int) -> None:
    """Customers ``rows`` leave in ``week``."""
    store.active[rows] = False
    store.left_step[rows] = week


def renewal_class(store: CustomerStore, rows: np.ndarray) -> np.ndarray:
    """Resolution class of each customer's worst problem of the year.

    A problem still open counts as at best slow if the customer complained about it, and as silent if not.
    """
    code = store.year_resolution[rows].astype(np.int64)
    still_open = np.where(store.problem_complains[rows], SLOW, SILENT)
    return np.where(store.problem_cause[rows] >= 0, np.maximum(code, still_open), code)


def renewal_probability(store: CustomerStore, rows: np.ndarray, customer: CustomerConf) -> np.ndarray:
    """Probability that each customer in ``rows`` renews.

    The TARP renewal rate of the year's worst problem times an attitude factor: a logistic function of the
    customer's true likelihood to recommend, so renewal follows the NPS category.
    """
    code = renewal_class(store, rows)
    table = np.array(
        [
            [customer.renewal_no_problem, *customer.renewal_minor],
            [customer.renewal_no_problem, *customer.renewal_major],
        ]
    )
    base = table[store.year_major[rows].astype(np.int64), code]
    ltr = store.true_ltr[rows].astype(np.float64)
    factor = 1.0 / (1.0 + np.exp(-customer.renewal_ltr_slope * (ltr - customer.renewal_ltr_mid)))
    return base * factor


def renewals(store: CustomerStore, week: int, journey: Journey, streams: Streams, customer: CustomerConf) -> np.ndarray:
    """The annual renewal: a renewal touch at each anniversary, then the decision.

    Returns:
        Rows that did not renew (they leave this week).
    """
    due = store.anniversaries(week, WEEKS_PER_YEAR, streams)
    renewal = journey.touchpoint_of_kind["renewal"]
    over = journey.overloaded(due, renewal, streams)
    journey.touch(store, due, renewal, streams, failed_extra=over)
    renew = streams.uniform("renewal:decide", due) < renewal_probability(store, due, customer)
    journey.record_renewals(renewal_class(store, due), renew)
    store.year_resolution[due] = 0
    store.year_major[due] = False
    return due[~renew]


def weekly_churn(
    store: CustomerStore,
    streams: Streams,
    customer: CustomerConf,
    exposure: np.ndarray,
    wom_churn: float,
) -> np.ndarray:
    """The weekly churn decision of every active customer (the hazard follows true likelihood to recommend).

    A customer's hazard is ``base_weekly_churn x exp(churn_ltr_slope x (churn_reference_ltr - true LTR))``, so
    detractors churn most, times ``1 + open_problem_churn`` with an open problem, ``1 + conflicting_contact_churn``
    after a conflicting contact this week, ``1 + cancellation_conflict_churn`` after a cancellation conflict, and
    ``1 + wom_churn x k`` with ``k`` active-detractor neighbours; at most ``max_weekly_churn``. The hazard is
    float32, multiplied in that order.

    Args:
        store: Customer store.
        streams: Random streams.
        customer: Customer parameters.
        exposure: Per row, how many active-detractor neighbours it has.
        wom_churn: Hazard multiplier added per active-detractor neighbour.

    Returns:
        Rows that churn this week.
    """
    n = store.n
    # the attitude term takes one value per likelihood-to-recommend score (an int8): a table of all 256
    ltr = np.arange(-128, 128, dtype=np.int8)
    with np.errstate(over="ignore", invalid="ignore"):  # scores outside 0-10 never occur; their entries may overflow
        by_ltr = np.subtract(np.float32(customer.churn_reference_ltr), ltr, dtype=np.float32)
        by_ltr *= np.float32(customer.churn_ltr_slope)
        np.exp(by_ltr, out=by_ltr)
        by_ltr *= np.float32(customer.base_weekly_churn)
    multipliers = np.array(
        [
            1.0 + customer.open_problem_churn,
            1.0 + customer.conflicting_contact_churn,
            1.0 + customer.cancellation_conflict_churn,
            customer.max_weekly_churn,
        ],
        dtype=np.float32,
    )
    return streams.select_rows(
        _churners,
        n,
        streams.base("churn"),
        by_ltr,
        multipliers,
        np.float64(wom_churn),
        store.active[:n],
        store.true_ltr[:n],
        store.problem_cause[:n],
        store.conflict[:n],
        store.cancel_conflict[:n],
        exposure[:n],
    )


@njit(cache=True)
def _churners(
    base, by_ltr, multipliers, wom_churn, active, ltr, problem_cause, conflict, cancel_conflict, exposure, mask, out
):
    """The rows that churn (the rule of :func:`weekly_churn`); writes them to ``out``, returns how many.

    Branch-free, so the loop vectorises: a multiplier that does not apply is 1, and x * 1 is x exactly.
    """
    one = np.float32(1.0)
    problem, conflicting, cancelling, cap = multipliers[0], multipliers[1], multipliers[2], multipliers[3]
    for i in range(active.size):
        hazard = by_ltr[np.int64(ltr[i]) + 128]
        hazard *= problem if problem_cause[i] >= 0 else one
        hazard *= conflicting if conflict[i] else one
        hazard *= cancelling if cancel_conflict[i] else one
        hazard *= np.float32(1.0 + wom_churn * np.float64(exposure[i]))
        hazard = min(hazard, cap)
        mask[i] = active[i] & (np.float64(draw_bits(base, i)) < np.float64(hazard) * 4294967296.0)
    return compact(mask, out)


# --------------------------------------------------------------------------- the initial book
@dataclass(frozen=True)
class InitialBook:
    """The book when the warm-up starts: each customer's tenure, fit, attitude, satisfaction and expectation."""

    tenure: np.ndarray
    fit: np.ndarray
    bias: np.ndarray
    satisfaction: np.ndarray
    expectation: np.ndarray


def problem_renewal_loss(customer: CustomerConf, weekly_problem_rate: float) -> float:
    """Share of a settled customer's renewals lost each year to problems, whatever their likelihood to recommend.

    A year with a problem (probability ``1 - exp(-52 x weekly_problem_rate)``) renews at TARP's rate of the
    problem's class instead of ``renewal_no_problem``: resolved quickly if the customer complains (most complaints
    are), silent if not, by severity (``complain_prob``, ``major_problem_share``).

    >>> from sim.config.schema import CustomerConf
    >>> round(problem_renewal_loss(CustomerConf(), 0.005), 3)
    0.097
    """
    p_year = 1.0 - np.exp(-WEEKS_PER_YEAR * weekly_problem_rate)
    base = 0.0
    for share, complain, table in (
        (1.0 - customer.major_problem_share, customer.complain_prob[0], customer.renewal_minor),
        (customer.major_problem_share, customer.complain_prob[1], customer.renewal_major),
    ):
        base += share * (complain * table[QUICK - 1] + (1.0 - complain) * table[SILENT - 1])
    return float(p_year * max(0.0, 1.0 - base / customer.renewal_no_problem)) if customer.renewal_no_problem else 0.0


def survival(
    ltr: np.ndarray, tenure_weeks: np.ndarray, customer: CustomerConf, problem_loss: float = 0.0
) -> np.ndarray:
    """Probability that a customer at a steady likelihood to recommend stays ``tenure_weeks`` weeks.

    The model's own weekly hazard and annual renewal (:func:`weekly_churn`, :func:`renewal_probability`) for a
    customer without conflicts or detractor neighbours, whose renewals lose ``problem_loss`` a year to problems
    (:func:`problem_renewal_loss`).
    """
    ltr = np.asarray(ltr, dtype=np.float64)
    weekly = customer.base_weekly_churn * np.exp(customer.churn_ltr_slope * (customer.churn_reference_ltr - ltr))
    weekly = np.minimum(weekly, customer.max_weekly_churn)
    renew = customer.renewal_no_problem / (1.0 + np.exp(-customer.renewal_ltr_slope * (ltr - customer.renewal_ltr_mid)))
    renew = renew * (1.0 - problem_loss)
    tenure = np.asarray(tenure_weeks, dtype=np.float64)
    return (1.0 - weekly) ** tenure * renew ** np.floor(tenure / WEEKS_PER_YEAR)


def initial_book(
    count: int,
    rng: np.random.Generator,
    customer: CustomerConf,
    max_tenure_weeks: int,
    touches_per_week: float,
    problem_loss: float = 0.0,
) -> InitialBook:
    """The book at the start: the survivors among customers who joined at a steady rate over ``max_tenure_weeks``.

    Candidates are drawn as new customers are (fit and attitude) with a uniform joining week; each is kept with
    its probability of having stayed that long (:func:`survival`) at the likelihood to recommend it settles at:
    ``customer.initial_satisfaction_mean`` plus its fit, plus its attitude. So the book starts with the selection
    that years of loyalty produce (the customers still there are more often promoters than new ones), and true
    NPS does not drift up during a run as if the book had been assembled yesterday. Expectations have adapted
    toward each customer's experience over their tenure. The warm-up then settles what this approximation misses
    (problems, hand-offs, the departments' levers).

    Args:
        count: Customers on the book.
        rng: The random stream of the initial book.
        customer: Customer parameters.
        max_tenure_weeks: The longest tenure on the book.
        touches_per_week: Touches a settled customer has per week (how fast expectations have adapted).
        problem_loss: Share of renewals lost each year to problems (:func:`problem_renewal_loss`); it shortens the
            tenures the book holds, hence how strongly years of loyalty have selected it.

    Returns:
        The book.
    """
    parts: list[tuple[np.ndarray, ...]] = []
    kept = 0
    while kept < count:
        candidates = 2 * (count - kept) + 64
        fit = rng.normal(0.0, customer.fit_sd, candidates)
        bias = rng.normal(customer.rating_bias_mean, customer.rating_bias_sd, candidates)
        tenure = rng.integers(1, max_tenure_weeks, candidates)
        settled = np.clip(customer.initial_satisfaction_mean + fit, 0.0, 10.0)
        ltr = np.clip(np.rint(settled + bias), 0, 10)
        keep = rng.random(candidates) < survival(ltr, tenure, customer, problem_loss)
        parts.append((fit[keep], bias[keep], tenure[keep], settled[keep]))
        kept += int(keep.sum())
    fit, bias, tenure, settled = (np.concatenate(column)[:count] for column in zip(*parts, strict=True))
    satisfaction = np.clip(rng.normal(settled, customer.initial_satisfaction_sd), 0.0, 10.0)
    prior = np.clip(rng.normal(customer.expectation_mean, customer.expectation_sd, count), 0.0, 10.0)
    unadapted = (1.0 - customer.expectation_adaptation) ** (touches_per_week * tenure)
    experience = satisfaction + _satisfaction_lag(customer) * customer.touch_noise_sd
    expectation = experience + (prior - experience) * unadapted
    return InitialBook(tenure, fit, bias, satisfaction, expectation)


def _satisfaction_lag(customer: CustomerConf) -> float:
    """How far settled satisfaction sits below the mean experience, in units of the experience's spread.

    Satisfaction moves toward each experience at ``learning_rate_positive`` when it is better and at
    ``learning_rate_negative`` when it is worse, so it settles below the mean experience, at the ``u`` (in
    standard deviations) where the expected moves up and down balance:
    ``rate_up * (pdf(u) + u cdf(u)) = rate_down * (pdf(u) - u (1 - cdf(u)))``. Expectations settle at the
    mean experience itself. (0.36 at the default rates 0.08 and 0.20.)
    """
    from scipy.stats import norm

    up, down = customer.learning_rate_positive, customer.learning_rate_negative
    low, high = 0.0, 5.0
    for _ in range(60):  # bisection: the balance falls as u rises
        u = (low + high) / 2
        balance = up * (norm.pdf(u) + u * norm.cdf(u)) - down * (norm.pdf(u) - u * (1 - norm.cdf(u)))
        low, high = (u, high) if balance < 0 else (low, u)
    return (low + high) / 2
