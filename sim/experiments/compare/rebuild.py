"""A finished comparison reopened: titles, the summary table, deliverables rebuilt in place, runs made elsewhere."""

from __future__ import annotations

import json
import os
import shlex
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
from omegaconf import OmegaConf

from sim.config import ConfigError
from sim.config.run import scenario_title
from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.analysis.runsets import RunSet, load_runs
from sim.experiments.analysis.statistics import DEFAULT_ADJUSTMENT, adjustment_errors
from sim.experiments.calibration.outputs import calibration_record
from sim.experiments.compare.comparison import Comparison, Present, summarise, write_meta, write_summary, write_tables
from sim.experiments.compare.deliverables import ReportConf, quoted, report_errors
from sim.experiments.compare.partial import _damage_message, damaged_runs
from sim.experiments.compare.planning import Plan
from sim.experiments.compare.settings import PROG, compose_compare
from sim.experiments.runs.files import atomic_directory, require_fresh
from sim.experiments.uncertainty.draws import DRAWS_DIR, summarise_draws

__all__ = [
    "REBUILD_SETTINGS",
    "assemble_comparison",
    "load_comparison",
    "rebuild_changes",
    "rebuild_comparison",
    "scenario_labels",
]


# Presenting and reopening (issue 14): display titles, the summary with its multiple-comparison adjustment,
# a finished comparison read back from its directory (silosim-compare from=DIR), its deliverables rebuilt in
# place, and a comparison assembled from runs made elsewhere (the dashboard's A/B what-if).

# Settings that change how a finished comparison is presented, not what was run (silosim-compare from=DIR).
REBUILD_SETTINGS = ("name", "baseline", "confidence", "multiple_comparisons", "clv_discount_rate", "report")
# What a rebuild writes again; anything else in the directory (runs/, comparison.parquet, runs.csv, logs/) stays.
DELIVERABLES = (
    "figures",
    "report.html",
    "report.pdf",
    "report.pptx",
    "summary.xlsx",
    "summary.csv",
    "uncertainty.csv",
    "importance.csv",
    "comparison.json",
)
_META_KEYS = ("name", "scenarios", "baseline", "replications", "customers", "weeks", "confidence")


def scenario_labels(configs: Mapping[str, Mapping[str, Any]]) -> tuple[dict[str, str], dict[str, str]]:
    """Display titles and one-line descriptions of scenarios from their resolved configurations.

    A scenario without ``about.title`` is named after its file. When scenarios would share a title (a
    user's scenario that builds on a bundled one and declares none inherits its title), the first in
    order keeps it and the others are told apart by their file names.

    Args:
        configs: Resolved configuration per scenario.

    Returns:
        Title and description per scenario.
    """
    about = {s: dict(c.get("about") or {}) for s, c in configs.items()}
    titles: dict[str, str] = {}
    for s, a in about.items():
        title = scenario_title(s, a.get("title"))
        titles[s] = f"{title} ({s})" if title in titles.values() else title
    descriptions = {s: " ".join(str(a.get("description") or "").split()) for s, a in about.items()}
    return titles, descriptions


def _report_meta(report: ReportConf | Mapping[str, Any]) -> dict[str, Any]:
    """The deliverables' settings as comparison.json keeps them, with file paths made absolute."""
    typed = report if isinstance(report, ReportConf) else _report_conf(report)
    out = asdict(typed)
    for key in ("logo", "template_dir"):
        if out[key]:
            out[key] = str(Path(out[key]).expanduser().resolve())
    return out


def _report_conf(settings: Mapping[str, Any]) -> ReportConf:
    merged = OmegaConf.merge(OmegaConf.structured(ReportConf), OmegaConf.create(dict(settings)))
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def _presentation_meta(p: Plan) -> dict[str, Any]:
    titles, descriptions = scenario_labels(p.configs)
    return {
        "titles": titles,
        "descriptions": descriptions,
        "multiple_comparisons": p.conf.multiple_comparisons,
        "report": _report_meta(p.conf.report),
        "calibration": calibration_record(p.configs),
    }


