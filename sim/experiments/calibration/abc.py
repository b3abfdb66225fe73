"""Bayesian calibration: approximate Bayesian computation with sequential Monte Carlo (pyabc).

``silosim-calibrate method=abc`` fits the same declared free parameters to the same targets as the
point fit, but returns a posterior: the parameter settings whose simulated targets come close to the
observed ones, weighted. pyabc is the well-kept library for simulation models: the model is a
function from parameters to summary statistics (here one replication of the baseline, its targets),
priors and the distance are declared objects, and every generation is kept in an SQLite database
(``abc.db`` in ``out_dir``), so a killed calibration resumes from its last finished generation when
the same command is run again.

* **Priors** (``abc.prior``; :mod:`sim.experiments.calibration.priors`): ``declared`` (the default), each free
  parameter's declared uncertainty (the distribution ``silosim-compare uncertainty=parameters`` draws from,
  docs/parameters.md) truncated to its search bounds (``calibrate.free``); a parameter with none (or ``fixed``), or
  whose declared range is the default baseline's own calibration (which this fit replaces), keeps the uniform prior
  over its bounds, and ``posterior.md`` says so. A log-scale search moves ``log(value)`` with the declared density
  transformed, so the value's prior is the same. ``uniform``: uniform over every parameter's bounds (log-uniform for
  a log-scale one), for a client outside a declared range (first-contact resolution below the source's 0.74).
* **Distance**: the Euclidean distance of the simulated targets from the observed ones, each in units
  of its tolerance (with ``data=``, the target's 95% sampling half-width), so a target the data pin
  down tightly weighs more than a noisy one.
* **Population** ``abc.population`` particles a generation, ``abc.generations`` generations (the
  acceptance threshold is the median distance of the previous one, pyabc's default); particles run on
  ``jobs`` processes. Each particle is one replication on its own seed, so the posterior carries the
  model's own noise as well as the data's. With ``jobs=1`` the run repeats exactly (pyabc's draws are
  seeded from ``sampler_seed``); on several processes pyabc seeds each worker afresh.

Outputs beside the point-fit files: ``posterior.csv`` (the last generation: parameters and weights),
``posterior.md`` (each parameter's prior, its posterior median and 90% credible interval against the
prior's, and the posterior predictive check), ``predictive_check.csv`` (the targets simulated at
``report_replications`` settings drawn from the posterior, against the observed values and their
intervals), ``posterior.png`` (the marginal posteriors, each with its prior's density). ``calibrated.yaml`` holds
the posterior median, re-run on fresh seeds and reported like a point fit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import re
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.config import ConfigError, validate, with_values
from sim.experiments.replications import measuring, run_configurations, run_replications
from sim.experiments.runs.executor import Backend, abc_sampler

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

    from sim.experiments.calibration.priors import FreePrior
    from sim.experiments.calibration.spec import CalibrationSpec, FreeParameter

__all__ = [
    "ABC_DB",
    "AbcSettings",
    "Posterior",
    "abc_settings",
    "posterior_markdown",
    "posterior_rows",
    "predictive_check",
    "run_abc",
    "weighted_quantile",
    "write_posterior",
]

ABC_DB = "abc.db"
CREDIBLE = 0.90  # the credible interval reported


@dataclasses.dataclass(frozen=True)
class AbcSettings:
    """How large the ABC-SMC run is, and its priors (``abc.prior``: ``declared`` or ``uniform``), by free key."""

    population: int
    generations: int
    prior: str = "declared"
    priors: dict[str, FreePrior] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Posterior:
    """The last generation of an ABC-SMC run: particles (parameter keys as columns) and their weights."""

    particles: pd.DataFrame
    weights: np.ndarray
    generations: int
    simulations: int
    epsilon: float
    check: pd.DataFrame | None = None  # the posterior predictive check, once run

    def quantile(self, key: str, q: float) -> float:
        """A weighted quantile of one parameter."""
        return weighted_quantile(self.particles[key].to_numpy(float), self.weights, q)

    def median(self) -> dict[str, float]:
        """The weighted posterior median of every parameter."""
        return {k: self.quantile(k, 0.5) for k in self.particles.columns}


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of weighted values (the smallest value whose cumulative weight reaches ``q``).

    >>> weighted_quantile(np.array([1.0, 2.0, 3.0]), np.array([0.2, 0.3, 0.5]), 0.5)
    2.0
    """
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cumulative, q), values.size - 1)])


