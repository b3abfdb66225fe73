"""The organisation: the departments, what their levers do to the company's machinery, and their weekly review.

Both models hold one :class:`Organisation` (the vectorised engine, :class:`sim.engine.model.SiloModel`,
and the per-agent reference, :class:`sim.engine.reference.ReferenceModel`), so the departments,
their scorecards, their local search and what their levers change are the same code in both.

What the levers change (their mechanisms, ``LEVER_MECHANISMS``):

* ``throughput`` and ``handle_time`` raise their department's capacity (its cost or handle-time
  efficiency, the KPI they are pushed for); ``throughput`` also raises the failure rate of the
  touchpoints its department owns, and ``handle_time`` lowers first-contact resolution;
* ``handoff_care`` (one per department) lowers the failure of hand-offs out of the department; it
  only costs the department (its own KPI) and pays off in the next department's touch, so siloed
  search leaves it at none;
* ``campaign_volume``, ``over_promise``, ``cross_sell`` and ``collections`` are read by the market,
  the journey's offers and its billing where they act (:meth:`Organisation.lever`).

What the levers cost the department that pulls them (``org.lever_costs``): its own KPI is its measured
output times ``1 - sum(cost x push**2)``, so its own marginal gain ends inside the lever's range and siloed
search settles there. The departments search from the first week of the warm-up, so a run starts from
the levers where siloed search settles.

Shared stage metrics: each week the journey counts, per stage, the contacts that went wrong (a failed
touch; a failed hand-off, in the stage it leaves and the stage it enters; a conflicting contact, also in the
stage of the notice or complaint it collided with; a bill that needed a dunning notice) and the renewals
lost. A department's shared stage metric is the success share pooled over every stage it touches (weighted
by volume), as published ``org.stage_metric_lag_weeks`` weeks later.
"""

from __future__ import annotations

import math
import zlib
from collections import deque
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

from sim.engine.departments import Department
from sim.engine.governance import rebalance_capacity
from sim.engine.kpis import KPIS, WeekFacts

if TYPE_CHECKING:
    from collections.abc import Sequence

    from sim.config.schema import SiloConfig
    from sim.engine.feedback import Survey
    from sim.engine.governance import Programme
    from sim.engine.journey import Journey
    from sim.engine.market import Acquisition

__all__ = ["Organisation"]


