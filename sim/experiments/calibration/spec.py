"""A calibration's specification: free parameters, targets (given, an industry's or a client's), tolerances."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from omegaconf import DictConfig, ListConfig, OmegaConf

from sim.config import ConfigError, compose, find
from sim.config.walk import range_error
from sim.experiments.analysis.outcomes import OUTCOMES
from sim.experiments.analysis.statistics import Interval
from sim.experiments.replications import base_configuration
from sim.experiments.runs.executor import Backend, backend_setting
from sim.experiments.runs.studies import place_study

if TYPE_CHECKING:
    from sim.config.schema import SiloConfig
    from sim.experiments.calibration.abc import AbcSettings, Posterior
    from sim.experiments.calibration.record_targets import RecordTargets
    from sim.experiments.calibration.records import ClientRecords

__all__ = [
    "TARGETS",
    "CalibrationResult",
    "CalibrationSpec",
    "FreeParameter",
    "load_spec",
]


REPORT_SEED_OFFSET = 10_000
STUDY_NAME = "silosim-calibrate"
FINISHED_FILE = "fit.json"  # written by a finished calibration (with calibrated.yaml or closest_fit.yaml)
# Settings that do not change a calibration's results: a study resumed with other values of these continues.
_FREE_SETTINGS = ("out_dir", "trials", "jobs", "launcher", "launcher_options")
BOUND_MARGIN = 0.05  # a fitted value this close to a bound (share of the range) counts as "at the bound"

# Targets a client can give: the outcome (of the registry) each one is, and whether its bounds are allowed
# values themselves (lo inclusive, hi inclusive). A retention of 0 or a churn of 1 leaves no book to fit.
TARGETS: dict[str, tuple[str, bool, bool]] = {
    "nps": ("measured_nps_last_year", True, True),
    "annual_retention": ("annual_retention", False, True),
    "annual_churn": ("annual_churn", True, False),
    "first_contact_resolution": ("first_contact_resolution_last_year", False, True),
    "survey_responses_per_customer_year": ("survey_responses_per_customer_year", True, True),
    "complaint_contacts_per_customer_year": ("complaint_contacts_per_customer_year", True, True),
    "book_growth": ("book_growth", False, True),
}
# Targets that hold the baseline rather than describe the client: set by default (conf/calibrate.yaml), so they
# never count as the client's figure on their own. book_growth 0 keeps the calibrated book stationary (or at the
# client's own growth): acquisition (`calibrate.free.acquisition`) is fitted to replace the churn the other targets
# imply.
HELD = ("book_growth",)


@dataclasses.dataclass(frozen=True)
class FreeParameter:
    """A baseline parameter the calibration may move, with its search bounds."""

    name: str
    key: str
    lo: float
    hi: float
    log: bool = False
    integer: bool = False

    def at_bound(self, value: float) -> str | None:
        """'lower' or 'upper' if ``value`` sits at a bound (in log space for a log-scale parameter), else None."""
        if self.log and self.lo > 0 and value > 0:
            lo, hi, x = math.log(self.lo), math.log(self.hi), math.log(value)
        else:
            lo, hi, x = self.lo, self.hi, value
        margin = BOUND_MARGIN * (hi - lo)
        if x <= lo + margin:
            return "lower"
        if x >= hi - margin:
            return "upper"
        return None


@dataclasses.dataclass
class CalibrationSpec:
    """Everything a calibration needs, validated."""

    targets: dict[str, float]
    tolerance: dict[str, float]
    free: list[FreeParameter]
    base: SiloConfig
    fixed: dict[str, Any]
    replications: int
    trials: int
    report_replications: int
    sampler_seed: int
    method: str
    jobs: int
    out_dir: Path
    config: DictConfig
    resumed: bool = False
    command: str = ""
    records: ClientRecords | None = None
    record_targets: RecordTargets | None = None
    abc: AbcSettings | None = None  # method=abc: population and generations
    backend: Backend | None = None  # where the replications run (launcher, launcher_options; the executor's)

    @property
    def fit_seeds(self) -> list[int]:
        """Seeds of the replications of every trial (common random numbers)."""
        return [self.base.seed + r for r in range(self.replications)]

    @property
    def report_seeds(self) -> list[int]:
        """Fresh seeds for the reported fit."""
        return [self.base.seed + REPORT_SEED_OFFSET + r for r in range(self.report_replications)]


@dataclasses.dataclass
class CalibrationResult:
    """The best fit, its report on fresh seeds, and the trial history."""

    params: dict[str, float]
    report: dict[str, Interval]
    met: dict[str, bool]
    trials: list[dict[str, Any]]
    best_trial: int
    posterior: Posterior | None = None  # method=abc: the last generation's particles and weights

    @property
    def reachable(self) -> bool:
        """Whether every target was met."""
        return all(self.met.values())


# --------------------------------------------------------------------------- configuration
def _number(value: Any, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigError(f"`{key}` is {value!r}, but it must be a finite number.")
    return float(value)


def _count(value: Any, key: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"`{key}` is {value!r}, but it must be a whole number of at least {least}.")
    return int(value)


def parallel_jobs(value: Any, key: str = "jobs") -> int:
    """A number of parallel processes: -1 (all cores) or at least 1."""
    if isinstance(value, bool) or not isinstance(value, int) or (value < 1 and value != -1):
        raise ConfigError(f"`{key}` is {value!r}, but it must be -1 (all cores) or a whole number of at least 1.")
    return int(value)


def study_settings(cfg: DictConfig, abc: AbcSettings | None = None) -> dict[str, Any]:
    """The calibration's settings that decide its results (the study's fingerprint covers these).

    An ABC calibration's priors come from the schema's declared distributions as well as from ``cfg``: they are
    covered too (as their descriptions), so a database begun under other priors is never resumed under these.
    """
    plain = OmegaConf.to_container(cfg, resolve=True)
    settings = {k: v for k, v in plain.items() if k not in _FREE_SETTINGS}  # type: ignore[union-attr]
    if abc is not None:
        settings["priors"] = {key: prior.describe() for key, prior in sorted(abc.priors.items())}
    return settings


def _check_target(name: str, value: float) -> None:
    outcome, lo_in, hi_in = TARGETS[name]
    lo, hi = OUTCOMES[outcome].bounds
    ok = (value >= lo if lo_in else value > lo) and (value <= hi if hi_in else value < hi)
    if not ok:
        interval = f"{'[' if lo_in else '('}{lo:g}, {hi:g}{']' if hi_in else ')'}"
        raise ConfigError(f"`target.{name}` is {value:g}, but it must lie in {interval} ({OUTCOMES[outcome].label}).")


def _free_parameters(node: Any, base: SiloConfig) -> list[FreeParameter]:
    """The declared free parameters (``calibrate.free``): numeric model parameters, bounds inside their range."""
    if not isinstance(node, DictConfig) or len(node) == 0:
        raise ConfigError(
            "`calibrate.free` is empty, but at least one free parameter (key, lo, hi) must be declared "
            "(see conf/calibrate/default.yaml)."
        )
    free = [_free_parameter(str(name), entry, base) for name, entry in node.items()]
    keys = [f.key for f in free]
    if len(set(keys)) != len(keys):
        raise ConfigError(f"`calibrate.free` names the same parameter twice ({keys}).")
    return free


def _free_parameter(name: str, entry: Any, base: SiloConfig) -> FreeParameter:
    where = f"calibrate.free.{name}"
    if not isinstance(entry, DictConfig) or "key" not in entry or "lo" not in entry or "hi" not in entry:
        shown = OmegaConf.to_container(entry) if isinstance(entry, DictConfig) else entry
        raise ConfigError(
            f"`{where}` is {shown!r}, but each free parameter needs key, lo and hi (and optionally log: true)."
        )
    unknown = set(entry) - {"key", "lo", "hi", "log"}
    if unknown:
        raise ConfigError(f"`{where}` has {sorted(unknown)}, but only key, lo, hi and log are allowed.")
    key = str(entry.key)
    param = find(base, key)
    if param is None:
        raise ConfigError(
            f"`{where}.key` is '{key}', but that is not a model parameter; docs/parameters.md "
            "lists every key (touchpoints, departments and levers by name)."
        )
    if param.kind not in (int, float):
        raise ConfigError(
            f"`{where}.key` is '{key}', but that parameter is not a number ({param.value!r}); only "
            "numeric parameters can be calibrated."
        )
    lo, hi = _number(entry.lo, f"{where}.lo"), _number(entry.hi, f"{where}.hi")
    if lo >= hi:
        raise ConfigError(f"`{where}` has lo {lo:g} and hi {hi:g}, but lo must be below hi.")
    if range_error(param, lo) or range_error(param, hi):
        raise ConfigError(
            f"`{where}` has bounds [{lo:g}, {hi:g}], but `{key}` is declared in {param.declared} "
            f"({param.doc}); the bounds must lie inside the declared range."
        )
    log = bool(entry.get("log", False))
    if log and lo <= 0:
        raise ConfigError(f"`{where}` has log: true and lo {lo:g}, but a log-scale search needs lo > 0.")
    return FreeParameter(name, key, lo, hi, log, param.kind is int)


def load_spec(overrides: list[str]) -> CalibrationSpec:
    """Compose the calibration configuration from Hydra overrides and validate it.

    Args:
        overrides: e.g. ``["target.nps=12", "target.annual_retention=0.86", "trials=30"]``.

    Returns:
        The validated specification.

    Raises:
        ConfigError: If anything is missing, unknown or out of range (one paragraph, naming the key).
    """
    cfg = compose("calibrate", overrides)
    OmegaConf.resolve(cfg)
    records = record_targets = None
    if cfg.get("data") is not None:
        records, record_targets, targets = _record_targets(cfg)
        tolerance = _tolerances(cfg, targets)
        # distances in units of each target's sampling uncertainty: its 95% half-width, never below the floor
        tolerance = {
            k: max(tolerance[k], record_targets.targets[k].half_width) if k in record_targets.targets else tolerance[k]
            for k in targets
        }
    else:
        targets = _targets(cfg)
        tolerance = _tolerances(cfg, targets)
    base, fixed = _base(cfg.model)
    free = _free_parameters(cfg.calibrate.get("free"), base)
    clash = sorted(set(fixed) & {f.key for f in free})
    if clash:
        raise ConfigError(f"`model.overrides` fixes {clash}, but the calibration also declares it free; do one.")
    method = str(cfg.method)
    from sim.experiments.calibration.fit import METHODS

    if method not in (*METHODS, "abc"):
        raise ConfigError(f"`method` is '{method}', but it must be one of {', '.join(METHODS)}, abc.")
    abc = None
    if method == "abc":
        from sim.experiments.calibration.abc import abc_settings

        abc = abc_settings(cfg.get("abc"), free)
    given = next((o.split("=", 1)[1] for o in overrides if o.startswith("out_dir=")), None)
    default = Path(str(cfg.out_dir)).expanduser()
    place = place_study(given, default, study_settings(cfg, abc), "out_dir", "silosim-calibrate", FINISHED_FILE)
    return CalibrationSpec(
        targets=targets,
        tolerance=tolerance,
        free=free,
        base=base,
        fixed=fixed,
        replications=_count(cfg.replications, "replications", 2),
        trials=_count(cfg.trials, "trials", 1),
        report_replications=_count(cfg.report_replications, "report_replications", 2),
        sampler_seed=_count(cfg.sampler_seed, "sampler_seed", 0),
        method=method,
        jobs=parallel_jobs(cfg.jobs),
        out_dir=place.directory,
        config=cfg,
        resumed=place.resumed,
        command=" ".join(["silosim-calibrate", *overrides]),
        records=records,
        record_targets=record_targets,
        abc=abc,
        backend=backend_setting(cfg, parallel_jobs(cfg.jobs)),
    )


def _record_targets(cfg: DictConfig) -> tuple[ClientRecords, RecordTargets, dict[str, float]]:
    """The client's records (``data``), their targets with intervals, and the values of the targets fitted."""
    from sim.experiments.calibration.record_targets import RECORD_TARGETS, measure_targets
    from sim.experiments.calibration.records import read_records

    given = sorted(k for k, v in cfg.target.items() if v is not None and k not in HELD)
    if given:
        raise ConfigError(
            f"`data` is '{cfg.data}' and `target.{given[0]}` is {cfg.target[given[0]]}, but the targets come either "
            "from the client's records or from the command line; give one."
        )
    names = cfg.get("data_targets")
    if not isinstance(names, ListConfig) or not names or any(str(n) not in RECORD_TARGETS for n in names):
        raise ConfigError(
            f"`data_targets` is {OmegaConf.to_container(names) if isinstance(names, ListConfig) else names!r}, but it "
            f"must be a non-empty list of {', '.join(RECORD_TARGETS)}."
        )
    share = _number(cfg.data_max_excluded, "data_max_excluded")
    if not 0 <= share <= 1:
        raise ConfigError(f"`data_max_excluded` is {share:g}, but it must be a share in [0, 1].")
    records = read_records(Path(str(cfg.data)), max_excluded=share)
    measured = measure_targets(records, None if cfg.get("data_as_of") is None else str(cfg.data_as_of))
    missing = [str(n) for n in names if str(n) not in measured.targets]
    if missing:
        needs = RECORD_TARGETS[missing[0]][2].replace("+", " and ")
        raise ConfigError(
            f"`data_targets` names {missing[0]}, but the records in {cfg.data} do not give it (it needs the {needs} "
            f"file(s), with data in the year); the records give {', '.join(measured.targets)}."
        )
    targets = {str(n): measured.targets[str(n)].value for n in names}
    targets.update(_held(cfg))
    for name, value in targets.items():
        _check_target(name, value)
    return records, measured, targets


