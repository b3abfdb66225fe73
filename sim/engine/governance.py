"""Governance: the programme a scenario launches, how fast it is adopted, and when it is abandoned.

A scenario's programme is everything it changes away from siloed practice:
scorecard weights, the shared customer view, shared resource planning, the
inner and outer loops, silo "customer projects". It starts at
``program_start_week`` and is adopted gradually: adoption rises linearly at a
speed set by executive engagement, and the effective scorecard weights,
shared-view effectiveness and loop capacities are blended between siloed
practice (adoption 0) and the programme (adoption 1). Communication sets the
share of the front line that applies the new decision rules. If measured NPS
has not gained its target by the patience deadline, the programme is
abandoned and everything reverts to siloed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.config.walk import walk

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sim.config.schema import FeedbackConf, GovernanceConf
    from sim.engine.departments import Department, Weights

__all__ = ["SILOED", "Programme", "rebalance_capacity"]

SILOED: Weights = (1.0, 0.0, 0.0)


class Programme:
    """State of the customer programme over time.

    Attributes:
        present: Whether the scenario changes anything away from siloed practice.
        active: Whether the programme is running this week.
        abandoned: Whether the CEO's patience ran out.
        adoption: Share adopted, 0-1.
        baseline_measured_nps: Measured NPS the patience test compares against.
    """

    def __init__(self, gov: GovernanceConf, feedback: FeedbackConf) -> None:
        """Set up the programme from the governance and feedback configuration.

        Args:
            gov: Governance configuration.
            feedback: Feedback configuration (inner and outer loop capacities).
        """
        self.gov = gov
        sc = gov.scorecard
        self.target_weights: Weights = (sc.own_kpi, sc.shared_stage, sc.outcome)
        self.followup_capacity = feedback.inner_loop.capacity
        self.full_intensity_share = feedback.gaming.full_intensity_share
        self.fixes_per_quarter = feedback.outer_loop.fixes_per_quarter
        # A programme is present when any setting the schema declares a programme setting (its default
        # is siloed practice) has another value.
        self.present = any(
            p.value != p.meta["siloed"] for section in (gov, feedback) for p in walk(section) if "siloed" in p.meta
        )
        self.active = False
        self.abandoned = False
        self.adoption = 0.0
        self.baseline_measured_nps = float("nan")

    def update(self, week: int, measured_nps: float, window_weeks: int) -> None:
        """Advance adoption and apply the patience test at the start of ``week``.

        Args:
            week: The week about to be simulated.
            measured_nps: Measured NPS over the last survey window (NaN if none yet).
            window_weeks: Length of the measured-NPS window.
        """
        gov = self.gov
        if not self.present or self.abandoned:
            self.active = False
            self.adoption = 0.0
            return
        elapsed = week - gov.program_start_week
        self.active = elapsed >= 0
        if not self.active:
            return
        if elapsed == window_weeks and not np.isfinite(self.baseline_measured_nps):
            # the first full survey window after the start is the yardstick
            self.baseline_measured_nps = measured_nps
        speed = gov.executive_engagement / gov.adoption_weeks_full_engagement
        self.adoption = float(min(1.0, elapsed * speed))
        if gov.patience_weeks is not None and elapsed >= gov.patience_weeks:
            gain = measured_nps - self.baseline_measured_nps
            if not (np.isfinite(gain) and gain >= gov.patience_target_gain):
                self.abandoned = True
                self.active = False
                self.adoption = 0.0

    def record(self) -> dict[str, float | int]:
        """This week's governance columns of metrics.parquet."""
        return {
            "program_active": int(self.active),
            "adoption": self.adoption,
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
