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
from numba import njit

from sim.config import OUTBOUND_KINDS
from sim.streams import draw_normal, draw_uniform

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


_TOUCH_STREAMS = ("handoff", "failure", "noise", "problem", "severity")  # stream of each draw in a touch
_NO_BOOL = np.zeros(0, dtype=np.bool_)
_NO_FLOAT = np.zeros(0, dtype=np.float32)


@njit(cache=True)
def _touch_rows(
    rows,
    tp,
    stage,
    owner,
    inbound,
    params,
    bases,
    failed_extra,
    conflict,
    repeats,
    last_owner,
    last_stage,
    cur_stage,
    expectation,
    satisfaction,
    touch_score_sum,
    touch_count,
    touched,
    last_failure_tp,
    problem_cause,
    problem_age,
    problem_contacts,
    problem_major,
    problems,
    failed,
    counts,
):
    """One touchpoint applied to each of ``rows`` in turn (the rules of :meth:`Journey.touch`, row by row).

    ``params``: hand-off failure probability, own failure probability, quality, noise sd, expectation-gap
    weight, failure, hand-off, conflict and repeat penalties, positive and negative learning rates,
    expectation adaptation, probability a failed hand-off opens a problem, major-problem share.
    ``bases``: the streams of the hand-off, failure, noise, problem and severity draws.
    Writes ``failed`` (the touch's own failure, or ``failed_extra``) and ``counts`` (hand-offs, failed
    hand-offs, problems opened, failed touches, unsuccessful touches); returns the sum of recorded scores.
    """
    p_h, p_f, q, noise_sd, gap_w = params[0], params[1], params[2], params[3], params[4]
    pen_fail, pen_handoff, pen_conflict, pen_repeat = params[5], params[6], params[7], params[8]
    lr_pos, lr_neg, adapt, p_problem, p_major = params[9], params[10], params[11], params[12], params[13]
    b_handoff, b_fail, b_noise, b_problem, b_severity = bases[0], bases[1], bases[2], bases[3], bases[4]
    has_extra, has_conflict, has_repeats = failed_extra.size > 0, conflict.size > 0, repeats.size > 0
    recorded_sum = 0.0
    for i in range(rows.size):
        r = rows[i]
        # hand-off: the previous journey touch was owned by another department, in another stage
        handoff_failed = False
        if inbound and last_owner[r] >= 0 and last_owner[r] != owner and last_stage[r] != stage:
            counts[0] += 1
            if draw_uniform(b_handoff, r) < p_h:
                handoff_failed = True
                counts[1] += 1
        # the touch's own failure
        f = p_f > 0.0 and draw_uniform(b_fail, r) < p_f
        if has_extra and failed_extra[i]:
            f = True
        failed[i] = f
        # recorded touchpoint score (what the department sees) and experience (what the customer lives)
        e = np.float64(expectation[r])
        rec = q + noise_sd * draw_normal(b_noise, r) - gap_w * max(e - q, 0.0)
        if f:
            rec -= pen_fail
        exp = rec
        if handoff_failed:
            exp -= pen_handoff
        in_conflict = has_conflict and conflict[i]
        if in_conflict:
            exp -= pen_conflict
        if has_repeats:
            exp -= pen_repeat * repeats[i]
        rec = min(max(rec, 0.0), 10.0)
        exp = min(max(exp, 0.0), 10.0)
        # journey-level satisfaction: bad touches weigh more than good ones
        s = np.float64(satisfaction[r])
        step = exp - s
        s += (lr_pos if step >= 0.0 else lr_neg) * step
        satisfaction[r] = min(max(s, 0.0), 10.0)
        expectation[r] = e + adapt * (exp - e)
        # problems: a failed touch, or a failed hand-off some of the time, opens one
        caused = f or (handoff_failed and draw_uniform(b_problem, r) < p_problem)
        if caused or handoff_failed:
            last_failure_tp[r] = tp
        if caused and problem_cause[r] < 0:
            problem_cause[r] = tp
            problem_age[r] = 0
            problem_contacts[r] = 0
            problem_major[r] = draw_uniform(b_severity, r) < p_major
            problems[r] += 1
            counts[2] += 1
        # bookkeeping
        rec32 = np.float32(rec)
        recorded_sum += rec32
        touched[r] = True
        touch_score_sum[r] += rec32
        touch_count[r] += 1
        cur_stage[r] = stage
        if inbound:
            last_owner[r] = owner
            last_stage[r] = stage
        if f:
            counts[3] += 1
        if f or handoff_failed or in_conflict:
            counts[4] += 1
    return recorded_sum


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
        c, wk, st = self.ccfg, self.week, store
        m = rows.size
        if m == 0:
            return np.zeros(0, dtype=bool)
        name, stage, owner = self.names[tp], int(self.stage_of[tp]), int(self.owner_of[tp])
        inbound = bool(self.inbound[tp])
        p_h = self.cfg.handoff_failure_prob * (1.0 - self.shared_view * self.handoff_reduction) * self.defect[tp]
        p_f = self.failure_prob[tp] * self.defect[tp] * self.fail_mult[tp]
        params = np.array(
            [
                p_h,
                p_f,
                self.base_quality[tp] + self.uplift,
                c.touch_noise_sd,
                c.expectation_gap_weight,
                c.failure_penalty,
                c.handoff_penalty,
                c.conflicting_contact_penalty,
                c.repeat_contact_penalty,
                c.learning_rate_positive,
                c.learning_rate_negative,
                c.expectation_adaptation,
                self.cfg.handoff_problem_prob,
                c.major_problem_share,
            ],
            dtype=np.float64,
        )
        bases = np.array([streams.base(f"{kind}:{name}") for kind in _TOUCH_STREAMS], dtype=np.uint64)
        failed = np.empty(m, dtype=np.bool_)
        counts = np.zeros(5, dtype=np.int64)
        recorded_sum = _touch_rows(
            np.asarray(rows, dtype=np.int64),
            tp,
            stage,
            owner,
            inbound,
            params,
            bases,
            _NO_BOOL if failed_extra is None else failed_extra,
            _NO_BOOL if conflict is None else conflict,
            _NO_FLOAT if repeats is None else repeats,
            st.last_owner,
            st.last_stage,
            st.stage,
            st.expectation,
            st.satisfaction,
            st.touch_score_sum,
            st.touch_count,
            st.touched,
            st.last_failure_tp,
            st.problem_cause,
            st.problem_age,
            st.problem_contacts,
            st.problem_major,
            st.problems,
            failed,
            counts,
        )
        handoffs, handoff_failures, opened, n_failed, unsuccessful = (int(x) for x in counts)
        wk.handoffs += handoffs
        wk.handoff_failures += handoff_failures
        wk.problems_opened += opened
        wk.touches[tp] += m
        wk.failures[tp] += n_failed
        wk.recorded_sum[tp] += recorded_sum
        wk.stage_attempts[stage] += m
        wk.stage_successes[stage] += m - unsuccessful
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
