"""The KPI registry: each department's own KPI, what it measures and how it is computed.

A department's own KPI (``org.departments.<name>.kpi``) is one of these, by name; the names are
the vocabulary ``KPI_MEASURES`` that configuration validation checks against. Each KPI is measured
every week from what the week produced (:class:`WeekFacts`) and the department's own levers; the
dashboard and the figures label it with its ``label`` and ``unit``. To add a KPI: add its name to
``KPI_MEASURES`` (:mod:`sim.config.vocabularies`) and a :class:`Kpi` here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sim.config.vocabularies import KPI_MEASURES

if TYPE_CHECKING:
    from sim.config.schema import LeverEffectsConf
    from sim.engine.departments import Department
    from sim.engine.journey import WeekCounts

__all__ = ["KPIS", "Kpi", "WeekFacts"]


@dataclass(frozen=True)
class WeekFacts:
    """What a week produced that departments' KPIs are measured from."""

    active: int
    """Active customers at the end of the week (at least 1)."""
    acquired_marketing: int
    """New customers brought in by marketing."""
    acquired_total: int
    """All new customers."""
    counts: WeekCounts
    """The journey's counters of the week (offers accepted, late payers and those who paid)."""
    effects: LeverEffectsConf
    """How strongly each lever moves its KPI."""


@dataclass(frozen=True)
class Kpi:
    """One own-KPI measure: its name, how it is labelled, and how it is computed (higher is better)."""

    name: str
    label: str
    unit: str
    measure: Callable[[WeekFacts, Department], float]


def _leads(facts: WeekFacts, department: Department) -> float:
    return 1000.0 * (facts.acquired_marketing + facts.counts.offers_accepted) / facts.active


def _new_sales(facts: WeekFacts, department: Department) -> float:
    return 1000.0 * facts.acquired_total / facts.active


def _cost_efficiency(facts: WeekFacts, department: Department) -> float:
    return 1.0 + facts.effects.throughput_capacity * department.lever("throughput")


def _handle_time_efficiency(facts: WeekFacts, department: Department) -> float:
    return 1.0 + facts.effects.handle_time_capacity * department.lever("handle_time")


def _collections_rate(facts: WeekFacts, department: Department) -> float:
    counts = facts.counts
    return counts.late_paid / counts.late_payers if counts.late_payers else float("nan")


KPIS: dict[str, Kpi] = {
    k.name: k
    for k in (
        Kpi("leads", "Leads", "leads / week\nper 1,000 customers", _leads),
        Kpi("new_sales", "New sales", "new sales / week\nper 1,000 customers", _new_sales),
        Kpi("cost_efficiency", "Cost efficiency", "output per staff hour\n(x no push)", _cost_efficiency),
        Kpi(
            "handle_time_efficiency",
            "Handle-time efficiency",
            "contacts per staff hour\n(x no push)",
            _handle_time_efficiency,
        ),
        Kpi("collections_rate", "Collections rate", "late payers who paid\n(share)", _collections_rate),
    )
}
if set(KPIS) != set(KPI_MEASURES):  # pragma: no cover - a programming error, caught at import
    raise RuntimeError(f"KPI registry {sorted(KPIS)} and vocabulary {sorted(KPI_MEASURES)} disagree")
