"""The journey: stages, touchpoints, hand-offs, capacity, experience scores.

One call to :meth:`Journey.touch` applies one touchpoint to a set of customers,
vectorised: capacity of the owning department, a hand-off if the customer's
previous journey touch was owned by another department, the touch's own
failure, the experience score, the satisfaction update with negativity bias,
and any problem the touch opens. The weekly rhythm (who is touched by which
touchpoint this week) is in the ``*_touches`` methods, called by the model in
its step order.

Two scores come out of a touch. The *experience* is what the customer lives:
it carries the hand-off failures, conflicting contacts and repeat contacts
that fall between silos. The *recorded touchpoint score* is what the owning
department sees: its touch alone. That is how a journey can be poor while
every touchpoint looks fine.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.config import OUTBOUND_KINDS

if TYPE_CHECKING:
    from sim.config import CustomerConf, JourneyConf
    from sim.customers import CustomerStore
    from sim.streams import Streams

__all__ = ["Journey", "WeekCounts"]


@dataclass
class WeekCounts:
    """What the journey counted this week."""

    n_tp: int
    n_stages: int
    handoffs: int = 0
    handoff_failures: int = 0
    conflicting_contacts: int = 0
    conflicts_suppressed: int = 0
    problems_opened: int = 0
    support_first_contacts: int = 0
    support_first_resolved: int = 0
    late_payers: int = 0
    late_paid: int = 0
    notices: int = 0
    offers: int = 0
    offers_accepted: int = 0
    touches: np.ndarray = field(init=False)
    failures: np.ndarray = field(init=False)
    recorded_sum: np.ndarray = field(init=False)
    stage_attempts: np.ndarray = field(init=False)
    stage_successes: np.ndarray = field(init=False)

    def __post_init__(self) -> None:
        """Allocate per-touchpoint and per-stage counters."""
        self.touches = np.zeros(self.n_tp, dtype=np.int64)
        self.failures = np.zeros(self.n_tp, dtype=np.int64)
        self.recorded_sum = np.zeros(self.n_tp, dtype=np.float64)
        self.stage_attempts = np.zeros(self.n_stages, dtype=np.int64)
        self.stage_successes = np.zeros(self.n_stages, dtype=np.int64)


class Journey:
    """Touchpoint tables and the vectorised touch.

    Attributes:
        stages: Stage names in order.
        names: Touchpoint names.
        tp: Touchpoint index by kind.
        stage_of: Stage index of each touchpoint.
        owner_of: Department index of each touchpoint.
        defect: Outer-loop multiplier of each touchpoint's failures (1 = not yet improved).
        week: Counters of the current week.
    """

    def __init__(
        self, jcfg: JourneyConf, ccfg: CustomerConf, department_names: list[str], handoff_reduction: float
    ) -> None:
        """Build the touchpoint tables.

        Args:
            jcfg: Journey configuration (validated).
            ccfg: Customer configuration (experience and satisfaction parameters).
            department_names: Department names in model order.
            handoff_reduction: How much a fully effective shared customer view cuts hand-off failure.
        """
        self.handoff_reduction = handoff_reduction
        self.cfg = jcfg
        self.ccfg = ccfg
        self.stages = list(jcfg.stages)
        self.names = list(jcfg.touchpoints)
        tps = [jcfg.touchpoints[n] for n in self.names]
        self.tp = {t.kind: i for i, t in enumerate(tps)}
        self.stage_of = np.array([self.stages.index(t.stage) for t in tps], dtype=np.int8)
        self.owner_of = np.array([department_names.index(t.owner) for t in tps], dtype=np.int8)
        self.base_quality = np.array([t.base_quality for t in tps], dtype=np.float32)
        self.failure_prob = np.array([t.failure_prob for t in tps], dtype=np.float32)
        self.inbound = np.array([t.kind not in OUTBOUND_KINDS for t in tps])
        self.defect = np.ones(len(tps), dtype=np.float64)
        self.fail_mult = np.ones(len(tps), dtype=np.float64)
        self.remaining = np.zeros(len(department_names), dtype=np.float64)
        self.demand = np.zeros(len(department_names), dtype=np.float64)
        self.shared_view = 0.0
        self.uplift = 0.0
        self.week = WeekCounts(len(tps), len(self.stages))
        self.accepted_offers = np.empty(0, dtype=np.int64)

    # ----------------------------------------------------------------- a week
    def begin_week(self, capacity: np.ndarray, fail_mult: np.ndarray, shared_view: float, uplift: float) -> None:
        """Reset the weekly counters and set this week's conditions.

        Args:
            capacity: Weekly capacity of each department (touches).
            fail_mult: Lever-driven failure multiplier of each touchpoint.
            shared_view: Effectiveness of the shared customer view, 0-1.
            uplift: Quality points silo projects add to every touchpoint.
        """
        self.week = WeekCounts(len(self.names), len(self.stages))
        self.remaining = capacity.astype(np.float64).copy()
        self.demand[:] = 0.0
        self.fail_mult = fail_mult
        self.shared_view = shared_view
        self.uplift = uplift

    def overloaded(self, rows: np.ndarray, tp: int, streams: Streams) -> np.ndarray:
        """Which of ``rows`` exceed the owner's remaining capacity this week (and use up capacity).

        Args:
            rows: Customers to be touched.
            tp: Touchpoint index.
            streams: Random streams.

        Returns:
            Boolean mask over ``rows``: True where the touch cannot be handled properly.
        """
        d = int(self.owner_of[tp])
        m = rows.size
        self.demand[d] += m
        room = self.remaining[d]
        self.remaining[d] = max(0.0, room - m)
        if m <= room or m == 0:
            return np.zeros(m, dtype=bool)
        return streams.uniform(f"capacity:{self.names[tp]}", rows) >= room / m

    def touch(
        self,
        store: CustomerStore,
        rows: np.ndarray,
        tp: int,
        streams: Streams,
        *,
        failed_extra: np.ndarray | None = None,
        conflict: np.ndarray | None = None,
        repeats: np.ndarray | None = None,
    ) -> np.ndarray:
        """Apply touchpoint ``tp`` to customers ``rows``.

        Random numbers are drawn only for the rows that need them (counter-based streams), so the
        cost is linear in the number of customers touched, not in the size of the book.

        Args:
            store: Customer store.
            rows: Customer rows (unique).
            tp: Touchpoint index.
            streams: Random streams.
            failed_extra: Extra failure mask over ``rows`` (capacity overload, unresolved contact).
            conflict: Mask over ``rows``: this contact conflicts with another department's.
            repeats: Earlier contacts about the same problem, per row.

        Returns:
            Mask over ``rows``: the touch failed (its own failure, not a hand-off).
        """
        c, wk = self.ccfg, self.week
        m = rows.size
        if m == 0:
            return np.zeros(0, dtype=bool)
        name, stage, owner = self.names[tp], int(self.stage_of[tp]), int(self.owner_of[tp])

        # hand-off: the previous journey touch was owned by another department, in another stage
        handoff_failed = np.empty(0, dtype=np.intp)  # positions in rows
        if self.inbound[tp]:
            prev_owner = store.last_owner[rows]
            crossing = np.flatnonzero((prev_owner >= 0) & (prev_owner != owner) & (store.last_stage[rows] != stage))
            p_h = (self.cfg.handoff_failure_prob * (1.0 - self.shared_view * self.handoff_reduction)
                   * self.defect[tp])
            handoff_failed = crossing[streams.uniform(f"handoff:{name}", rows[crossing]) < p_h]
            wk.handoffs += int(crossing.size)
            wk.handoff_failures += int(handoff_failed.size)

        # the touch's own failure
        p_f = self.failure_prob[tp] * self.defect[tp] * self.fail_mult[tp]
        failed = streams.uniform(f"failure:{name}", rows) < p_f if p_f > 0 else np.zeros(m, dtype=bool)
        if failed_extra is not None:
            failed |= failed_extra

        # experience (customer) and recorded touchpoint score (department), float32 in place
        q = np.float32(self.base_quality[tp] + self.uplift)
        e = store.expectation[rows]
        recorded = streams.normal(f"noise:{name}", rows)
        recorded *= np.float32(c.touch_noise_sd)
        recorded += q
        gap = e - q
        np.maximum(gap, np.float32(0.0), out=gap)
        gap *= np.float32(c.expectation_gap_weight)
        recorded -= gap
        np.subtract(recorded, np.float32(c.failure_penalty), out=recorded, where=failed)
        experience = recorded.copy()
        experience[handoff_failed] -= np.float32(c.handoff_penalty)
        if conflict is not None:
            experience[conflict] -= np.float32(c.conflicting_contact_penalty)
        if repeats is not None:
            experience -= np.float32(c.repeat_contact_penalty) * repeats
        for score in (experience, recorded):  # clip to the 0-10 scale (ufuncs: no Python-level clip wrapper)
            np.maximum(score, np.float32(0.0), out=score)
            np.minimum(score, np.float32(10.0), out=score)

        # journey-level satisfaction: bad touches weigh more than good ones
        s = store.satisfaction[rows]
        step = experience - s  # s += rate * step, with the negative rate for a worse experience
        worse = np.minimum(step, np.float32(0.0))
        step *= np.float32(c.learning_rate_positive)
        worse *= np.float32(c.learning_rate_negative - c.learning_rate_positive)
        s += step
        s += worse
        np.maximum(s, np.float32(0.0), out=s)
        np.minimum(s, np.float32(10.0), out=s)
        store.satisfaction[rows] = s
        experience -= e
        experience *= np.float32(c.expectation_adaptation)
        e += experience
        store.expectation[rows] = e

        # problems: a failed touch, or a failed hand-off some of the time, opens one
        caused = failed.copy()
        if handoff_failed.size:
            u_p = streams.uniform(f"problem:{name}", rows[handoff_failed])
            caused[handoff_failed[u_p < self.cfg.handoff_problem_prob]] = True
            marked = caused.copy()
            marked[handoff_failed] = True
        else:
            marked = caused
        store.last_failure_tp[rows[marked]] = tp
        opening = rows[caused]
        opening = opening[store.problem_cause[opening] < 0]
        if opening.size:
            store.problem_cause[opening] = tp
            store.problem_age[opening] = 0
            store.problem_contacts[opening] = 0
            major = streams.uniform(f"severity:{name}", opening) < c.major_problem_share
            store.problem_major[opening] = major
            store.problems[opening] += 1
            wk.problems_opened += int(opening.size)

        # bookkeeping
        store.touched[rows] = True
        store.touch_score_sum[rows] += recorded
        store.touch_count[rows] += 1
        store.stage[rows] = stage
        if self.inbound[tp]:
            store.last_owner[rows] = owner
            store.last_stage[rows] = stage
        n_failed = int(np.count_nonzero(failed))
        unsuccessful = failed.copy() if (handoff_failed.size or conflict is not None) else failed
        unsuccessful[handoff_failed] = True
        if conflict is not None:
            unsuccessful |= conflict
        wk.touches[tp] += m
        wk.failures[tp] += n_failed
        wk.recorded_sum[tp] += float(recorded.sum(dtype=np.float64))
        wk.stage_attempts[stage] += m
        wk.stage_successes[stage] += m - int(np.count_nonzero(unsuccessful))
        return failed

    def record_outcome(self, kind: str, successes: int, attempts: int) -> None:
        """Add outcomes decided outside a touch (renewal decisions) to the stage metric of ``kind``'s stage."""
        stage = int(self.stage_of[self.tp[kind]])
        self.week.stage_attempts[stage] += attempts
        self.week.stage_successes[stage] += successes

    def stage_success(self) -> np.ndarray:
        """This week's success share of each stage (NaN where nothing happened)."""
        wk = self.week
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(wk.stage_attempts > 0, wk.stage_successes / np.maximum(wk.stage_attempts, 1), np.nan)

    # ------------------------------------------------------ the weekly rhythm
    def onboarding_touches(self, store: CustomerStore, week: int, streams: Streams) -> None:
        """Set-up touches for customers in their first ``onboarding_weeks`` weeks."""
        n = store.n
        joined = store.joined_step[:n]
        due = np.flatnonzero(store.active[:n] & (joined <= week - 1) & (joined >= week - self.cfg.onboarding_weeks))
        due = due[streams.uniform("rhythm:onboarding", due) < self.cfg.onboarding_touch_prob]
        self._inbound(store, due, self.tp["onboarding"], streams)

    def usage_touches(self, store: CustomerStore, streams: Streams) -> None:
        """Usage touches: each active customer uses the product with ``usage_touch_prob`` a week."""
        n = store.n
        due = streams.dense_bernoulli("rhythm:usage", n, self.cfg.usage_touch_prob)
        due &= store.active[:n]
        self._inbound(store, np.flatnonzero(due), self.tp["usage"], streams)

    def _inbound(self, store: CustomerStore, rows: np.ndarray, tp: int, streams: Streams) -> np.ndarray:
        """An inbound touch where touches beyond the owner's capacity count as failures."""
        over = self.overloaded(rows, tp, streams)
        return self.touch(store, rows, tp, streams, failed_extra=over)

    def billing_touches(self, store: CustomerStore, week: int, streams: Streams, collections: float) -> None:
        """Bills every ``billing_period_weeks``; late payers may get a dunning notice.

        Args:
            store: Customer store.
            week: Current week.
            streams: Random streams.
            collections: Billing's collections-aggressiveness lever: probability a late payer gets a notice.
        """
        cfg, wk = self.cfg, self.week
        due = store.anniversaries(week, cfg.billing_period_weeks)
        self._inbound(store, due, self.tp["billing"], streams)
        late = due[streams.uniform("billing:late", due) < cfg.late_payment_prob]
        noticed = streams.uniform("billing:notice", late) < collections  # mask over late
        picked = np.flatnonzero(noticed)
        over = self.overloaded(late[picked], self.tp["notice"], streams)
        noticed[picked[over]] = False
        send = late[noticed]
        if send.size:
            self.touch(store, send, self.tp["notice"], streams)
            store.notice[send] = True
        paid_u = streams.uniform("billing:paid", late)
        p_pay = np.where(noticed, cfg.late_pay_with_notice, cfg.late_pay_without_notice)
        wk.late_payers += int(late.size)
        wk.late_paid += int((paid_u < p_pay).sum())
        wk.notices += int(send.size)

    def support_touches(self, store: CustomerStore, streams: Streams, fcr: float) -> np.ndarray:
        """Contacts with the support touchpoint: customers with an open problem, and questions.

        Args:
            store: Customer store.
            streams: Random streams.
            fcr: Probability a contact about a problem resolves it (first-contact resolution, after levers).

        Returns:
            Rows whose problem was resolved this week.
        """
        cfg, n, wk, tp = self.cfg, store.n, self.week, self.tp["support"]
        has_problem = store.active[:n] & (store.problem_cause[:n] >= 0)
        contacts = streams.dense_bernoulli("support:question", n, cfg.question_prob)
        contacts &= store.active[:n]
        contacts &= ~has_problem
        with_problem = np.flatnonzero(has_problem)
        contacts[with_problem[streams.uniform("support:contact", with_problem) < self.ccfg.help_contact_prob]] = True
        rows = np.flatnonzero(contacts)
        over = self.overloaded(rows, tp, streams)
        problem = has_problem[rows]
        p_resolve = 1.0 - (1.0 - fcr) * self.defect[tp]
        resolved = problem & ~over & (streams.uniform("support:resolve", rows) < p_resolve)
        unresolved = problem & ~resolved
        repeats = np.where(problem, store.problem_contacts[rows], 0).astype(np.float32)
        first = problem & (store.problem_contacts[rows] == 0)
        wk.support_first_contacts += int(first.sum())
        wk.support_first_resolved += int((first & resolved).sum())
        store.complaint[rows[problem]] = True
        self.touch(store, rows, tp, streams, failed_extra=unresolved | (over & ~problem), repeats=repeats)
        store.problem_contacts[rows[problem]] += 1
        return rows[resolved]

    def offer_touches(self, store: CustomerStore, streams: Streams, offer_prob: float, suppression: float) -> None:
        """Cross-sell offers; an offer to a customer in a complaint or with a notice this week conflicts.

        Args:
            store: Customer store.
            streams: Random streams.
            offer_prob: Weekly probability of an offer (cross-sell pressure x maximum rate).
            suppression: Probability that the shared customer view stops a conflicting offer.
        """
        n, wk, tp = store.n, self.week, self.tp["offer"]
        targeted = streams.dense_bernoulli("offer:target", n, offer_prob)
        targeted &= store.active[:n]
        rows = np.flatnonzero(targeted)
        in_conflict = (store.problem_cause[rows] >= 0) | store.notice[rows] | store.complaint[rows]
        stopped = in_conflict & (streams.uniform("offer:suppress", rows) < suppression)
        rows, in_conflict = rows[~stopped], in_conflict[~stopped]
        over = self.overloaded(rows, tp, streams)
        rows, in_conflict = rows[~over], in_conflict[~over]
        self.touch(store, rows, tp, streams, conflict=in_conflict)
        store.conflict[rows[in_conflict]] = True
        accepted = rows[~in_conflict & (streams.uniform("offer:accept", rows) < self.cfg.offer_accept_prob)]
        wk.offers += int(rows.size)
        wk.offers_accepted += int(accepted.size)
        wk.conflicting_contacts += int(in_conflict.sum())
        wk.conflicts_suppressed += int(stopped.sum())
        self.accepted_offers = accepted
