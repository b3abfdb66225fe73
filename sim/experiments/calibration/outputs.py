"""A calibration's outputs: the fit table, the report, the calibrated YAML, the record a comparison keeps."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, find
from sim.config.compose import CALIBRATION_JOURNEY, CONF_MODULE, load_yaml_mapping
from sim.experiments.analysis.outcomes import OUTCOMES
from sim.experiments.calibration.fit import ci_text, fmt_target
from sim.experiments.calibration.spec import FINISHED_FILE, TARGETS, CalibrationResult, CalibrationSpec
from sim.experiments.runs.files import atomic_write, safe_table
from sim.experiments.runs.provenance import provenance
from sim.experiments.runs.studies import RECORD

if TYPE_CHECKING:
    from collections.abc import Mapping

    from sim.experiments.calibration.record_targets import RecordTargets
    from sim.experiments.calibration.records import ClientRecords

__all__ = [
    "bound_warning",
    "calibration_record",
    "markdown_report",
    "unreachable_message",
    "write_outputs",
    "write_record_outputs",
]


# ------------------------------------------------------------------------------ outputs
def fit_table(spec: CalibrationSpec, result: CalibrationResult) -> pd.DataFrame:
    """Target vs simulated mean with its 95% CI, one row per target."""
    rows = []
    for name, target in spec.targets.items():
        r = result.report[name]
        rows.append(
            {
                "target": name,
                "meaning": OUTCOMES[TARGETS[name][0]].label,
                "observed": target,
                "simulated_mean": r.mean,
                "ci95_low": r.low,
                "ci95_high": r.high,
                "tolerance": spec.tolerance[name],
                "replications": r.n,
                "met": result.met[name],
            }
        )
    return pd.DataFrame(rows)


def parameter_rows(spec: CalibrationSpec, result: CalibrationResult) -> list[dict[str, Any]]:
    """Fitted value, default and bounds of every free parameter."""
    return [
        {
            "name": f.name,
            "key": f.key,
            "fitted": result.params[f.key],
            "default": find(spec.base, f.key).value,
            "lo": f.lo,
            "hi": f.hi,
            "at_bound": f.at_bound(result.params[f.key]),
        }
        for f in spec.free
    ]


def markdown_report(spec: CalibrationSpec, result: CalibrationResult) -> str:
    """The fit as a small Markdown report (also printed)."""
    b = spec.base
    lines = [
        f"# Calibration: {'all targets met' if result.reachable else 'TARGET NOT MET (closest fit)'}",
        "",
        f"Baseline `{b.scenario_name}`, {b.customers:,} customers, {b.weeks} weeks after a {b.warmup_weeks}-week "
        f"warm-up; {_budget(spec)}; reported over "
        f"{spec.report_replications} fresh seeds.",
        "",
        *(
            [
                f"Targets measured from the client's records in `{spec.records.folder}` over "
                f"{spec.record_targets.start + pd.Timedelta(days=1):%Y-%m-%d} to {spec.record_targets.as_of:%Y-%m-%d} "
                "(targets.yaml); each tolerance is the target's 95% sampling half-width, at least the configured one.",
                "",
            ]
            if spec.records is not None and spec.record_targets is not None
            else []
        ),
        "| target | observed | simulated mean | 95% CI | tolerance | met |",
        "|---|---|---|---|---|---|",
    ]
    for name, target in spec.targets.items():
        r = result.report[name]
        lines.append(
            f"| {name} | {fmt_target(name, target)} | {fmt_target(name, r.mean)} | {fmt_target(name, r.low)} to "
            f"{fmt_target(name, r.high)} | {spec.tolerance[name]:g} | {'yes' if result.met[name] else 'NO'} |"
        )
    lines += ["", "| parameter | key | fitted | default | bounds |", "|---|---|---|---|---|"]
    for p in parameter_rows(spec, result):
        at = f" (at {p['at_bound']} bound)" if p["at_bound"] else ""
        lines.append(
            f"| {p['name']} | `{p['key']}` | {p['fitted']:.6g}{at} | {p['default']:.6g} | [{p['lo']:g}, {p['hi']:g}] |"
        )
    return "\n".join(lines) + "\n"


def _budget(spec: CalibrationSpec) -> str:
    if spec.abc is not None:
        return f"ABC-SMC, {spec.abc.generations} generations of {spec.abc.population} particles"
    return f"{spec.trials} trials x {spec.replications} replications"


def _preset(name: str) -> DictConfig:
    """An industry preset's settings (``conf/industry/NAME.yaml``, applied at the global package), as a mapping."""
    import importlib

    for directory in importlib.import_module(CONF_MODULE).__path__:
        path = Path(directory) / "industry" / f"{name}.yaml"
        if path.is_file():
            return load_yaml_mapping(path, "an industry preset", "model.industry")
    raise ConfigError(f"`model.industry` is '{name}', but conf/industry/ holds no {name}.yaml.")  # pragma: no cover


