"""Governance: the programme a scenario launches, how far it is adopted, and when it is abandoned.

A scenario's programme is everything it changes away from siloed practice:
scorecard weights, the shared customer view, shared resource planning, the
inner and outer loops, call-centre bucketing, silo "customer projects". It starts at
``program_start_week`` and is adopted gradually. Executive engagement drives it: each
week adoption gains engagement / ``adoption_weeks_full_engagement`` of its gap to full
adoption and loses (1 - engagement) / ``adoption_decay_weeks`` of itself when attention
moves elsewhere, so engagement sets the speed, the level adoption settles at and how fast
it fades. The effective scorecard weights, shared-view effectiveness and loop capacities are
blended between siloed practice (adoption 0) and the programme (adoption 1). Communication
sets the share of the front line that applies the new decision rules. From
``patience_weeks`` on, the CEO reviews the programme every quarter against the trend of
measured NPS since the start; a programme whose trend falls short of the target gain is
abandoned and everything reverts to siloed. A programme relaunched after an abandonment is
adopted more slowly (cynicism: "one more empty promise").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.config.vocabularies import WEEKS_PER_QUARTER
from sim.config.walk import walk

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sim.config.schema import FeedbackConf, GovernanceConf
    from sim.engine.departments import Department, Weights

__all__ = ["SILOED", "Programme", "rebalance_capacity", "trend_gain"]

SILOED: Weights = (1.0, 0.0, 0.0)


def trend_gain(weeks: Sequence[float], values: Sequence[float]) -> float:
    """The gain a least-squares line through ``values`` shows over ``weeks``: its slope times the weeks covered.

    Weeks without a value (NaN) are left out; fewer than two values give NaN.

    >>> trend_gain([0, 1, 2, 3, 4], [10.0, 11.0, 12.0, 13.0, 14.0])
    4.0
    >>> trend_gain([0, 1, 2], [10.0, float("nan"), 16.0])
    6.0
    """
    x, y = np.asarray(weeks, dtype=np.float64), np.asarray(values, dtype=np.float64)
    keep = np.isfinite(y)
    x, y = x[keep], y[keep]
    if x.size < 2 or np.ptp(x) == 0:
        return float("nan")
    dx = x - x.mean()
    slope = float((dx * (y - y.mean())).sum() / (dx * dx).sum())
    return round(slope * float(np.ptp(x)), 12)


class Programme:
    """State of the customer programme over time.

    Attributes:
        present: Whether the scenario changes anything away from siloed practice.
        active: Whether the programme is running this week.
        abandoned: Whether the programme is abandoned now (until a relaunch, if any).
        abandonments: How many times it has been abandoned.
        adoption: Share adopted, 0-1.
        start: Week the running programme was launched (or relaunched).
        last_review_gain: The trend gain of measured NPS at the CEO's last review (NaN before one).
    """

    def __init__(self, gov: GovernanceConf, feedback: FeedbackConf) -> None:
        """Set up the programme from the governance and feedback configuration.

        Args:
            gov: Governance configuration.
            feedback: Feedback configuration (inner and outer loop capacities, bucketing).
        """
        self.gov = gov
        sc = gov.scorecard
        self.target_weights: Weights = (sc.own_kpi, sc.shared_stage, sc.outcome)
        self.followup_capacity = feedback.inner_loop.capacity
        self.full_intensity_share = feedback.gaming.full_intensity_share
        self.fixes_per_quarter = feedback.outer_loop.fixes_per_quarter
        self.contact_bucketing = feedback.outer_loop.contact_bucketing
        # A programme is present when any setting the schema declares a programme setting (its default
        # is siloed practice) has another value.
        self.present = any(
            p.value != p.meta["siloed"] for section in (gov, feedback) for p in walk(section) if "siloed" in p.meta
        )
        self.active = False
        self.abandoned = False
        self.abandonments = 0
        self.abandoned_week = 0
        self.adoption = 0.0
        self.start = gov.program_start_week
        self.last_review_gain = float("nan")
        self._measured: list[tuple[int, float]] = []  # (week, measured NPS) since the (re)launch

    def update(self, week: int, measured_nps: float) -> None:
        """Advance adoption and hold the CEO's quarterly review at the start of ``week``.

        Args:
            week: The week about to be simulated.
            measured_nps: Measured NPS over the last survey window (NaN if none yet).
        """
        gov = self.gov
        relaunch = gov.relaunch_after_weeks
        if self.abandoned and relaunch is not None and week - self.abandoned_week >= relaunch:
            self.abandoned, self.start, self._measured = False, week, []  # launched again, on a cynical organisation
        if not self.present or self.abandoned:
            self.active = False
            self.adoption = 0.0
            return
        elapsed = week - self.start
        self.active = elapsed >= 0
        if not self.active:
            return
        self._measured.append((week, measured_nps))
        self.adoption = self.next_adoption(self.adoption) if elapsed > 0 else 0.0
        patience = gov.patience_weeks
        if patience is not None and elapsed >= patience and (elapsed - patience) % WEEKS_PER_QUARTER == 0:
            self._review(week)

    def next_adoption(self, adoption: float) -> float:
        """Adoption a week later, from ``adoption`` now.

        It gains engagement / T of its gap to 1 (slowed by cynicism after abandonments) and loses
        (1 - engagement) / D of itself (attention moving elsewhere).
        """
        gov = self.gov
        engagement = gov.executive_engagement
        gain = engagement / gov.adoption_weeks_full_engagement * (1.0 - gov.cynicism) ** self.abandonments
        decay = (1.0 - engagement) / gov.adoption_decay_weeks
        return float(np.clip(adoption + min(gain, 1.0) * (1.0 - adoption) - min(decay, 1.0) * adoption, 0.0, 1.0))

    def _review(self, week: int) -> None:
        """The CEO's quarterly review: keep the programme or abandon it.

        Kept if the trend of measured NPS since the start shows the target gain, abandoned otherwise (no measured
        trend counts as no gain).
        """
        weeks, values = zip(*self._measured, strict=True)
        self.last_review_gain = trend_gain(weeks, values)
        gain = self.last_review_gain
        if not (np.isfinite(gain) and gain >= self.gov.patience_target_gain):
            self.abandoned = True
            self.abandonments += 1
            self.abandoned_week = week
            self.active = False
            self.adoption = 0.0

    def record(self) -> dict[str, float | int]:
        """This week's governance columns of metrics.parquet."""
        return {
            "program_active": int(self.active),
            "programme_adoption": self.adoption,
            "programme_abandonments": self.abandonments,
            "gaming_intensity": self.gaming_intensity,
        }

    # ----------------------------------------------------- effective settings
    @property
    def weights(self) -> Weights:
        """Scorecard weights in force: siloed blended with the target by adoption."""
        a = self.adoption
        return tuple((1 - a) * s + a * t for s, t in zip(SILOED, self.target_weights, strict=True))  # type: ignore[return-value]

    @property
    def shared_view(self) -> float:
        """Effectiveness of the shared customer view, 0-1: adoption x front-line compliance."""
        if not self.gov.shared_customer_view:
            return 0.0
        return self.adoption * self.gov.communication

    @property
    def gaming_intensity(self) -> float:
        """How hard the front line games the survey, 0-1.

        The share of the scorecard riding on the outcome score, relative to the share at which gaming reaches
        the rates TrueDelta observed (``feedback.gaming.full_intensity_share``). With ``metric_type: outcome``
        the shared stage metrics are survey scores too and count as outcome.
        """
        own, shared, outcome = self.weights
        total = own + shared + outcome
        if total <= 0:
            return 0.0
        gameable = outcome + (shared if self.gov.metric_type == "outcome" else 0.0)
        return float(min(1.0, gameable / total / self.full_intensity_share))

    @property
    def resource_planning(self) -> bool:
        """Whether capacity may move to the bottleneck this week."""
        return bool(self.gov.shared_resource_planning and self.adoption > 0)

    @property
    def followups(self) -> float:
        """Follow-up capacity in force (per 1,000 initial customers per week)."""
        return self.followup_capacity * self.adoption

    @property
    def fixes(self) -> float:
        """Root-cause fixes per quarter in force, before starvation by the backlog."""
        return self.fixes_per_quarter * self.adoption

    @property
    def bucketing(self) -> float:
        """Weight of bucketed support contacts in the root-cause trend: the bucketing in force (adoption), 0-1."""
        return self.adoption if self.contact_bucketing else 0.0

    @property
    def capacity_diverted(self) -> float:
        """Share of every department's capacity diverted to silo projects."""
        return self.gov.silo_projects_capacity * self.adoption

    @property
    def silo_uplift(self) -> float:
        """Quality points silo projects add to each touchpoint."""
        return self.gov.silo_projects_uplift * self.adoption


