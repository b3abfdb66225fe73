"""Running a comparison: the runs launched (or reused), their outcomes assembled, the directory renamed into place."""

from __future__ import annotations

import json
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import ConfigError
from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.analysis.runsets import RunSet, load_runs
from sim.experiments.compare.comparison import Comparison, Present, summarise, write_tables
from sim.experiments.compare.partial import locked, read_plan_of, reopen
from sim.experiments.compare.planning import Plan, plan_settings, worker_count
from sim.experiments.compare.rebuild import load_comparison, presentation_meta
from sim.experiments.compare.settings import PLAN_FILE, PROG, backend
from sim.experiments.runs import warmups
from sim.experiments.runs.executor import fmt_duration, launch_multirun
from sim.experiments.runs.files import atomic_directory, fsync_path, naming, require_fresh
from sim.experiments.runs.provenance import provenance
from sim.experiments.runs.resources import estimate_time
from sim.experiments.runs.rundir import count_runs
from sim.experiments.uncertainty.draws import DRAWS_DIR, draw_arguments, summarise_draws, write_plan_draws

WARM_DIR = ".warm"  # the warm states the runs share while the comparison runs (deleted when its runs end)

__all__ = [
    "Comparison",
    "NoRunCompletedError",
    "arguments_of",
    "run_comparison",
]


