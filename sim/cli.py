"""The ``silosim`` command: a Hydra app that runs one scenario and writes a run directory.

    silosim scenario=closed_loop_followup customers=50000 weeks=156 seed=7
    silosim scenario=my_case scenario_dir=./my_scenarios
    silosim -m scenario=siloed_scorecards,shared_stage_metrics seed=0,1,2 hydra.sweep.dir=outputs/sweep
    silosim -m experiment=lhs_example
    silosim calibration=outputs/calibrate/<run>/calibrated.yaml scenario=closed_loop_followup

User errors (an unknown scenario, a bad value, a missing file) print one
paragraph and exit with status 2, with no traceback and no run directory.
A multirun is checked the same way before any job starts. A job whose
directory already holds a complete run of the same configuration is skipped,
so re-running an interrupted sweep with the same command resumes it.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import textwrap
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

import hydra
import yaml
from hydra.core.config_store import ConfigStore
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from hydra.types import RunMode
from omegaconf import OmegaConf
from omegaconf.errors import OmegaConfBaseException

from sim.config import (
    CONF_DIR,
    ConfigError,
    compose_config,
    prepare_calibration_overrides,
    register_configs,
    to_config,
    validate,
)
from sim.outputs import register_resolvers

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.model import SiloModel

__all__ = ["main", "register_experiment_dir", "register_scenario_dir", "user_error"]

EXIT_USER_ERROR = 2
SCENARIO_DIR = CONF_DIR / "scenario"
# Set by ``silosim -m`` for its jobs (which may run in other processes): how many jobs the sweep has.
SWEEP_JOBS_ENV = "SILOSIM_SWEEP_JOBS"

_GROUP_DIR_ENV = {"scenario": "SILOSIM_SCENARIO_DIR", "experiment": "SILOSIM_EXPERIMENT_DIR"}


def user_error(message: str, prog: str = "silosim") -> NoReturn:
    """Print a user error as one paragraph on stderr and exit with status 2."""
    text = " ".join(
        message.replace("Set the environment variable HYDRA_FULL_ERROR=1 for a complete stack trace.", "").split()
    )
    print(textwrap.fill(f"{prog}: error: {text}", width=100), file=sys.stderr)
    sys.exit(EXIT_USER_ERROR)


def available_scenarios(extra_dir: Path | None = None) -> list[str]:
    """Names of the bundled scenarios, plus those in ``extra_dir``."""
    names = {p.stem for p in SCENARIO_DIR.glob("*.yaml")}
    if extra_dir is not None:
        names |= {p.stem for p in extra_dir.glob("*.yaml")}
    return sorted(names)


def register_scenario_dir(path: str, prog: str = "silosim") -> Path:
    """Make every ``*.yaml`` in ``path`` selectable as ``scenario=<name>``.

    Files are loaded as data (YAML only; nothing in them is imported or run) and applied at the
    global package, like the bundled scenarios that begin ``# @package _global_``.

    Args:
        path: A directory of scenario files.
        prog: Command name for error messages.

    Returns:
        The directory.
    """
    return _register_group_dir("scenario", path, prog)


def register_experiment_dir(path: str) -> Path:
    """Make every ``*.yaml`` in ``path`` selectable as ``experiment=<name>`` (see :func:`register_scenario_dir`)."""
    return _register_group_dir("experiment", path)


def _register_group_dir(group: str, path: str, prog: str = "silosim") -> Path:
    """Store every ``*.yaml`` in ``path`` in the config group ``group``, at the global package.

    The directory is also recorded in the environment, so a launcher's worker processes (which import this
    module and may compose their job's configuration themselves, as submitit's do) see the same files.
    """
    directory = Path(path).expanduser()
    if not directory.is_dir():
        user_error(
            f"`{group}_dir` is '{path}', but that is not a readable directory. Pass a directory that "
            f"holds {group} YAML files (one file per {group}, named <{group}>.yaml).",
            prog,
        )
    files = sorted(directory.glob("*.yaml"))
    if not files:
        user_error(f"`{group}_dir` is '{path}', but it holds no *.yaml {group} files.", prog)
    store = ConfigStore.instance()
    for file in files:
        try:
            node = OmegaConf.load(file)
        except (OSError, OmegaConfBaseException, ValueError, yaml.YAMLError) as exc:
            user_error(f"The {group} file '{file}' could not be read as YAML: {exc}", prog)
        store.store(group=group, name=file.stem, node=node, package="_global_")
    os.environ[_GROUP_DIR_ENV[group]] = str(directory.resolve())
    return directory


def _register_from_environment() -> None:
    """In a launcher's worker: the schema, the resolvers and the user's scenario and experiment directories."""
    register_configs()
    register_resolvers()
    for group, env in _GROUP_DIR_ENV.items():
        if os.environ.get(env) and Path(os.environ[env]).is_dir():
            _register_group_dir(group, os.environ[env])


def _split_argv(argv: list[str]) -> tuple[list[str], dict[str, str], bool]:
    """Take ``scenario_dir=...`` and ``experiment_dir=...`` out of the arguments; report whether it is a multirun."""
    rest, dirs = [], {}
    for arg in argv:
        key = arg.split("=", 1)[0]
        if key in ("scenario_dir", "experiment_dir") and "=" in arg:
            dirs[key.removesuffix("_dir")] = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    multirun = any(a in ("-m", "--multirun") for a in rest)
    return rest, dirs, multirun


def _explain(exc: Exception, overrides: list[str], extra_dir: Path | None) -> str:
    """Turn a Hydra or OmegaConf composition error into a sentence naming the key, the value and what is allowed."""
    text = str(exc)
    if "Could not find 'scenario/" in text or "In 'config': Could not find 'scenario" in text:
        chosen = next((o.split("=", 1)[1] for o in overrides if o.startswith("scenario=")), "?")
        return (
            f"`scenario` is '{chosen}', but there is no such scenario. Allowed: "
            f"{', '.join(available_scenarios(extra_dir))}. For your own scenario files, add "
            "scenario_dir=PATH (a directory of <name>.yaml files)."
        )
    if "Could not find 'calibration/" in text or "Could not override 'calibration'" in text:
        chosen = next((o.split("=", 1)[1] for o in overrides if o.lstrip("+").startswith("calibration=")), "?")
        return (
            f"`calibration` is '{chosen}', but that is not a calibrated file. Pass the path of the "
            "calibrated.yaml that silosim-calibrate wrote (ending in .yaml)."
        )
    cause = exc.__cause__
    if isinstance(cause, OmegaConfBaseException) and getattr(cause, "full_key", None):
        key = cause.full_key
        if "not in" in str(cause):  # a misspelt key
            parent = key.rsplit(".", 1)[0] if "." in key else ""
            node = OmegaConf.select(compose_config([]), parent) if parent else compose_config([])
            allowed = ", ".join(str(k) for k in node) if node is not None and hasattr(node, "keys") else "?"
            return (
                f"`{key}` is not a configuration key. Keys allowed under `{parent or 'the top level'}`: "
                f"{allowed}.{_suggest(key)} (docs/parameters.md lists every key.)"
            )
        first_line = str(cause).splitlines()[0]
        return f"`{key}` could not be set: {first_line}. docs/parameters.md gives each key's type and range."
    return f"The configuration could not be composed: {text}"


# Names people reach for that the model spells differently (suggested, never silently accepted).
_KNOWN_MISTAKES = {
    "governance.followup_capacity": "feedback.inner_loop.capacity",
    "feedback.followup_capacity": "feedback.inner_loop.capacity",
    "governance.fixes_per_quarter": "feedback.outer_loop.fixes_per_quarter",
}


def _suggest(key: str) -> str:
    """`` Did you mean X?`` for a misspelt or misplaced key, or an empty string."""
    import difflib

    from sim.config import numeric_parameters

    if key in _KNOWN_MISTAKES:
        return f" Did you mean `{_KNOWN_MISTAKES[key]}`?"
    keys = numeric_parameters(to_config(compose_config([])))
    close = difflib.get_close_matches(key, keys, n=2, cutoff=0.75)
    return f" Did you mean {' or '.join(f'`{c}`' for c in close)}?" if close else ""


def _print_summary(model: SiloModel, run_dir: Path) -> None:
    """The short summary table a strategist reads first."""
    s = model.summary()
    f = s["final"]
    rows = [
        ("Scenario", s["scenario"]),
        ("Seed", str(s["seed"])),
        ("Weeks simulated", str(s["weeks"])),
        ("True NPS (final)", f"{f['true_nps']:+.1f}"),
        ("Measured NPS (final, survey)", f"{f['measured_nps']:+.1f}"),
        ("Annual retention (last year)", f"{100 * f['annual_retention']:.1f}%"),
        ("Active customers (final)", f"{f['active_customers']:,}"),
        ("Revenue, whole run", f"{s['total']['revenue']:,.0f}"),
        ("Programme", "abandoned" if s["programme"]["abandoned"] else "active" if f["program_active"] else "none"),
    ]
    width = max(len(k) for k, _ in rows)
    print()
    for k, v in rows:
        print(f"  {k:<{width}}  {v}")
    print(f"\nRun directory: {run_dir}")


@hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")
def _app(cfg: DictConfig) -> None:
    """Hydra task: build, run and write one model (or skip it if its directory already holds it).

    In a multirun, a run that fails with an unexpected error (not a user error, which stops the sweep)
    leaves ``error.txt`` and ``job.json`` (scenario, seed, overrides) in its directory instead of
    stopping the sweep, so the other runs complete and the failure can be reported by scenario and
    seed; resuming the sweep reruns it.
    """
    from sim.model import SiloModel
    from sim.outputs import prepare_run_dir, write_run
    from sim.sweeps.design import apply_row

    hc = HydraConfig.get()
    run_dir = Path(hc.runtime.output_dir)
    multirun = hc.mode == RunMode.MULTIRUN
    label = _job_label(hc) if multirun else ""
    started = time.perf_counter()
    try:
        cfg = apply_row(cfg)
        if prepare_run_dir(run_dir, cfg):
            if multirun:
                print(f"silosim: {label} skipped, already complete: {run_dir}", flush=True)
            else:
                print(
                    f"{run_dir} already holds this run (same configuration, {run_dir / 'COMPLETE'} present); "
                    "nothing to do."
                )
            return
        model = SiloModel(cfg)
        model.run(progress=cfg.output.progress and sys.stderr.isatty() and not multirun)
        write_run(model, run_dir, cfg, overrides=list(hc.overrides.task), hydra_config=hc)
    except ConfigError as exc:  # a user error (bad value, a directory holding another run): stop, in a sweep too
        _remove_if_empty(run_dir)
        user_error(str(exc))
    except Exception as exc:
        if not multirun:
            raise
        _record_failure(run_dir, cfg, list(hc.overrides.task), exc)
        return
    if multirun:
        final = model.summary()["final"]
        print(
            f"silosim: {label} done in {time.perf_counter() - started:.1f} s "
            f"(true NPS {final['true_nps']:+.1f}): {run_dir}",
            flush=True,
        )
    else:
        _print_summary(model, run_dir)


def _job_label(hc: DictConfig) -> str:
    """``job 3/12 (seed=2,scenario=...)`` for a multirun's progress lines."""
    total = os.environ.get(SWEEP_JOBS_ENV, "?")
    return f"job {hc.job.num + 1}/{total} ({hc.job.override_dirname or 'defaults'})"


