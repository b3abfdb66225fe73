"""Company-side weekly machinery shared by the engine and the per-agent reference.

Lever settings, each department's effective capacity, the lever-driven failure multipliers and
first-contact resolution, and the departments' weekly record and review. Both
:class:`sim.model.SiloModel` (vectorised customers) and :class:`sim.reference.ReferenceModel`
(one Mesa agent per customer) inherit it, so the departments, their scorecards and their local
search are the same code in both.
"""

from __future__ import annotations

import math
import zlib
from typing import TYPE_CHECKING, Any

import numpy as np

from sim.governance import rebalance_capacity

if TYPE_CHECKING:
    from sim.config import SiloConfig
    from sim.departments import Department
    from sim.feedback import Survey
    from sim.governance import Programme
    from sim.journey import Journey

__all__ = ["Company"]


class Company:
    """Mixin for a model with ``cfg``, ``departments``, ``journey``, ``survey``, ``programme`` and ``week``."""

    cfg: SiloConfig
    departments: list[Department]
    journey: Journey
    survey: Survey
    programme: Programme
    week: int
    department_records: list[dict[str, Any]]

    def active_count(self) -> int:
        """Active customers now (the model supplies it)."""
        raise NotImplementedError

    def _build_departments(self, scale: float) -> list[Department]:
        """The configured departments, each with the journey stages it owns and its own search stream.

        Args:
            scale: Initial customers / 1000 (capacities are configured per 1,000 customers).

        Returns:
            The departments, in configuration order.
        """
        from sim.departments import Department

        departments = []
        for i, name in enumerate(self.cfg.org.departments):
            stages = {int(s) for s, o in zip(self.journey.stage_of, self.journey.owner_of, strict=True) if o == i}
            rng = np.random.default_rng(np.random.SeedSequence(self.cfg.seed, spawn_key=(zlib.crc32(name.encode()),)))
            departments.append(Department(self, name, i, self.cfg.org.departments[name], scale, stages, rng))
        return departments

    def _lever(self, mechanism: str) -> float:
        """Setting of the lever that drives ``mechanism`` (0 if no department has one)."""
        return sum(d.lever(mechanism) for d in self.departments)

    def _effective_capacity(self) -> np.ndarray:
        """Each department's capacity this week, after throughput and handle-time pushes."""
        fx = self.cfg.org.lever_effects
        diverted = 1.0 - self.programme.capacity_diverted
        return np.array(
            [
                d.capacity
                * diverted
                * (1 + fx.throughput_capacity * d.lever("throughput"))
                * (1 + fx.handle_time_capacity * d.lever("handle_time"))
                for d in self.departments
            ]
        )

    def _failure_multipliers(self) -> np.ndarray:
        """Per touchpoint: how much its owner's throughput push raises its failures."""
        fx = self.cfg.org.lever_effects
        push = np.array([d.lever("throughput") for d in self.departments])
        return 1.0 + fx.throughput_failure * push[self.journey.owner_of]

    @property
    def first_contact_resolution(self) -> float:
        """Probability a support contact resolves the problem, after the handle-time push."""
        fx = self.cfg.org.lever_effects
        return self.cfg.journey.first_contact_resolution * (1 - fx.handle_time_fcr_loss * self._lever("handle_time"))

    def _departments_week(self, acquired_marketing: int, acquired_total: int) -> None:
        """Each department records its KPI, shared stage metric and outcome score; reviews when due."""
        cfg, j = self.cfg, self.journey
        fx = cfg.org.lever_effects
        wk = j.week
        active = max(self.active_count(), 1)
        kpis = {
            "leads": 1000.0 * (acquired_marketing + wk.offers_accepted) / active,
            "new_sales": 1000.0 * acquired_total / active,
            "collections_rate": wk.late_paid / wk.late_payers if wk.late_payers else float("nan"),
        }
        if cfg.governance.metric_type == "outcome":
            stage_metric = (self.survey.stage_nps() + 100.0) / 200.0
        else:
            stage_metric = j.stage_success()
        measured = self.survey.measured_nps
        weights = self.programme.weights
        capacity = self._effective_capacity()
        for d, cap in zip(self.departments, capacity, strict=True):
            own = {
                **kpis,
                "cost_efficiency": 1.0 + fx.throughput_capacity * d.lever("throughput"),
                "handle_time_efficiency": 1.0 + fx.handle_time_capacity * d.lever("handle_time"),
            }[d.kpi_name]
            values = [v for v in (float(stage_metric[i]) for i in sorted(d.stages)) if math.isfinite(v)]
            shared = sum(values) / len(values) if values else float("nan")
            d.demand = float(j.demand[d.index])
            d.record_week(own, shared, measured, weights)
            self.department_records.append(
                {
                    "step": self.week,
                    "department": d.name,
                    "kpi": own,
                    "scorecard": d.scorecard,
                    "shared_stage_metric": shared,
                    "capacity": float(cap),
                    "demand": d.demand,
                    "utilisation": d.demand / cap if cap > 0 else float("nan"),
                    **{f"lever_{k}": v for k, v in d.levers.items()},
                }
            )
        if (self.week + 1) % cfg.org.review_weeks == 0:
            for d in self.departments:
                d.review(weights)
            if self.programme.resource_planning:
                rebalance_capacity(self.departments, cfg.governance.flex_share)
