"""Resources checked before work starts: memory for the runs that go in parallel, and how long the work takes.

A run holds its customers in a column store of about :data:`BYTES_PER_CUSTOMER` bytes per initial
customer over the default 260 simulated weeks (customers join over the horizon, so longer horizons need
more), on top of :data:`BASE_BYTES` per worker process (Python, numpy, the compiled numba kernels).
Measured with ``/usr/bin/time``: peak resident memory 356 MB at 20,000 customers and 520 MB at
200,000 (104 + 156 weeks), so about 930 bytes per customer and about 340 MB per process.

:func:`check_memory` refuses work that cannot fit this machine's available memory with one paragraph
(what it would need, what the machine has, which setting to lower). :func:`estimate_seconds` is the
time a batch of runs takes at :data:`CUSTOMER_WEEKS_PER_SECOND` per worker (measured: the headline
comparison's 80 runs of 20,000 customers x 260 weeks took 28 s on 2 workers, about 7 million
customer-weeks a second each; the constant is set lower so the estimate errs long). Machines differ
(the same benchmark has run 1.45 times slower on one than on another), so when that estimate passes
:data:`MEASURE_ABOVE_SECONDS`, long enough for a few seconds to be worth spending on it, the speed is
measured instead by two quick runs on this machine (:func:`machine_speed`: the :data:`QUICK_RUNS`
sizes, after one run that loads the compiled kernels), which give a cost per simulated week and one per
customer-week, and the estimate says which it used.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from sim.config.errors import ConfigError

__all__ = [
    "BASE_BYTES",
    "BYTES_PER_CUSTOMER",
    "CUSTOMER_WEEKS_PER_SECOND",
    "MEASURE_ABOVE_SECONDS",
    "QUICK_RUNS",
    "Estimate",
    "available_bytes",
    "check_memory",
    "describe_time",
    "estimate_seconds",
    "estimate_time",
    "machine_speed",
    "run_bytes",
]

BYTES_PER_CUSTOMER = 1_000  # measured about 930 (see the module docstring)
BASE_BYTES = 400_000_000  # one worker process (measured about 340 MB)
REFERENCE_WEEKS = 260  # the weeks over which BYTES_PER_CUSTOMER was measured (104 warm-up + 156)
CUSTOMER_WEEKS_PER_SECOND = 3_000_000  # per worker; measured about 7 million (see the module docstring)
MEASURE_ABOVE_SECONDS = 600.0  # a constant-rate estimate past this is replaced by one from a quick run here
QUICK_RUNS = ((2_000, 26), (20_000, 26))  # customers and weeks (after a warm-up of as many) of the quick runs
STARTUP_SECONDS = 10.0  # a worker's start: imports (about 4.5 CPU-s, mostly Mesa's pandas and SciPy) and the
# numba kernels loaded from their cache (about 2 CPU-s), measured by benchmarks/warmup_fork.py; set higher to err long
# A measured per-customer cost is taken at most this many times faster than the documented speed (which is set
# at 3 million customer-weeks a second, against about 7 million measured): a measurement disturbed by other
# load cannot make the estimate much shorter than the documented one.
FASTEST_MEASURED = 3.0
SAFETY = 1.5  # the measured costs are multiplied by this: the estimate still errs long (other load, bigger books)


def run_bytes(customers: int, weeks: int, warmup_weeks: int = 0) -> int:
    """Memory one run needs: its worker process plus its customers over the whole simulated horizon."""
    horizon = max(1.0, (weeks + warmup_weeks) / REFERENCE_WEEKS)
    return int(BASE_BYTES + customers * BYTES_PER_CUSTOMER * horizon)


def available_bytes() -> int | None:
    """Memory available to new work on this machine (Linux ``MemAvailable``; else the physical memory), or None."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _gb(n: float) -> str:
    return f"{n / 1e9:,.1f} GB"


def check_memory(customers: int, weeks: int, warmup_weeks: int, workers: int, lower: str = "n_jobs") -> None:
    """Refuse runs that cannot fit this machine's available memory, before any of them starts.

    Args:
        customers: Initial customers of each run.
        weeks: Horizon of each run.
        warmup_weeks: Warm-up weeks of each run.
        workers: Runs that go at once.
        lower: The setting that limits the parallel runs (named in the message).

    Raises:
        ConfigError: Naming what the work needs, what the machine has and which setting to lower.
    """
    have = available_bytes()
    need = workers * run_bytes(customers, weeks, warmup_weeks)
    if have is None or need <= have:
        return
    parallel = f" x {workers} runs at once" if workers > 1 else ""
    fewer = f", or run fewer at once (`{lower}`)" if workers > 1 else ""
    raise ConfigError(
        f"`customers` is {customers:,} over {weeks + warmup_weeks:,} simulated weeks{parallel}: that needs about "
        f"{_gb(need)} of memory ({BYTES_PER_CUSTOMER:,} bytes per customer per {REFERENCE_WEEKS} weeks, plus "
        f"{_gb(BASE_BYTES)} per process), but this machine has {_gb(have)} available. Lower `customers` "
        f"or `weeks`{fewer}."
    )


