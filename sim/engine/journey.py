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

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.config.vocabularies import ESCALATION_KINDS, OUTBOUND_KINDS
from sim.engine.customers import RESOLUTION_NAMES
from sim.engine.metrics import DETRACTOR_MAX, PROMOTER_MIN
from sim.engine.touch import NO_BOOL, NO_FLOAT, TOUCH_STREAMS, TouchParams, support_contacts, touch_rows

if TYPE_CHECKING:
    from sim.config.schema import CustomerConf, JourneyConf
    from sim.engine.customers import CustomerStore
    from sim.engine.streams import Streams

__all__ = [
    "Journey",
    "WeekCounts",
]


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
    cancellation_notices: int = 0
    cancellation_conflicts: int = 0
    cancellation_conflicts_suppressed: int = 0
    problem_contacts: int = 0
    overloaded: int = 0  # inbound touches beyond their department's capacity (handled badly: they count as failed)
    offers: int = 0
    offers_accepted: int = 0
    touches: np.ndarray = field(init=False)
    failures: np.ndarray = field(init=False)
    recorded_sum: np.ndarray = field(init=False)
    stage_attempts: np.ndarray = field(init=False)
    stage_successes: np.ndarray = field(init=False)
    renewals: np.ndarray = field(init=False)  # renewal decisions by the resolution of the year's worst problem
    renewed: np.ndarray = field(init=False)  # of which renewed
    problems_by_cause: np.ndarray = field(init=False)  # problems opened, by the touchpoint that caused them

    def __post_init__(self) -> None:
        """Allocate per-touchpoint, per-stage and per-resolution counters."""
        self.touches = np.zeros(self.n_tp, dtype=np.int64)
        self.problems_by_cause = np.zeros(self.n_tp, dtype=np.int64)
        self.failures = np.zeros(self.n_tp, dtype=np.int64)
        self.recorded_sum = np.zeros(self.n_tp, dtype=np.float64)
        self.stage_attempts = np.zeros(self.n_stages, dtype=np.int64)
        self.stage_successes = np.zeros(self.n_stages, dtype=np.int64)
        self.renewals = np.zeros(len(RESOLUTION_NAMES), dtype=np.int64)
        self.renewed = np.zeros(len(RESOLUTION_NAMES), dtype=np.int64)

    def record(self) -> dict[str, float | int]:
        """This week's columns of metrics.parquet that the journey counts."""
        touches = int(self.touches.sum())
        first = self.support_first_contacts
        return {
            "handoff_failures": self.handoff_failures,
            "conflicting_contacts": self.conflicting_contacts,
            "handoffs": self.handoffs,
            "conflicts_suppressed": self.conflicts_suppressed,
            "problems_opened": self.problems_opened,
            "first_contact_resolution": self.support_first_resolved / first if first else float("nan"),
            "first_contacts": first,
            "first_contacts_resolved": self.support_first_resolved,
            "touches": touches,
            "mean_touchpoint_score": float(self.recorded_sum.sum() / touches) if touches else float("nan"),
            "notices": self.notices,
            "cancellation_notices": self.cancellation_notices,
            "cancellation_conflicts": self.cancellation_conflicts,
            "cancellation_conflicts_suppressed": self.cancellation_conflicts_suppressed,
            "problem_contacts": self.problem_contacts,
            "overload_failures": self.overloaded,
            "offers": self.offers,
            **{f"renewals_{name}": int(n) for name, n in zip(RESOLUTION_NAMES, self.renewals, strict=True)},
            **{f"renewed_{name}": int(n) for name, n in zip(RESOLUTION_NAMES, self.renewed, strict=True)},
        }


