"""A comparison's settings: composed from ``conf/compare.yaml`` and the command line, checked before any run."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from sim.config import ConfigError, SiloConfig, compose, group_options, register_group_dir
from sim.config.compose import register_schemas
from sim.experiments.analysis.statistics import DEFAULT_ADJUSTMENT, adjustment_errors
from sim.experiments.compare.deliverables import ReportConf, quoted, report_errors
from sim.experiments.uncertainty.draws import setting_errors as uncertainty_errors

__all__ = [
    "LAUNCHERS",
    "CompareConf",
    "compose_compare",
    "prepare",
    "split_arguments",
]


PROG = "silosim-compare"
# launcher -> the Hydra launcher config it selects (conf/hydra/launcher/ and Hydra's own basic and joblib).
LAUNCHERS = {
    "local": "local",
    "joblib": "joblib",
    "basic": "basic",
    "slurm": "slurm",
    "slurm_local": "slurm_local",
    "ray_local": "ray_local",
}
PLAN_FILE = "plan.json"
DEFAULT_PARENT = Path("outputs/comparisons")
NAME_PATTERN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}")  # `name`: it names the comparison's directory
MAX_REPLICATIONS = 1000
MAX_HOURS = 24.0  # a comparison estimated to take longer starts only with allow_long=true


@dataclass
class CompareConf:
    """Settings of a comparison (defaults in ``conf/compare.yaml`` and ``conf/comparison/``).

    Attributes:
        name: Name of the comparison (used in the default output directory).
        scenarios: Scenarios to run, in the order they are shown.
        baseline: Scenario the others are compared against (default: the first).
        replications: Runs per scenario; replication r uses seed ``first_seed + r`` in every scenario.
        first_seed: Seed of the first replication.
        customers: Initial customers of every run.
        weeks: Horizon of every run.
        overrides: Model overrides applied to every scenario, e.g. ``[governance.communication=0.9]``.
        scenario_dir: A directory of the user's own scenario files.
        n_jobs: Parallel runs with the local or joblib launcher (-1: all cores).
        launcher: Hydra launcher: ``local`` (this machine's cores, silosim's launcher, default), ``joblib``
            (the same through Hydra's joblib launcher), ``basic`` (one run at a time),
            ``slurm`` (a SLURM cluster through submitit), ``slurm_local`` (submitit's local executor) or
            ``ray_local`` (Ray, installed apart from the lock: make test-ray).
        launcher_options: ``hydra.launcher.KEY=VALUE`` settings of that launcher (``hydra.launcher.partition=gpu``).
        out: Output directory (default ``outputs/comparisons/<time>_<name>``); must not exist, unless the same
            comparison was interrupted there (then it is resumed).
        confidence: Confidence level of every interval.
        clv_discount_rate: Annual discount rate of the customer lifetime value.
        multiple_comparisons: How the intervals the verdicts rest on allow for the number of comparisons:
            ``bonferroni`` (default), ``holm`` or ``none`` (:mod:`sim.experiments.analysis.statistics`).
        report: Client, title, logo, theme, paper and template of the deliverables.
        uncertainty: ``none`` (default: every parameter at its declared value, intervals from simulation noise
            only) or ``parameters`` (also ``draws`` runs per scenario, each with one parameter set drawn from the
            schema's distributions, the same sets for every scenario; :mod:`sim.experiments.uncertainty`).
        draws: Parameter draws per scenario with uncertainty=parameters.
        distributions: A YAML file of distributions replacing the schema's: parameter key -> ``{kind, args, basis}``.
        allow_long: Start a comparison estimated to take longer than :data:`MAX_HOURS` hours.
    """

    name: str = "comparison"
    scenarios: list[str] = field(default_factory=list)
    baseline: str | None = None
    replications: int = 20
    first_seed: int = 0
    customers: int = 20000
    weeks: int = 156
    overrides: list[str] = field(default_factory=list)
    scenario_dir: str | None = None
    n_jobs: int = -1
    launcher: str = "local"
    launcher_options: list[str] = field(default_factory=list)
    out: str | None = None
    confidence: float = 0.95
    clv_discount_rate: float = 0.10
    multiple_comparisons: str = DEFAULT_ADJUSTMENT
    report: ReportConf = field(default_factory=ReportConf)
    uncertainty: str = "none"
    draws: int = 0
    distributions: str | None = None
    allow_long: bool = False


def compose_compare(overrides: Sequence[str]) -> CompareConf:
    """Compose the comparison settings from ``conf/compare.yaml`` and ``key=value`` overrides.

    Raises:
        ConfigError: For an unknown setting or comparison, or a value of the wrong type.
    """
    register_schemas(compare_schema=CompareConf)
    obj = OmegaConf.to_object(compose("compare", overrides))
    if not isinstance(obj, CompareConf):  # pragma: no cover - conf/compare.yaml names the schema
        raise TypeError("conf/compare.yaml must be composed with the compare_schema")
    return obj


def split_arguments(arguments: Sequence[str]) -> tuple[list[str], list[str]]:
    """Separate comparison settings from model overrides.

    ``replications=5`` sets the comparison; a model key such as ``governance.communication=0.9`` or
    ``track_customers=10`` is applied to every scenario (it is added to ``overrides``).

    Args:
        arguments: ``key=value`` arguments.

    Returns:
        The comparison's own overrides and the model overrides.

    Raises:
        ConfigError: For an argument that is neither.
    """
    own = set(CompareConf.__dataclass_fields__)
    model_top = set(SiloConfig.__dataclass_fields__) - {"seed", "scenario_name"} | {"output"}
    mine, model = [], []
    for arg in arguments:
        if "=" not in arg:
            raise ConfigError(
                f"`{arg}` is not a setting: {PROG} takes key=value settings, e.g. replications=5 "
                "customers=5000 (see --help)"
            )
        key, _, value = arg.partition("=")
        key = key.lstrip("+~")
        if key.split(".", 1)[0] in own or key == "comparison":  # `comparison` picks a file of conf/comparison/
            mine.append(quoted(arg))
        elif key == "calibration":  # a calibrated file from silosim-calibrate, applied to every scenario
            model.append(f"calibration={Path(value).expanduser().resolve()}")
        elif key.split(".", 1)[0] in model_top or key.startswith("hydra.launcher."):
            model.append(arg)
        elif key in ("seed", "scenario"):
            raise ConfigError(
                f"`{key}` is set per run by {PROG}; use `first_seed` (replication r uses first_seed + r)"
                " and `scenarios=[...]` instead"
            )
        else:
            raise ConfigError(
                f"`{key}` is neither a setting of {PROG} ({', '.join(sorted(own))}), a launcher option "
                "(hydra.launcher.KEY=VALUE) nor a model parameter (docs/parameters.md lists them)"
            )
    return mine, model


def prepare(arguments: Sequence[str]) -> CompareConf:
    """Settings from command-line style arguments: the comparison's own, plus model overrides for every scenario.

    Registers the user's scenario directory, if any, so its scenarios can be composed.

    Raises:
        ConfigError: For bad arguments (one paragraph naming the key, the value and what is allowed).
    """
    mine, model = split_arguments(arguments)
    conf = compose_compare(mine)
    conf.launcher_options = [*conf.launcher_options, *(a for a in model if a.startswith("hydra.launcher."))]
    conf.overrides = [*conf.overrides, *(a for a in model if not a.startswith("hydra.launcher."))]
    if conf.scenario_dir:
        register_group_dir("scenario", conf.scenario_dir)
    return conf


def _model_overrides(conf: CompareConf) -> list[str]:
    return [f"customers={conf.customers}", f"weeks={conf.weeks}", *conf.overrides]


def _setting_errors(conf: CompareConf) -> list[str]:
    """Every problem with the comparison's own settings."""
    errors = _scenario_errors(conf) + _number_errors(conf) + _presentation_errors(conf)
    if not NAME_PATTERN.fullmatch(str(conf.name)):
        errors.append(
            f"`name` is {str(conf.name)[:40]!r}{'...' if len(str(conf.name)) > 40 else ''}, but it must be 1 to 64 "
            "letters, digits, '_', '-' or '.' (not starting with '.' or '-'; it names the comparison's directory)"
        )
    if conf.uncertainty != "none" or conf.draws or conf.distributions:
        from sim.config import compose_config, to_config

        errors += uncertainty_errors(conf.uncertainty, conf.draws, conf.distributions, to_config(compose_config([])))
    return errors


def _scenario_errors(conf: CompareConf) -> list[str]:
    """The scenarios exist, each once, and the baseline is one of them."""
    errors = []
    known = group_options("scenario")
    if not conf.scenarios:
        errors.append("`scenarios` is empty, but it must list at least two scenarios to compare")
    unknown = [s for s in conf.scenarios if s not in known]
    if unknown:
        errors.append(
            f"`scenarios` names {unknown}, which do not exist. Allowed: {', '.join(known)} (add your own "
            "with scenario_dir=PATH)"
        )
    if len(set(conf.scenarios)) != len(conf.scenarios):
        errors.append(f"`scenarios` is {conf.scenarios}, but each scenario may appear only once")
    baseline = conf.baseline or (conf.scenarios[0] if conf.scenarios else "")
    if conf.scenarios and baseline not in conf.scenarios:
        errors.append(f"`baseline` is {baseline!r}, but it must be one of the scenarios {conf.scenarios}")
    return errors


def _number_errors(conf: CompareConf) -> list[str]:
    """Replications, sizes, seeds, parallelism, the launcher, the confidence level and the discount rate."""
    checks = [
        (
            conf.replications < 2,
            f"`replications` is {conf.replications}, but at least 2 are needed for a confidence interval",
        ),
        (
            conf.replications > MAX_REPLICATIONS,
            f"`replications` is {conf.replications:,}, but it must be at most {MAX_REPLICATIONS:,}",
        ),
        (
            conf.customers < 1 or conf.weeks < 1,
            f"`customers` is {conf.customers} and `weeks` is {conf.weeks}, but both must be at least 1",
        ),
        (conf.first_seed < 0, f"`first_seed` is {conf.first_seed}, but it must be at least 0"),
        (
            conf.n_jobs == 0 or conf.n_jobs < -1,
            f"`n_jobs` is {conf.n_jobs}, but it must be -1 (all cores) or a positive number of parallel runs",
        ),
        (
            conf.launcher not in LAUNCHERS,
            f"`launcher` is {conf.launcher!r}, but it must be one of {', '.join(LAUNCHERS)}",
        ),
        (
            not 0 < conf.confidence < 1,
            f"`confidence` is {conf.confidence}, but it must be between 0 and 1 (e.g. 0.95)",
        ),
        (conf.clv_discount_rate < 0, f"`clv_discount_rate` is {conf.clv_discount_rate}, but it must be at least 0"),
    ]
    return [message for failed, message in checks if failed]


def _presentation_errors(conf: CompareConf) -> list[str]:
    """The multiple-comparison adjustment and the deliverables' settings (``report.*``)."""
    return adjustment_errors(conf.multiple_comparisons) + report_errors(conf.report)
