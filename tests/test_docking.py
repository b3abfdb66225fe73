"""Docking: the vectorised engine and the per-agent Mesa reference are the same model.

Docking (Axtell, Axelrod, Epstein & Cohen 1996, "Aligning simulation models") runs two
implementations of one model with the same parameters and checks that their outputs cannot be
told apart. Here both run ``closed_loop_followup`` (every customer rule plus both feedback loops)
with 1,000 customers for 52 recorded weeks after the 26-week warm-up, over seeds 0-7. They share
no random draws, so the comparison is statistical.

Criterion: for each of three figures per run -- true NPS averaged over the run, annual retention
over the last 52 weeks, and the mean weekly churn rate (weekly churn plus non-renewals over
active customers) -- a two-sided Welch two-sample t-test of the 8 engine runs against the 8
reference runs must not reject equality at alpha = 0.01 (family-wise about 3% over the three).

Power: a negative control runs the reference with the weekly churn hazard doubled
(``customer.base_weekly_churn`` x 2); the same criterion must reject it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pytest
from scipy import stats

from sim.config import compose_config
from sim.engine.model import SiloModel
from sim.engine.reference import ReferenceModel
from sim.experiments.outcomes import run_summary

if TYPE_CHECKING:
    from omegaconf import DictConfig

pytestmark = pytest.mark.slow

SCENARIO = "closed_loop_followup"
CUSTOMERS, WEEKS, SEEDS = 1000, 52, range(8)
ALPHA = 0.01
FIGURES = ("true_nps_mean", "annual_retention", "weekly_churn")


def _config(seed: int, overrides: tuple[str, ...] = ()) -> DictConfig:
    return compose_config(
        [
            f"scenario={SCENARIO}",
            f"customers={CUSTOMERS}",
            f"weeks={WEEKS}",
            f"seed={seed}",
            "track_customers=0",
            *overrides,
        ]
    )


def _engine_summary(seed: int) -> dict[str, float]:
    m = SiloModel(_config(seed)).run()
    s, f = run_summary(m), m.metrics_frame()
    return {
        "true_nps_mean": s["mean"]["true_nps"],
        "annual_retention": s["final"]["annual_retention"],
        "weekly_churn": float((f["churned"] / f["active_before"]).mean()),
    }


def _reference_summary(seed: int, overrides: tuple[str, ...] = ()) -> dict[str, float]:
    return ReferenceModel(_config(seed, overrides)).run().summary()


def _pvalues(a: list[dict[str, float]], b: list[dict[str, float]]) -> dict[str, float]:
    return {k: float(stats.ttest_ind([x[k] for x in a], [x[k] for x in b], equal_var=False).pvalue) for k in FIGURES}


@pytest.fixture(scope="module")
def engine_runs() -> list[dict[str, float]]:
    return [_engine_summary(s) for s in SEEDS]


def test_reference_docks_with_the_engine(engine_runs: list[dict[str, float]]) -> None:
    reference = [_reference_summary(s) for s in SEEDS]
    p = _pvalues(engine_runs, reference)
    assert all(v > ALPHA for v in p.values()), p
    # and the figures are where the calibrated model puts them, not both degenerate
    for runs in (engine_runs, reference):
        assert 0.75 < np.mean([r["annual_retention"] for r in runs]) < 0.95
        assert 0 < np.mean([r["true_nps_mean"] for r in runs]) < 40


def test_docking_rejects_a_reference_with_doubled_churn(engine_runs: list[dict[str, float]]) -> None:
    base = compose_config([]).customer.base_weekly_churn
    altered = [_reference_summary(s, (f"customer.base_weekly_churn={2 * base}",)) for s in SEEDS]
    p = _pvalues(engine_runs, altered)
    assert min(p.values()) <= ALPHA, p
