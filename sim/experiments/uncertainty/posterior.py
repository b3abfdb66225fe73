"""Parameter draws from a calibration: its posterior in place of the fitted parameters' declared distributions.

A calibration to a client's records learns about the parameters it fits, and nothing about the others.
``silosim-compare calibration=DIR uncertainty=parameters draws=N`` therefore draws each parameter set as
follows (:mod:`sim.experiments.uncertainty.draws` does the rest, unchanged):

* The comparison starts from the calibrated baseline: ``DIR/calibrated.yaml`` is applied to every scenario
  (with the journey it was calibrated on, if it carries one).
* **A Bayesian calibration** (``method=abc``) wrote its posterior, pyabc's last generation of particles and
  their weights, as ``posterior.csv``. Each draw takes one *whole* particle: the fitted parameters are drawn
  jointly, so the trade-offs the records leave open are kept (a lower attitude goes with the churn that
  matched it; drawing each parameter's marginal alone would pair values the data ruled out). The particle is
  chosen by weighted resampling along one axis of the comparison's Latin hypercube (its point ``u`` picks the
  particle whose cumulative weight first reaches ``u``): stratified, so N draws reproduce the weights closely,
  and as seeded and reproducible as the rest of the design.
* **A point calibration** (``least_squares``, ``tpe``, ``optimise``) has no posterior. Its fitted parameters
  are held at their fitted values (they *are* the calibrated baseline), and the comparison says so: their
  uncertainty is not in the interval; calibrate with ``method=abc`` to carry it. Drawing them from their
  declared distributions instead would draw around the defaults the calibration moved away from, and most
  such worlds would not reproduce the client's figures.
* A key named in ``distributions=FILE`` is drawn from the user's distribution, posterior or not (the user's
  explicit word wins: ``{kind: fixed, basis: ...}`` holds a fitted parameter at its fitted value, a prior
  restated there draws it from the prior).
* A fitted parameter that a scenario sets to another value is held at the scenario's value, as any
  parameter a scenario sets.
* Every other parameter is drawn from its declared distribution, as without a calibration.

The importance measure of :mod:`sim.experiments.uncertainty.effects` assumes independent draws; the posterior's
parameters are drawn jointly, so the importance of one of them also carries what its posterior correlation
with the others does (the method paragraph says so).
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.experiments.calibration.abc import weighted_quantile

if TYPE_CHECKING:
    from sim.config.distributions import Uncertainty
    from sim.config.walk import Param

__all__ = [
    "POSTERIOR_FILE",
    "CalibrationPrior",
    "calibration_plan",
    "calibration_source",
    "read_calibration",
    "resample",
]

POSTERIOR_FILE = "posterior.csv"  # silosim-calibrate method=abc: the last generation's particles and weights
FIT_FILE = "fit.json"  # every finished calibration
CREDIBLE = (0.05, 0.95)  # the interval the record shows for each posterior (and its prior)


@dataclasses.dataclass
class CalibrationPrior:
    """What a calibration says about the parameters it fitted: a posterior sample, or only a point.

    Attributes:
        file: The calibrated file applied to every scenario.
        point: Fitted key -> fitted value (the calibrated baseline).
        particles: The posterior's particles (one column per fitted key), or None for a point calibration.
        weights: Their weights, summing to one (None for a point calibration).
    """

    file: Path
    point: dict[str, float]
    particles: pd.DataFrame | None = None
    weights: np.ndarray | None = None

    @property
    def keys(self) -> list[str]:
        """The fitted keys, in the calibration's order."""
        return list(self.point)

    @property
    def has_posterior(self) -> bool:
        """Whether the calibration wrote a posterior sample (``method=abc``)."""
        return self.particles is not None

    @property
    def effective_particles(self) -> float:
        """Kish's effective sample size of the weighted particles (their number if all weigh the same)."""
        if self.weights is None:
            return 0.0
        return float(1.0 / np.sum(self.weights**2))