def _held(cfg: DictConfig) -> dict[str, float]:
    """The targets that hold the baseline (``target.book_growth``), unless set to null."""
    return {k: _number(cfg.target[k], f"target.{k}") for k in HELD if cfg.target.get(k) is not None}


def _targets(cfg: DictConfig) -> dict[str, float]:
    """The observed figures given, each checked against its range."""
    unknown = set(cfg.target) - set(TARGETS)
    if unknown:
        first = sorted(unknown)[0]
        raise ConfigError(f"`target.{first}` is not a calibration target; targets are {', '.join(TARGETS)}.")
    targets = {k: _number(v, f"target.{k}") for k, v in cfg.target.items() if v is not None}
    targets = {**_industry_targets(cfg, targets), **targets}
    if not set(targets) - set(HELD):
        raise ConfigError(
            "No target given: name at least one observed figure, e.g. `target.nps=12 "
            f"target.annual_retention=0.86` (targets: {', '.join(k for k in TARGETS if k not in HELD)})."
        )
    for name, value in targets.items():
        _check_target(name, value)
    if "annual_retention" in targets and "annual_churn" in targets:
        raise ConfigError(
            f"`target.annual_retention` is {targets['annual_retention']:g} and `target.annual_churn` "
            f"is {targets['annual_churn']:g}, but they are the same figure (churn = 1 - retention); "
            "give one."
        )
    return targets