def _calibrated_yaml(spec: CalibrationSpec, result: CalibrationResult, path: Path) -> str:
    """The calibrated file: self-contained, so ``calibration=PATH`` alone gives the baseline that was fitted.

    A calibration from an industry preset (``model.industry``) writes the preset's settings in first (the
    ``calibration`` group is applied after the ``industry`` group, so the two compose the same as the file alone),
    then the fixed (``model.overrides``) and fitted values over them.
    """
    industry = spec.config.model.get("industry")
    node = OmegaConf.create({"calibration_source": str(path)})
    if industry:
        node = OmegaConf.merge(node, _preset(str(industry)))
    for key, value in {**spec.fixed, **result.params}.items():
        OmegaConf.update(node, key, value, force_add=True)
    journey = spec.config.model.get("journey")
    if journey:  # the client's journey it was calibrated on: applied with this file (compose: calibration_journey)
        node[CALIBRATION_JOURNEY] = load_yaml_mapping(Path(str(journey)).expanduser(), "a journey file", "journey")
    fit = "; ".join(
        f"{k} {fmt_target(k, v.mean)} (95% CI {ci_text(k, v)}; target {fmt_target(k, spec.targets[k])})"
        for k, v in result.report.items()
    )
    header = ["# @package _global_"]
    if result.reachable:
        header.append(f"# Calibrated baseline written by silosim-calibrate on {datetime.now():%Y-%m-%d %H:%M}.")
    else:
        missed = ", ".join(k for k, ok in result.met.items() if not ok)
        header.append(
            f"# CLOSEST FIT, NOT A CALIBRATION: target(s) not met: {missed}. Written by silosim-calibrate "
            f"on {datetime.now():%Y-%m-%d %H:%M}."
        )
    if industry:
        header += textwrap.wrap(
            f"Calibrated from the {industry} industry preset (conf/industry/{industry}.yaml): its settings are "
            "written in below, the fixed and fitted values over them, so this file needs no industry= beside it.",
            width=98,
            initial_indent="# ",
            subsequent_indent="#   ",
        )
    header += textwrap.wrap(
        f"Fit over {spec.report_replications} replications of {spec.base.customers:,} customers: {fit}.",
        width=98,
        initial_indent="# ",
        subsequent_indent="#   ",
    )
    if journey:
        header.append(
            f"# Calibrated on the client's journey ({Path(str(journey)).name}), carried below as "
            f"{CALIBRATION_JOURNEY}: applied with this file."
        )
    header.append(f"# Use: silosim calibration={path} [scenario=...]")
    return "\n".join(header) + "\n" + OmegaConf.to_yaml(node)