class Journey:
    """Touchpoint tables and the vectorised touch.

    Attributes:
        stages: Stage names in order.
        names: Touchpoint names.
        touchpoint_of_kind: Touchpoint index by kind (``touchpoint_of_kind["usage"]``).
        stage_of: Stage index of each touchpoint.
        owner_of: Department index of each touchpoint.
        defect: Outer-loop multiplier of each touchpoint's failures (1 = not yet improved).
        week: Counters of the current week.
    """

    def __init__(
        self,
        journey_conf: JourneyConf,
        customer_conf: CustomerConf,
        department_names: list[str],
        handoff_reduction: float,
        transactional_kinds: Sequence[str] = (),
    ) -> None:
        """Build the touchpoint tables.

        Args:
            journey_conf: Journey configuration (validated).
            customer_conf: Customer configuration (experience and satisfaction parameters).
            department_names: Department names in model order.
            handoff_reduction: How much a fully effective shared customer view cuts hand-off failure.
            transactional_kinds: Touchpoint kinds after which a transactional survey may follow
                (``feedback.survey.transactional_touchpoints``): a touch of one marks the customer this week.
        """
        self.handoff_reduction = handoff_reduction
        self.cfg = journey_conf
        self.customer_cfg = customer_conf
        self.stages = list(journey_conf.stages)
        self.names = list(journey_conf.touchpoints)
        touchpoints = [journey_conf.touchpoints[n] for n in self.names]
        self.touchpoint_of_kind = {t.kind: i for i, t in enumerate(touchpoints)}
        self.stage_of = np.array([self.stages.index(t.stage) for t in touchpoints], dtype=np.int8)
        self.owner_of = np.array([department_names.index(t.owner) for t in touchpoints], dtype=np.int8)
        self.base_quality = np.array([t.base_quality for t in touchpoints], dtype=np.float32)
        scale = journey_conf.failure_scale  # how error-prone the whole operation is
        self.failure_prob = np.minimum(np.array([t.failure_prob for t in touchpoints]) * scale, 1.0).astype(np.float32)
        self.inbound = np.array([t.kind not in OUTBOUND_KINDS for t in touchpoints])
        # contacts that are themselves a sign something went wrong (a dunning notice): never a stage success
        self.escalation = np.array([t.kind in ESCALATION_KINDS for t in touchpoints])
        # touches after which a transactional survey may follow
        self.transactional = np.array([t.kind in transactional_kinds for t in touchpoints])
        self.defect = np.ones(len(touchpoints), dtype=np.float64)
        self.failure_multiplier = np.ones(len(touchpoints), dtype=np.float64)
        self.handoff_factor = np.ones(len(department_names), dtype=np.float64)
        self.remaining = np.zeros(len(department_names), dtype=np.float64)
        self.demand = np.zeros(len(department_names), dtype=np.float64)
        self.shared_view = 0.0
        self.uplift = 0.0
        self.week = WeekCounts(len(touchpoints), len(self.stages))
        self.accepted_offers = np.empty(0, dtype=np.int64)
        # the touch kernel's parameters: three set per touch (hand-off and own failure, quality), the rest fixed
        c = customer_conf
        self._touch_params = TouchParams(
            p_handoff_fails=np.nan,
            p_touch_fails=np.nan,
            quality=np.nan,
            noise_sd=float(c.touch_noise_sd),
            gap_weight=float(c.expectation_gap_weight),
            failure_penalty=float(c.failure_penalty),
            handoff_penalty=float(c.handoff_penalty),
            conflict_penalty=float(c.conflicting_contact_penalty),
            repeat_penalty=float(c.repeat_contact_penalty),
            rate_up=float(c.learning_rate_positive),
            rate_down=float(c.learning_rate_negative),
            adaptation=float(c.expectation_adaptation),
            p_opens_problem=float(journey_conf.handoff_problem_prob),
            p_major=float(c.major_problem_share),
            p_complain_minor=float(c.complain_prob[0]),
            p_complain_major=float(c.complain_prob[1]),
            cancel_penalty=float(c.cancellation_conflict_penalty),
        )
        self._touch_streams = [tuple(f"{kind}:{name}" for kind in TOUCH_STREAMS) for name in self.names]
        self.contact_rows = np.empty(0, dtype=np.int64)  # this week's support contacts about a problem
        self.contact_causes = np.empty(0, dtype=np.int16)  # and the cause of each one's problem
        # every support contact this week: rows, which were about a problem, which ended resolved at that contact
        # (a question: answered, unless the desk was overloaded); read by silosim-export-records
        self.support_rows = np.empty(0, dtype=np.int64)
        self.support_problem = np.empty(0, dtype=bool)
        self.support_resolved = np.empty(0, dtype=bool)

    # ----------------------------------------------------------------- a week
    def begin_week(
        self,
        capacity: np.ndarray,
        failure_multiplier: np.ndarray,
        shared_view: float,
        uplift: float,
        handoff_factor: np.ndarray,
    ) -> None:
        """Reset the weekly counters and set this week's conditions.

        Args:
            capacity: Weekly capacity of each department (touches).
            failure_multiplier: Lever-driven failure multiplier of each touchpoint.
            shared_view: Effectiveness of the shared customer view, 0-1.
            uplift: Quality points silo projects add to every touchpoint.
            handoff_factor: Per department, what its hand-off care leaves of the failure of hand-offs out of it.
        """
        self.week = WeekCounts(len(self.names), len(self.stages))
        self.remaining = capacity.astype(np.float64).copy()
        self.demand[:] = 0.0
        self.failure_multiplier = failure_multiplier
        self.handoff_factor = np.asarray(handoff_factor, dtype=np.float64)
        self.shared_view = shared_view
        self.uplift = uplift

    def overloaded(self, rows: np.ndarray, touchpoint: int, streams: Streams) -> np.ndarray:
        """Which of ``rows`` exceed the owner's remaining capacity this week (and use up capacity).

        Args:
            rows: Customers to be touched.
            touchpoint: Touchpoint index.
            streams: Random streams.

        Returns:
            Boolean mask over ``rows``: True where the touch cannot be handled properly.
        """
        department = int(self.owner_of[touchpoint])
        wanted = rows.size
        self.demand[department] += wanted
        room = self.remaining[department]
        self.remaining[department] = max(0.0, room - wanted)
        if wanted <= room or wanted == 0:
            return np.zeros(wanted, dtype=bool)
        over = streams.uniform(f"capacity:{self.names[touchpoint]}", rows) >= room / wanted
        if self.inbound[touchpoint]:  # an outbound touch beyond capacity is not sent, not failed
            self.week.overloaded += int(over.sum())
        return over

    def handoff_failure_prob(self, touchpoint: int) -> float:
        """Probability that a hand-off into ``touchpoint`` fails this week (shared view and fixes applied)."""
        shared = 1.0 - self.shared_view * self.handoff_reduction
        return min(1.0, self.cfg.handoff_failure_prob * self.cfg.failure_scale) * shared * self.defect[touchpoint]

    def touch_failure_prob(self, touchpoint: int) -> float:
        """Probability that a touch of ``touchpoint`` fails this week (fixes and lever pushes applied)."""
        return self.failure_prob[touchpoint] * self.defect[touchpoint] * self.failure_multiplier[touchpoint]

    def touch(
        self,
        store: CustomerStore,
        rows: np.ndarray,
        touchpoint: int,
        streams: Streams,
        *,
        failed_extra: np.ndarray | None = None,
        conflict: np.ndarray | None = None,
        cancel_conflict: np.ndarray | None = None,
        repeats: np.ndarray | None = None,
    ) -> np.ndarray:
        """Apply a touchpoint to customers ``rows``.

        Random numbers are drawn only for the rows that need them (counter-based streams), so the
        cost is linear in the number of customers touched, not in the size of the book.

        Args:
            store: Customer store.
            rows: Customer rows (unique).
            touchpoint: Touchpoint index.
            streams: Random streams.
            failed_extra: Extra failure mask over ``rows`` (capacity overload, unresolved contact).
            conflict: Mask over ``rows``: this contact conflicts with another department's.
            cancel_conflict: Mask over ``rows``: the conflict is with a cancellation notice (an extra penalty).
            repeats: Earlier contacts about the same problem, per row.

        Returns:
            Mask over ``rows``: the touch failed (its own failure, not a hand-off).
        """
        counts = self.week
        touched = rows.size
        if touched == 0:
            return np.zeros(0, dtype=bool)
        params = self._touch_params._replace(  # the customer's parameters, set once; this week's conditions here
            p_handoff_fails=float(self.handoff_failure_prob(touchpoint)),
            p_touch_fails=float(self.touch_failure_prob(touchpoint)),
            quality=float(self.base_quality[touchpoint] + self.uplift),
        )
        failed = np.empty(touched, dtype=np.bool_)
        tallies = np.zeros(3, dtype=np.int64)
        touch_rows(
            np.asarray(rows, dtype=np.int64),
            touchpoint,
            int(self.stage_of[touchpoint]),
            int(self.owner_of[touchpoint]),
            bool(self.inbound[touchpoint]),
            params,
            streams.bases(self._touch_streams[touchpoint]),
            NO_BOOL if failed_extra is None else failed_extra,
            NO_BOOL if conflict is None else conflict,
            NO_BOOL if cancel_conflict is None else cancel_conflict,
            NO_FLOAT if repeats is None else repeats,
            store.last_owner,
            store.last_stage,
            store.stage,
            store.expectation,
            store.satisfaction,
            store.touch_score_sum,
            store.touch_count,
            store.touched,
            store.fit,
            store.last_failure_tp,
            store.problem_cause,
            store.problem_age,
            store.problem_contacts,
            store.problem_major,
            store.problem_complains,
            store.problems,
            self.handoff_factor,
            bool(self.escalation[touchpoint]),
            counts.touches,
            counts.failures,
            counts.recorded_sum,
            counts.problems_by_cause,
            counts.stage_attempts,
            counts.stage_successes,
            failed,
            tallies,
        )
        counts.handoffs += int(tallies[0])
        counts.handoff_failures += int(tallies[1])
        counts.problems_opened += int(tallies[2])
        if self.transactional[touchpoint]:  # a transactional survey may follow this touch
            store.transaction[rows] = True
            store.transaction_stage[rows] = self.stage_of[touchpoint]
        return failed

    def record_renewals(self, resolution: np.ndarray, renewed: np.ndarray) -> None:
        """Count the week's renewal decisions: in the renewal stage's metric, and by the year's resolution class.

        Args:
            resolution: Per decision, the resolution class of the customer's worst problem of the year
                (``RESOLUTION_NAMES`` codes; a problem still open counts as at best slow).
            renewed: Per decision, whether the customer renewed.
        """
        counts = self.week
        stage = int(self.stage_of[self.touchpoint_of_kind["renewal"]])
        counts.stage_attempts[stage] += resolution.size
        counts.stage_successes[stage] += int(renewed.sum())
        counts.renewals += np.bincount(resolution, minlength=len(RESOLUTION_NAMES))
        counts.renewed += np.bincount(resolution[renewed], minlength=len(RESOLUTION_NAMES))

    # ------------------------------------------------------ the weekly rhythm
    def onboarding_touches(self, store: CustomerStore, week: int, streams: Streams) -> None:
        """Set-up touches for customers in their first ``onboarding_weeks`` weeks."""
        n = store.n
        joined = store.joined_step[:n]
        due = np.flatnonzero(store.active[:n] & (joined <= week - 1) & (joined >= week - self.cfg.onboarding_weeks))
        due = due[streams.uniform("rhythm:onboarding", due) < self.cfg.onboarding_touch_prob]
        self._inbound(store, due, self.touchpoint_of_kind["onboarding"], streams)

    def usage_touches(self, store: CustomerStore, streams: Streams) -> None:
        """Usage touches: each active customer uses the product with ``usage_touch_prob`` a week."""
        n = store.n
        due = streams.bernoulli_rows("rhythm:usage", self.cfg.usage_touch_prob, store.active[:n])
        self._inbound(store, due, self.touchpoint_of_kind["usage"], streams)

    def _inbound(self, store: CustomerStore, rows: np.ndarray, touchpoint: int, streams: Streams) -> np.ndarray:
        """An inbound touch where touches beyond the owner's capacity count as failures."""
        over = self.overloaded(rows, touchpoint, streams)
        return self.touch(store, rows, touchpoint, streams, failed_extra=over)

    def billing_touches(self, store: CustomerStore, week: int, streams: Streams, collections: float) -> None:
        """Bills every ``billing_period_weeks``; late payers may get a dunning notice; cancellation notices.

        A customer dunned at the last bill who still did not pay gets a cancellation notice at this bill with
        ``cancellation_after_dunning``; a risk review sends one to any active customer with ``risk_review_prob``
        a week (the insurer's actuarial department in the seeds). Notices and cancellation notices beyond
        Billing's capacity are not sent.

        Args:
            store: Customer store.
            week: Current week.
            streams: Random streams.
            collections: Billing's collections-aggressiveness lever: probability a late payer gets a notice.
        """
        cfg, counts = self.cfg, self.week
        notice = self.touchpoint_of_kind["notice"]
        due = store.anniversaries(week, cfg.billing_period_weeks, streams)
        unpaid = due[store.unpaid[due]]  # dunned last time and still not paid: a cancellation notice now
        store.unpaid[due] = False
        self._inbound(store, due, self.touchpoint_of_kind["billing"], streams)
        late = due[streams.uniform("billing:late", due) < cfg.late_payment_prob]
        noticed = streams.uniform("billing:notice", late) < collections  # mask over late
        picked = np.flatnonzero(noticed)
        over = self.overloaded(late[picked], notice, streams)
        noticed[picked[over]] = False
        send = late[noticed]
        if send.size:
            self.touch(store, send, notice, streams)
            store.notice[send] = True
        paid = streams.uniform("billing:paid", late) < np.where(
            noticed, cfg.late_pay_with_notice, cfg.late_pay_without_notice
        )
        store.unpaid[late[noticed & ~paid]] = True
        counts.late_payers += int(late.size)
        counts.late_paid += int(paid.sum())
        counts.notices += int(send.size)
        self._cancellation_notices(store, unpaid, streams)

    def _cancellation_notices(self, store: CustomerStore, unpaid: np.ndarray, streams: Streams) -> None:
        """Cancellation notices: to dunned non-payers at their next bill, and from the week's risk review."""
        cfg, n = self.cfg, store.n
        cancellation = self.touchpoint_of_kind["cancellation"]
        lapsed = unpaid[streams.uniform("billing:cancel", unpaid) < cfg.cancellation_after_dunning]
        reviewed = streams.bernoulli_rows("billing:risk_review", cfg.risk_review_prob, store.active[:n])
        rows = np.union1d(reviewed, lapsed)
        rows = rows[~self.overloaded(rows, cancellation, streams)]
        if rows.size:
            self.touch(store, rows, cancellation, streams)
            store.cancel_notice[rows] = True
            store.cancellation_notice[rows] = True
        self.week.cancellation_notices += int(rows.size)

    def support_touches(self, store: CustomerStore, streams: Streams, fcr: float) -> np.ndarray:
        """Contacts with the support touchpoint: customers with an open problem who complain, and questions.

        Only a customer who will complain about the open problem (``problem_complains``, drawn when it opened)
        contacts support about it; a silent problem holder never does, and may ask a question like anyone else.
        The causes of this week's problem contacts are kept in ``contact_causes`` (for call-centre bucketing).

        Args:
            store: Customer store.
            streams: Random streams.
            fcr: Probability a contact about a problem resolves it (first-contact resolution, after levers).

        Returns:
            Rows whose problem was resolved this week.
        """
        cfg, n, counts, support = self.cfg, store.n, self.week, self.touchpoint_of_kind["support"]
        rows, problem = streams.select(
            support_contacts,
            n,
            streams.base("support:contact"),
            np.float32(self.customer_cfg.help_contact_prob),
            streams.base("support:question"),
            np.float64(cfg.question_prob),
            store.active[:n],
            store.problem_cause[:n],
            store.problem_complains[:n],
        )
        over = self.overloaded(rows, support, streams)
        p_resolve = 1.0 - (1.0 - fcr) * self.defect[support]
        resolved = problem & ~over & (streams.uniform("support:resolve", rows) < p_resolve)
        unresolved = problem & ~resolved
        repeats = np.where(problem, store.problem_contacts[rows], 0).astype(np.float32)
        first = problem & (store.problem_contacts[rows] == 0)
        counts.support_first_contacts += int(first.sum())
        counts.support_first_resolved += int((first & resolved).sum())
        counts.problem_contacts += int(problem.sum())
        self.support_rows, self.support_problem, self.support_resolved = rows, problem, resolved | (~problem & ~over)
        complainers = rows[problem]
        self.contact_rows, self.contact_causes = complainers, store.problem_cause[complainers].copy()
        store.complaint[complainers] = True
        store.complained[complainers] = True
        self.touch(store, rows, support, streams, failed_extra=unresolved | (over & ~problem), repeats=repeats)
        store.problem_contacts[complainers] += 1
        return rows[resolved]

    def offer_touches(self, store: CustomerStore, streams: Streams, offer_prob: float, suppression: float) -> None:
        """Cross-sell offers; an offer to a customer in a complaint, with a problem or a notice this week conflicts.

        An offer in the week of a cancellation notice is a cancellation conflict too (the seeds' insurance case):
        it costs an extra ``cancellation_conflict_penalty`` and raises the week's churn further. A shared customer
        view stops a conflicting offer with probability ``suppression``, but only when the firm knows of the
        collision: a problem the customer never complained about is not on record.

        A conflicting offer fails the contact it collides with too: it counts against the conflict-free
        contacts of the notice's stage (pay) or the complaint's (get_help), as well as the offer's own, so
        every department whose contact it spoils sees it in its shared stage metric. Customers accept an
        offer by their NPS category (promoters most, detractors least).

        Args:
            store: Customer store.
            streams: Random streams.
            offer_prob: Weekly probability of an offer (cross-sell pressure x maximum rate).
            suppression: Probability that the shared customer view stops a conflicting offer it can see.
        """
        n, counts, offer = store.n, self.week, self.touchpoint_of_kind["offer"]
        rows = streams.bernoulli_rows("offer:target", offer_prob, store.active[:n])
        noticed = store.notice[rows] | store.cancel_notice[rows]
        holding = store.problem_cause[rows] >= 0
        on_record = (holding & store.problem_complains[rows]) | noticed | store.complaint[rows]
        in_conflict = holding | on_record
        stopped = on_record & (streams.uniform("offer:suppress", rows) < suppression)
        counts.cancellation_conflicts_suppressed += int((stopped & store.cancel_notice[rows]).sum())
        keep = ~stopped
        rows, in_conflict, noticed = rows[keep], in_conflict[keep], noticed[keep]
        over = self.overloaded(rows, offer, streams)
        rows, in_conflict, noticed = rows[~over], in_conflict[~over], noticed[~over]
        cancelling = store.cancel_notice[rows]  # a cancellation notice this week: always a conflict
        self.touch(store, rows, offer, streams, conflict=in_conflict, cancel_conflict=cancelling)
        store.conflict[rows[in_conflict]] = True
        store.cancel_conflict[rows[cancelling]] = True
        store.cancellation_conflict[rows[cancelling]] = True
        dunned = in_conflict & ~cancelling & store.notice[rows]
        self._spoilt_contacts(
            {
                "cancellation": int(cancelling.sum()),
                "notice": int(dunned.sum()),
                "support": int((in_conflict & ~noticed).sum()),
            }
        )
        ltr = store.true_ltr[rows]
        category = np.where(ltr >= PROMOTER_MIN, 2, np.where(ltr <= DETRACTOR_MAX, 0, 1))
        p_accept = self.cfg.offer_accept_prob * np.asarray(self.cfg.offer_accept_by_category)[category]
        accepted = rows[~in_conflict & (streams.uniform("offer:accept", rows) < p_accept)]
        counts.offers += int(rows.size)
        counts.offers_accepted += int(accepted.size)
        counts.conflicting_contacts += int(in_conflict.sum())
        counts.cancellation_conflicts += int(cancelling.sum())
        counts.conflicts_suppressed += int(stopped.sum())
        self.accepted_offers = accepted

    def _spoilt_contacts(self, spoilt: dict[str, int]) -> None:
        """Conflicting offers count as failed contacts in the stage of the contact they collide with.

        Args:
            spoilt: Conflicting offers by the kind of contact they collide with: a cancellation notice, a dunning
                notice, or a complaint or open problem (``support``).
        """
        counts = self.week
        for kind, count in spoilt.items():
            counts.stage_attempts[int(self.stage_of[self.touchpoint_of_kind[kind]])] += count