def _industry_targets(cfg: DictConfig, given: dict[str, float]) -> dict[str, float]:
    """The published figures of ``model.industry``'s preset, for the targets not given on the command line."""
    name = cfg.model.get("industry")
    if not name:
        return {}
    industry = base_configuration(cfg.model, "calibration").industry
    published = {"nps": industry.nps, "annual_retention": industry.annual_retention}
    if "annual_churn" in given:
        published.pop("annual_retention")
    return {k: float(v) for k, v in published.items() if v is not None}


def _tolerances(cfg: DictConfig, targets: dict[str, float]) -> dict[str, float]:
    """Every target's tolerance, positive."""
    tolerance = {}
    for name in targets:
        tol = cfg.calibrate.get("tolerance", {}).get(name)
        if tol is None:
            raise ConfigError(f"`calibrate.tolerance.{name}` is not set, but every target needs a tolerance.")
        tolerance[name] = _number(tol, f"calibrate.tolerance.{name}")
        if tolerance[name] <= 0:
            raise ConfigError(f"`calibrate.tolerance.{name}` is {tol!r}, but it must be positive.")
    return tolerance


def _base(model: DictConfig) -> tuple[SiloConfig, dict[str, Any]]:
    """The baseline that is fitted, and the parameters ``model.overrides`` fixes (with their values)."""
    model_overrides = [str(o) for o in (model.overrides or [])]
    reserved = ("scenario", "calibration", "customers", "weeks", "seed")
    fixed: dict[str, Any] = {}
    for override in model_overrides:
        key, sep, _ = override.partition("=")
        if not sep or key.startswith(("+", "~", "hydra")) or key in reserved:
            raise ConfigError(
                f"`model.overrides` contains '{override}', but it may only set model parameters as key=value "
                "(scenario, customers, weeks and seed have their own `model.` settings)."
            )
        fixed[key] = None
    base = base_configuration(model, "calibration")
    for key in fixed:
        param = find(base, key)
        if param is None:
            raise ConfigError(f"`model.overrides` sets '{key}', which is not a model parameter (docs/parameters.md).")
        fixed[key] = param.value
    return base, fixed