class Organisation:
    """The departments of one model, their lever effects and their weekly scorecard and review.

    Attributes:
        departments: The Department agents, in configuration order.
        records: One dict per simulated week and department (the departments.parquet rows).
    """

    def __init__(self, model: mesa.Model, cfg: SiloConfig, journey: Journey) -> None:
        """Build the configured departments, each with the journey stages it owns and its own search stream.

        Args:
            model: The Mesa model the department agents belong to.
            cfg: The model's configuration.
            journey: The journey (which touchpoints, hence stages, each department owns).
        """
        self.cfg = cfg
        self.journey = journey
        self.effects = cfg.org.lever_effects
        scale = cfg.customers / 1000.0  # capacities are configured per 1,000 initial customers
        self.departments: list[Department] = []
        for i, name in enumerate(cfg.org.departments):
            stages = {int(s) for s, o in zip(journey.stage_of, journey.owner_of, strict=True) if o == i}
            rng = np.random.default_rng(np.random.SeedSequence(cfg.seed, spawn_key=(zlib.crc32(name.encode()),)))
            self.departments.append(Department(model, name, i, cfg.org.departments[name], scale, stages, rng))
        self.records: list[dict[str, Any]] = []
        self.improvement = np.zeros(len(self.departments))  # capacity improvement work takes this week (touches)
        self._staffed_for = 0  # active customers the departments were last staffed for
        # weekly (attempts, successes) per stage, kept for the reporting lag
        self._stage_counts: deque[tuple[np.ndarray, np.ndarray]] = deque(maxlen=cfg.org.stage_metric_lag_weeks + 1)

    # ------------------------------------------------------------- lever effects
    def lever(self, mechanism: str) -> float:
        """Setting of the lever that drives ``mechanism`` (0 if no department has one)."""
        return sum(d.lever(mechanism) for d in self.departments)

    def effective_capacity(self, diverted: float) -> np.ndarray:
        """Each department's capacity this week, after throughput and handle-time pushes.

        Args:
            diverted: Share of every department's capacity diverted to silo projects.
        """
        effects, kept = self.effects, 1.0 - diverted
        return np.array(
            [
                d.capacity
                * kept
                * (1 + effects.throughput_capacity * d.lever("throughput"))
                * (1 + effects.handle_time_capacity * d.lever("handle_time"))
                for d in self.departments
            ]
        )

    def failure_multipliers(self) -> np.ndarray:
        """Per touchpoint: how much its owner's throughput push raises its failures."""
        push = np.array([d.lever("throughput") for d in self.departments])
        return 1.0 + self.effects.throughput_failure * push[self.journey.owner_of]

    def handoff_factors(self) -> np.ndarray:
        """Per department: what its hand-off care leaves of the failure of hand-offs out of it (1 = no care)."""
        care = np.array([d.lever("handoff_care") for d in self.departments])
        return 1.0 - self.effects.handoff_care * care

    @property
    def first_contact_resolution(self) -> float:
        """Probability a support contact resolves the problem, after the handle-time push."""
        loss = self.effects.handle_time_fcr_loss * self.lever("handle_time")
        return self.cfg.journey.first_contact_resolution * (1 - loss)

    def improvement_load(self, capacity: np.ndarray, followups: float, fixes: Sequence[int]) -> np.ndarray:
        """Capacity improvement work takes from each department this week (touches): the capability trap.

        Each of last week's inner-loop follow-ups takes ``feedback.inner_loop.touches_per_followup`` from the owner
        of the support touchpoint; each root-cause fix in progress takes ``feedback.outer_loop.fix_capacity_share``
        of the capacity of the department that owns the touchpoint being fixed (Repenning & Sterman 2001).

        Args:
            capacity: Each department's effective capacity this week.
            followups: Follow-ups the inner loop made last week.
            fixes: Touchpoints whose fix is in progress.
        """
        feedback, owner_of = self.cfg.feedback, self.journey.owner_of
        load = np.zeros(len(self.departments))
        service = owner_of[self.journey.touchpoint_of_kind["support"]]
        load[service] += followups * feedback.inner_loop.touches_per_followup
        for tp in fixes:
            owner = owner_of[tp]
            load[owner] += feedback.outer_loop.fix_capacity_share * capacity[owner]
        return np.minimum(load, capacity)

    def available_capacity(self, diverted: float) -> np.ndarray:
        """Each department's capacity for touches this week: effective capacity less this week's improvement load."""
        return np.maximum(self.effective_capacity(diverted) - self.improvement, 0.0)

    def open_week(self, programme: Programme, followups: float = 0.0, fixes: Sequence[int] = ()) -> None:
        """Start the journey's week with this week's capacities, lever-driven failure rates and shared view.

        Args:
            programme: The programme (capacity diverted to silo projects, shared view, uplift).
            followups: Follow-ups the inner loop made last week (they use support capacity this week).
            fixes: Touchpoints whose root-cause fix is in progress (each uses part of its owner's capacity).
        """
        self.improvement = self.improvement_load(self.effective_capacity(programme.capacity_diverted), followups, fixes)
        self.journey.begin_week(
            self.available_capacity(programme.capacity_diverted),
            self.failure_multipliers(),
            programme.shared_view,
            programme.silo_uplift,
            self.handoff_factors(),
        )

    # -------------------------------------------------------- scorecards, review
    def end_week(
        self,
        week: int,
        active: int,
        acquired: Acquisition,
        survey: Survey,
        programme: Programme,
        record: bool = True,
    ) -> None:
        """Each department records its KPI, shared stage metric and outcome score; all review when due.

        Args:
            week: The week that ends.
            active: Active customers at the end of the week.
            acquired: The week's new customers by channel.
            survey: The survey (measured NPS, and stage NPS for outcome-type stage metrics).
            programme: The programme (scorecard weights in force, resource planning).
            record: Append the departments' rows to the record (False in the warm-up, which searches too).
        """
        journey = self.journey
        facts = WeekFacts(max(active, 1), acquired.marketing, acquired.total, journey.week, self.effects)
        measured, weights = survey.measured_nps, programme.weights
        capacity = self.available_capacity(programme.capacity_diverted)
        shared_metric = self._shared_stage_metric(survey)
        for department, cap in zip(self.departments, capacity, strict=True):
            own = self.own_kpi(department, facts)
            shared = shared_metric(department)
            department.record_week(own, shared, measured, weights, float(journey.demand[department.index]))
            if record:
                self.records.append(
                    {
                        "step": week,
                        "department": department.name,
                        "kpi": own,
                        "scorecard": department.scorecard,
                        "shared_stage_metric": shared,
                        "capacity": float(cap),
                        "improvement_load": float(self.improvement[department.index]),
                        "demand": department.demand,
                        "utilisation": department.demand / cap if cap > 0 else float("nan"),
                        **{f"lever_{k}": v for k, v in department.levers.items()},
                    }
                )
        if (week + 1) % self.cfg.org.review_weeks == 0:
            for department in self.departments:
                department.review(weights)
            self._staff_to_book(active)
            if programme.resource_planning:
                effective = self.available_capacity(programme.capacity_diverted)  # as re-staffed
                rebalance_capacity(self.departments, effective, self.cfg.governance.flex_share)

    def _staff_to_book(self, active: int) -> None:
        """Staffing follows the book: every department's capacity moves in proportion to the active customers.

        Workforce plans budget staff per customer, so a book that grows or shrinks is re-staffed at the next
        review; what shared resource planning moved between departments keeps its proportions.
        """
        if active > 0 and self._staffed_for > 0:
            for department in self.departments:
                department.capacity *= active / self._staffed_for
        self._staffed_for = active

    def own_kpi(self, department: Department, facts: WeekFacts) -> float:
        """The department's own KPI: its measured output net of what its levers cost it (``org.lever_costs``)."""
        costs = self.cfg.org.lever_costs
        cost = sum(
            getattr(costs, department.lever_conf[name].mechanism) * push**2 for name, push in department.levers.items()
        )
        return KPIS[department.kpi_name].measure(facts, department) * (1.0 - cost)

    def _shared_stage_metric(self, survey: Survey) -> Any:
        """This week's shared stage metric of a department: as published, pooled over the stages it touches."""
        week = self.journey.week
        self._stage_counts.append((week.stage_attempts.copy(), week.stage_successes.copy()))
        attempts, successes = self._stage_counts[0]  # the oldest kept week: ``stage_metric_lag_weeks`` ago
        if self.cfg.governance.metric_type == "outcome":
            stage_nps = (survey.stage_nps() + 100.0) / 200.0

            def outcome_metric(department: Department) -> float:
                values = [v for v in (float(stage_nps[i]) for i in sorted(department.stages)) if math.isfinite(v)]
                return sum(values) / len(values) if values else float("nan")

            return outcome_metric

        def pooled(department: Department) -> float:
            stages = sorted(department.stages)
            tried = float(attempts[stages].sum())
            return float(successes[stages].sum()) / tried if tried > 0 else float("nan")

        return pooled

    def frame(self) -> pd.DataFrame:
        """One row per recorded week and department (the departments.parquet contract)."""
        return pd.DataFrame.from_records(self.records)
