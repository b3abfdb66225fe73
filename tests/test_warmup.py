"""The shared warm-up: a run continued from another run's warm-up is the same run, to the byte.

Runs whose warm-up keys agree (every model setting but ``WARMUP_UNREAD``) share one warm-up
(``warm_up`` + ``SiloModel.from_warm``; ``sim.experiments.runs.warmups``). These tests fork every shipped
scenario from the siloed baseline's warm-up and compare its run directory with one run from scratch,
fork across every setting the key leaves out, and show that a setting the warm-up does read (the
stage metric's type) would change the run if it were forked across.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import SCENARIOS

from sim.config import compose_config
from sim.config.compose import to_config
from sim.config.walk import walk
from sim.engine.model import WARMUP_UNREAD, SiloConfig, SiloModel, WarmState, warm_up, warmup_key
from sim.experiments.runs.rundir import execute_run
from sim.experiments.runs.warmups import WARM_CACHE_ENV, WarmCache, group_by_warmup, run_forked

SMALL = ["customers=300", "weeks=30", "warmup_weeks=27", "track_customers=3", "seed=5"]  # reviews and a quarter
FRAMES = ("metrics_frame", "departments_frame", "customers_frame")

# A value other than full_transformation's for every setting the warm-up does not read (each forked across below).
OTHER_VALUE = {
    "scenario_name": "renamed",
    "calibration_source": "somewhere/calibrated.yaml",
    "industry.name": "telecom",
    "industry.nps": 31.0,
    "industry.annual_retention": 0.8,
    "industry.source": "a source",
    "weeks": 45,
    "governance.program_start_week": 3,
    "governance.scorecard.own_kpi": 0.2,
    "governance.scorecard.shared_stage": 0.3,
    "governance.scorecard.outcome": 0.5,
    "governance.shared_customer_view": False,
    "governance.conflict_suppression": 0.5,
    "governance.handoff_reduction": 0.2,
    "governance.shared_resource_planning": False,
    "governance.flex_share": 0.5,
    "governance.executive_engagement": 0.3,
    "governance.adoption_weeks_full_engagement": 8.0,
    "governance.adoption_decay_weeks": 20.0,
    "governance.communication": 0.4,
    "governance.patience_weeks": 13,
    "governance.patience_target_gain": 30.0,
    "governance.relaunch_after_weeks": 5,
    "governance.cynicism": 0.9,
    "governance.silo_projects_capacity": 0.2,
    "governance.silo_projects_uplift": 0.5,
    "feedback.gaming.pressure_prob": 0.9,
    "feedback.gaming.inflate_prob": 0.9,
    "feedback.gaming.inflate_points": 5,
    "feedback.gaming.steer_prob": 0.9,
    "feedback.gaming.steer_below": 9.0,
    "feedback.gaming.full_intensity_share": 0.1,
    "feedback.gaming.pressure_annoyance": 2.0,
    "feedback.inner_loop.capacity": 40.0,
    "feedback.inner_loop.max_recovery": 0.2,
    "feedback.inner_loop.recovery_half_life_weeks": 0.5,
    "feedback.inner_loop.max_wait_weeks": 1,
    "feedback.inner_loop.recovery_lift": 0.1,
    "feedback.inner_loop.touches_per_followup": 10.0,
    "feedback.outer_loop.fixes_per_quarter": 6.0,
    "feedback.outer_loop.fix_effect": 0.9,
    "feedback.outer_loop.quarter_weeks": 5,
    "feedback.outer_loop.fix_weeks": 0,
    "feedback.outer_loop.fix_capacity_share": 0.5,
    "feedback.outer_loop.contact_bucketing": False,
    "feedback.outer_loop.misclassification": 0.9,
    "feedback.outer_loop.trend_half_life_weeks": 1.0,
    "feedback.outer_loop.backlog_free": 30.0,
    "feedback.outer_loop.backlog_full": 60.0,
}


def _typed(*overrides: str) -> SiloConfig:
    return to_config(compose_config([*SMALL, *overrides]))


def _frames(model: SiloModel) -> list:
    return [getattr(model, name)() for name in FRAMES]


def _same(a: SiloModel, b: SiloModel) -> bool:
    return all(x.equals(y) for x, y in zip(_frames(a), _frames(b), strict=True))


def _files(directory: Path) -> dict[str, bytes]:
    return {str(p.relative_to(directory)): p.read_bytes() for p in sorted(directory.rglob("*")) if p.is_file()}


def test_every_unread_setting_is_a_model_setting_with_a_value_to_fork_across():
    keys = {p.key for p in walk(_typed(), within=SiloConfig)}
    assert set(WARMUP_UNREAD) <= keys
    assert set(OTHER_VALUE) == set(WARMUP_UNREAD)
    assert "governance.metric_type" not in WARMUP_UNREAD  # read in the warm-up: the departments' stage references


def test_every_shipped_scenario_shares_the_baselines_warmup_and_seeds_do_not():
    keys = {warmup_key(_typed(f"scenario={name}")) for name in SCENARIOS}
    assert len(keys) == 1
    assert warmup_key(_typed("seed=6")) not in keys


@pytest.fixture(scope="module")
def siloed_state() -> WarmState:
    return warm_up(_typed("scenario=siloed_scorecards"))


@pytest.fixture(scope="module")
def transformation_state() -> WarmState:
    return warm_up(_typed("scenario=full_transformation"))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_forked_run_equals_the_run_from_scratch(scenario, siloed_state):
    state = siloed_state
    cfg = _typed(f"scenario={scenario}")
    assert _same(SiloModel.from_warm(state, cfg, collect=False).run(), SiloModel(cfg, collect=False).run())


@pytest.mark.slow
@pytest.mark.parametrize("key", sorted(OTHER_VALUE))
def test_a_setting_the_warmup_does_not_read_can_differ_between_forks(key, transformation_state):
    other = _typed("scenario=full_transformation", f"{key}={_text(OTHER_VALUE[key])}")
    assert warmup_key(other) == transformation_state.key
    forked = SiloModel.from_warm(transformation_state, other, collect=False).run()
    assert _same(forked, SiloModel(other, collect=False).run())


def _text(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


def test_a_setting_the_warmup_reads_is_in_the_key_and_would_change_the_run():
    """Negative control: forking across the stage metric's type gives another run, so the key must hold it."""
    base = _typed("scenario=shared_stage_metrics")
    other = _typed("scenario=shared_stage_metrics", "governance.metric_type=outcome")
    assert warmup_key(other) != warmup_key(base)
    state = warm_up(base)
    with pytest.raises(ValueError, match="differ in a setting the warm-up reads"):
        SiloModel.from_warm(state, other)
    forced = SiloModel.from_warm(WarmState(warmup_key(other), state.blob), other, collect=False).run()
    assert not _same(forced, SiloModel(other, collect=False).run())


