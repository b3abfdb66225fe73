"""The organisation: the departments, what their levers do to the company's machinery, and their weekly review.

Both models hold one :class:`Organisation` (the vectorised engine, :class:`sim.engine.model.SiloModel`,
and the per-agent reference, :class:`sim.engine.reference.ReferenceModel`), so the departments,
their scorecards, their local search and what their levers change are the same code in both.

What the levers change (their mechanisms, ``LEVER_MECHANISMS``):

* ``throughput`` and ``handle_time`` raise their department's capacity (its cost or handle-time
  efficiency, the KPI they are pushed for); ``throughput`` also raises the failure rate of the
  touchpoints its department owns, and ``handle_time`` lowers first-contact resolution;
* ``campaign_volume``, ``over_promise``, ``cross_sell`` and ``collections`` are read by the market,
  the journey's offers and its billing where they act (:meth:`Organisation.lever`).
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

from sim.engine.departments import Department
from sim.engine.governance import rebalance_capacity
from sim.engine.kpis import KPIS, WeekFacts

if TYPE_CHECKING:
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

    @property
    def first_contact_resolution(self) -> float:
        """Probability a support contact resolves the problem, after the handle-time push."""
        loss = self.effects.handle_time_fcr_loss * self.lever("handle_time")
        return self.cfg.journey.first_contact_resolution * (1 - loss)

    def open_week(self, programme: Programme) -> None:
        """Start the journey's week with this week's capacities, lever-driven failure rates and shared view."""
        self.journey.begin_week(
            self.effective_capacity(programme.capacity_diverted),
            self.failure_multipliers(),
            programme.shared_view,
            programme.silo_uplift,
        )

    # -------------------------------------------------------- scorecards, review
    def end_week(self, week: int, active: int, acquired: Acquisition, survey: Survey, programme: Programme) -> None:
        """Each department records its KPI, shared stage metric and outcome score; all review when due.

        Args:
            week: The week that ends.
            active: Active customers at the end of the week.
            acquired: The week's new customers by channel.
            survey: The survey (measured NPS, and stage NPS for outcome-type stage metrics).
            programme: The programme (scorecard weights in force, resource planning).
        """
        journey = self.journey
        facts = WeekFacts(max(active, 1), acquired.marketing, acquired.total, journey.week, self.effects)
        if self.cfg.governance.metric_type == "outcome":
            stage_metric = (survey.stage_nps() + 100.0) / 200.0
        else:
            stage_metric = journey.stage_success()
        measured, weights = survey.measured_nps, programme.weights
        capacity = self.effective_capacity(programme.capacity_diverted)
        for department, cap in zip(self.departments, capacity, strict=True):
            own = KPIS[department.kpi_name].measure(facts, department)
            values = [v for v in (float(stage_metric[i]) for i in sorted(department.stages)) if math.isfinite(v)]
            shared = sum(values) / len(values) if values else float("nan")
            department.demand = float(journey.demand[department.index])
            department.record_week(own, shared, measured, weights)
            self.records.append(
                {
                    "step": week,
                    "department": department.name,
                    "kpi": own,
                    "scorecard": department.scorecard,
                    "shared_stage_metric": shared,
                    "capacity": float(cap),
                    "demand": department.demand,
                    "utilisation": department.demand / cap if cap > 0 else float("nan"),
                    **{f"lever_{k}": v for k, v in department.levers.items()},
                }
            )
        if (week + 1) % self.cfg.org.review_weeks == 0:
            for department in self.departments:
                department.review(weights)
            if programme.resource_planning:
                rebalance_capacity(self.departments, self.cfg.governance.flex_share)

    def frame(self) -> pd.DataFrame:
        """One row per recorded week and department (the departments.parquet contract)."""
        return pd.DataFrame.from_records(self.records)