def estimate_seconds(
    runs: int, customers: int, weeks: int, warmup_weeks: int, workers: int, speed: float = CUSTOMER_WEEKS_PER_SECOND
) -> float:
    """About how long ``runs`` runs take on ``workers`` parallel workers at ``speed`` customer-weeks a second each."""
    per_run = customers * (weeks + warmup_weeks) / speed + 1.0
    return STARTUP_SECONDS + per_run * -(-runs // max(1, workers))


@dataclass(frozen=True)
class Estimate:
    """How long some work takes, and how that was found (for the line printed before it starts)."""

    seconds: float
    measured: bool  # from a quick run on this machine, else from the documented constant

    @property
    def basis(self) -> str:
        """``measured on this machine`` or ``at a documented speed``."""
        return "speed measured on this machine" if self.measured else "at a documented speed"


def estimate_time(
    runs: int, customers: int, weeks: int, warmup_weeks: int, workers: int, *, measure: bool = True
) -> Estimate:
    """The time of ``runs`` runs: from the documented speed, or, past :data:`MEASURE_ABOVE_SECONDS`, from quick runs.

    The quick runs cost a few seconds (once per process), which only work of ten minutes or more pays for.
    ``measure=False`` keeps the documented speed (work that runs elsewhere, on a cluster's nodes).
    """
    rough = estimate_seconds(runs, customers, weeks, warmup_weeks, workers)
    if not measure or rough <= MEASURE_ABOVE_SECONDS:
        return Estimate(rough, measured=False)
    per_week, per_customer_week = machine_speed()
    simulated = weeks + warmup_weeks
    per_run = SAFETY * (per_week * simulated + per_customer_week * customers * simulated) + 1.0
    return Estimate(STARTUP_SECONDS + per_run * -(-runs // max(1, workers)), measured=True)


def describe_time(
    runs: int, customers: int, weeks: int, warmup_weeks: int, workers: int, *, measure: bool = True
) -> str:
    """``about 1:02:03 (speed measured on this machine)``: the time estimate a command prints first (it errs long)."""
    from sim.experiments.runs.executor import fmt_duration

    estimate = estimate_time(runs, customers, weeks, warmup_weeks, workers, measure=measure)
    return f"about {fmt_duration(estimate.seconds)} ({estimate.basis})"


@lru_cache(maxsize=1)
def machine_speed() -> tuple[float, float]:
    """Seconds one process takes on this machine, now, per simulated week and per customer-week (two quick runs)."""
    (small, weeks), (large, weeks_large) = QUICK_RUNS
    _simulate(small, weeks, seed=0)  # compiles or loads the numba kernels: a cost every worker pays once, not a rate
    t_small, t_large = _quick_run_seconds(small, weeks), _quick_run_seconds(large, weeks_large)
    customer_weeks = (large * 2 * weeks_large) - (small * 2 * weeks)
    per_customer_week = max(t_large - t_small, 0.0) / customer_weeks
    per_week = max(t_small - per_customer_week * small * 2 * weeks, 0.0) / (2 * weeks)
    return per_week, max(per_customer_week, 1.0 / (FASTEST_MEASURED * CUSTOMER_WEEKS_PER_SECOND))


def _quick_run_seconds(customers: int, weeks: int) -> float:
    """CPU seconds of one run of ``customers`` x (``weeks`` warm-up + ``weeks``).

    CPU time, not the clock: on a busy machine the clock also counts the time the run waits for a core, which
    made the small run look as slow as the large one and the per-customer cost nothing (an estimate ten times
    too short). A worker that has a core to itself, as the parallel runs do, takes about its CPU time.
    """
    started = time.process_time()
    _simulate(customers, weeks, seed=1)
    return max(time.process_time() - started, 1e-3)


def _simulate(customers: int, weeks: int, seed: int) -> None:
    """One run of the baseline: ``customers`` x (``weeks`` warm-up + ``weeks``)."""
    from sim.config import checked_config
    from sim.engine.model import SiloModel

    cfg = checked_config([f"customers={customers}", f"weeks={weeks}", f"warmup_weeks={weeks}", f"seed={seed}"])
    model = SiloModel(cfg, collect=False)
    for _ in range(weeks):
        model.step()