def test_run_forked_groups_by_key_and_matches_separate_runs():
    cfgs = [_typed(f"scenario={s}", f"seed={seed}") for seed in (1, 2) for s in ("siloed_scorecards", "score_chasing")]
    assert group_by_warmup(cfgs) == [[0, 1], [2, 3]]
    forked = run_forked(cfgs, lambda m: m.run().metrics_frame())
    assert all(f.equals(SiloModel(c, collect=False).run().metrics_frame()) for f, c in zip(forked, cfgs, strict=True))


def test_the_collector_of_a_forked_model_collects():
    cfg = _typed("scenario=closed_loop_followup")
    model = SiloModel.from_warm(warm_up(cfg), cfg).run(3)
    assert len(model.datacollector.get_agenttype_vars_dataframe(type(model.departments[0]))) == 3 * 5


def test_a_damaged_cache_file_is_warmed_up_again(tmp_path):
    cfg = _typed()
    cache = WarmCache(tmp_path / "warm")
    cache.path(warmup_key(cfg)).parent.mkdir()
    cache.path(warmup_key(cfg)).write_bytes(b"not a warm state")
    assert _same(cache.model(cfg).run(), SiloModel(cfg, collect=False).run())
    assert SiloModel.from_warm(WarmState(warmup_key(cfg), cache.path(warmup_key(cfg)).read_bytes()), cfg).week == 0
    cache.clear()
    assert not (tmp_path / "warm").exists()


@pytest.mark.slow
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_forked_run_directory_is_identical_to_the_byte(scenario, tmp_path, monkeypatch):
    """A comparison's job (``execute_run`` with the sweep's warm cache) against a job run from scratch.

    The default warm-up (104 weeks) and a horizon past the impatient CEO's reviews; the cache holds the siloed
    baseline's warm-up, as in a comparison whose jobs of the baseline ran first.
    """
    overrides = ["customers=300", "weeks=60", "seed=2", "output.progress=false", f"scenario={scenario}"]
    cache = tmp_path / "warm"
    monkeypatch.setenv(WARM_CACHE_ENV, str(cache))
    baseline = [*overrides[:-1], "scenario=siloed_scorecards"]
    execute_run(compose_config(baseline), tmp_path / "baseline", baseline)
    assert len(list(cache.iterdir())) == 1
    execute_run(compose_config(overrides), tmp_path / "forked", overrides)
    monkeypatch.delenv(WARM_CACHE_ENV)
    execute_run(compose_config(overrides), tmp_path / "scratch", overrides)
    forked, scratch = _files(tmp_path / "forked"), _files(tmp_path / "scratch")
    assert {"metrics.parquet", "departments.parquet", "customers.parquet", "summary.json"} <= set(scratch)
    assert forked == scratch


def test_validation_groups_share_warmups_and_measure_as_separate_runs():
    """silosim-validate's jobs: a seed's scenarios measured from one warm-up, as if each ran on its own."""
    from sim.experiments.facts.measures import measure_run
    from sim.experiments.facts.suite import _timed_group

    common = ["customers=400", "weeks=60", "warmup_weeks=20", "seed=3", "track_customers=0"]
    overrides = [[*common, "scenario=siloed_scorecards"], [*common, "scenario=closed_loop_followup"]]
    grouped = _timed_group(overrides)
    for measured, own in zip(grouped, overrides, strict=True):
        alone = measure_run(own)
        assert set(measured) == {"seconds", *alone}
        assert all(measured[k] == alone[k] or (measured[k] != measured[k] and alone[k] != alone[k]) for k in alone)
