"""The time estimate a comparison prints first: the documented speed for short work, a quick run here for long work."""

from __future__ import annotations

import pytest

from sim.experiments.runs import resources
from sim.experiments.runs.resources import (
    CUSTOMER_WEEKS_PER_SECOND,
    MEASURE_ABOVE_SECONDS,
    QUICK_RUNS,
    SAFETY,
    STARTUP_SECONDS,
    estimate_seconds,
    estimate_time,
    machine_speed,
)


@pytest.fixture(autouse=True)
def _fresh_speed() -> None:
    machine_speed.cache_clear()
    yield
    machine_speed.cache_clear()


def _no_quick_run(customers: int, weeks: int) -> float:
    raise AssertionError("the quick run ran for short work")


def test_short_work_uses_the_documented_speed_and_runs_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(resources, "_quick_run_seconds", _no_quick_run)
    estimate = estimate_time(8, 1_000, 52, 104, 2)
    assert not estimate.measured and estimate.basis == "at a documented speed"
    assert estimate.seconds == estimate_seconds(8, 1_000, 52, 104, 2) <= MEASURE_ABOVE_SECONDS


def test_long_work_is_estimated_from_quick_runs_on_this_machine(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[int, int]] = []

    def quick(customers: int, weeks: int) -> float:
        calls.append((customers, weeks))
        return 0.5 + customers * 2 * weeks * 1e-6  # a slow machine: 0.5 s of weekly overhead, 1 us a customer-week

    monkeypatch.setattr(resources, "_quick_run_seconds", quick)
    monkeypatch.setattr(resources, "_simulate", lambda customers, weeks, seed: None)  # no kernels to load
    runs, customers, weeks, warmup, workers = 1_000, 20_000, 156, 104, 2
    assert estimate_seconds(runs, customers, weeks, warmup, workers) > MEASURE_ABOVE_SECONDS
    first = estimate_time(runs, customers, weeks, warmup, workers)
    second = estimate_time(runs, customers, weeks, warmup, workers)
    assert first.measured and first.basis == "speed measured on this machine"
    per_week = 0.5 / (2 * QUICK_RUNS[0][1])
    per_run = SAFETY * (per_week * (weeks + warmup) + 1e-6 * customers * (weeks + warmup)) + 1.0
    assert first.seconds == pytest.approx(STARTUP_SECONDS + per_run * runs / workers)
    assert first.seconds > estimate_seconds(runs, customers, weeks, warmup, workers)  # slower than documented
    assert second == first and calls == list(QUICK_RUNS)  # measured once per process
    # work that runs elsewhere (a cluster's nodes) keeps the documented speed
    monkeypatch.setattr(resources, "_quick_run_seconds", _no_quick_run)
    assert not estimate_time(runs, customers, weeks, warmup, workers, measure=False).measured


def test_the_quick_runs_measure_the_engine() -> None:
    per_week, per_customer_week = machine_speed()
    # a real model's costs: within an order of magnitude of the documented speed, and a week's overhead under 1 s
    assert CUSTOMER_WEEKS_PER_SECOND / 10 < 1 / per_customer_week <= CUSTOMER_WEEKS_PER_SECOND * 10
    assert 0 <= per_week < 1
