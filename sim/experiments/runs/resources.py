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
customer-weeks a second each; the constant is set lower so the estimate errs long).
"""

from __future__ import annotations

import os
from pathlib import Path

from sim.config.errors import ConfigError

__all__ = [
    "BASE_BYTES",
    "BYTES_PER_CUSTOMER",
    "CUSTOMER_WEEKS_PER_SECOND",
    "available_bytes",
    "check_memory",
    "estimate_seconds",
    "run_bytes",
]

BYTES_PER_CUSTOMER = 1_000  # measured about 930 (see the module docstring)
BASE_BYTES = 400_000_000  # one worker process (measured about 340 MB)
REFERENCE_WEEKS = 260  # the weeks over which BYTES_PER_CUSTOMER was measured (104 warm-up + 156)
CUSTOMER_WEEKS_PER_SECOND = 3_000_000  # per worker; measured about 7 million (see the module docstring)


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


def estimate_seconds(runs: int, customers: int, weeks: int, warmup_weeks: int, workers: int) -> float:
    """About how long ``runs`` runs take on ``workers`` parallel workers (errs long)."""
    per_run = customers * (weeks + warmup_weeks) / CUSTOMER_WEEKS_PER_SECOND + 1.0
    return per_run * -(-runs // max(1, workers))