def abc_settings(node: Any, free: list[FreeParameter]) -> AbcSettings:
    """``abc.population`` (at least 4), ``abc.generations`` (at least 1) and ``abc.prior``, with the free priors.

    Raises:
        ConfigError: A setting out of range, or a declared prior with (almost) no mass inside its search bounds.
    """
    from sim.experiments.calibration.priors import free_priors

    values: dict[str, Any] = {}
    for key, least in (("population", 4), ("generations", 1)):
        value = node.get(key) if node is not None else None
        if isinstance(value, bool) or not isinstance(value, int) or value < least:
            raise ConfigError(f"`abc.{key}` is {value!r}, but it must be a whole number of at least {least}.")
        values[key] = value
    prior = str(node.get("prior", "declared")) if node is not None else "declared"
    return AbcSettings(**values, prior=prior, priors=free_priors(free, prior))


def _priors(spec: CalibrationSpec) -> dict[str, FreePrior]:
    """The free parameters' priors (those of ``abc.prior``; declared ones for a spec without ABC settings)."""
    if spec.abc is not None and spec.abc.priors:
        return spec.abc.priors
    from sim.experiments.calibration.priors import free_priors

    return free_priors(spec.free, spec.abc.prior if spec.abc is not None else "declared")


def _name(f: FreeParameter) -> str:
    return f"log_{f.name}" if f.log else f.name


def _value(f: FreeParameter, x: float) -> float:
    v = math.exp(x) if f.log else float(x)
    return float(round(v)) if f.integer else v


def run_abc(spec: CalibrationSpec, settings: AbcSettings, progress: Callable[[str], None] = print) -> Posterior:
    """Run (or resume) ABC-SMC for ``spec``'s free parameters and targets; the database is ``out_dir/abc.db``.

    Args:
        spec: The validated calibration (targets, tolerances, free parameters, baseline, jobs, out_dir).
        settings: Population and generations.
        progress: Called with one line per generation.

    Returns:
        The posterior of the last generation.
    """
    import pyabc

    with _generations_reported(settings.generations, progress):  # pyabc's log: one line a generation
        free = spec.free
        outcomes = _outcomes(spec)
        base = spec.base

        def model(p: dict[str, float]) -> dict[str, float]:
            params = {f.key: _value(f, p[_name(f)]) for f in free}
            # one replication on a seed of its own: the same parameters always give the same figures
            seed = base.seed + 100_000 + zlib.crc32(repr(sorted(params.items())).encode()) % 1_000_000
            cfg = with_values(base, params)
            validate(cfg)
            run = run_replications(cfg, [seed], measuring(list(outcomes.values())), jobs=1)[0]
            return {
                name: float(run[outcome]) if math.isfinite(run[outcome]) else 1e6 for name, outcome in outcomes.items()
            }

        from sim.experiments.calibration.prior_rv import PriorRV

        declared = _priors(spec)
        priors: dict[str, Any] = {}
        for f in free:
            prior = declared[f.key]
            if prior.declared is None:  # uniform over the bounds (in log space for a log-scale search)
                lo, hi = prior.bounds
                priors[_name(f)] = pyabc.RV("uniform", lo, hi - lo)
            else:  # the declared distribution, truncated to the bounds
                priors[_name(f)] = PriorRV(prior)
        distance = pyabc.PNormDistance(p=2, fixed_weights={k: 1.0 / spec.tolerance[k] for k in spec.targets})
        backend = spec.backend or Backend("local", spec.jobs)
        sampler = abc_sampler(backend, spec.jobs)  # the executor's backend: one core, this machine's, or Dask
        single = isinstance(sampler, pyabc.sampler.SingleCoreSampler)
        if single:  # one process: pyabc draws from numpy's global generator, seeded here, so the run repeats
            np.random.seed(spec.sampler_seed + 1000)
        abc = pyabc.ABCSMC(
            model, pyabc.Distribution(**priors), distance, population_size=settings.population, sampler=sampler
        )
        db_path = (spec.out_dir / ABC_DB).resolve()
        db = f"sqlite:///{db_path}"
        done = 0
        if db_path.exists():
            history = pyabc.History(db)
            done = history.max_t + 1 if history.n_populations else 0
            abc.load(db, history.id)
            progress(f"resuming the ABC-SMC run in {db_path}: {done} of {settings.generations} generations done")
        else:
            spec.out_dir.mkdir(parents=True, exist_ok=True)
            abc.new(db, dict(spec.targets))
        remaining = settings.generations - done
        if remaining > 0:
            # all in one call: pyabc adapts the threshold only within a run (one generation a call keeps the first one)
            abc.run(max_nr_populations=remaining)
        history = pyabc.History(db)
        frame, weights = history.get_distribution(m=0, t=history.max_t)
        particles = pd.DataFrame({f.key: [_value(f, x) for x in frame[_name(f)]] for f in free})
        pops = history.get_all_populations()
        return Posterior(
            particles=particles,
            weights=np.asarray(weights, float),
            generations=history.max_t + 1,
            simulations=int(pops["samples"].sum()),
            epsilon=float(pops["epsilon"].iloc[-1]),
        )