def resample(prior: CalibrationPrior, u: np.ndarray) -> pd.DataFrame:
    """The particles at the design's points ``u`` in (0, 1): weighted resampling by inverse cumulative weight.

    Args:
        prior: A calibration with a posterior.
        u: One point per draw (a column of the Latin hypercube).

    Returns:
        One row per draw, one column per fitted key: the chosen particle's values.
    """
    assert prior.particles is not None and prior.weights is not None  # noqa: S101 - callers check has_posterior
    cumulative = np.cumsum(prior.weights)
    cumulative /= cumulative[-1]
    rows = np.minimum(np.searchsorted(cumulative, np.asarray(u, dtype=float), side="left"), len(cumulative) - 1)
    return prior.particles.iloc[rows].reset_index(drop=True)


def calibration_source(configs: Mapping[str, Mapping[str, Any]]) -> Path | None:
    """The calibrated file the scenarios carry (``calibration_source``), or None without a calibration."""
    sources = sorted({str(c.get("calibration_source") or "") for c in configs.values()} - {""})
    return Path(sources[0]) if sources else None


def _bad(file: Path, problem: str) -> ConfigError:
    return ConfigError(
        f"`calibration` names '{file}', but {problem}. Pass the calibrated.yaml (or the directory) that "
        "silosim-calibrate wrote, with the files it wrote beside it; calibrate again if they were lost."
    )


def read_calibration(file: Path, ranges: Mapping[str, tuple[float | None, float | None]]) -> CalibrationPrior:
    """Read the fit (``fit.json``) and, if there is one, the posterior (``posterior.csv``) beside a calibrated file.

    Args:
        file: The calibrated file.
        ranges: Parameter key -> its declared (low, high), to check the posterior's values against.

    Returns:
        The calibration's point and posterior.

    Raises:
        ConfigError: If ``fit.json`` is missing or unreadable, or ``posterior.csv`` does not hold the fitted
            parameters as numbers inside their declared ranges with non-negative weights summing above zero.
    """
    try:
        payload = json.loads((file.parent / FIT_FILE).read_text(encoding="utf-8"))
        point = {str(p["key"]): float(p["fitted"]) for p in payload["parameters"]}
    except FileNotFoundError:
        raise _bad(file, f"there is no {FIT_FILE} beside it, so which parameters it fitted is unknown") from None
    except (OSError, ValueError, KeyError, TypeError):
        raise _bad(file, f"its {FIT_FILE} cannot be read as a calibration's fit report") from None
    prior = CalibrationPrior(file=file, point=point)
    path = file.parent / POSTERIOR_FILE
    if not path.exists():
        return prior
    try:
        frame = pd.read_csv(path)
    except (OSError, ValueError, pd.errors.ParserError):
        raise _bad(file, f"its {POSTERIOR_FILE} cannot be read as a table") from None
    missing = [k for k in [*point, "weight"] if k not in frame.columns]
    if missing or frame.empty:
        what = f"lacks the column(s) {', '.join(missing)}" if missing else "holds no particles"
        raise _bad(file, f"its {POSTERIOR_FILE} {what} (it must hold one column per fitted parameter and `weight`)")
    values = frame[[*point, "weight"]].apply(pd.to_numeric, errors="coerce")
    bad = values.columns[~np.isfinite(values.to_numpy(dtype=float)).all(axis=0)].tolist()
    if bad:
        raise _bad(file, f"its {POSTERIOR_FILE} has a value that is not a finite number in column {bad[0]}")
    weights = values["weight"].to_numpy(dtype=float)
    if (weights < 0).any() or not weights.sum() > 0:
        raise _bad(file, f"its {POSTERIOR_FILE} has weights that are negative or sum to zero")
    for key in point:
        lo, hi = ranges.get(key, (None, None))
        column = values[key]
        if (lo is not None and column.min() < lo) or (hi is not None and column.max() > hi):
            raise _bad(
                file,
                f"its {POSTERIOR_FILE} has {key} from {column.min():g} to {column.max():g}, outside the parameter's "
                f"declared range [{lo}, {hi}]",
            )
    prior.particles = values[list(point)].reset_index(drop=True)
    prior.weights = weights / weights.sum()
    return prior


