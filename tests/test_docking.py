"""Docking: the vectorised engine and the per-agent Mesa reference are the same model.

Docking (Axtell, Axelrod, Epstein & Cohen 1996, "Aligning simulation models") runs two
implementations of one model with the same parameters and asks whether their outputs can be told
apart. The engine (:class:`SiloModel`) and the reference (:class:`ReferenceModel`) share every
company-side part but not their random draws, so the comparison is statistical.

Test: equivalence, not a failure to find a difference. For each figure below, the two one-sided
tests (TOST, Schuirmann 1987; :func:`sim.experiments.statistics.tost_welch`) must establish, at
alpha = 0.05 each side, that the difference of the means (reference minus engine) lies inside the
figure's margin: the 90% confidence interval, with Welch's standard error and degrees of freedom,
must lie inside (-margin, +margin). A Welch t-test that "does not reject" over a few seeds says
nothing; TOST passes only when the runs show the two models agree to within what matters.

Design: the scenarios closed_loop_followup (both feedback loops), score_chasing (gaming) and
full_transformation (every programme lever), 3,000 customers, 52 recorded weeks, no warm-up
(``warmup_weeks=0``), seeds 0-19 in each model (two samples of 20 runs). The warm-up is traded for
customers: a reference run costs in proportion to customer-weeks, and 3,000 x 52 costs what the
default 1,000 x (104 + 52) would, while the seed-to-seed spread of the population's figures falls as
one over the square root of the book (true NPS: sd about 3.7 at 1,000 customers after the
default warm-up, 1.5-2.0 at 3,000 without). The run starts from the constructed initial book
(expectations settled by construction, levers where siloed search settles), so the docked year
includes the book's transient and the programme's adoption: both models must reproduce both. The
same seed gives both models the same initial book (the ``initial_book`` stream), so the two samples
are positively correlated by seed (true NPS: r = 0.8); the unpaired Welch standard error ignores
that and overstates the uncertainty, which errs against claiming equivalence, never for it. The
100 reference and 60 engine runs go over two processes in one batch: about 180 CPU-seconds, so
about 90-100 s on two idle cores (the reference is the cost: about 1.6 s a run, the engine 0.1 s).

Figures per run, and margins (absolute, in the figure's units). Effects quoted are the model's own:
year-3 effects from the model-validity notes (true NPS vs siloed: shared_stage_metrics +4.0,
closed_loop_followup +6.1, full_transformation +12.4; score chasing: measured +15.8 vs true -1.5)
and first-year effects measured at this design (engine, paired seeds).

* true NPS, mean over the year, margin 2.0 NPS points: half the smallest substantive programme
  effect (shared_stage_metrics, +4.0), a third of closed_loop_followup's. A common offset between
  the implementations cancels when scenarios are compared; 2 points bounds even one that does not.
* measured NPS, mean of the weekly 4-week rolling value, margin 3.0 NPS points: measured NPS is a
  survey reading; one monthly reading at the default 20,000 customers (about 1,800 responses in the
  window, per-response sd 0.74) has a sampling error of +/-3.4 points (95%), so a user cannot read a
  smaller difference off it.
* survey gap, measured minus true NPS (mean over the year), margin 2.0 NPS points: the survey's bias
  is what score chasing changes (+10.8 points in the first year at this design, +17 at year 3); it
  gets the same tolerance as true NPS, and, being a within-run difference, is free of the
  population's composition and can be docked that tightly.
* annual retention over the year, margin 0.01 (one percentage point): retention is reported to the
  point and calibrated to a range (80-90%); a point is about 5% of customer lifetime value at the
  defaults, under a quarter of the year-3 retention effects of closed_loop_followup (+0.044) and
  full_transformation (+0.050; engine, 3,000 customers, 10 paired seeds).
* referrals per 1,000 customer-weeks, margin 0.25 (7% of the rate of about 3.6): promoters give
  about 86% of referrals (8 per 1,000 promoter-weeks), so 0.25 is what about three points of
  promoter share produce: the referral counterpart of the NPS margin, widened from the two points
  (0.16) to allow for the count's own noise.
* inner-loop recoveries per 1,000 customer-weeks, margin 0.2: the loosest margin, relative to the
  figure. The docked year recovers about 0.7 (full_transformation) and 0.2 (closed_loop_followup):
  follow-ups are served oldest first while capacity ramps up with adoption, so most reach detractors
  long after the recovery chance has decayed, and whether the queue clears in time makes recoveries
  vary by 25-50% from seed to seed. 0.2 is about 30% of full_transformation's level (15% of the
  1.3-1.4 a fully adopted loop recovers in later years); for closed_loop_followup it only rules out
  gross errors. What a user would want (about 10%) is out of reach at this run size. Recoveries move
  headline figures little: removing the recovery lift altogether moves first-year true NPS by 0.07
  (closed_loop_followup) and 0.32 (full_transformation) points.
* first-contact resolution, mean of the weekly rate, margin 0.02: FCR is reported to the point and
  calibrated to about 0.70 (SQM: 67-72%, a 5-point band); 2 points lies inside the benchmark's band.

Negative controls (the reference altered, the engine not): the same procedure must NOT establish
equivalence on the figure each alteration touches, or the test has no power.

* halved gaming: score_chasing with ``feedback.gaming.pressure_prob`` halved (0.27 -> 0.135: half
  the respondents pressed for a ten, so half the inflation and half the annoyance; steering kept).
  It moves the survey gap by about -2.4 points (engine, paired seeds).
* one week's extra follow-up delay: full_transformation with ``feedback.inner_loop.max_recovery``
  times 2^(-1/1.5) (0.6 -> 0.378), exactly what counting every follow-up's delay one week late does
  (recovery halves every 1.5 weeks): recoveries about -0.27 per 1,000 customer-weeks.

Not a control: the recovery lift set to 0 (``feedback.inner_loop.recovery_lift``) on
closed_loop_followup moves first-year true NPS by -0.07 points and no figure above by more (the lift
does not change how many are recovered; even over three years it costs 0.8 points of mean true NPS).
No margin a user would care about, and no affordable number of runs, tells that apart in the docked
year: by these margins it is an equivalent model (the reference so altered passes every figure).
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from joblib import Parallel, delayed

from sim.config import compose_config
from sim.engine.model import SiloModel
from sim.engine.reference import ReferenceModel
from sim.experiments.outcomes import compute
from sim.experiments.statistics import Equivalence, tost_welch

if TYPE_CHECKING:
    import pandas as pd
    from omegaconf import DictConfig

pytestmark = pytest.mark.slow

SCENARIOS = ("closed_loop_followup", "score_chasing", "full_transformation")
CUSTOMERS, WEEKS, WARMUP_WEEKS = 3000, 52, 0
SEEDS = range(20)
ALPHA = 0.05  # each one-sided test; equivalence = the 90% confidence interval inside the margin
JOBS = 2  # processes (the CI machine has two cores)


@dataclass(frozen=True)
class Figure:
    """One figure compared per run: what it is, its unit and its equivalence margin."""

    label: str
    unit: str
    margin: float


FIGURES = {
    "true_nps": Figure("true NPS, mean over the year", "NPS points", 2.0),
    "measured_nps": Figure("measured NPS, mean over the year", "NPS points", 3.0),
    "survey_gap": Figure("measured minus true NPS", "NPS points", 2.0),
    "annual_retention": Figure("annual retention", "share", 0.01),
    "referrals": Figure("referrals", "per 1,000 customer-weeks", 0.25),
    "recoveries": Figure("inner-loop recoveries", "per 1,000 customer-weeks", 0.2),
    "first_contact_resolution": Figure("first-contact resolution, mean over the year", "share", 0.02),
}


@dataclass(frozen=True)
class Control:
    """A small alteration of the reference that docking must detect on the figure it touches."""

    scenario: str
    overrides: Callable[[], tuple[str, ...]]
    figure: str


def _halved_gaming() -> tuple[str, ...]:
    return (f"feedback.gaming.pressure_prob={compose_config([]).feedback.gaming.pressure_prob / 2}",)


def _one_week_late_follow_ups() -> tuple[str, ...]:
    inner = compose_config([]).feedback.inner_loop
    return (f"feedback.inner_loop.max_recovery={inner.max_recovery * 0.5 ** (1 / inner.recovery_half_life_weeks)}",)


CONTROLS = {
    "halved_gaming": Control("score_chasing", _halved_gaming, "survey_gap"),
    "one_week_late_follow_ups": Control("full_transformation", _one_week_late_follow_ups, "recoveries"),
}


def figures(metrics: pd.DataFrame) -> dict[str, float]:
    """The docked figures of one run, from its weekly metrics (the outcome registry where it has them)."""
    o = compute(("mean_true_nps", "mean_measured_nps", "annual_retention", "first_contact_resolution"), metrics)
    customer_weeks = float(metrics["active_before"].sum())
    return {
        "true_nps": o["mean_true_nps"],
        "measured_nps": o["mean_measured_nps"],
        "survey_gap": o["mean_measured_nps"] - o["mean_true_nps"],
        "annual_retention": o["annual_retention"],
        "referrals": 1000.0 * float(metrics["referrals"].sum()) / customer_weeks,
        "recoveries": 1000.0 * float(metrics["recoveries"].sum()) / customer_weeks,
        "first_contact_resolution": o["first_contact_resolution"],
    }


@functools.cache
def _configuration(scenario: str, overrides: tuple[str, ...]) -> DictConfig:
    """The composed configuration of a group of runs (composed once per process, not once per run)."""
    return compose_config(
        [
            f"scenario={scenario}",
            f"customers={CUSTOMERS}",
            f"weeks={WEEKS}",
            f"warmup_weeks={WARMUP_WEEKS}",
            "track_customers=0",
            *overrides,
        ]
    )


def _run(model: str, scenario: str, seed: int, overrides: tuple[str, ...]) -> dict[str, float]:
    cfg = copy.deepcopy(_configuration(scenario, overrides))
    cfg.seed = seed
    cls = SiloModel if model == "engine" else ReferenceModel
    return figures(cls(cfg).run().metrics_frame())


Sample = list[dict[str, float]]


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], Sample]:
    """Every run of the module in one parallel batch: ``(model, scenario or control) -> one dict per seed``."""
    groups = [("reference", s, s, ()) for s in SCENARIOS]
    groups += [("reference", name, c.scenario, c.overrides()) for name, c in CONTROLS.items()]
    groups += [("engine", s, s, ()) for s in SCENARIOS]  # last: the short runs fill in at the end
    jobs = [(model, key, scenario, seed, overrides) for model, key, scenario, overrides in groups for seed in SEEDS]
    results = Parallel(n_jobs=JOBS, batch_size=1)(delayed(_run)(m, sc, seed, ov) for m, _, sc, seed, ov in jobs)
    out: dict[tuple[str, str], Sample] = {}
    for (model, key, *_), result in zip(jobs, results, strict=True):
        out.setdefault((model, key), []).append(result)
    return out


def _tost(reference: Sample, engine: Sample, name: str) -> Equivalence:
    return tost_welch([r[name] for r in reference], [e[name] for e in engine], FIGURES[name].margin, ALPHA)


def _table(title: str, results: dict[str, Equivalence]) -> str:
    lines = [f"{title}: reference minus engine, {len(SEEDS)} + {len(SEEDS)} runs"]
    lines += [f"  {name:<25} {r}  [{FIGURES[name].unit}]" for name, r in results.items()]
    return "\n".join(lines)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_reference_docks_with_the_engine(runs: dict[tuple[str, str], Sample], scenario: str) -> None:
    reference, engine = runs["reference", scenario], runs["engine", scenario]
    results = {name: _tost(reference, engine, name) for name in FIGURES}
    report = _table(scenario, results)
    print(report)
    assert all(r.equivalent for r in results.values()), report
    # and the figures are where the model puts them, not both degenerate
    for sample in (reference, engine):
        mean = {name: sum(r[name] for r in sample) / len(sample) for name in FIGURES}
        assert 0.75 < mean["annual_retention"] < 0.95, mean
        assert 5 < mean["true_nps"] < 40, mean
        assert 0.6 < mean["first_contact_resolution"] < 0.8, mean
        assert (mean["survey_gap"] > 5) == (scenario == "score_chasing"), mean
        assert (mean["recoveries"] > 0.05) == (scenario != "score_chasing"), mean


@pytest.mark.parametrize("control", CONTROLS)
def test_docking_rejects_a_slightly_altered_reference(runs: dict[tuple[str, str], Sample], control: str) -> None:
    c = CONTROLS[control]
    result = _tost(runs["reference", control], runs["engine", c.scenario], c.figure)
    report = _table(f"{control} ({c.scenario}, {' '.join(c.overrides())})", {c.figure: result})
    print(report)
    assert not result.equivalent, report
