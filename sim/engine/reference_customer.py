"""The reference's customer: one Mesa agent whose weekly rules are small methods (:mod:`sim.engine.reference`)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa

from sim.config.vocabularies import WEEKS_PER_QUARTER
from sim.engine.customers import NEVER_INVITED, NO_PROBLEM, QUICK, SILENT, SLOW, UNRESOLVED
from sim.engine.metrics import DETRACTOR_MAX, PROMOTER_MIN

if TYPE_CHECKING:
    from sim.engine.reference import ReferenceModel

__all__ = [
    "ReferenceCustomer",
]


def _clip10(x: float) -> float:
    return 0.0 if x < 0.0 else 10.0 if x > 10.0 else x


class ReferenceCustomer(mesa.Agent):
    """One customer, its state in plain attributes and its weekly rules as methods."""

    def __init__(self, model: ReferenceModel, row: int, joined_step: int, expectation_shift: float = 0.0) -> None:
        """Create a customer with the engine's demographic distributions.

        Args:
            model: The reference model.
            row: Position in creation order (the engine's row, used for the network).
            joined_step: Week the customer joins.
            expectation_shift: Points added to the expectation (over-promising by Sales).
        """
        super().__init__(model)
        c, mk, r = model.cfg.customer, model.cfg.market, model.random
        self.row = row
        self.active = True
        self.joined_step = joined_step
        self.left_step = -1
        self.expectation = _clip10(r.gauss(c.expectation_mean + expectation_shift, c.expectation_sd))
        self.satisfaction = _clip10(r.gauss(c.initial_satisfaction_mean, c.initial_satisfaction_sd))
        self.bias = r.gauss(c.rating_bias_mean, c.rating_bias_sd)
        self.vocal = r.random()
        mu = math.log(max(mk.value_mean, 1e-9)) - mk.value_sigma**2 / 2
        self.value = r.lognormvariate(mu, mk.value_sigma) if mk.value_mean > 0 else 0.0
        self.fit = r.gauss(0.0, c.fit_sd)
        self.stage = 0
        self.last_owner = -1
        self.last_stage = -1
        self.problem_cause = -1
        self.problem_age = 0
        self.problem_contacts = 0
        self.problem_major = False
        self.problem_complains = False
        self.problems = 0
        self.complained = False
        self.unpaid = False
        self.cancellation_notice = self.cancellation_conflict = False
        self.last_invited = self.last_relationship = NEVER_INVITED
        self.transaction_stage = 0
        self.resolution = NO_PROBLEM
        self.year_resolution = NO_PROBLEM
        self.year_major = False
        self.last_failure_tp = -1
        self.touch_score_sum = 0.0
        self.touch_count = 0
        self.true_ltr = 0
        self.measured_ltr = -1
        self.followed_up = False
        self.referrals_made = 0
        self.touched = self.conflict = self.notice = self.complaint = False
        self.cancel_notice = self.cancel_conflict = self.transaction = False
        self.neighbours: list[ReferenceCustomer] = []
        self.initial_ltr = -1
        self.revenue = 0.0
        self.grudge = 0.0

    # ---------------------------------------------------------------- helpers
    @property
    def has_problem(self) -> bool:
        """Whether a problem is open."""
        return self.problem_cause >= 0

    @property
    def complaining(self) -> bool:
        """A problem is open and the customer complains about it (the firm knows of it)."""
        return self.has_problem and self.problem_complains

    @property
    def promoter(self) -> bool:
        """Scores 9-10."""
        return self.true_ltr >= PROMOTER_MIN

    @property
    def detractor(self) -> bool:
        """Scores 0-6."""
        return self.true_ltr <= DETRACTOR_MAX

    @property
    def active_detractor(self) -> bool:
        """An active detractor: spreads negative word of mouth."""
        return self.active and self.detractor and self.vocal < self.model.cfg.market.active_detractor_share

    def tenure(self, week: int) -> int:
        """Weeks since joining."""
        return week - self.joined_step

    def begin_week(self) -> None:
        """Forget last week's contacts."""
        self.touched = self.conflict = self.notice = self.complaint = False
        self.cancel_notice = self.cancel_conflict = self.transaction = False

    def update_ltr(self) -> None:
        """True likelihood to recommend: satisfaction plus attitude less grudge, rounded (half to even), 0-10."""
        self.true_ltr = min(10, max(0, round(self.satisfaction + self.bias - self.grudge)))

    # ------------------------------------------------------------------ touch
    def touch(
        self,
        touchpoint: int,
        failed_extra: bool = False,
        conflict: bool = False,
        repeats: int = 0,
        cancel_conflict: bool = False,
    ) -> bool:
        """Live one touch: hand-off, failure, experience, satisfaction, problems.

        Args:
            touchpoint: Touchpoint index.
            failed_extra: The touch fails for a reason outside it (overload, unresolved contact).
            conflict: The contact conflicts with another department's.
            repeats: Earlier contacts about the same problem.
            cancel_conflict: The conflict is with a cancellation notice this week (an extra penalty).

        Returns:
            Whether the touch itself failed.
        """
        model = self.model
        journey, customer, draw, counts = model.journey, model.cfg.customer, model.random, model.journey.week
        stage, owner = int(journey.stage_of[touchpoint]), int(journey.owner_of[touchpoint])
        inbound = bool(journey.inbound[touchpoint])

        handoff_failed = False
        if inbound and self.last_owner >= 0 and self.last_owner != owner and self.last_stage != stage:
            counts.handoffs += 1
            care = journey.handoff_factor[self.last_owner]  # the sending department's hand-off care
            handoff_failed = draw.random() < journey.handoff_failure_prob(touchpoint) * care
            counts.handoff_failures += handoff_failed
            counts.stage_attempts[self.last_stage] += 1  # the hand-off counts in the stage it leaves too
            counts.stage_successes[self.last_stage] += not handoff_failed

        failed = draw.random() < float(journey.touch_failure_prob(touchpoint)) or failed_extra

        quality = float(journey.base_quality[touchpoint]) + journey.uplift + self.fit
        recorded = (
            quality
            - customer.expectation_gap_weight * max(0.0, self.expectation - quality)
            - customer.failure_penalty * failed
            + customer.touch_noise_sd * draw.gauss(0.0, 1.0)
        )
        experience = (
            recorded
            - customer.handoff_penalty * handoff_failed
            - customer.conflicting_contact_penalty * conflict
            - customer.cancellation_conflict_penalty * cancel_conflict
            - customer.repeat_contact_penalty * repeats
        )
        # Python floats from here on (the probabilities above are NumPy scalars): the same IEEE values, and
        # arithmetic on them several times faster than on NumPy scalars in this per-agent loop
        experience, recorded = float(_clip10(experience)), float(_clip10(recorded))

        rate = customer.learning_rate_negative if experience < self.satisfaction else customer.learning_rate_positive
        self.satisfaction = _clip10(self.satisfaction + rate * (experience - self.satisfaction))
        self.expectation += customer.expectation_adaptation * (experience - self.expectation)

        caused = failed or (handoff_failed and draw.random() < model.cfg.journey.handoff_problem_prob)
        if caused or handoff_failed:
            self.last_failure_tp = touchpoint
        if caused and not self.has_problem:
            self.problem_cause, self.problem_age, self.problem_contacts = touchpoint, 0, 0
            self.problem_major = draw.random() < customer.major_problem_share
            # will the customer ever contact the firm about it? (TARP: most never do, fewer still for minor ones)
            self.problem_complains = draw.random() < customer.complain_prob[int(self.problem_major)]
            self.problems += 1
            counts.problems_opened += 1

        self.touched = True
        self.touch_score_sum += recorded
        self.touch_count += 1
        self.stage = stage
        if inbound:
            self.last_owner, self.last_stage = owner, stage
        if journey.transactional[touchpoint]:  # a transactional survey may follow this touch
            self.transaction, self.transaction_stage = True, stage
        counts.touches[touchpoint] += 1
        counts.failures[touchpoint] += failed
        counts.recorded_sum[touchpoint] += recorded
        counts.stage_attempts[stage] += 1
        counts.stage_successes[stage] += not (failed or handoff_failed or conflict or journey.escalation[touchpoint])
        return failed

    # -------------------------------------------------------------- problems
    def close_problem(self, outcome: int, lift: float) -> None:
        """Close the open problem with ``outcome`` (QUICK ... SILENT) and change satisfaction by ``lift``."""
        self.resolution = max(self.resolution, outcome)
        if outcome > self.year_resolution or (outcome == self.year_resolution and self.problem_major):
            self.year_resolution, self.year_major = outcome, self.problem_major
        self.problem_cause, self.problem_age, self.problem_contacts = -1, 0, 0
        self.problem_complains = False
        self.satisfaction = _clip10(self.satisfaction + lift)
        self.grudge += self.model.cfg.customer.attitude_dent[outcome - 1]  # customers remember (QUICK=1, ..., SILENT)

    def resolve_problem(self, lift: float) -> None:
        """The problem is resolved: quickly if within ``quick_resolution_weeks`` of opening, slowly otherwise."""
        quick = self.problem_age <= self.model.cfg.customer.quick_resolution_weeks
        self.close_problem(QUICK if quick else SLOW, lift)

    def age_problem(self) -> bool:
        """An open problem ages a week and drags satisfaction; the customer may give up on it.

        The customer gives up after ``give_up_weeks`` (as unresolved if they complained, silent if not) or after
        ``give_up_contacts`` contacts that did not resolve it.

        Returns:
            Whether the customer gave up on it this week.
        """
        c = self.model.cfg.customer
        gave_up = False
        if self.has_problem:
            self.problem_age += 1
            self.satisfaction = max(0.0, self.satisfaction - c.open_problem_drag)
            if self.problem_age > c.give_up_weeks or self.problem_contacts >= c.give_up_contacts:
                self.close_problem(UNRESOLVED if self.problem_complains else SILENT, -c.unresolved_penalty)
                gave_up = True
        self.grudge *= 0.5 ** (1.0 / c.grudge_half_life_weeks)  # a week passes (as loyalty.fade_grudges)
        return gave_up

    # ------------------------------------------------------------ the week
    def refer(self) -> bool:
        """Recommend the firm this week: promoters at the referral rate, others at a fraction of it."""
        mk = self.model.cfg.market
        if self.promoter:
            factor = 1.0
        else:
            factor = mk.detractor_referral_factor if self.detractor else mk.passive_referral_factor
        refers = self.model.random.random() < mk.referral_rate * factor
        self.referrals_made += refers
        return refers

    def wants_onboarding(self, week: int) -> bool:
        """In the first ``onboarding_weeks`` weeks, a set-up touch with ``onboarding_touch_prob``."""
        jc = self.model.cfg.journey
        return 1 <= self.tenure(week) <= jc.onboarding_weeks and self.model.random.random() < jc.onboarding_touch_prob

    def wants_usage(self) -> bool:
        """Uses the product this week with ``usage_touch_prob``."""
        return self.model.random.random() < self.model.cfg.journey.usage_touch_prob

    def billed(self, week: int) -> bool:
        """A bill is due every ``billing_period_weeks`` of tenure."""
        t = self.tenure(week)
        return t > 0 and t % self.model.cfg.journey.billing_period_weeks == 0

    def pays_late(self) -> bool:
        """Pays this bill late with ``late_payment_prob``."""
        return self.model.random.random() < self.model.cfg.journey.late_payment_prob

    def contacts_support(self) -> bool:
        """Contacts support this week: about the problem, or with a question.

        Complaining about an open problem, with ``help_contact_prob``; otherwise (no problem, or a problem the
        customer keeps silent about) a question with ``question_prob``.
        """
        r = self.model.random
        if self.complaining:
            return r.random() < self.model.cfg.customer.help_contact_prob
        return r.random() < self.model.cfg.journey.question_prob

    def seek_help(self, overloaded: bool, p_resolve: float, touchpoint: int) -> None:
        """One contact with support; a contact about a problem resolves it with ``p_resolve`` unless overloaded."""
        wk = self.model.journey.week
        problem = self.complaining
        resolved = problem and not overloaded and self.model.random.random() < p_resolve
        first = problem and self.problem_contacts == 0
        wk.support_first_contacts += first
        wk.support_first_resolved += first and resolved
        if problem:
            self.complaint = self.complained = True
            wk.problem_contacts += 1
            self.model.contacts.append((self.row, self.problem_cause))
        self.touch(
            touchpoint,
            failed_extra=(problem and not resolved) or (overloaded and not problem),
            repeats=self.problem_contacts if problem else 0,
        )
        if problem:
            self.problem_contacts += 1
        if resolved:
            self.resolve_problem(self.model.cfg.customer.resolution_lift)

    @property
    def in_conflict(self) -> bool:
        """An offer now would conflict: an open problem, a complaint, a dunning or cancellation notice this week."""
        return self.has_problem or self.conflict_on_record

    @property
    def conflict_on_record(self) -> bool:
        """The firm knows an offer now would conflict: a complained problem, a complaint or a notice this week."""
        return self.complaining or self.notice or self.complaint or self.cancel_notice

    @property
    def renewal_class(self) -> int:
        """Resolution class of the year's worst problem.

        A problem still open counts as at best slow, or as silent if the customer never complained about it.
        """
        if not self.has_problem:
            return self.year_resolution
        return max(self.year_resolution, SLOW if self.problem_complains else SILENT)

    def renews(self) -> bool:
        """The annual decision: TARP's rate for the year's worst problem times an attitude factor (true LTR)."""
        c = self.model.cfg.customer
        code = self.renewal_class
        table = (c.renewal_no_problem, *(c.renewal_major if self.year_major else c.renewal_minor))
        factor = 1.0 / (1.0 + math.exp(-c.renewal_ltr_slope * (self.true_ltr - c.renewal_ltr_mid)))
        renew = self.model.random.random() < table[code] * factor
        self.year_resolution, self.year_major = NO_PROBLEM, False
        return renew

    def invited(self, week: int, relationship_prob: float) -> int:
        """This week's survey invitation before any steering: 0 none, 1 relationship, 2 transactional.

        Not if invited to either kind in the last ``min_weeks_between_invitations`` weeks; the relationship survey
        (at most once a quarter) with its weekly probability; otherwise, after a touch of a transactional kind this
        week, a transactional survey with ``transactional_invite_prob``.
        """
        cfg, r = self.model.cfg.feedback.survey, self.model.random
        if week - self.last_invited < cfg.min_weeks_between_invitations:
            return 0
        if week - self.last_relationship >= WEEKS_PER_QUARTER and r.random() < relationship_prob:
            return 1
        return 2 if self.transaction and r.random() < cfg.transactional_invite_prob else 0

    def steered(self, intensity: float) -> bool:
        """Kept out of the survey by a gaming front line: looks unhappy (low satisfaction or a complained problem)."""
        g = self.model.cfg.feedback.gaming
        unhappy = self.satisfaction < g.steer_below or self.complaining
        return intensity > 0 and unhappy and self.model.random.random() < g.steer_prob * intensity

    def survey_score(self, intensity: float) -> tuple[int, bool]:
        """The answer (true LTR, inflated by gaming if pressured) and whether it was inflated.

        Being pressed for a ten annoys: the respondent loses ``pressure_annoyance`` of satisfaction.
        """
        r, g = self.model.random, self.model.cfg.feedback.gaming
        score, inflated = self.true_ltr, False
        if intensity > 0 and r.random() < g.pressure_prob * intensity:
            if r.random() < g.inflate_prob:
                score, inflated = min(10, score + g.inflate_points), True
            self.satisfaction = max(0.0, self.satisfaction - g.pressure_annoyance)
        self.measured_ltr = score
        return score, inflated

    @property
    def category(self) -> int:
        """0 detractor, 1 passive, 2 promoter (by true LTR)."""
        return 2 if self.promoter else 0 if self.detractor else 1

    def spend(self) -> float:
        """This week's spend: value times the spend of the NPS category (share of wallet)."""
        return self.value * self.model.cfg.market.spend_by_category[self.category]

    def churns(self) -> bool:
        """Weekly churn: the hazard rises as LTR falls, with a problem, a conflict, bad word of mouth."""
        c = self.model.cfg.customer
        wom = self.model.cfg.market.negative_wom_churn
        detractor_neighbours = sum(1 for nb in self.neighbours if nb.active_detractor)
        hazard = c.base_weekly_churn * math.exp(c.churn_ltr_slope * (c.churn_reference_ltr - self.true_ltr))
        hazard *= 1.0 + c.open_problem_churn * self.has_problem
        hazard *= 1.0 + c.conflicting_contact_churn * self.conflict
        hazard *= 1.0 + c.cancellation_conflict_churn * self.cancel_conflict
        hazard *= 1.0 + wom * detractor_neighbours
        return self.model.random.random() < min(hazard, c.max_weekly_churn)

    def leave(self, week: int) -> None:
        """Stop being a customer."""
        self.active = False
        self.left_step = week
