"""The per-agent reference: the customer rules written the plain Mesa way, one agent per customer.

This is the executable specification of the customer rules. Each customer is a
:class:`ReferenceCustomer` (a ``mesa.Agent``) holding its state in Python scalars, and its weekly
rules are small methods: use the product, pay a bill, seek help, consider an offer, renew, let a
problem age, recommend, answer a survey, decide to churn. Everything on the company's side is the
engine's own code: the configuration, the departments with their local search, lever effects and
weekly record (:class:`Organisation`), governance (:class:`Programme`), the touchpoint tables and
weekly counters (:class:`Journey`), the prospect pool (:class:`Market`), the survey's rolling
windows and the outer loop (:class:`Survey`, :class:`OuterLoop`) and the word-of-mouth graph
(:class:`Network`). Each of these returns its own columns of the weekly record, so the two models
record them with the same code.

The week runs in the engine's order (see :meth:`sim.engine.model.SiloModel._simulate_week`) as staged
activation: each stage calls one rule on every customer before the next stage starts. A single
``step()`` per customer would not be the same model, because a department's capacity is shared
by all the customers touched in a stage (those beyond it are served badly), and the engine
serves stage by stage. Within a stage, the customers wanting a touch first ask for it, the owning
department reports the share it can serve properly, then each customer is touched.

Random numbers come from the model's ``random.Random`` (scalar draws in activation order), so the
reference and the engine do not share draws: they agree statistically, which is what the docking
test (tests/test_docking.py) checks. It is slow by design (one Python call per customer and rule);
benchmarks/throughput.py measures how much slower than the engine.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

from sim.config.compose import to_config
from sim.config.validation import validate
from sim.config.vocabularies import WEEKS_PER_YEAR
from sim.engine.feedback import OuterLoop, Survey
from sim.engine.governance import Programme
from sim.engine.journey import Journey
from sim.engine.loyalty import initial_book, problem_renewal_loss
from sim.engine.market import Market, Referrals
from sim.engine.metrics import annual_retention, nps_from_counts
from sim.engine.model import INITIAL_TENURE_WEEKS, settled_problem_rate
from sim.engine.network import Network
from sim.engine.organisation import Organisation
from sim.engine.reference_customer import ReferenceCustomer
from sim.engine.streams import Streams

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.config.schema import SiloConfig

__all__ = [
    "ReferenceModel",
]


class ReferenceModel(mesa.Model):
    """The same model as :class:`sim.engine.model.SiloModel`, with one Mesa agent per customer.

    Attributes:
        cfg: The typed configuration.
        week: Weeks simulated so far (the next step simulates this week).
        customers: Active customers, in creation order.
        organisation: The departments and what their levers do (the engine's own component).
        records: One dict of metrics per simulated week (the engine's columns).
    """

    def __init__(self, cfg: SiloConfig | DictConfig) -> None:
        """Build the model and run the warm-up, like the engine.

        Args:
            cfg: A composed configuration (DictConfig from Hydra or the typed dataclass).
        """
        cfg = to_config(cfg)
        validate(cfg)
        super().__init__(rng=cfg.seed)
        self.cfg = cfg
        self.week = -cfg.warmup_weeks - 1
        self.streams = Streams(cfg.seed)  # for the company's scalar draws (acquisition, loops, network)
        self.streams.week = self.week
        self.scale = cfg.customers / 1000.0
        names = list(cfg.org.departments)
        self.journey = Journey(
            cfg.journey,
            cfg.customer,
            names,
            cfg.governance.handoff_reduction,
            cfg.feedback.survey.transactional_touchpoints,
        )
        self.organisation = Organisation(self, cfg, self.journey)
        self.contacts: list[tuple[int, int]] = []  # this week's support contacts about a problem: (row, cause)
        self.open_complaints = 0

        self.everyone: list[ReferenceCustomer] = []
        self.customers: list[ReferenceCustomer] = []
        self.network = Network(cfg.network.degree, cfg.network.rewire_prob)
        usage = self.journey.touchpoint_of_kind["usage"]
        book = self._join(cfg.customers, 0)
        journey = cfg.journey
        touch_rate = journey.usage_touch_prob + 1.0 / journey.billing_period_weeks + journey.question_prob
        loss = problem_renewal_loss(cfg.customer, settled_problem_rate(self.journey, self.organisation))
        start = initial_book(
            cfg.customers, self.streams.rng("initial_book"), cfg.customer, INITIAL_TENURE_WEEKS, touch_rate, loss
        )
        for i, a in enumerate(book):  # the survivors of twenty years of joining, in the use stage (as the engine's)
            a.joined_step = -cfg.warmup_weeks - int(start.tenure[i])
            a.fit, a.bias = float(start.fit[i]), float(start.bias[i])
            a.satisfaction, a.expectation = float(start.satisfaction[i]), float(start.expectation[i])
            a.update_ltr()
            a.stage = a.last_stage = int(self.journey.stage_of[usage])
            a.last_owner = int(self.journey.owner_of[usage])
        self.market = Market(cfg.market, cfg.customers)
        self.programme = Programme(cfg.governance, cfg.feedback)
        self.survey = Survey(cfg.feedback.survey, cfg.feedback.gaming, len(self.journey.stages))
        self.outer_loop = OuterLoop(cfg.feedback.outer_loop, len(self.journey.names))
        self.followup_queue: list[tuple[ReferenceCustomer, int]] = []
        self.followups = self.recoveries = 0
        self.initial_book: list[ReferenceCustomer] = []  # the customers on the book at the start of week 0
        self.records: list[dict[str, Any]] = []
        self.week += 1
        while self.week < 0:
            self._simulate_week()

    # ---------------------------------------------------------------- helpers
    def active_count(self) -> int:
        """Active customers now."""
        return len(self.customers)

    def _join(self, count: int, week: int, expectation_shift: float = 0.0) -> list[ReferenceCustomer]:
        """Create ``count`` customers joining in ``week`` and link them into the network."""
        start = len(self.everyone)
        new = [ReferenceCustomer(self, start + i, week, expectation_shift) for i in range(count)]
        self.everyone += new
        self.customers += new
        first_edge = self.network.m
        self.network.add_nodes(slice(start, start + count), self.streams.rng("network"))
        edges = zip(self.network.src[first_edge:].tolist(), self.network.dst[first_edge:].tolist(), strict=True)
        for source, target in edges:
            self.everyone[source].neighbours.append(self.everyone[target])
            self.everyone[target].neighbours.append(self.everyone[source])
        return new

    def _serve(self, customers: list[ReferenceCustomer], touchpoint: int) -> list[bool]:
        """Ask the owner of ``touchpoint`` for one touch per customer; True where it is overloaded.

        The department serves its remaining capacity this week; beyond it each touch is handled
        badly with probability 1 - room / demand (as :meth:`Journey.overloaded`).
        """
        journey = self.journey
        department, wanted = int(journey.owner_of[touchpoint]), len(customers)
        journey.demand[department] += wanted
        room = float(journey.remaining[department])
        journey.remaining[department] = max(0.0, room - wanted)
        if wanted <= room:
            return [False] * wanted
        share = room / wanted
        over = [self.random.random() >= share for _ in customers]
        if journey.inbound[touchpoint]:  # an outbound touch beyond capacity is not sent, not failed
            journey.week.overloaded += sum(over)
        return over

    def _touch_all(self, customers: list[ReferenceCustomer], kind: str) -> None:
        """A stage of inbound touches of the touchpoint of ``kind``: ask for capacity, then touch each customer."""
        touchpoint = self.journey.touchpoint_of_kind[kind]
        for a, over in zip(customers, self._serve(customers, touchpoint), strict=True):
            a.touch(touchpoint, failed_extra=over)

    def _do(self, customers: Iterable[ReferenceCustomer], method: str) -> None:
        for a in customers:
            getattr(a, method)()

    # ------------------------------------------------------------------- step
    def step(self) -> None:
        """Simulate one week and record it."""
        self._simulate_week()

    def _simulate_week(self) -> None:
        """The weekly schedule, stage by stage, in the engine's order."""
        cfg, journey, organisation, week = self.cfg, self.journey, self.organisation, self.week
        effects = cfg.org.lever_effects
        self.streams.week = week
        everyone = self.customers
        self._do(everyone, "begin_week")
        active_before = len(everyone)
        if week == 0:
            self.initial_book = list(everyone)
            for a in everyone:
                a.initial_ltr = a.true_ltr

        # 1. governance (improvement work takes capacity: last week's follow-ups, the fixes in progress)
        if week >= 0:
            self.programme.update(week, self.survey.measured_nps)
        programme = self.programme
        organisation.open_week(programme, self.followups, [tp for tp, _ in self.outer_loop.in_progress])

        # 2. word of mouth and acquisition
        referrers = [a for a in everyone if a.refer()]
        promoters, detractors = sum(a.promoter for a in referrers), sum(a.detractor for a in referrers)
        referrals = Referrals(promoters, len(referrers) - promoters - detractors, detractors)
        acquired = self.market.acquire(
            referrals,
            campaign=effects.campaign_acquisition * organisation.lever("campaign_volume"),
            conversion_boost=effects.over_promise_conversion * organisation.lever("over_promise"),
            active_detractor_share=sum(a.active_detractor for a in everyone) / max(active_before, 1),
            streams=self.streams,
        )
        over_promise = effects.over_promise_expectation * organisation.lever("over_promise")
        new = self._join(acquired.total, week, over_promise)
        everyone = self.customers
        self._touch_all(new[: acquired.marketing], "acquisition")
        self._touch_all(new, "purchase")

        # 3. the journey: onboarding, use, bills, dunning and cancellation notices, support, offers
        self._touch_all([a for a in everyone if a.wants_onboarding(week)], "onboarding")
        self._touch_all([a for a in everyone if a.wants_usage()], "usage")
        self._bills(everyone)
        support = journey.touchpoint_of_kind["support"]
        self.contacts = []
        contacts = [a for a in everyone if a.contacts_support()]
        p_resolve = 1.0 - (1.0 - organisation.first_contact_resolution) * float(journey.defect[support])
        for a, over in zip(contacts, self._serve(contacts, support), strict=True):
            a.seek_help(over, p_resolve, support)
        self._offers(everyone)

        # 4. renewal decisions and problems that age or are given up
        due = [a for a in everyone if a.tenure(week) > 0 and a.tenure(week) % WEEKS_PER_YEAR == 0]
        self._touch_all(due, "renewal")
        classes = np.array([a.renewal_class for a in due], dtype=np.int64)
        renewing = [a.renews() for a in due]
        journey.record_renewals(classes, np.array(renewing, dtype=bool))
        not_renewed = [a for a, renew in zip(due, renewing, strict=True) if not renew]
        given_up = sum(a.age_problem() for a in everyone)

        # 5. recommendation, survey, inner and outer loop
        self._do(everyone, "update_ltr")
        recovered = self._inner_loop(self._survey(everyone))
        for a in recovered:
            if a.has_problem:
                a.resolve_problem(0.0)
            a.satisfaction = min(10.0, a.satisfaction + cfg.feedback.inner_loop.recovery_lift)
        open_problems = sum(a.has_problem for a in everyone)
        self.open_complaints = sum(a.complaining for a in everyone)
        backlog = 1000.0 * self.open_complaints / max(len(everyone), 1)  # the problems the firm has heard of
        filed = None
        if programme.bucketing > 0 and self.contacts:
            rows, causes = (np.array(x, dtype=np.int64) for x in zip(*self.contacts, strict=True))
            filed = self.outer_loop.bucket(rows, causes, self.streams)
        self.outer_loop.step(
            week,
            self.survey.causes,
            programme.fixes,
            backlog,
            journey.defect,
            self.streams,
            contact_causes=filed,
            bucketing=programme.bucketing,
        )
        self._do(everyone, "update_ltr")

        # 6. churn: the weekly hazard, plus those who did not renew
        churners = [a for a in everyone if a.churns()]
        leaving = {a.row: a for a in churners + not_renewed}
        for a in leaving.values():
            a.leave(week)
        self.customers = [a for a in everyone if a.active]
        self.market.returned(len(leaving))

        # 7. departments (searching from the first warm-up week) and metrics
        organisation.end_week(week, self.active_count(), acquired, self.survey, programme, record=week >= 0)
        if week >= 0:
            self._record(active_before, list(leaving.values()), len(not_renewed), given_up, open_problems)
        self.week += 1

    def _bills(self, everyone: list[ReferenceCustomer]) -> None:
        """Bills, late payers, the dunning notices Billing sends them, and cancellation notices."""
        cfg, journey, draw = self.cfg, self.journey, self.random
        billed = [a for a in everyone if a.billed(self.week)]
        unpaid = [a for a in billed if a.unpaid]  # dunned at the last bill and still not paid
        for a in billed:
            a.unpaid = False
        self._touch_all(billed, "billing")
        late = [a for a in billed if a.pays_late()]
        collections = self.organisation.lever("collections")
        asked = [a for a in late if draw.random() < collections]
        notice = journey.touchpoint_of_kind["notice"]
        sent = [a for a, over in zip(asked, self._serve(asked, notice), strict=True) if not over]
        for a in sent:
            a.touch(notice)
            a.notice = True
        for a in late:
            p_pay = cfg.journey.late_pay_with_notice if a.notice else cfg.journey.late_pay_without_notice
            paid = draw.random() < p_pay
            journey.week.late_paid += paid
            a.unpaid = a.notice and not paid
        journey.week.late_payers += len(late)
        journey.week.notices += len(sent)
        lapsed = {a.row for a in unpaid if draw.random() < cfg.journey.cancellation_after_dunning}
        reviewed = [a for a in everyone if a.row in lapsed or draw.random() < cfg.journey.risk_review_prob]
        cancellation = journey.touchpoint_of_kind["cancellation"]
        cancelled = [a for a, over in zip(reviewed, self._serve(reviewed, cancellation), strict=True) if not over]
        for a in cancelled:
            a.touch(cancellation)
            a.cancel_notice = a.cancellation_notice = True
        journey.week.cancellation_notices += len(cancelled)

    def _offers(self, everyone: list[ReferenceCustomer]) -> None:
        """Cross-sell offers; one to a customer with a problem, a complaint or a notice conflicts.

        One in the week of a cancellation notice is a cancellation conflict; the shared view stops those it can see.
        """
        cfg, journey, draw = self.cfg, self.journey, self.random
        counts, offer = journey.week, journey.touchpoint_of_kind["offer"]
        offer_prob = cfg.journey.offer_max_prob * self.organisation.lever("cross_sell")
        suppression = self.programme.shared_view * cfg.governance.conflict_suppression
        targeted = [a for a in everyone if draw.random() < offer_prob]
        offered: list[tuple[ReferenceCustomer, bool]] = []
        for a in targeted:
            if a.conflict_on_record and draw.random() < suppression:
                counts.conflicts_suppressed += 1
                counts.cancellation_conflicts_suppressed += a.cancel_notice
            else:
                offered.append((a, a.in_conflict))
        overloaded = self._serve([a for a, _ in offered], offer)
        served = [(a, c) for (a, c), over in zip(offered, overloaded, strict=True) if not over]
        spoilt = {"cancellation": 0, "notice": 0, "support": 0}
        for a, conflict in served:
            cancelling, noticed = a.cancel_notice, a.notice  # the collision is with this week's notice or complaint
            a.touch(offer, conflict=conflict, cancel_conflict=cancelling)
            if conflict:
                a.conflict = True
                counts.conflicting_contacts += 1
                spoilt["cancellation" if cancelling else "notice" if noticed else "support"] += 1
                if cancelling:
                    a.cancel_conflict = a.cancellation_conflict = True
                    counts.cancellation_conflicts += 1
            elif draw.random() < cfg.journey.offer_accept_prob * cfg.journey.offer_accept_by_category[a.category]:
                a.value *= 1.0 + cfg.market.cross_sell_value_uplift
                counts.offers_accepted += 1
        counts.offers += len(served)
        for kind, count in spoilt.items():  # a conflict spoils the contact it collides with too (Journey.offer_touches)
            counts.stage_attempts[int(journey.stage_of[journey.touchpoint_of_kind[kind]])] += count

    def _survey(self, everyone: list[ReferenceCustomer]) -> list[ReferenceCustomer]:
        """The relationship and transactional surveys (as :meth:`Survey.run`); returns the detractor respondents."""
        survey_cfg, intensity, week = self.cfg.feedback.survey, self.programme.gaming_intensity, self.week
        invited = [(a, kind) for a in everyone if (kind := a.invited(week, self.survey.weekly_relationship_prob))]
        invited = [(a, kind) for a, kind in invited if not a.steered(intensity)]
        rates = {1: survey_cfg.relationship_response_rate, 2: survey_cfg.transactional_response_rate}
        respondents = []
        for a, kind in invited:
            a.last_invited = week
            if kind == 1:
                a.last_relationship = week
            if self.random.random() < rates[kind]:
                respondents.append((a, kind == 1))
        self.survey.invitations = len(invited)
        answers = [a.survey_score(intensity) for a, _ in respondents]
        detractor = self.survey.tally(
            np.array([s for s, _ in answers], dtype=np.int16),
            np.array([a.transaction_stage for a, _ in respondents], dtype=np.int64),
            np.array([a.last_failure_tp for a, _ in respondents], dtype=np.int16),
            np.array([relationship for _, relationship in respondents], dtype=bool),
        )
        self.survey.inflated = sum(inflated for _, inflated in answers)
        detractors = [a for (a, _), d in zip(respondents, detractor.tolist(), strict=True) if d]
        self.survey.detractor_rows = np.array([a.row for a in detractors], dtype=np.int64)
        return detractors

    def _inner_loop(self, detractors: list[ReferenceCustomer]) -> list[ReferenceCustomer]:
        """The follow-up queue (as :class:`sim.engine.feedback.InnerLoop`): queue, drop stale, serve the oldest."""
        inner, week = self.cfg.feedback.inner_loop, self.week
        self.followups = self.recoveries = 0
        slots = self.programme.followups * self.scale
        if slots <= 0:
            self.followup_queue = []
            return []
        waiting = {a.row for a, _ in self.followup_queue}
        self.followup_queue += [(a, week) for a in detractors if a.row not in waiting]
        self.followup_queue = [(a, s) for a, s in self.followup_queue if a.active and week - s <= inner.max_wait_weeks]
        whole = int(slots)
        extra = int(self.streams.rng("inner_loop").random() < slots - whole)
        served_n = min(len(self.followup_queue), whole + extra)
        served, self.followup_queue = self.followup_queue[:served_n], self.followup_queue[served_n:]
        recovered = []
        for a, since in served:
            a.followed_up = True
            if self.random.random() < inner.max_recovery * 0.5 ** ((week - since) / inner.recovery_half_life_weeks):
                recovered.append(a)
        self.followups, self.recoveries = len(served), len(recovered)
        return recovered

    def _record(
        self,
        active_before: int,
        leaving: list[ReferenceCustomer],
        not_renewed: int,
        given_up: int,
        open_problems: int,
    ) -> None:
        """Append this week's metrics row: the population's columns, then the shared parts' own."""
        active = self.customers
        n, churned = len(active), len(leaving)
        p = sum(a.promoter for a in active)
        d = sum(a.detractor for a in active)
        p_open = sum(a.promoter and a.has_problem for a in active)
        d_open = sum(a.detractor and a.has_problem for a in active)
        spend = 0.0
        for a in active:
            weekly = a.spend()
            a.revenue += weekly
            spend += weekly
        self.records.append(
            {
                "step": self.week,
                "active_customers": n,
                "churned": churned,
                "true_nps": nps_from_counts(p, d, n),
                "true_nps_open_problem": nps_from_counts(p_open, d_open, open_problems),
                "true_nps_no_open_problem": nps_from_counts(p - p_open, d - d_open, n - open_problems),
                "promoters_share": p / n if n else float("nan"),
                "passives_share": (n - p - d) / n if n else float("nan"),
                "detractors_share": d / n if n else float("nan"),
                "mean_satisfaction": sum(a.satisfaction for a in active) / n if n else float("nan"),
                "revenue": spend,
                "active_before": active_before,
                "retention_rate": 1.0 - churned / active_before if active_before else float("nan"),
                "churned_at_renewal": not_renewed,
                "problems_given_up": given_up,
                "open_problems": open_problems,
                "open_complaints": self.open_complaints,
                "active_detractors": sum(a.active_detractor for a in active),
                "initial_book_active": sum(a.active for a in self.initial_book),
                "mean_expectation": sum(a.expectation for a in active) / n if n else float("nan"),
                "churned_promoters": sum(a.promoter for a in leaving),
                "churned_passives": sum(not a.promoter and not a.detractor for a in leaving),
                "churned_detractors": sum(a.detractor for a in leaving),
                **self.market.record(),
                **self.journey.week.record(),
                **self.survey.record(),
                "followups": self.followups,
                "recoveries": self.recoveries,
                "followup_queue": len(self.followup_queue),
                **self.outer_loop.record(),
                **self.programme.record(),
            }
        )

    # -------------------------------------------------------------------- run
    def run(self, weeks: int | None = None) -> ReferenceModel:
        """Simulate ``weeks`` weeks (default: the configured horizon)."""
        for _ in range(self.cfg.weeks if weeks is None else weeks):
            self.step()
        return self

    def metrics_frame(self) -> pd.DataFrame:
        """One row per simulated week."""
        return pd.DataFrame.from_records(self.records)

    def summary(self) -> dict[str, float]:
        """The figures docking compares: mean and final true NPS, annual retention, mean weekly churn."""
        m = self.metrics_frame()
        return {
            "true_nps_mean": float(m["true_nps"].mean()),
            "true_nps_final": float(m["true_nps"].iloc[-1]),
            "annual_retention": annual_retention(m["active_before"], m["churned"]),
            "weekly_churn": float((m["churned"] / m["active_before"]).mean()),
        }