def write_outputs(spec: CalibrationSpec, result: CalibrationResult) -> Path:
    """Write the fit report and the calibrated (or closest-fit) file into ``spec.out_dir``, each file atomically.

    The calibrated file is written last, so a directory holding it holds the whole report. The study
    (``study.json``, ``study.journal``) stays beside them: rerunning the command with more trials continues it.

    Returns:
        The calibrated (or closest-fit) file.
    """
    out = spec.out_dir.resolve()
    name = "calibrated.yaml" if result.reachable else "closest_fit.yaml"
    other = "closest_fit.yaml" if result.reachable else "calibrated.yaml"
    payload = {
        "status": "met" if result.reachable else "unreachable",
        "calibrated_file": name,
        "targets": spec.targets,
        "tolerance": spec.tolerance,
        "fit": {k: dataclasses.asdict(v) for k, v in result.report.items()},
        "met": result.met,
        "parameters": parameter_rows(spec, result),
        "fixed": spec.fixed,
        "best_trial": result.best_trial,
        "trials": len(result.trials),
        "fit_seeds": spec.fit_seeds,
        "report_seeds": spec.report_seeds,
        "study": RECORD,
        "provenance": provenance(("optuna", "scipy")),
    }
    if spec.records is not None and spec.record_targets is not None:
        write_record_outputs(spec.records, spec.record_targets, out)
    if result.posterior is not None:
        from sim.experiments.calibration.abc import write_posterior

        write_posterior(spec, result.posterior, out)
    atomic_write(out / "fit.csv", lambda tmp: safe_table(fit_table(spec, result)).to_csv(tmp, index=False))
    atomic_write(out / "fit.md", lambda tmp: tmp.write_text(markdown_report(spec, result)))
    atomic_write(out / "trials.csv", lambda tmp: safe_table(pd.DataFrame(result.trials)).to_csv(tmp, index=False))
    atomic_write(out / "config.yaml", lambda tmp: tmp.write_text(OmegaConf.to_yaml(spec.config)))
    atomic_write(out / "fit.json", lambda tmp: tmp.write_text(json.dumps(payload, indent=2, default=float) + "\n"))
    (out / other).unlink(missing_ok=True)  # a continued study may turn a closest fit into a calibration
    atomic_write(out / name, lambda tmp: tmp.write_text(_calibrated_yaml(spec, result, out / name)))
    return out / name


def write_record_outputs(records: ClientRecords, measured: RecordTargets, out: Path) -> list[Path]:
    """``targets.yaml`` (each target with its interval) and ``data_quality.csv`` (every row left out, and why).

    Returns:
        The files written (each atomically).
    """
    from sim.experiments.calibration.record_targets import targets_yaml

    out.mkdir(parents=True, exist_ok=True)
    atomic_write(
        out / "targets.yaml", lambda tmp: tmp.write_text(targets_yaml(measured, records, out / "targets.yaml"))
    )
    atomic_write(out / "data_quality.csv", lambda tmp: records.quality.to_csv(tmp, index=False))
    return [out / "targets.yaml", out / "data_quality.csv"]


