"""Run directories: writing one (MODEL.md's output contract) all or nothing, and recognising a complete one.

Everything is written into a hidden temporary directory beside the target
(``.<name>.tmp-<pid>``); every file is flushed to disk (fsync), then the
``COMPLETE`` marker is written last, listing every file and its size, and only
then is the temporary directory renamed into place. So whenever the process is
killed (SIGKILL included), the target either does not exist, is the empty
directory Hydra created for the job, or holds a complete run with its marker;
an interrupted attempt leaves only a hidden temporary directory, which the next
attempt at the same run removes (:func:`prepare_run_dir`).

A directory is a complete run if and only if its ``COMPLETE`` marker exists and
every file it lists is present with the listed size (:func:`is_complete`). The marker
also records each file's SHA-256, so a run damaged later (truncated, overwritten with
the same size, a file lost) is found by :func:`verify_run` before its numbers are used.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim.config.errors import ConfigError
from sim.experiments.analysis.outcomes import run_summary
from sim.experiments.runs.files import atomic_directory
from sim.experiments.runs.orphans import ParentGoneError, parent_alive
from sim.experiments.runs.provenance import provenance

if TYPE_CHECKING:
    from sim.engine.model import SiloModel

__all__ = [
    "CONTRACT_FILES",
    "CUSTOMER_COLUMNS",
    "DEPARTMENT_COLUMNS",
    "MARKER",
    "METRIC_COLUMNS",
    "TEMP_DIR_PATTERN",
    "count_runs",
    "execute_run",
    "is_complete",
    "job_dirname",
    "prepare_run_dir",
    "record_failure",
    "register_resolvers",
    "swept_parameters",
    "verify_run",
    "write_run",
]

MARKER = "COMPLETE"
# ``.<run name>.tmp-<pid>``: the temporary directory of a run being written (or of an interrupted attempt).
TEMP_DIR_PATTERN = re.compile(r"^\.(?P<name>.+)\.tmp-(?P<pid>\d+)$")
# Files Hydra itself may put in a job directory before the task runs (``hydra.output_subdir``, job logs).
_HYDRA_OWN_FILES = {"config.yaml", "hydra.yaml", "overrides.yaml"}
# What a failed multirun job leaves (sim.cli): removed when the run is attempted again.
FAILURE_FILES = ("error.txt", "job.json")
_MAX_DIRNAME = 120

CONTRACT_FILES = ("metrics.parquet", "departments.parquet", "customers.parquet", "summary.json", ".hydra/config.yaml")
# The columns MODEL.md's output contract promises (more are written; docs/reference/outputs.md documents all).
METRIC_COLUMNS = (
    "step",
    "active_customers",
    "acquired",
    "churned",
    "referrals",
    "referrals_from_promoters",
    "referrals_from_passives",
    "referrals_from_detractors",
    "true_nps",
    "measured_nps",
    "promoters_share",
    "passives_share",
    "detractors_share",
    "mean_satisfaction",
    "revenue",
    "handoff_failures",
    "conflicting_contacts",
    "survey_responses",
    "followups",
    "recoveries",
    "rootcause_fixes",
    "program_active",
)
DEPARTMENT_COLUMNS = ("step", "department", "kpi", "scorecard")
CUSTOMER_COLUMNS = (
    "customer_id",
    "joined_step",
    "left_step",
    "satisfaction",
    "touchpoint_score_mean",
    "true_ltr",
    "measured_ltr",
    "problems",
    "problem_resolution",
    "followed_up",
    "referrals_made",
)


def _json_safe(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame deterministically (no index, fixed compression)."""
    frame.to_parquet(path, index=False, engine="pyarrow", compression="zstd")


def _file_sizes(root: Path) -> dict[str, int]:
    """Relative path -> size of every file under ``root``, sorted."""
    return {p.relative_to(root).as_posix(): p.stat().st_size for p in sorted(root.rglob("*")) if p.is_file()}


