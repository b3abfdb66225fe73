"""Docking: the vectorised engine and the per-agent Mesa reference are the same model.

Docking (Axtell, Axelrod, Epstein & Cohen 1996, "Aligning simulation models") runs two
implementations of one model with the same parameters and asks whether their outputs can be told
apart. The engine (:class:`SiloModel`) and the reference (:class:`ReferenceModel`) share every
company-side part but not their random draws, so the comparison is statistical.

Test: equivalence, not a failure to find a difference. For each figure below, the two one-sided
tests (TOST, Schuirmann 1987; :func:`sim.experiments.analysis.equivalence.tost_welch`) must establish, at
alpha = 0.05 each side, that the difference of the means (reference minus engine) lies inside the
figure's margin: the 90% confidence interval, with Welch's standard error and degrees of freedom,
must lie inside (-margin, +margin). A Welch t-test that "does not reject" over a few seeds says
nothing; TOST passes only when the runs show the two models agree to within what matters.

Design: the scenarios closed_loop_followup (both feedback loops), score_chasing (gaming) and
full_transformation (every programme lever), 3,000 customers, 52 recorded weeks, no warm-up
(``warmup_weeks=0``), the survey at business-to-business response rates (below), seeds 0-39 in the
reference and 0-159 in the engine. The warm-up is traded for customers: a reference run costs in
proportion to customer-weeks, and 3,000 x 52 costs what the default 1,000 x (104 + 52) would, while
the seed-to-seed spread of the population's figures falls as one over the square root of the book
(true NPS: sd about 3.7 at 1,000 customers after the default warm-up, 1.5-1.7 at 3,000 without). The
run starts from the constructed initial book (expectations settled by construction, levers where
siloed search settles), so the docked year includes the book's transient and the programme's
adoption: both models must reproduce both.

The survey and first-contact resolution set the run size. At the default response rates (Satmetrix
B2C: 13% relationship, 16% transactional) a 3,000-customer year has about 300 relationship responses,
so its measured NPS has a sampling sd of about 4.5 points, against a 2-point margin on the survey gap.
The docked runs therefore use Satmetrix's B2B rates (``feedback.survey.relationship_response_rate``
0.32, ``transactional_response_rate`` 0.23): the same survey rules (invitations, the contact rule,
steering, gaming) with 2.5 times the responses (survey gap sd about 2.5 points, measured NPS pooled as
below). FCR comes from about 300 first contacts a run (sd about 0.032 against a margin of 0.02), which
no survey setting changes: it needs the runs. The reference costs about 15 times an engine run, so the
engine gets four times the runs (about the allocation that minimises the standard error for the
cost: the square root of the cost ratio) and the reference 40 (Welch standard errors, as a share of a
run's sd: 0.18, against 0.32 with 20 + 20). The same seed gives both models the same initial book (the
``initial_book`` stream), so the runs of seeds 0-39 are positively correlated across the models (true
NPS: r = 0.8); the unpaired Welch standard error ignores that and overstates the uncertainty, which
errs against claiming equivalence, never for it. The 120 reference and 800 engine runs (480 docked, 320
for the controls below) go over two processes in one batch: about 400 CPU-seconds (the reference about
2.5 s a run, the engine 0.1 s), the reference's three fifths of it.

Figures per run, and margins (absolute, in the figure's units). Effects quoted are the model's own:
year-3 effects from the model-validity notes (true NPS vs siloed: shared_stage_metrics +4.0,
closed_loop_followup +6.1, full_transformation +12.4) and first-year effects measured at this design
(engine, 40 paired seeds).

* true NPS, mean over the year, margin 2.0 NPS points: half the smallest substantive programme
  effect (shared_stage_metrics, +4.0), a third of closed_loop_followup's. A common offset between
  the implementations cancels when scenarios are compared; 2 points bounds even one that does not.
* measured NPS, pooled over the year's relationship responses, margin 3.0 NPS points: measured NPS is
  a survey reading, and at the default rates a year of the survey at the default 20,000 customers
  (about 2,000 relationship responses, per-response sd 0.75) reads it to +/-3.3 points (95%), so a user
  cannot read a smaller difference off a year of it. Pooled: the rolling 13-week readings of the
  weeks that end the year's four quarters, weighted by their responses, which counts every response
  of the year once; the mean of the 52 weekly readings would weight the first weeks' few responses
  most and have a fifth more variance.
* survey gap, measured (as above) minus true NPS (mean over the year), margin 2.0 NPS points: the
  survey's bias is what score chasing changes (+9.7 points in the first year at this design, about
  +14 in the third year of a default run); it gets the same tolerance as true NPS, and, being a
  within-run difference, is free of the population's composition and can be docked that tightly.
* annual retention over the year, margin 0.01 (one percentage point): retention is reported to the
  point and calibrated to a range (80-90%); a point is about 5% of customer lifetime value at the
  defaults, under a quarter of the year-3 retention effects of closed_loop_followup (+0.044) and
  full_transformation (+0.050; engine, 3,000 customers, 10 paired seeds).
* referrals per 1,000 customer-weeks, margin 0.25 (7% of the rate of about 3.7): promoters give
  about 86% of referrals (8 per 1,000 promoter-weeks), so 0.25 is what about three points of
  promoter share produce: the referral counterpart of the NPS margin, widened from the two points
  (0.16) to allow for the count's own noise.
* inner-loop recoveries per 1,000 customer-weeks, margin 0.2: the loosest margin, relative to the
  figure. The docked year recovers about 0.8 (full_transformation) and 0.7 (closed_loop_followup):
  follow-ups are served oldest first while capacity ramps up with adoption, so many reach detractors
  after the recovery chance has decayed, and whether the queue clears in time makes recoveries vary
  by about 10% from seed to seed. 0.2 is about a quarter of the level; what a user would want (about
  10%) is out of reach at this run size. Recoveries move headline figures little: removing the
  recovery lift altogether moves first-year true NPS by 0.4 (closed_loop_followup) and 0.5
  (full_transformation) points.
* first-contact resolution, pooled over the year's first contacts (resolved first contacts over first
  contacts, so every contact counts once; the mean of the 52 weekly rates would weight the quiet weeks'
  few contacts as much as the busy ones'), margin 0.02: FCR is reported to the point and calibrated
  to about 0.70 (SQM: 67-72%, a 5-point band); 2 points lies inside the benchmark's band.

Negative controls (the engine altered, the reference not): the same procedure must NOT establish
equivalence on the figure each alteration touches, or the test has no power. The procedure is the
docking's own, at its own design: the scenario's 40 reference runs (the docked ones) against 160 runs
of the altered engine at seeds 0-159. TOST is symmetric in the two samples, and its power against an
alteration depends only on the runs per model, their spread and the size of the alteration, not on
which model carries it; the sizes quoted below were measured on the engine, and the docking shows the
two models respond alike. Altering the reference instead (as the test first did) takes 80 more
reference runs (200 CPU-seconds) for the same power; the altered engine's 320 runs take about 30. At
the test's seeds, reference minus altered engine: survey gap +1.89 points (90% CI +1.25 to +2.53) for
halved gaming, recoveries +0.297 (+0.273 to +0.322) for the late follow-ups; neither is equivalent.

* halved gaming: score_chasing with ``feedback.gaming.pressure_prob`` halved (0.27 -> 0.135: half
  the respondents pressed for a ten, so half the inflation and half the annoyance; steering kept).
  It moves the survey gap by about -2.2 points (engine, paired seeds): an alteration about the size
  of the margin, which docking must not call equivalent.
* one week's extra follow-up delay: full_transformation with ``feedback.inner_loop.max_recovery``
  times 2^(-1/1.5) (0.6 -> 0.378), exactly what counting every follow-up's delay one week late does
  (recovery halves every 1.5 weeks): recoveries about -0.30 per 1,000 customer-weeks.

Not a control: the recovery lift set to 0 (``feedback.inner_loop.recovery_lift``) on
closed_loop_followup moves first-year true NPS by -0.4 points and no figure above by more than a
fifth of its margin (the lift does not change how many are recovered). No margin a user would care
about, and no affordable number of runs, tells that apart in the docked year: by these margins it is
an equivalent model.

Known miss: at the test's own seeds, first-contact resolution under full_transformation does not dock
(``KNOWN_MISSES``): the reference resolves 1.3 points more first contacts (90% CI +0.4 to +2.1 against a
2-point margin). Two independent replications of the same design dock it (-0.14 and -0.32 points, seeds
from 1000 and from 2000), and on seeds from 1000 (``SILOSIM_DOCKING_SEEDS=1000``) the whole test passes:
all 21 figures dock and both alterations are rejected (checked when the alterations were made to the
reference). So it reads as a chance non-equivalence at these seeds (with no difference at all, one of
the 21 tests fails about one time in ten at this design), not a rule the implementations apply
differently. Every other figure of every scenario must dock at the test's
seeds; that one is reported as an expected failure, with its table. The seeds stay as chosen before any
result.
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pytest
from joblib import Parallel, delayed

from sim.config import checked_config, compose_config
from sim.engine.model import SiloModel
from sim.engine.reference import ReferenceModel
from sim.experiments.analysis.equivalence import Equivalence, tost_welch
from sim.experiments.analysis.outcomes import compute

if TYPE_CHECKING:
    import pandas as pd

    from sim.config.run import RunConfig

pytestmark = [pytest.mark.slow, pytest.mark.start_first]  # the suite's longest: started first under xdist

SCENARIOS = ("closed_loop_followup", "score_chasing", "full_transformation")
CUSTOMERS, WEEKS, WARMUP_WEEKS = 3000, 52, 0
# the survey at Satmetrix's B2B response rates: the same rules, 2.5 times the responses (see the docstring)
SURVEY = ("feedback.survey.relationship_response_rate=0.32", "feedback.survey.transactional_response_rate=0.23")
# The seed block: the test's own is 0. Another (``SILOSIM_DOCKING_SEEDS=1000``) reruns the same design on new seeds,
# an independent replication, where every figure must dock (the known misses of block 0 included).
try:
    SEED_BLOCK = int(os.environ.get("SILOSIM_DOCKING_SEEDS", "0"))
except ValueError:
    pytest.exit(
        f"SILOSIM_DOCKING_SEEDS is {os.environ['SILOSIM_DOCKING_SEEDS']!r}; it must be a whole number (the first seed "
        "of the block, 0 for the test's own).",
        returncode=4,
    )
SEEDS = {  # the engine's runs are cheap: four times as many
    "reference": range(SEED_BLOCK, SEED_BLOCK + 40),
    "engine": range(SEED_BLOCK, SEED_BLOCK + 160),
}
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
    "measured_nps": Figure("measured NPS, pooled over the year's responses", "NPS points", 3.0),
    "survey_gap": Figure("measured minus true NPS", "NPS points", 2.0),
    "annual_retention": Figure("annual retention", "share", 0.01),
    "referrals": Figure("referrals", "per 1,000 customer-weeks", 0.25),
    "recoveries": Figure("inner-loop recoveries", "per 1,000 customer-weeks", 0.2),
    "first_contact_resolution": Figure("first-contact resolution, pooled over the year", "share", 0.02),
}


@dataclass(frozen=True)
class Control:
    """A small alteration (made to the engine) that docking must detect on the figure it touches."""

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


def pooled_measured_nps(metrics: pd.DataFrame, window_weeks: int) -> float:
    """Measured NPS over every relationship response of the run, from the weekly rolling readings.

    The reading of a week pools the relationship responses of the last ``window_weeks`` weeks, so the
    readings of the run's last week and of every ``window_weeks`` weeks before it cover each response
    once; weighted by their responses they give the NPS of all of them.
    """
    if len(metrics) % window_weeks:
        raise ValueError(f"{len(metrics)} weeks do not divide into survey windows of {window_weeks}")
    responses = metrics["relationship_responses"].rolling(window_weeks, min_periods=1).sum()
    ends = slice(window_weeks - 1, None, window_weeks)
    n = responses.iloc[ends].to_numpy(dtype=float)
    nps = metrics["measured_nps"].iloc[ends].to_numpy(dtype=float)
    answered = n > 0
    return float((nps[answered] * n[answered]).sum() / n.sum()) if n.sum() else float("nan")


def figures(metrics: pd.DataFrame, window_weeks: int) -> dict[str, float]:
    """The docked figures of one run, from its weekly metrics (the outcome registry where it has them)."""
    o = compute(("mean_true_nps", "annual_retention"), metrics)
    measured = pooled_measured_nps(metrics, window_weeks)
    customer_weeks = float(metrics["active_before"].sum())
    return {
        "true_nps": o["mean_true_nps"],
        "measured_nps": measured,
        "survey_gap": measured - o["mean_true_nps"],
        "annual_retention": o["annual_retention"],
        "referrals": 1000.0 * float(metrics["referrals"].sum()) / customer_weeks,
        "recoveries": 1000.0 * float(metrics["recoveries"].sum()) / customer_weeks,
        "first_contact_resolution": float(metrics["first_contacts_resolved"].sum() / metrics["first_contacts"].sum()),
    }


@functools.cache
def _configuration(scenario: str, overrides: tuple[str, ...]) -> RunConfig:
    """The typed configuration of a group of runs (composed once per process, not once per run)."""
    return checked_config(
        [
            f"scenario={scenario}",
            f"customers={CUSTOMERS}",
            f"weeks={WEEKS}",
            f"warmup_weeks={WARMUP_WEEKS}",
            "track_customers=0",
            *SURVEY,
            *overrides,
        ]
    )


def _run(model: str, scenario: str, seed: int, overrides: tuple[str, ...]) -> dict[str, float]:
    cfg = dataclasses.replace(_configuration(scenario, overrides), seed=seed)  # neither model writes to its config
    cls = SiloModel if model == "engine" else ReferenceModel
    return figures(cls(cfg).run().metrics_frame(), cfg.feedback.survey.window_weeks)


Sample = list[dict[str, float]]


@pytest.fixture(scope="module")
def runs() -> dict[tuple[str, str], Sample]:
    """Every run of the module in one parallel batch: ``(model, scenario or control) -> one dict per seed``."""
    groups = [("reference", s, s, ()) for s in SCENARIOS]
    groups += [("engine", s, s, ()) for s in SCENARIOS]  # after the long runs: the short ones fill in at the end
    groups += [("engine", name, c.scenario, c.overrides()) for name, c in CONTROLS.items()]
    jobs = [(m, key, scenario, seed, overrides) for m, key, scenario, overrides in groups for seed in SEEDS[m]]
    results = Parallel(n_jobs=JOBS, batch_size=1)(delayed(_run)(m, sc, seed, ov) for m, _, sc, seed, ov in jobs)
    out: dict[tuple[str, str], Sample] = {}
    for (model, key, *_), result in zip(jobs, results, strict=True):
        out.setdefault((model, key), []).append(result)
    return out


def _tost(reference: Sample, engine: Sample, name: str) -> Equivalence:
    return tost_welch([r[name] for r in reference], [e[name] for e in engine], FIGURES[name].margin, ALPHA)


def _table(title: str, results: dict[str, Equivalence]) -> str:
    lines = [f"{title}: reference minus engine, {len(SEEDS['reference'])} + {len(SEEDS['engine'])} runs"]
    lines += [f"  {name:<25} {r}  [{FIGURES[name].unit}]" for name, r in results.items()]
    return "\n".join(lines)


# A figure the test's own seeds cannot call equivalent, and what is known of it. The runs are seeded, so the outcome
# is the same on every machine with the locked packages: the test fails if any other figure misses, and reports this
# one as an expected failure (xfail) with its table. The seeds stay as they were chosen, before any result: choosing
# others after seeing this one would be choosing the answer.
_FCR_MISS = (
    "at the test's seeds (reference 0-39, engine 0-159) the reference's first-contact resolution under "
    "full_transformation is 1.3 points higher (90% CI +0.4 to +2.1 points against a 2-point margin). Two independent "
    "replications of the same design dock it: seeds from 1000, -0.14 points (90% CI -0.98 to +0.70), where the whole "
    "test passes (rerun with SILOSIM_DOCKING_SEEDS=1000); from 2000, -0.32 (-1.13 to +0.49). With no difference at "
    "all, one of the 21 equivalence tests fails by chance about one time in ten at this design (from the figures' "
    "standard errors; first-contact resolution has the least room). At these seeds the gap runs through the engine's "
    "first half-year: about 7 more detractor responses a run from as many invited detractors, so more follow-ups, "
    "which take capacity from a help desk at the edge of it"
)
KNOWN_MISSES = {("full_transformation", "first_contact_resolution"): _FCR_MISS} if SEED_BLOCK == 0 else {}


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_reference_docks_with_the_engine(runs: dict[tuple[str, str], Sample], scenario: str) -> None:
    reference, engine = runs["reference", scenario], runs["engine", scenario]
    results = {name: _tost(reference, engine, name) for name in FIGURES}
    report = _table(scenario, results)
    print(report)
    missed = {name for name, r in results.items() if not r.equivalent}
    known = {name for name in missed if (scenario, name) in KNOWN_MISSES}
    assert missed == known, report
    # and the figures are where the model puts them, not both degenerate
    for sample in (reference, engine):
        mean = {name: sum(r[name] for r in sample) / len(sample) for name in FIGURES}
        assert 0.75 < mean["annual_retention"] < 0.95, mean
        assert 5 < mean["true_nps"] < 40, mean
        assert 0.6 < mean["first_contact_resolution"] < 0.8, mean
        assert (mean["survey_gap"] > 5) == (scenario == "score_chasing"), mean
        assert (mean["recoveries"] > 0.05) == (scenario != "score_chasing"), mean
    if known:
        pytest.xfail("; ".join(KNOWN_MISSES[scenario, name] for name in sorted(known)) + "\n" + report)


@pytest.mark.parametrize("control", CONTROLS)
def test_docking_rejects_a_slightly_altered_engine(runs: dict[tuple[str, str], Sample], control: str) -> None:
    c = CONTROLS[control]
    result = _tost(runs["reference", c.scenario], runs["engine", control], c.figure)
    report = _table(f"{control} ({c.scenario}, {' '.join(c.overrides())})", {c.figure: result})
    print(report)
    assert not result.equivalent, report