def unreachable_message(spec: CalibrationSpec, result: CalibrationResult, written: Path) -> str:
    """One paragraph naming each target that could not be met and the closest achievable value."""
    parts = []
    for name, ok in result.met.items():
        if ok:
            continue
        r = result.report[name]
        parts.append(
            f"`target.{name}` is {fmt_target(name, spec.targets[name])}, but the closest fit found within the "
            f"declared bounds gives {fmt_target(name, r.mean)} (95% CI {ci_text(name, r)}, "
            f"tolerance {spec.tolerance[name]:g})"
        )
    bounds = [
        f"{f.key} = {result.params[f.key]:.4g} ({f.at_bound(result.params[f.key])} bound)"
        for f in spec.free
        if f.at_bound(result.params[f.key])
    ]
    text = "Target not met: " + "; ".join(parts) + "."
    if spec.abc is not None:
        budget = (
            "run the same command again with more generations or particles "
            f"(abc.generations={2 * spec.abc.generations}, abc.population={2 * spec.abc.population})"
        )
        if spec.abc.prior == "declared":
            budget += (
                ", or with abc.prior=uniform: the priors are the declared distributions (posterior.md), narrow around "
                "the default baseline, and a client far from it lies outside them"
            )
    else:
        budget = (
            f"run the same command again with a larger budget, trials={2 * spec.trials} (the study resumes from the "
            f"{len(result.trials)} trials it holds; replications= more per trial steadies the fit)"
        )
    if bounds:
        names = {f.key: name for name, f in ((f.name, f) for f in spec.free)}
        widen = " or ".join(
            f"calibrate.free.{names[b.split(' = ')[0]]}.{'hi' if 'upper' in b else 'lo'}=..." for b in bounds
        )
        text += (
            f" Free parameters at a bound: {', '.join(bounds)}: the model reaches the target only beyond what the "
            f"search allows, so check that the targets are plausible together; if they are, widen that bound on "
            f"the command line ({widen}, inside the parameter's declared range) or {budget}."
        )
    else:
        text += f" No free parameter is at a bound, so the search may simply need a larger budget: {budget}."
    text += f" The closest fit was written to {written} (labelled CLOSEST FIT, not a calibration)."
    return text


def bound_warning(spec: CalibrationSpec, result: CalibrationResult) -> str | None:
    """A paragraph for a fit with a free parameter at a bound of its search range (None if there is none).

    A fit that meets its targets only by pushing a parameter to the edge of its range rests on an extreme
    value: the warning names the parameter, its value and its range, says what the parameter means, and
    what to check before relying on the calibrated baseline.
    """
    at = [(f, result.params[f.key], f.at_bound(result.params[f.key])) for f in spec.free]
    at = [(f, value, side) for f, value, side in at if side]
    if not at:
        return None
    parts = []
    for f, value, side in at:
        param = find(spec.base, f.key)
        meaning = str(param.meta.get("doc", "")).rstrip(".") if param is not None else ""
        what = f" ({meaning[0].lower()}{meaning[1:]})" if meaning else ""
        parts.append(
            f"{f.key}{what} was fitted at {value:.5g}, at the {side} bound of its search range [{f.lo:g}, {f.hi:g}]"
        )
    met = "meets its targets" if result.reachable else "comes closest to its targets"
    which = "this parameter" if len(at) == 1 else "these parameters"
    return (
        f"Warning: {'; '.join(parts)}. The fit {met} only by pushing {which} as far as the search allows, so the "
        "calibrated baseline rests on an extreme value there and may behave unrealistically (for example, a book "
        "that grows or shrinks by itself). Check that the targets are plausible together and for the industry, "
        "and treat results that hinge on it with care; the fit report "
        "(fit.md) marks it."
    )


def calibration_record(configs: Mapping[str, Mapping[str, Any]]) -> dict[str, Any] | None:
    """What a comparison's deliverables say about the calibration its scenarios carry (None if none does).

    Read from the calibration's ``fit.json`` beside the calibrated file (``calibration_source``): the
    targets, the simulated means with their intervals, whether each was met, and the fitted parameters
    with their bounds and whether they sit at one. Only the file's name is kept, not its local path.

    Args:
        configs: Resolved configuration per scenario.

    Returns:
        The record, or None when no scenario is calibrated.
    """
    carrying = {s: str(c.get("calibration_source") or "") for s, c in configs.items()}
    sources = sorted({v for v in carrying.values() if v})
    if not sources:
        return None
    source = Path(sources[0])
    record: dict[str, Any] = {
        "file": source.name,
        "scenarios": [s for s, v in carrying.items() if v == sources[0]],
        "found": False,
    }
    try:
        payload = json.loads((source.parent / FINISHED_FILE).read_text(encoding="utf-8"))
        record.update(
            found=True,
            status=str(payload["status"]),
            targets=dict(payload["targets"]),
            fit={k: dict(v) for k, v in payload["fit"].items()},
            met=dict(payload["met"]),
            parameters=list(payload["parameters"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        pass
    return record
