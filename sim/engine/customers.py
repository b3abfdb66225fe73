"""The customer store (a struct of numpy arrays) and the Customer agent handle.

One row is one customer, ever. Rows are appended in blocks when customers are
acquired and are never reused, so a row index is a stable customer id and
``customers.parquet`` can list everyone who was ever active. Weekly mechanisms
work on whole columns at once; a :class:`Customer` agent is a thin handle onto
one row so a tracked panel can be inspected and collected the Mesa way.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
from numba import njit

from sim.engine.streams import compact

if TYPE_CHECKING:
    from sim.config.schema import CustomerConf, MarketConf
    from sim.engine.streams import Streams

__all__ = ["NEVER_INVITED", "RESOLUTION_NAMES", "WEEKLY_FLAGS", "Customer", "CustomerStore"]

# problem_resolution codes, worst outcome a customer has had (ordered by badness): resolved quickly, slowly,
# complained and gave up (unresolved), never complained (silent: TARP's least loyal)
RESOLUTION_NAMES = ("none", "quick", "slow", "unresolved", "silent")
NO_PROBLEM, QUICK, SLOW, UNRESOLVED, SILENT = range(5)
NEVER_INVITED = -(10**6)  # week of the last survey invitation of a customer never invited

# name -> (dtype, fill value for a new row)
_COLUMNS: dict[str, tuple[Any, Any]] = {
    "active": (np.bool_, False),
    "joined_step": (np.int32, -1),
    "left_step": (np.int32, -1),
    "stage": (np.int8, 0),  # journey stage of the last touch
    "last_owner": (np.int8, -1),  # department of the last journey touch (-1 none)
    "last_stage": (np.int8, -1),  # stage of the last journey touch (-1 none)
    "expectation": (np.float32, 0.0),
    "satisfaction": (np.float32, 0.0),
    "bias": (np.float32, 0.0),
    "fit": (np.float32, 0.0),  # persistent offset to the quality of every touch this customer gets
    "grudge": (np.float32, 0.0),  # likelihood to recommend lost to past problems, fading
    "vocal": (np.float32, 0.0),  # fixed draw; active detractor if detractor and vocal < share
    "value": (np.float32, 0.0),
    "problem_cause": (np.int16, -1),  # touchpoint that opened the open problem (-1 none)
    "problem_age": (np.int16, 0),
    "problem_contacts": (np.int16, 0),
    "problem_major": (np.bool_, False),
    "problem_complains": (np.bool_, False),  # the customer will contact the firm about the open problem
    "problems": (np.int16, 0),  # problems ever opened
    "complained": (np.bool_, False),  # ever contacted the firm about a problem
    "unpaid": (np.bool_, False),  # dunned at the last bill and still did not pay
    "cancellation_notice": (np.bool_, False),  # ever got a cancellation notice
    "cancellation_conflict": (np.bool_, False),  # ever got a cross-sell offer in the week of a cancellation notice
    "last_invited": (np.int32, NEVER_INVITED),  # week of the last survey invitation, of either kind
    "last_relationship": (np.int32, NEVER_INVITED),  # week of the last relationship-survey invitation
    "transaction_stage": (np.int8, 0),  # stage of this week's last touch of a transactional kind
    "resolution": (np.int8, NO_PROBLEM),  # worst resolution ever
    "year_resolution": (np.int8, NO_PROBLEM),  # worst resolution since the last renewal
    "year_major": (np.bool_, False),  # that worst problem was major
    "last_failure_tp": (np.int16, -1),  # root cause: touchpoint of the last failure
    "touch_score_sum": (np.float32, 0.0),  # touchpoint scores as departments record them
    "touch_count": (np.int32, 0),
    "true_ltr": (np.int8, 0),
    "measured_ltr": (np.int8, -1),
    "followed_up": (np.bool_, False),
    "referrals_made": (np.int16, 0),
    "initial_ltr": (np.int8, -1),  # true likelihood to recommend at the start of week 0 (-1: joined later)
    "revenue": (np.float64, 0.0),  # revenue over the recorded weeks
    "touched": (np.bool_, False),  # had a touch this week
    "conflict": (np.bool_, False),  # had a conflicting contact this week
    "notice": (np.bool_, False),  # got a dunning notice this week
    "complaint": (np.bool_, False),  # contacted support about an open problem this week
    "cancel_notice": (np.bool_, False),  # got a cancellation notice this week
    "cancel_conflict": (np.bool_, False),  # had a cancellation conflict this week
    "transaction": (np.bool_, False),  # had a touch of a transactional-survey kind this week
}
WEEKLY_FLAGS = ("touched", "conflict", "notice", "complaint", "cancel_notice", "cancel_conflict", "transaction")


class CustomerStore:
    """Per-customer state as columns, grown in blocks.

    Attributes:
        n: Number of rows in use (customers ever created).
        capacity: Allocated rows.
    """

    def __init__(self, capacity: int) -> None:
        """Allocate an empty store.

        Args:
            capacity: Rows to allocate up front; the store grows by blocks when full.
        """
        self.n = 0
        self.capacity = max(int(capacity), 1)
        self._phases: dict[int, tuple[np.ndarray, int]] = {}  # period -> (joined_step % period, rows done)
        for name, (dtype, fill) in _COLUMNS.items():
            setattr(self, name, np.full(self.capacity, fill, dtype=dtype))

    # annotations for type checkers (set in __init__ via setattr)
    active: np.ndarray
    joined_step: np.ndarray
    left_step: np.ndarray
    stage: np.ndarray
    last_owner: np.ndarray
    last_stage: np.ndarray
    expectation: np.ndarray
    satisfaction: np.ndarray
    bias: np.ndarray
    fit: np.ndarray
    grudge: np.ndarray
    vocal: np.ndarray
    value: np.ndarray
    problem_cause: np.ndarray
    problem_age: np.ndarray
    problem_contacts: np.ndarray
    problem_major: np.ndarray
    problem_complains: np.ndarray
    problems: np.ndarray
    complained: np.ndarray
    unpaid: np.ndarray
    cancellation_notice: np.ndarray
    cancellation_conflict: np.ndarray
    last_invited: np.ndarray
    last_relationship: np.ndarray
    transaction_stage: np.ndarray
    resolution: np.ndarray
    year_resolution: np.ndarray
    year_major: np.ndarray
    last_failure_tp: np.ndarray
    touch_score_sum: np.ndarray
    touch_count: np.ndarray
    true_ltr: np.ndarray
    measured_ltr: np.ndarray
    followed_up: np.ndarray
    referrals_made: np.ndarray
    initial_ltr: np.ndarray
    revenue: np.ndarray
    touched: np.ndarray
    conflict: np.ndarray
    notice: np.ndarray
    complaint: np.ndarray
    cancel_notice: np.ndarray
    cancel_conflict: np.ndarray
    transaction: np.ndarray

    def _grow(self, needed: int) -> None:
        new_cap = max(needed, int(self.capacity * 1.25) + 1024)
        for name, (dtype, fill) in _COLUMNS.items():
            old = getattr(self, name)
            arr = np.full(new_cap, fill, dtype=dtype)
            arr[: self.n] = old[: self.n]
            setattr(self, name, arr)
        self.capacity = new_cap

    def add(
        self,
        count: int,
        step: int,
        rng: np.random.Generator,
        ccfg: CustomerConf,
        mcfg: MarketConf,
        expectation_shift: float = 0.0,
    ) -> slice:
        """Create ``count`` new active customers at ``step`` and return their row slice.

        Args:
            count: How many customers to create.
            step: The week they join (negative tenure is allowed for the initial book).
            rng: The demographics random stream.
            ccfg: Customer parameters.
            mcfg: Market parameters.
            expectation_shift: Points added to the expectation (over-promising by Sales).

        Returns:
            The slice of new rows.
        """
        start, stop = self.n, self.n + count
        if stop > self.capacity:
            self._grow(stop)
        rows = slice(start, stop)
        for name, (_dtype, fill) in _COLUMNS.items():
            getattr(self, name)[rows] = fill
        self.active[rows] = True
        self.joined_step[rows] = step
        self.expectation[rows] = np.clip(
            rng.normal(ccfg.expectation_mean + expectation_shift, ccfg.expectation_sd, count), 0, 10
        )
        self.satisfaction[rows] = np.clip(
            rng.normal(ccfg.initial_satisfaction_mean, ccfg.initial_satisfaction_sd, count), 0, 10
        )
        self.bias[rows] = rng.normal(ccfg.rating_bias_mean, ccfg.rating_bias_sd, count)
        self.vocal[rows] = rng.random(count, dtype=np.float32)
        mu = np.log(max(mcfg.value_mean, 1e-9)) - mcfg.value_sigma**2 / 2
        self.value[rows] = rng.lognormal(mu, mcfg.value_sigma, count) if mcfg.value_mean > 0 else 0.0
        self.fit[rows] = rng.normal(0.0, ccfg.fit_sd, count)
        self.n = stop
        return rows

    def anniversaries(self, week: int, period: int, streams: Streams) -> np.ndarray:
        """Rows of active customers whose tenure in ``week`` is a positive multiple of ``period`` weeks.

        Each customer's phase (``joined_step`` modulo ``period``) is computed once, the first time it
        is asked for, and kept in a narrow column, so a weekly call is one comparison per row
        instead of an integer division. ``joined_step`` must not change after that. ``streams`` lends
        its work arrays (:meth:`Streams.select_rows`); no draw is made.
        """
        n = self.n
        phase, done = self._phases.get(period, (np.empty(0, dtype=np.int16), 0))
        if done < n:
            if phase.size < n:
                grown = np.empty(max(n, int(phase.size * 1.25) + 1024), dtype=np.int16)
                grown[:done] = phase[:done]
                phase = grown
            phase[done:n] = np.remainder(self.joined_step[done:n], period)
            self._phases[period] = (phase, n)
        return streams.select_rows(_in_phase, n, phase[:n], week % period, self.active[:n], self.joined_step[:n], week)

    def view(self, name: str) -> np.ndarray:
        """The used part of a column."""
        return getattr(self, name)[: self.n]

    def columns(self) -> list[str]:
        """Names of all columns."""
        return list(_COLUMNS)


class Customer(mesa.Agent):
    """A handle onto one row of the customer store, for the tracked panel.

    The handle holds no state of its own; every attribute reads the store, so
    the vectorised step and the agent view can never disagree.
    """

    def __init__(self, model: mesa.Model, store: CustomerStore, row: int) -> None:
        """Create a handle.

        Args:
            model: The model.
            store: The customer store.
            row: The customer's row (its customer id).
        """
        super().__init__(model)
        self.store = store
        self.row = int(row)

    @property
    def customer_id(self) -> int:
        """The customer's row, which is its stable id."""
        return self.row

    @property
    def active(self) -> bool:
        """Whether the customer is still a customer."""
        return bool(self.store.active[self.row])

    @property
    def satisfaction(self) -> float:
        """Journey-level satisfaction, 0-10."""
        return float(self.store.satisfaction[self.row])

    @property
    def true_ltr(self) -> int:
        """True likelihood to recommend, 0-10."""
        return int(self.store.true_ltr[self.row])

    @property
    def stage(self) -> int:
        """Index of the journey stage of the last touch."""
        return int(self.store.stage[self.row])

    @property
    def open_problem(self) -> bool:
        """Whether a problem is open."""
        return bool(self.store.problem_cause[self.row] >= 0)

    @property
    def tenure(self) -> int:
        """Weeks since joining (up to leaving, if the customer left)."""
        end = self.store.left_step[self.row]
        now = self.model.week if end < 0 else end
        return int(now - self.store.joined_step[self.row])


@njit(cache=True)
def _in_phase(phase, target, active, joined_step, week, mask, out):
    """Active rows whose phase is ``target`` and who joined before ``week``, written to ``out``; returns how many."""
    for i in range(phase.size):
        mask[i] = (phase[i] == target) & active[i] & (joined_step[i] < week)
    return compact(mask, out)