def calibration_plan(
    configs: Mapping[str, Mapping[str, Any]],
    table: Mapping[str, tuple[Param, Uncertainty]],
    distributions: Mapping[str, Any],
    held: Sequence[str],
) -> tuple[list[str], dict[str, Any] | None]:
    """Where a calibrated comparison's fitted parameters come from, and the keys held at their set values.

    Args:
        configs: Each scenario's resolved configuration (plain containers).
        table: The uncertain parameters (:func:`sim.config.walk.uncertain_parameters`).
        distributions: The user's distributions (their keys win over the posterior).
        held: The keys held without a calibration (set away from the default by a scenario, an override or
            the calibrated file itself).

    Returns:
        The held keys, and the calibration's record (None without a calibration): the file, ``source``
        (``posterior`` or ``point``), the keys drawn from the posterior, the keys held at their fitted values,
        the fitted keys a scenario sets or ``distributions`` names, and each posterior's summary.

    Raises:
        ConfigError: If the calibration's files are missing or malformed (:func:`read_calibration`).
    """
    file = calibration_source(configs)
    if file is None:
        return list(held), None
    ranges = {key: (p.lo, p.hi) for key, (p, _) in table.items()}
    prior = read_calibration(file, ranges)
    by_user = [k for k in prior.keys if k in distributions]
    set_by_scenario = [
        k
        for k in prior.keys
        if k not in by_user and any(not _same(_value(c, k), prior.point[k]) for c in configs.values())
    ]
    free = [k for k in prior.keys if k not in by_user and k not in set_by_scenario]
    posterior = free if prior.has_posterior else []
    at_point = [] if prior.has_posterior else free
    # a fitted key differs from the default because of the calibration, not a scenario: drawn unless held above
    new_held = [k for k in held if k not in prior.keys or k in set_by_scenario]
    new_held += [k for k in at_point if k not in new_held]
    record = {
        "file": str(file),
        "name": file.parent.name + "/" + file.name,
        "source": "posterior" if prior.has_posterior else "point",
        "posterior_keys": posterior,
        "point_keys": at_point,
        "user_keys": by_user,
        "scenario_keys": set_by_scenario,
        "particles": 0 if prior.particles is None else len(prior.particles),
        "effective_particles": round(prior.effective_particles, 1),
        "parameters": _summaries(prior, table, posterior),
    }
    return new_held, record


def _value(config: Mapping[str, Any], key: str) -> Any:
    node: Any = config
    for part in key.split("."):
        node = node.get(part) if isinstance(node, Mapping) else None
    return node


def _same(value: Any, fitted: float) -> bool:
    return isinstance(value, int | float) and math.isclose(float(value), fitted, rel_tol=1e-9, abs_tol=1e-12)


def _summaries(
    prior: CalibrationPrior, table: Mapping[str, tuple[Param, Uncertainty]], posterior: Sequence[str]
) -> list[dict[str, Any]]:
    """Each fitted parameter's fitted value; a posterior key's median and 90% interval beside its declared one's."""
    rows = []
    for key in prior.keys:
        row: dict[str, Any] = {"key": key, "fitted": prior.point[key]}
        if key in posterior and prior.particles is not None and prior.weights is not None:
            values = prior.particles[key].to_numpy(dtype=float)
            row.update(
                median=weighted_quantile(values, prior.weights, 0.5),
                low=weighted_quantile(values, prior.weights, CREDIBLE[0]),
                high=weighted_quantile(values, prior.weights, CREDIBLE[1]),
            )
        entry = table.get(key)
        if entry is not None and entry[1].varied:
            low, high = (float(x) for x in entry[1].ppf(np.array(CREDIBLE)))
            row.update(declared=entry[1].describe(), declared_low=low, declared_high=high)
        rows.append(row)
    return rows


def posterior_sets(path: str | Path, n: int, u: np.ndarray, keys: Sequence[str]) -> pd.DataFrame:
    """The fitted parameters of ``n`` draws: the particles picked at ``u`` from the calibration at ``path``.

    Args:
        path: The calibrated file (``calibration.file`` of the plan).
        n: Number of draws.
        u: The design's points for the particle axis.
        keys: The keys drawn from the posterior.

    Returns:
        One row per draw (index ``draw``), one column per key.
    """
    prior = read_calibration(Path(path), {})
    picked = resample(prior, u)[list(keys)]
    picked.index = pd.RangeIndex(n, name="draw")
    return picked