def _record_failure(run_dir: Path, cfg: DictConfig, overrides: list[str], exc: BaseException) -> None:
    """Leave the error and the job's identity in a failed multirun job's directory."""
    run_dir.mkdir(parents=True, exist_ok=True)
    job = {"scenario": str(cfg.scenario_name), "seed": int(cfg.seed), "overrides": overrides}
    (run_dir / "job.json").write_text(json.dumps(job) + "\n")
    (run_dir / "error.txt").write_text("".join(traceback.format_exception(exc)))
    print(f"silosim: run failed: scenario {job['scenario']}, seed {job['seed']}: {exc!r}", file=sys.stderr)


def _remove_if_empty(path: Path) -> None:
    """Remove a run directory Hydra created if nothing was written to it."""
    with contextlib.suppress(OSError):
        path.rmdir()


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    register_configs()
    overrides, dirs, multirun = _split_argv(argv)
    extra_dir = register_scenario_dir(dirs["scenario"]) if "scenario" in dirs else None
    if "experiment" in dirs:
        register_experiment_dir(dirs["experiment"])
    try:
        overrides = prepare_calibration_overrides(overrides)
    except ConfigError as exc:
        user_error(str(exc))
    flags = [a for a in overrides if a.startswith("-")]
    # Validate before Hydra creates anything, so a user error leaves no directory behind.
    if multirun and flags in (["-m"], ["--multirun"]):
        from sim.sweeps.plan import plan_multirun

        try:
            plan = plan_multirun(overrides)
        except ConfigError as exc:
            user_error(str(exc))
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            user_error(_explain(exc, overrides, extra_dir))
        overrides = plan.overrides
        os.environ[SWEEP_JOBS_ENV] = str(plan.jobs)
        print(
            f"silosim: sweep of {plan.jobs} runs" + (f" ({plan.design_rows} design rows)" if plan.design_rows else ""),
            flush=True,
        )
    elif not flags:
        try:
            cfg = compose_config(overrides)
            typed = to_config(cfg)
            validate(typed)
            from sim.sweeps.design import validate_design

            validate_design(typed)
        except ConfigError as exc:
            user_error(str(exc))
        except (HydraException, OmegaConfBaseException, ValueError) as exc:
            user_error(_explain(exc, overrides, extra_dir))
    sys.argv = [sys.argv[0] if sys.argv else "silosim", *overrides]
    _app()


_register_from_environment()

if __name__ == "__main__":
    main()