@contextlib.contextmanager
def _generations_reported(total: int, progress: Callable[[str], None]) -> Iterator[None]:
    """Quiet pyabc's log but for one progress line as each generation starts, with its threshold."""
    import logging

    class Generations(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            match = re.match(r"t: (\d+), eps: (\S+?)\.?$", record.getMessage())
            if match:
                progress(f"generation {int(match.group(1)) + 1}/{total}  epsilon {float(match.group(2)):.3f}")

    logger = logging.getLogger("ABC")
    saved = (logger.handlers[:], logger.level, logger.propagate)
    quiet = {name: logging.getLogger(name).level for name in logging.root.manager.loggerDict if name.startswith("ABC.")}
    logger.handlers, logger.propagate = [Generations()], False
    logger.setLevel(logging.INFO)
    for name in quiet:
        logging.getLogger(name).setLevel(logging.WARNING)
    try:
        yield
    finally:
        logger.handlers, level, logger.propagate = saved
        logger.setLevel(level)
        for name, old_level in quiet.items():
            logging.getLogger(name).setLevel(old_level)


def _outcomes(spec: CalibrationSpec) -> dict[str, str]:
    from sim.experiments.calibration.spec import TARGETS

    return {name: TARGETS[name][0] for name in spec.targets}


def predictive_check(spec: CalibrationSpec, posterior: Posterior, draws: int) -> pd.DataFrame:
    """Posterior predictive check: the targets simulated at ``draws`` settings drawn from the posterior.

    Each draw is one replication on a fresh seed (``seed + 20000 + i``); the table gives, per target, the
    observed value and its interval (the records' 95% interval, or the target plus or minus its tolerance),
    the 5%, 50% and 95% quantiles of the simulated values, and the share of them inside the observed interval.
    """
    rng = np.random.default_rng(spec.sampler_seed + 2000)
    picks = rng.choice(len(posterior.particles), size=draws, p=posterior.weights / posterior.weights.sum())
    outcomes = _outcomes(spec)
    simulated: dict[str, list[float]] = {name: [] for name in outcomes}
    configs = []
    for i, row in enumerate(picks):
        params = {f.key: float(posterior.particles[f.key].iloc[row]) for f in spec.free}
        cfg = with_values(spec.base, params)
        validate(cfg)
        configs.append(dataclasses.replace(cfg, seed=spec.base.seed + 20_000 + i))
    backend = spec.backend or Backend("local", spec.jobs)  # the draws in parallel, through the executor
    for run in run_configurations(configs, measuring(list(outcomes.values())), backend):
        for name, outcome in outcomes.items():
            simulated[name].append(float(run[outcome]))
    rows = []
    for name, target in spec.targets.items():
        measured = spec.record_targets.targets.get(name) if spec.record_targets is not None else None
        low, high = (
            (measured.low, measured.high)
            if measured
            else (target - spec.tolerance[name], target + spec.tolerance[name])
        )
        values = np.array(simulated[name])
        rows.append(
            {
                "target": name,
                "observed": target,
                "observed_low": low,
                "observed_high": high,
                "simulated_q05": float(np.quantile(values, 0.05)),
                "simulated_median": float(np.median(values)),
                "simulated_q95": float(np.quantile(values, 0.95)),
                "share_inside": float(np.mean((values >= low) & (values <= high))),
                "draws": draws,
            }
        )
    return pd.DataFrame(rows)


def posterior_rows(spec: CalibrationSpec, posterior: Posterior) -> list[dict[str, Any]]:
    """Each free parameter's prior, posterior median and 90% credible interval.

    ``share_of_prior`` is the width of the posterior's 90% interval over that of the prior's (on a log scale for a
    log-scale parameter): near 1, the targets did not narrow the prior.
    """
    lo_q, hi_q = (1 - CREDIBLE) / 2, 1 - (1 - CREDIBLE) / 2
    priors = _priors(spec)
    rows = []
    for f in spec.free:
        low, high = posterior.quantile(f.key, lo_q), posterior.quantile(f.key, hi_q)
        prior_low, prior_high = priors[f.key].interval(CREDIBLE)
        if f.log:
            share = (math.log(high) - math.log(low)) / (math.log(prior_high) - math.log(prior_low))
        else:
            share = (high - low) / (prior_high - prior_low)
        rows.append(
            {
                "name": f.name,
                "key": f.key,
                "median": posterior.quantile(f.key, 0.5),
                "ci90_low": low,
                "ci90_high": high,
                "prior": priors[f.key].describe(),
                "prior_low": f.lo,
                "prior_high": f.hi,
                "prior_ci90_low": prior_low,
                "prior_ci90_high": prior_high,
                "share_of_prior": share,
            }
        )
    return rows


def posterior_markdown(spec: CalibrationSpec, posterior: Posterior) -> str:
    """The posterior and its predictive check as small Markdown tables (also printed)."""
    lines = [
        f"# Posterior (ABC-SMC): {posterior.generations} generations, {posterior.simulations:,} simulations, "
        f"final epsilon {posterior.epsilon:.3f}",
        "",
        (
            "Each prior is uniform over the parameter's search bounds (abc.prior=uniform)."
            if spec.abc is not None and spec.abc.prior == "uniform"
            else "Each prior is the parameter's declared uncertainty (docs/parameters.md) truncated to its search "
            "bounds, or uniform over the bounds where the row says why."
        )
        + " A parameter whose 90% interval is still nearly as wide as its prior's is not pinned down by these "
        "targets.",
        "",
        "| parameter | key | prior | median | 90% credible interval | prior's 90% interval | interval / prior's |",
        "|---|---|---|---|---|---|---|",
    ]
    rows = posterior_rows(spec, posterior)
    for r in rows:
        lines.append(
            f"| {r['name']} | `{r['key']}` | {r['prior']} | {r['median']:.4g} | {r['ci90_low']:.4g} to "
            f"{r['ci90_high']:.4g} | {r['prior_ci90_low']:.4g} to {r['prior_ci90_high']:.4g} | "
            f"{r['share_of_prior']:.0%} |"
        )
    priors = _priors(spec)
    reasons: dict[str, list[str]] = {}
    for k, p in priors.items():
        if p.declared is None and p.uniform_because != "abc.prior=uniform":
            reasons.setdefault(p.uniform_because, []).append(k)
    for because, keys in reasons.items():
        lines += ["", f"Uniform over the search bounds ({because}): {', '.join(keys)}."]
    if posterior.check is not None:
        lines += [
            "",
            f"Posterior predictive check: the targets simulated at {int(posterior.check['draws'].iloc[0])} settings "
            "drawn from the posterior (one replication each), against the observed values.",
            "",
            "| target | observed (interval) | simulated 5% to 95% (median) | simulated inside the interval |",
            "|---|---|---|---|",
        ]
        for r in posterior.check.itertuples(index=False):
            lines.append(
                f"| {r.target} | {r.observed:.4g} ({r.observed_low:.4g} to {r.observed_high:.4g}) | "
                f"{r.simulated_q05:.4g} to {r.simulated_q95:.4g} ({r.simulated_median:.4g}) | {r.share_inside:.0%} |"
            )
    return "\n".join(lines) + "\n"


def write_posterior(spec: CalibrationSpec, posterior: Posterior, out: Path) -> list[Path]:
    """``posterior.csv`` (particles and weights), ``posterior.md``, and ``posterior.png`` (marginal posteriors)."""
    import matplotlib as mpl
    from matplotlib.figure import Figure

    from sim.experiments.runs.files import atomic_write

    frame = posterior.particles.assign(weight=posterior.weights / posterior.weights.sum())
    files = [
        atomic_write(out / "posterior.csv", lambda tmp: frame.to_csv(tmp, index=False)),
        atomic_write(out / "posterior.md", lambda tmp: tmp.write_text(posterior_markdown(spec, posterior))),
    ]
    if posterior.check is not None:
        files.append(atomic_write(out / "predictive_check.csv", lambda tmp: posterior.check.to_csv(tmp, index=False)))
    with mpl.rc_context({"axes.spines.top": False, "axes.spines.right": False}):
        fig = Figure(figsize=(3.2 * len(spec.free), 3.4), layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(spec.free)))
        priors = _priors(spec)
        for ax, f in zip(axes, spec.free, strict=True):
            values = posterior.particles[f.key].to_numpy(float)
            low, high = priors[f.key].support()  # where the prior lives: a declared one, often inside the bounds
            edges = np.geomspace(low, high, 21) if f.log else np.linspace(low, high, 21)
            ax.hist(values, bins=edges, weights=posterior.weights, density=True, color="#0072B2", alpha=0.8)
            xs = np.geomspace(low, high, 400) if f.log else np.linspace(low, high, 400)
            ax.plot(xs, priors[f.key].value_density(xs), color="0.45", linewidth=1.2, label="prior")
            if f.log:
                ax.set_xscale("log")
            ax.set_xlim(low, high)
            ax.set_title(f.name, loc="left")
            ax.set_xlabel(f"{f.key} (the prior's range)")
            ax.set_ylabel("Density")
        axes[0].legend(frameon=False, fontsize="small")
        fig.suptitle("Marginal posteriors (ABC-SMC, last generation); grey: prior", x=0.01, ha="left")
        files.append(atomic_write(out / "posterior.png", lambda tmp: fig.savefig(tmp, format="png", dpi=110)))
    return files