class NoRunCompletedError(RuntimeError):
    """No run of the comparison completed; ``status`` is the exit status of its runs (4: the system refused a write)."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


def run_comparison(p: Plan, arguments: Sequence[str], present: Present | None = None) -> Comparison:
    """Run (or resume) the plan and write the comparison directory.

    Args:
        p: A validated plan.
        arguments: The command-line arguments (for the reproduce command in the report).
        present: Writes deliverables (figures, report) into the directory being built, before it is
            renamed into place.

    Returns:
        The comparison.

    Raises:
        ConfigError: If another command is working on the same comparison.
        RuntimeError: If no run completed, or every run of the baseline failed (the complete runs are kept
            for the same command to resume).
    """
    conf = p.conf
    command = " ".join([PROG, *(shlex.quote(a) for a in arguments)])
    with locked(p.out) as lock_fds, naming(p.partial):
        if p.damaged:
            reopen(p)
        finished = _finished_meanwhile(p)
        if finished is not None:
            return finished
        if not p.partial.is_dir():  # created whole, plan included, so a partial directory always holds its plan
            record = {"fingerprint": p.fingerprint, "settings": plan_settings(conf, p.baseline), "command": command}
            with atomic_directory(p.partial) as work:
                (work / PLAN_FILE).write_text(json.dumps(record, indent=2) + "\n")
        reused, _ = count_runs(p.partial / "runs")
        _announce(p, reused)
        try:
            # a replication's scenarios (and a parameter draw's) share one warm-up (sim.experiments.runs.warmups)
            with warmups.sharing(p.partial / WARM_DIR):
                launched = launch_multirun(
                    p.arguments,
                    p.partial / "runs",
                    p.total,
                    p.partial / "logs" / "runs.log",
                    keep_open=lock_fds,
                    checked=True,  # the plan composed and checked every scenario
                )
                if p.draws:
                    _launch_draws(p, p.draws, lock_fds)
        except KeyboardInterrupt:
            done, _ = count_runs(p.partial / "runs")
            print(f"{PROG}: interrupted; {done} of {p.total} runs are kept: {_resume_hint(p)}", file=sys.stderr)
            raise
        comparison = _assemble(p, launched, reused, command, present)
        _finish(p)
    comparison.out = p.out
    # the run directories moved with the comparison; point the table at their final place
    comparison.runs.runs["path"] = [str(p.out / "runs" / Path(x).name) for x in comparison.runs.runs["path"]]
    return comparison


def _launch_draws(p: Plan, draws: dict[str, Any], lock_fds: tuple[int, ...]) -> None:
    """uncertainty=parameters: the draws file, then one run per scenario and parameter draw (resumable too)."""
    work = p.partial / DRAWS_DIR
    path = write_plan_draws(p.partial, draws)
    total = len(p.conf.scenarios) * int(draws["draws"])
    print(
        f"{PROG}: parameter uncertainty: {total} runs, {draws['draws']} parameter draws per scenario", file=sys.stderr
    )
    launched = launch_multirun(
        draw_arguments(p.arguments, draws, path),
        work / "runs",
        total,
        p.partial / "logs" / "draws.log",
        keep_open=lock_fds,
        checked=True,
    )
    draws["wall_seconds"] = round(launched.wall_seconds, 1)


def _announce(p: Plan, reused: int) -> None:
    conf = p.conf
    how = backend(conf).describe(p.total)
    warmup = int(p.configs[p.baseline].get("warmup_weeks") or 0)
    estimate = estimate_time(
        p.total - reused, conf.customers, conf.weeks, warmup, worker_count(conf), measure=backend(conf).local
    )
    print(
        f"{PROG}: {len(conf.scenarios)} scenarios x {conf.replications} replications = {p.total} runs of "
        f"{conf.customers:,} customers x {conf.weeks} weeks ({how}; at most about {fmt_duration(estimate.seconds)}, "
        f"{estimate.basis})",
        file=sys.stderr,
    )
    if reused:
        print(
            f"{PROG}: resuming the interrupted comparison in {p.partial}: {reused} of {p.total} runs are "
            "complete and reused",
            file=sys.stderr,
        )


def _resume_hint(p: Plan) -> str:
    return f"run the same command again to resume ({p.partial})"


def _assemble(p: Plan, launched: Any, reused: int, command: str, present: Present | None) -> Comparison:
    """Load the runs and write the tables and deliverables into the partial directory."""
    work, conf = p.partial, p.conf
    runs = load_runs(work / "runs", conf.clv_discount_rate)
    if runs.outcomes.empty:
        tail = (work / "logs" / "runs.log").read_text().splitlines()[-15:]
        raise NoRunCompletedError(
            f"no run completed (exit status {launched.returncode}); {_resume_hint(p)} after fixing the cause. "
            "Last lines of the run log:\n" + "\n".join(tail),
            launched.returncode,
        )
    if p.baseline not in set(runs.outcomes["scenario"]):
        raise RuntimeError(
            f"every run of the baseline '{p.baseline}' failed; nothing to compare against ({_resume_hint(p)})"
        )
    meta = _meta(p, runs, launched.wall_seconds, command)
    meta["runs_reused"] = reused
    comparison = Comparison(work, runs, pd.DataFrame(), meta, p.configs)
    comparison.summary = summarise(comparison)
    if p.draws:
        names = [o.name for o in comparison_outcomes()]
        meta["uncertainty"] = summarise_draws(
            work, runs.outcomes, p.draws, p.baseline, comparison.order, names, conf.confidence, conf.clv_discount_rate
        )
        if meta["uncertainty"].get("note"):
            print(f"{PROG}: parameter uncertainty: {meta['uncertainty']['note']}", file=sys.stderr)
    write_tables(work, comparison)
    if present is not None:
        present(work, comparison)
    return comparison


def _finish(p: Plan) -> None:
    """Rename the partial directory into place (``out`` may be an empty directory), durably."""
    fsync_path(p.partial)
    try:
        p.partial.rename(p.out)  # POSIX rename replaces an empty directory atomically
    except OSError:
        p.out.rmdir()
        p.partial.rename(p.out)
    fsync_path(p.out.parent)


def _finished_meanwhile(p: Plan) -> Comparison | None:
    """The comparison another command finished in ``out`` while this one waited for the lock, or None.

    Raises:
        ConfigError: If ``out`` now holds something else (another comparison, or other files).
    """
    if not p.out.exists() or (p.out.is_dir() and not any(p.out.iterdir())):
        return None
    meta = read_plan_of(p.out)
    if meta is None or meta.get("fingerprint") != p.fingerprint:
        require_fresh(p.out, "out", "comparisons")  # refuses, naming what is there
        raise ConfigError(f"`out` is '{p.out}', which another command has just filled; choose a new directory.")
    print(
        f"{PROG}: another command finished this comparison (the same settings) while this one waited; nothing was "
        f"rerun: {p.out}",
        file=sys.stderr,
    )
    return load_comparison(p.out)


def _meta(p: Plan, runs: RunSet, wall_seconds: float, command: str) -> dict[str, Any]:
    conf = p.conf
    return {
        "name": conf.name,
        "scenarios": conf.scenarios,
        "baseline": p.baseline,
        "replications": conf.replications,
        "seeds": list(range(conf.first_seed, conf.first_seed + conf.replications)),
        "customers": conf.customers,
        "weeks": conf.weeks,
        "overrides": conf.overrides,
        "confidence": conf.confidence,
        "clv_discount_rate": conf.clv_discount_rate,
        "wall_seconds": round(wall_seconds, 1),
        "launcher": conf.launcher,
        "n_jobs": conf.n_jobs,
        "failed_runs": runs.failures[["scenario", "seed", "error"]].to_dict("records"),
        "command": command,
        "fingerprint": p.fingerprint,
        "provenance": provenance(),
        **presentation_meta(p),
    }


def arguments_of(settings: dict[str, Any], out: str | Path) -> list[str]:
    """``key=value`` arguments from Python keyword settings (lists as ``[a,b]``, None as ``null``)."""

    def text(value: Any) -> str:
        if isinstance(value, list | tuple):
            return "[" + ",".join(text(v) for v in value) + "]"
        if value is None:
            return "null"
        if isinstance(value, bool):
            return str(value).lower()
        return str(value)

    return [f"{k}={text(v)}" for k, v in settings.items()] + [f"out={out}"]


# ------------------------------------------------------------------------------------------------------------