def _read_meta(directory: Path) -> dict[str, Any]:
    """comparison.json of a finished comparison directory, or a ConfigError naming what is missing."""
    shown = f"`from` is '{directory}'"
    if not directory.is_dir():
        kind = "a file" if directory.exists() else "not a directory"
        raise ConfigError(f"{shown}, but that is {kind}; pass a directory written by silosim-compare.")
    try:
        meta = json.loads((directory / "comparison.json").read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(
            f"{shown}, but it holds no comparison.json; pass a directory written by silosim-compare."
        ) from None
    except (OSError, UnicodeDecodeError, ValueError):
        raise ConfigError(f"{shown}, but its comparison.json cannot be read as JSON.") from None
    missing = [k for k in _META_KEYS if not isinstance(meta, dict) or k not in meta]
    if missing:
        raise ConfigError(f"{shown}, but its comparison.json lacks {missing}; is it a silosim-compare directory?")
    if not (directory / "runs").is_dir():
        raise ConfigError(f"{shown}, but it has no runs/ directory; the runs are needed to rebuild the deliverables.")
    return meta


def _run_configs(runs: RunSet) -> dict[str, dict[str, Any]]:
    """Each scenario's resolved configuration, from its first complete run's ``.hydra/config.yaml``."""
    done = runs.runs[runs.runs["status"] == "ok"].sort_values(["scenario", "seed"])
    configs = {}
    for scenario, group in done.groupby("scenario", sort=False):
        text = (Path(group["path"].iloc[0]) / ".hydra" / "config.yaml").read_text(encoding="utf-8")
        configs[str(scenario)] = OmegaConf.to_container(OmegaConf.create(text), resolve=True)
    return configs  # type: ignore[return-value]


def _apply_changes(meta: dict[str, Any], changes: Mapping[str, Any]) -> None:
    """Put rebuild settings (``baseline``, ``report.client``, ...) into the comparison's settings."""
    for key, value in changes.items():
        if key.startswith("report."):
            node = meta.setdefault("report", {})
            *parents, last = key.split(".")[1:]
            for part in parents:
                node = node.setdefault(part, {})
            node[last] = value
        elif key == "report":
            meta["report"] = {**meta.get("report", {}), **value}
        else:
            meta[key] = value


def _rebuild_errors(meta: dict[str, Any]) -> list[str]:
    errors = []
    if meta["baseline"] not in meta["scenarios"]:
        errors.append(
            f"`baseline` is {meta['baseline']!r}, but it must be one of the scenarios run {meta['scenarios']}"
        )
    if not 0 < float(meta["confidence"]) < 1:
        errors.append(f"`confidence` is {meta['confidence']}, but it must be between 0 and 1 (e.g. 0.95)")
    if float(meta.get("clv_discount_rate", 0.10)) < 0:
        errors.append(f"`clv_discount_rate` is {meta['clv_discount_rate']}, but it must be at least 0")
    errors += adjustment_errors(str(meta["multiple_comparisons"]))
    try:
        errors += report_errors(_report_conf(meta["report"]))
    except Exception:  # settings written by hand into comparison.json; OmegaConf's error types vary
        errors.append(f"`report` in comparison.json is {meta['report']!r}, which is not a valid set of report settings")
    return errors


def load_comparison(directory: str | Path, changes: Mapping[str, Any] | None = None) -> Comparison:
    """A finished comparison read back from its directory, optionally presented with other settings.

    Args:
        directory: A directory written by ``silosim-compare`` (or exported from the dashboard).
        changes: Presentation settings to apply (:data:`REBUILD_SETTINGS`: ``baseline``, ``confidence``,
            ``multiple_comparisons``, ``clv_discount_rate``, ``name``, ``report.*``), dotted keys.

    Returns:
        The comparison with its summary recomputed under those settings.

    Raises:
        ConfigError: If the directory is not a finished comparison, or a setting is invalid.
    """
    path = Path(directory).expanduser()
    meta = _read_meta(path)
    damaged = damaged_runs(path, meta)
    if damaged:
        raise ConfigError(_damage_message(path, meta, damaged))
    meta.setdefault("multiple_comparisons", DEFAULT_ADJUSTMENT)
    meta.setdefault("clv_discount_rate", 0.10)
    meta["report"] = {**asdict(ReportConf()), **meta.get("report", {})}
    _apply_changes(meta, changes or {})
    errors = _rebuild_errors(meta)
    if errors:
        raise ConfigError("; ".join(errors) + ".")
    meta["report"] = _report_meta(meta["report"])
    runs = load_runs(path / "runs", float(meta["clv_discount_rate"]))
    done = set(runs.outcomes["scenario"]) if not runs.outcomes.empty else set()
    if meta["baseline"] not in done:
        raise ConfigError(
            f"`baseline` is {meta['baseline']!r}, but '{path}' holds no complete run of it; choose one of "
            f"{sorted(done) or 'the scenarios run (there are no complete runs)'}."
        )
    configs = _run_configs(runs)
    titles, descriptions = scenario_labels(configs)
    meta["titles"] = {**titles, **meta.get("titles", {})}
    meta["descriptions"] = {**descriptions, **meta.get("descriptions", {})}
    comparison = Comparison(path, runs, pd.DataFrame(), meta, configs)
    comparison.summary = summarise(comparison)
    return comparison


def rebuild_changes(arguments: Sequence[str]) -> dict[str, Any]:
    """The presentation settings given to ``silosim-compare from=DIR``, typed and checked.

    Args:
        arguments: ``key=value`` arguments other than ``from=``.

    Returns:
        Dotted key -> value, for the keys given.

    Raises:
        ConfigError: For a setting that would need new runs, an unknown one, or a value of the wrong type.
    """
    given = []
    for arg in arguments:
        if "=" not in arg:
            raise ConfigError(f"`{arg}` is not a setting: {PROG} takes key=value settings, e.g. report.client=Acme")
        key = arg.partition("=")[0].lstrip("+~")
        if key.split(".", 1)[0] not in REBUILD_SETTINGS:
            raise ConfigError(
                f"`{key}` cannot be given with `from`: rebuilding presents the runs already made, and "
                f"{key} would need new ones. Allowed with from=DIR: {', '.join(REBUILD_SETTINGS)} (report.client, "
                "report.title, report.logo, report.theme.*, report.paper, report.pdf, report.template_dir); run "
                f"{PROG} without from= to make new runs"
            )
        given.append((key, quoted(arg)))
    typed = OmegaConf.structured(compose_compare([arg for _, arg in given]))
    changes = {}
    for key, _ in given:
        value = OmegaConf.select(typed, key)
        changes[key] = OmegaConf.to_container(value) if OmegaConf.is_config(value) else value
    return changes


def rebuild_comparison(
    directory: str | Path, arguments: Sequence[str], present: Present, command: Sequence[str] = ()
) -> Comparison:
    """Rebuild a finished comparison's summary, figures, report and exports in place, without running anything.

    Everything is written into a temporary directory inside the comparison first; only when all of it is
    written does it replace the previous deliverables (a deliverable not written this time, such as a PDF
    when Chromium has gone, is removed so no stale numbers remain). runs/, comparison.parquet and runs.csv
    are left as they are.

    Args:
        directory: The comparison directory.
        arguments: Presentation settings as ``key=value`` (:data:`REBUILD_SETTINGS`).
        present: Writes the deliverables into a directory.
        command: The command line, recorded in comparison.json under ``rebuilds``.

    Returns:
        The comparison as now presented.

    Raises:
        ConfigError: For a directory that is not a finished comparison, or bad settings.
    """
    comparison = load_comparison(directory, rebuild_changes(arguments))
    stamp = f"{datetime.now():%Y-%m-%d %H:%M:%S}"
    comparison.meta.setdefault("rebuilds", []).append({"at": stamp, "command": shlex.join(command)})
    target = comparison.out
    work = target / f".rebuild.tmp-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    try:
        write_summary(work, comparison)
        if comparison.meta.get("uncertainty") and (target / DRAWS_DIR).is_dir():  # at the new settings, too
            comparison.meta["uncertainty"] = summarise_draws(
                target, comparison.runs.outcomes, comparison.meta["uncertainty"], comparison.baseline,
                comparison.order, [o.name for o in comparison_outcomes()], comparison.confidence,
                float(comparison.meta["clv_discount_rate"]), target=work,
            )  # fmt: skip
        present(work, comparison)
        write_meta(work, comparison)
        _swap_in(work, target)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return comparison


def _swap_in(work: Path, target: Path) -> None:
    """Move every deliverable written in ``work`` into ``target`` (comparison.json last); drop stale ones."""
    written = {p.name for p in work.iterdir()}
    for name in [n for n in DELIVERABLES if n != "comparison.json"] + ["comparison.json"]:
        new, old = work / name, target / name
        if name not in written:
            if old.is_dir():
                shutil.rmtree(old)
            else:
                old.unlink(missing_ok=True)
            continue
        if new.is_dir():
            aside = target / f".{name}.old-{os.getpid()}"
            if old.exists():
                old.rename(aside)
            new.rename(old)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            os.replace(new, old)


def assemble_comparison(
    out: Path,
    run_dirs: Sequence[Path],
    meta: dict[str, Any],
    present: Present | None = None,
    extra_files: Mapping[str, str] | None = None,
) -> Comparison:
    """A comparison directory from complete run directories made elsewhere (the dashboard's A/B what-if).

    The directory is built under a temporary name and renamed into place when complete, like one that
    ``silosim-compare`` runs itself; it can be reopened with ``silosim-compare from=DIR``.

    Args:
        out: The comparison directory to write (must not exist or be empty).
        run_dirs: Complete run directories named ``<scenario>_s<seed>``; copied into ``runs/``.
        meta: The comparison's settings, as comparison.json holds them.
        present: Writes the deliverables.
        extra_files: Relative path -> text of further files (e.g. the what-if's scenario file).

    Returns:
        The comparison.

    Raises:
        ConfigError: If ``out`` holds files already.
    """
    require_fresh(out, "out", "comparisons")
    with atomic_directory(out) as work:
        for run in run_dirs:
            shutil.copytree(run, work / "runs" / Path(run).name)
        for name, text in (extra_files or {}).items():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            (work / name).write_text(text, encoding="utf-8")
        (work / "comparison.json").write_text(json.dumps(meta, indent=2) + "\n")
        comparison = load_comparison(work)
        write_tables(work, comparison)
        if present is not None:
            present(work, comparison)
    comparison.out = out
    comparison.runs.runs["path"] = [str(out / "runs" / Path(x).name) for x in comparison.runs.runs["path"]]
    return comparison