def _file_digests(root: Path) -> dict[str, str]:
    """Relative path -> SHA-256 of every file under ``root``, sorted."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def verify_run(run_dir: Path) -> str | None:
    """Why a run directory is damaged, or None if every file is as its ``COMPLETE`` marker recorded it.

    Checks the marker, each listed file's presence and size and, where the marker records them (runs written
    since checksums were added), each file's SHA-256; for an older run each parquet file's footer is read.

    Args:
        run_dir: A run directory.

    Returns:
        One phrase naming the damaged file and how (``metrics.parquet is 120 bytes, 50,547 when written``),
        or None.
    """
    run_dir = Path(run_dir)
    try:
        marker = json.loads((run_dir / MARKER).read_text())
        sizes, digests = marker["files"], marker.get("sha256") or {}
        if not isinstance(sizes, dict) or not isinstance(digests, dict):
            raise TypeError
    except (OSError, ValueError, KeyError, TypeError):
        return f"its {MARKER} marker is missing or unreadable"
    for name, size in sizes.items():
        path = run_dir / name
        try:
            actual = path.stat().st_size
        except OSError:
            return f"{name} is missing"
        if actual != size:
            return f"{name} is {actual:,} bytes, {size:,} when written"
        try:
            if name in digests and hashlib.sha256(path.read_bytes()).hexdigest() != digests[name]:
                return f"{name} has changed since it was written (its checksum differs)"
            if not digests and name.endswith(".parquet"):
                import pyarrow.parquet as pq

                pq.read_metadata(path)
        except OSError as exc:
            return f"{name} cannot be read ({exc.strerror or type(exc).__name__})"
        except Exception:  # pyarrow's errors for a damaged footer vary
            return f"{name} is not a readable parquet file"
    return None


def is_complete(run_dir: Path) -> bool:
    """Whether ``run_dir`` holds a complete run: a readable marker whose every listed file has its listed size.

    Args:
        run_dir: A directory (it need not exist).

    Returns:
        True for a complete run directory.
    """
    marker = Path(run_dir) / MARKER
    try:
        listed = json.loads(marker.read_text())["files"]
        return all((Path(run_dir) / name).stat().st_size == size for name, size in listed.items())
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return False


def job_dirname(override_dirname: str) -> str:
    """A job directory name derived from a job's overrides (Hydra's ``override_dirname``), stable across resumes.

    The same overrides always give the same name, whatever the job's number, so a resumed or extended sweep
    finds the runs it already completed. Characters other than letters, digits and ``._=,+-`` become ``_``;
    a name that had to be changed, or is longer than 120 characters, ends with a hash of the overrides so two
    jobs never share a directory.

    Args:
        override_dirname: ``key=value`` pairs joined by commas (``${hydra.job.override_dirname}``).

    Returns:
        A directory name.
    """
    if not override_dirname:
        return "defaults"
    safe = re.sub(r"[^A-Za-z0-9._=,+-]", "_", override_dirname)
    if safe == override_dirname and len(safe) <= _MAX_DIRNAME and not safe.startswith("."):
        return safe
    digest = hashlib.sha1(override_dirname.encode(), usedforsecurity=False).hexdigest()[:10]
    return f"{safe.lstrip('.')[: _MAX_DIRNAME - 11]}-{digest}"


def _resolved_yaml(config: DictConfig) -> str:
    return OmegaConf.to_yaml(config, resolve=True)


def prepare_run_dir(run_dir: Path, config: DictConfig, resolved: str | None = None) -> bool:
    """Make ``run_dir`` ready for a run, or report that it already holds this very run.

    Leftover temporary directories of interrupted attempts at the same run are removed; Hydra's own
    pre-run files (``.hydra/`` and job logs, if the user switched them on) are removed, as silosim writes
    ``.hydra/`` itself, and so are the ``error.txt`` and ``job.json`` of an earlier failed attempt.

    Args:
        run_dir: The run directory.
        config: The configuration the run would use.
        resolved: Its resolved YAML, if already made (``.hydra/config.yaml``'s content).

    Returns:
        True if ``run_dir`` already holds a complete run of the same configuration (nothing to do),
        False if the run should go ahead.

    Raises:
        ConfigError: If ``run_dir`` holds a complete run of a different configuration, or files that are
            not a complete silosim run.
    """
    run_dir = Path(run_dir)
    if run_dir.parent.is_dir():
        for leftover in run_dir.parent.glob(f".{glob_escape(run_dir.name)}.tmp-*"):
            if TEMP_DIR_PATTERN.match(leftover.name) and leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
    if not run_dir.exists():
        return False
    if is_complete(run_dir):
        stored = (run_dir / ".hydra" / "config.yaml").read_text()
        if stored == (resolved if resolved is not None else _resolved_yaml(config)):
            return True
        raise ConfigError(
            f"The run directory '{run_dir}' already holds a complete run of a different "
            "configuration; runs are never overwritten. Choose another `hydra.run.dir` (or, for a "
            "sweep, another `hydra.sweep.dir`), or delete that directory to rerun it."
        )
    entries = list(run_dir.iterdir())
    hydra_own = all(
        (e.name == ".hydra" and e.is_dir() and {p.name for p in e.iterdir()} <= _HYDRA_OWN_FILES)
        or (e.is_file() and (e.suffix == ".log" or e.name in FAILURE_FILES))
        for e in entries
    )
    if entries and hydra_own:
        for e in entries:
            shutil.rmtree(e) if e.is_dir() else e.unlink()
    elif entries:
        names = ", ".join(sorted(e.name for e in entries)[:6])
        raise ConfigError(
            f"The run directory `hydra.run.dir` is '{run_dir}', but it already contains files "
            f"({names}) and no {MARKER} marker of a finished silosim run; choose a new directory "
            "(runs are never overwritten)."
        )
    return False


def glob_escape(name: str) -> str:
    """Escape glob metacharacters in a file name."""
    return re.sub(r"([*?\[])", r"[\1]", name)


def swept_parameters(config: DictConfig, overrides: list[str]) -> dict[str, Any]:
    """The parameters a sweep set for this run: each overridden key and each design parameter, resolved.

    Args:
        config: The run's configuration (with any design row applied).
        overrides: The run's command-line overrides (``key=value``).

    Returns:
        Dotted key -> resolved value (lists and mappings as JSON text), in a stable order.
    """
    keys: list[str] = []
    for item in overrides:
        key = item.split("=", 1)[0].lstrip("+~")
        if "=" in item and not key.startswith("hydra.") and key not in keys:
            keys.append(key)
    design = OmegaConf.select(config, "design.parameters")
    if design:
        keys.extend(k for k in design if k not in keys)
    values: dict[str, Any] = {}
    absent = object()
    for key in keys:
        value = OmegaConf.select(config, key, default=absent, throw_on_missing=False)
        if value is absent:  # a config group choice such as `scenario` or `experiment`, not a key
            continue
        if OmegaConf.is_config(value) or isinstance(value, list | dict):
            plain = OmegaConf.to_container(value, resolve=True) if OmegaConf.is_config(value) else value
            value = json.dumps(plain, sort_keys=True)
        values[key] = value
    return values


def write_run(
    model: SiloModel,
    run_dir: Path,
    config: DictConfig,
    overrides: list[str] | None = None,
    hydra_config: DictConfig | None = None,
    resolved: str | None = None,
) -> Path:
    """Write one run directory atomically, with its ``COMPLETE`` marker last.

    Args:
        model: A model that has been run.
        run_dir: Target directory; must not exist or be empty.
        config: The composed configuration (written resolved to ``.hydra/config.yaml``).
        overrides: The command-line overrides (``.hydra/overrides.yaml``).
        hydra_config: Hydra's own configuration (``.hydra/hydra.yaml``), if any (a single run writes it; a
            sweep's jobs do not, as the sweep's ``multirun.yaml`` holds it once for all of them).
        resolved: The configuration's resolved YAML, if already made.

    Returns:
        The run directory.

    Raises:
        ConfigError: If ``run_dir`` already holds files.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(
            f"The run directory `hydra.run.dir` is '{run_dir}', but it already contains files; "
            "choose a new directory (runs are never overwritten)."
        )
    write_customers = bool(OmegaConf.select(config, "output.customers", default=True))
    with atomic_directory(run_dir, durable=True) as tmp:
        (tmp / ".hydra").mkdir()
        metrics = model.metrics_frame()
        _parquet(metrics, tmp / "metrics.parquet")
        _parquet(model.departments_frame(), tmp / "departments.parquet")
        if write_customers:
            _parquet(model.customers_frame(), tmp / "customers.parquet")
        (tmp / ".hydra" / "config.yaml").write_text(resolved if resolved is not None else _resolved_yaml(config))
        (tmp / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(list(overrides or []))))
        if hydra_config is not None:
            (tmp / ".hydra" / "hydra.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_config})))
        summary = {**run_summary(model, metrics=metrics), "provenance": provenance()}
        (tmp / "summary.json").write_text(json.dumps(_json_safe(summary), indent=2) + "\n")
        parameters = _json_safe(swept_parameters(config, list(overrides or [])))
        (tmp / "parameters.json").write_text(json.dumps(parameters, indent=2) + "\n")
        # The marker last: it lists every file with its size and checksum; the rename makes the run visible.
        record = {"files": _file_sizes(tmp), "sha256": _file_digests(tmp)}
        (tmp / MARKER).write_text(json.dumps(record, indent=2) + "\n")
        if not parent_alive():  # the sweep was killed: publish nothing after the kill
            raise ParentGoneError(f"the sweep that started this run has died; {run_dir} is not written")
    return run_dir


def count_runs(runs_dir: Path) -> tuple[int, int]:
    """Complete and failed runs in a sweep directory so far (temporary directories are not counted)."""
    done = failed = 0
    try:
        entries = [e for e in Path(runs_dir).iterdir() if e.is_dir() and not e.name.startswith(".")]
    except OSError:
        return 0, 0
    for entry in entries:
        if (entry / MARKER).exists():
            done += 1
        elif (entry / "error.txt").exists():
            failed += 1
    return done, failed


def register_resolvers() -> None:
    """Register ``${silosim_jobdir:...}`` (used by ``hydra.sweep.subdir`` in conf/config.yaml) with OmegaConf.

    Called when :mod:`sim.commands.run` (the Hydra task) is imported, so also in every launcher's worker process.
    """
    if not OmegaConf.has_resolver("silosim_jobdir"):
        OmegaConf.register_new_resolver("silosim_jobdir", job_dirname)


def execute_run(
    cfg: DictConfig,
    run_dir: Path,
    overrides: list[str],
    hydra_config: DictConfig | None = None,
    progress: bool = False,
) -> SiloModel | None:
    """One run of the ``silosim`` command: apply its design row or parameter draw, build, run and write it (or skip it).

    Args:
        cfg: The composed run configuration.
        run_dir: Its directory (the empty one Hydra created, or none yet).
        overrides: Its command-line overrides (``.hydra/overrides.yaml``, ``parameters.json``).
        hydra_config: Hydra's own configuration of the job, if any.
        progress: Show a progress bar.

    Returns:
        The finished model, or None if ``run_dir`` already holds this very run.

    Raises:
        ConfigError: For a user error (an invalid design row, a directory that holds another run).
    """
    from sim.engine.model import SiloModel
    from sim.experiments.runs.warmups import cache_from_environment
    from sim.experiments.sweeps.design import apply_row_typed
    from sim.experiments.uncertainty.draws import apply_draw

    cfg, typed = apply_row_typed(cfg)  # the typed tree once: converting it costs as much as a small run
    cfg, typed = apply_draw(cfg, typed)  # silosim-compare uncertainty=parameters: this seed's parameter draw
    resolved = _resolved_yaml(cfg)
    if prepare_run_dir(run_dir, cfg, resolved):
        return None
    # no DataCollector panel in a run directory; a comparison's jobs share warm-ups (sim.experiments.runs.warmups)
    cache = cache_from_environment()
    model = SiloModel(typed, collect=False) if cache is None else cache.model(typed)
    model.run(progress=progress)
    write_run(model, run_dir, cfg, overrides=overrides, hydra_config=hydra_config, resolved=resolved)
    return model


def record_failure(run_dir: Path, cfg: DictConfig, overrides: list[str], exc: BaseException) -> dict[str, Any]:
    """Leave the error and the job's identity (``error.txt``, ``job.json``) in a failed sweep job's directory.

    Returns:
        The job's identity: scenario, seed, overrides.
    """
    import traceback

    run_dir.mkdir(parents=True, exist_ok=True)
    job = {"scenario": str(cfg.scenario_name), "seed": int(cfg.seed), "overrides": overrides}
    (run_dir / "job.json").write_text(json.dumps(job) + "\n")
    (run_dir / "error.txt").write_text("".join(traceback.format_exception(exc)))
    return job
