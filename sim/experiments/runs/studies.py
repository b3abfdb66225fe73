"""Optuna studies that resume: a journal file in the output directory, shared by any number of workers.

Calibration (:mod:`sim.experiments.calibration`) and policy search (:mod:`sim.experiments.policy`)
call Optuna directly. Their output directory holds the study as an Optuna journal
(``study.journal``, Optuna's append-only log, safe for several processes on one machine or on a
shared file system) and ``study.json`` (the settings that decide the results and their
fingerprint, written first). Running the same command again resumes the study: finished trials
are kept, the study continues until it has the requested number of complete trials, and the
outputs are written again from the whole study. Several workers (for example SLURM array tasks
running the same command with the same ``out_dir``) share the study the same way. Settings that
would change the results are refused with the differences named; the trial count may grow (the
study goes on) and the parallelism may change.

Outputs are written file by file, each through a temporary name (:func:`atomic_write`), after the
study has finished; a directory with only ``study.json`` and ``study.journal`` is a study under
way, not a result. ``optuna-dashboard study.journal`` shows it while it runs (docs/how-to/policy-search.md).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import warnings
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sim.config import ConfigError
from sim.experiments.runs.files import atomic_write, check_writable
from sim.experiments.runs.provenance import provenance

if TYPE_CHECKING:
    import optuna

__all__ = [
    "JOURNAL",
    "RECORD",
    "WORKER_ATTR",
    "StudyPlace",
    "claim_trial",
    "fail_abandoned",
    "fingerprint",
    "open_study",
    "place_study",
    "trials_in",
]

JOURNAL = "study.journal"
RECORD = "study.json"


def fingerprint(settings: dict[str, Any]) -> str:
    """A digest of the settings that decide a study's results."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class StudyPlace:
    """Where a study lives and whether it is resumed."""

    directory: Path
    resumed: bool


def _record(directory: Path) -> dict[str, Any] | None:
    try:
        return json.loads((directory / RECORD).read_text())
    except (OSError, ValueError):
        return None


def _flat(node: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            out.update(_flat(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: node}


def _differences(before: dict[str, Any], now: dict[str, Any]) -> str:
    before, now = _flat(before), _flat(now)
    keys = sorted(set(before) | set(now))
    changed = [f"{k} {before.get(k)!r} then, {now.get(k)!r} now" for k in keys if before.get(k) != now.get(k)]
    return "; ".join(changed[:6]) or "the model configuration differs"


def place_study(
    given: str | None, default: Path, settings: dict[str, Any], key: str, prog: str, finished: str
) -> StudyPlace:
    """The study's directory: a fresh one, or the unfinished (or finished) study of the same settings to resume.

    Args:
        given: The directory the user named (``out_dir=...``), or None.
        default: The directory to use when none was named and no study of these settings waits to be resumed
            (its parent is searched for one).
        settings: The settings that decide the results.
        key: The setting that names the directory (for messages).
        prog: The command (for messages).
        finished: The file a finished study has written (a default-directory study is resumed only if absent).

    Returns:
        The directory and whether a study is resumed there.

    Raises:
        ConfigError: If the directory is a file, holds other files, holds a study of other settings, or cannot be
            written.
    """
    digest = fingerprint(settings)
    check_writable(Path(given) if given is not None else default, key)
    if given is None:
        parent = default.parent
        candidates = sorted((p for p in parent.iterdir() if p.is_dir()), reverse=True) if parent.is_dir() else []
        for candidate in candidates:
            record = _record(candidate)
            if record and record.get("fingerprint") == digest and not (candidate / finished).exists():
                return StudyPlace(candidate, True)
        return StudyPlace(default, False)
    directory = Path(given).expanduser()
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"`{key}` is '{directory}', but that is a file; choose a new directory.")
    if not directory.is_dir() or not any(directory.iterdir()):
        return StudyPlace(directory, False)
    record = _record(directory)
    if record is None:
        raise ConfigError(
            f"`{key}` is '{directory}', but it already exists and holds files that are not a {prog} study; "
            "choose a new directory (results are never overwritten)."
        )
    if record.get("fingerprint") != digest:
        raise ConfigError(
            f"`{key}` is '{directory}', which holds a {prog} study of other settings "
            f"({_differences(record.get('settings', {}), settings)}); studies of different settings are never "
            "mixed. Run it with its own settings to resume it, or choose a new directory."
        )
    return StudyPlace(directory, True)


def write_record(directory: Path, settings: dict[str, Any], command: str) -> None:
    """``study.json``: the settings, their fingerprint, the command and the provenance (once, first)."""
    if _record(directory) is not None:
        return
    directory.mkdir(parents=True, exist_ok=True)
    record = {
        "fingerprint": fingerprint(settings),
        "settings": settings,
        "command": command,
        "started": f"{datetime.now():%Y-%m-%d %H:%M:%S}",
        "provenance": provenance(("optuna",)),
    }
    atomic_write(directory / RECORD, lambda tmp: tmp.write_text(json.dumps(record, indent=2, default=str) + "\n"))


def open_study(directory: Path, name: str, directions: list[str], sampler: optuna.samplers.BaseSampler) -> optuna.Study:
    """Create or load the study in ``directory/study.journal``.

    Args:
        directory: The study's directory (created if needed).
        name: The study's name inside the journal.
        directions: ``"minimize"`` or ``"maximize"``, one per objective.
        sampler: The sampler (not stored in the journal: each worker brings its own).

    Returns:
        The study.
    """
    import optuna
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directory.mkdir(parents=True, exist_ok=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        storage = JournalStorage(JournalFileBackend(os.fspath(directory / JOURNAL)))
    study = optuna.create_study(
        study_name=name, storage=storage, directions=directions, sampler=sampler, load_if_exists=True
    )
    fail_abandoned(study)
    return study


WORKER_ATTR = "silosim_worker"  # "<host>:<pid>" of the process running a trial, set when it starts


def claim_trial(trial: optuna.Trial) -> None:
    """Record which process runs ``trial`` (so a resumed study can tell an abandoned trial from a live one)."""
    trial.set_user_attr(WORKER_ATTR, f"{socket.gethostname()}:{os.getpid()}")


def fail_abandoned(study: optuna.Study) -> list[int]:
    """Mark FAIL every trial left RUNNING by a process of this host that no longer exists.

    A trial another live worker is running (several may share a study) is left alone; so is one claimed on
    another host, which this process cannot check.

    Returns:
        The numbers of the trials marked failed.
    """
    from optuna.trial import TrialState

    host, failed = socket.gethostname(), []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        owner = str(trial.user_attrs.get(WORKER_ATTR, ""))
        where, _, pid = owner.rpartition(":")
        if where != host or not pid.isdigit() or _alive(int(pid)):
            continue
        study._storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL)
        failed.append(trial.number)
    return failed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def trials_in(study: optuna.Study) -> tuple[list[optuna.trial.FrozenTrial], int]:
    """The study's complete trials (by number) and how many were left running by an interrupted worker."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    complete = sorted((t for t in trials if t.state == TrialState.COMPLETE), key=lambda t: t.number)
    return complete, sum(t.state == TrialState.RUNNING for t in trials)