def rebalance_capacity(
    departments: Sequence[Department], effective: Sequence[float], flex_share: float
) -> tuple[str, str, float] | None:
    """Move capacity from the least to the most utilised department (shared resource planning).

    Utilisation is the review period's mean demand over the department's effective capacity (after lever
    pushes), so one busy week does not drain a department. The bottleneck receives up to ``flex_share`` of
    the donor's capacity, but no more than the donor can spare (its capacity above its demand) and no more
    than the bottleneck needs.

    Args:
        departments: All departments (their ``period_demand`` and ``capacity``).
        effective: Each department's effective capacity this week (``Organisation.effective_capacity``).
        flex_share: Largest share of the donor's capacity that may move.

    Returns:
        (donor, receiver, amount) if capacity moved, else None.
    """
    if len(departments) < 2:
        return None
    util = np.array(
        [d.period_demand / cap if cap > 0 else np.inf for d, cap in zip(departments, effective, strict=True)]
    )
    hi, lo = int(np.argmax(util)), int(np.argmin(util))
    receiver, donor = departments[hi], departments[lo]
    if util[hi] <= 1.0 or hi == lo:
        return None
    spare = max(0.0, donor.capacity * (1.0 - util[lo]))
    need = receiver.capacity * (util[hi] - 1.0)
    amount = min(flex_share * donor.capacity, spare, need)
    if amount <= 0:
        return None
    donor.capacity -= amount
    receiver.capacity += amount
    return donor.name, receiver.name, float(amount)
