"""Fitting: the simulated targets, the loss, the resumable evaluator and the methods (least squares, TPE, ABC)."""

from __future__ import annotations

import contextlib
import dataclasses
import itertools
import math
from typing import TYPE_CHECKING, Any

from sim.config import find, validate, with_values
from sim.experiments.analysis.outcomes import OUTCOMES
from sim.experiments.analysis.statistics import Interval
from sim.experiments.calibration.spec import STUDY_NAME, TARGETS, CalibrationResult, CalibrationSpec, study_settings
from sim.experiments.replications import mean_ci, measuring, run_replications
from sim.experiments.runs.studies import open_study, optimize_until, replayable_tpe, trials_in, write_record

if TYPE_CHECKING:
    from collections.abc import Callable


__all__ = [
    "calibrate",
]


# ------------------------------------------------------------------------------ fitting
def _simulate(spec: CalibrationSpec, params: dict[str, float], seeds: list[int]) -> dict[str, Interval]:
    """The targets' outcomes over ``seeds`` at ``params``: the model as every run simulates it.

    Trials and the report alike run the departments' local search. Holding the levers where they start
    would make the response smoother but biased: the levers settle elsewhere when the parameters move (at
    a high-retention setting such as the SaaS preset, held levers gave annual retention 0.80 where the
    model gives 0.90), so the fit would aim at figures no run produces.
    """
    cfg = with_values(spec.base, params)
    validate(cfg)
    outcomes = {name: TARGETS[name][0] for name in spec.targets}
    runs = run_replications(cfg, seeds, measuring(list(outcomes.values())), jobs=spec.jobs, backend=spec.backend)
    return {name: mean_ci(r[outcome] for r in runs) for name, outcome in outcomes.items()}


def _loss(spec: CalibrationSpec, sim: dict[str, Interval]) -> float:
    total = 0.0
    for name, target in spec.targets.items():
        mean = sim[name].mean
        total += ((mean - target) / spec.tolerance[name]) ** 2 if math.isfinite(mean) else 1e12
    return total


def fmt_target(name: str, value: float) -> str:
    """A target value printed the way its outcome is (``+12.0``, ``0.860``)."""
    return OUTCOMES[TARGETS[name][0]].format(value)


def ci_text(name: str, interval: Interval) -> str:
    return f"{fmt_target(name, interval.low)} to {fmt_target(name, interval.high)}"


class _BudgetSpentError(Exception):
    """Raised inside the optimiser when every allowed trial has been run."""


def _interval(payload: dict[str, float]) -> Interval:
    return Interval(payload["mean"], payload["low"], payload["high"], int(payload["n"]))


class _Evaluator:
    """Runs trials against the study (the history), reuses trials it already holds, prints a line per trial.

    Every simulated setting is a complete trial of the study, with the replications' means and
    intervals as user attributes. A setting the study already holds is not simulated again: a resumed
    least-squares fit replays its deterministic path through the finished trials at no cost, and carries
    on where the interrupted one stopped.
    """

    def __init__(self, spec: CalibrationSpec, study: Any, progress: Callable[[str], None]) -> None:
        self.spec = spec
        self.study = study
        self.progress = progress
        self.history: list[dict[str, Any]] = []
        self._known: dict[tuple[float, ...], dict[str, Interval]] = {}
        self.reload()

    def reload(self) -> None:
        """Read the complete trials of the study (other workers may have added some)."""
        complete, _ = trials_in(self.study)
        self.history = [self._row(t.number, t.user_attrs) for t in complete]
        for t in complete:
            params = t.user_attrs["params"]
            self._known[self._key(params)] = {k: _interval(v) for k, v in t.user_attrs["sim"].items()}

    def _key(self, params: dict[str, float]) -> tuple[float, ...]:
        return tuple(float(params[f.key]) for f in self.spec.free)

    def _row(self, number: int, attrs: dict[str, Any]) -> dict[str, Any]:
        sims = {f"sim_{k}": v["mean"] for k, v in attrs["sim"].items()}
        return {"trial": number, **attrs["params"], **sims, "loss": attrs["loss"]}

    def cached(self, params: dict[str, float]) -> dict[str, Interval] | None:
        """The simulated figures of a setting the study already holds, or None."""
        return self._known.get(self._key(params))

    def simulate(self, params: dict[str, float]) -> tuple[dict[str, Interval], float, dict[str, Any]]:
        """Simulate one setting; returns its figures, its loss and the trial's user attributes."""
        sim = _simulate(self.spec, params, self.spec.fit_seeds)
        loss = _loss(self.spec, sim)
        attrs = {"params": params, "sim": {k: dataclasses.asdict(v) for k, v in sim.items()}, "loss": loss}
        return sim, loss, attrs

    def record(self, number: int, attrs: dict[str, Any]) -> None:
        """Add a finished trial to the history and print its progress line."""
        self._known[self._key(attrs["params"])] = {k: _interval(v) for k, v in attrs["sim"].items()}
        self.history.append(self._row(number, attrs))
        best, spec = self.best, self.spec
        shown = ", ".join(f"{k} {fmt_target(k, best[f'sim_{k}'])}" for k in spec.targets)
        self.progress(
            f"trial {len(self.history)}/{spec.trials}  loss {attrs['loss']:8.3f}  |  best so far: trial "
            f"{best['trial'] + 1}, loss {best['loss']:.3f} ({shown})"
        )

    def __call__(self, params: dict[str, float]) -> dict[str, Interval]:
        """A least-squares evaluation: from the study if it holds the setting, else simulated and added to it."""
        import optuna

        known = self.cached(params)
        if known is not None:
            return known
        if len(self.history) >= self.spec.trials or self.close_enough:
            raise _BudgetSpentError
        sim, loss, attrs = self.simulate(params)
        values = {f.name: params[f.key] for f in self.spec.free}
        trial = optuna.trial.create_trial(
            params=values, distributions=_distributions(self.spec), value=loss, user_attrs=attrs
        )
        self.study.add_trial(trial)
        self.record(len(self.study.get_trials(deepcopy=False)) - 1, attrs)
        return sim

    @property
    def best(self) -> dict[str, Any]:
        return min(self.history, key=lambda h: h["loss"])

    @property
    def close_enough(self) -> bool:
        """The best trial misses every target by at most half its tolerance: stop searching, report the fit."""
        if not self.history:
            return False
        best = self.best
        return all(abs(best[f"sim_{k}"] - t) <= 0.5 * self.spec.tolerance[k] for k, t in self.spec.targets.items())


def _distributions(spec: CalibrationSpec) -> dict[str, Any]:
    """Optuna's search space of the free parameters (named by their ``calibrate.free`` name)."""
    from optuna.distributions import FloatDistribution, IntDistribution

    return {
        f.name: IntDistribution(math.ceil(f.lo), math.floor(f.hi), log=f.log)
        if f.integer
        else FloatDistribution(f.lo, f.hi, log=f.log)
        for f in spec.free
    }


def _start(spec: CalibrationSpec) -> dict[str, float]:
    """The current values of the free parameters, clipped into their bounds."""
    return {f.key: min(max(float(find(spec.base, f.key).value), f.lo), f.hi) for f in spec.free}


def _fit_least_squares(spec: CalibrationSpec, evaluate: _Evaluator) -> None:
    """Bounded least squares (scipy, trust-region reflective) on the tolerance-scaled misses.

    Parameters are mapped to [0, 1] (log-scaled where declared); the Jacobian is taken by finite
    differences of 10% of each range, which common random numbers keep smooth enough. The departments'
    local search still makes the response rough (a changed parameter changes which lever moves they
    keep), so when the solver stops early it restarts from the best trial so far, alternating wider and
    narrower difference steps, until the trial budget is spent or every target is within half its
    tolerance. A weak pull toward the starting values (``PRIOR_WEIGHT``) keeps parameters that no target
    needs at their defaults. The path is deterministic, so a resumed fit replays the trials the study
    holds and continues.
    """
    import numpy as np
    from scipy.optimize import least_squares

    free = spec.free

    def to_params(u: np.ndarray) -> dict[str, float]:
        out = {}
        for f, x in zip(free, np.clip(u, 0.0, 1.0), strict=True):
            v = math.exp(math.log(f.lo) + x * (math.log(f.hi) - math.log(f.lo))) if f.log else f.lo + x * (f.hi - f.lo)
            out[f.key] = round(v) if f.integer else float(v)
        return out

    def to_unit(params: dict[str, float]) -> np.ndarray:
        return np.array(
            [
                (math.log(params[f.key]) - math.log(f.lo)) / (math.log(f.hi) - math.log(f.lo))
                if f.log
                else (params[f.key] - f.lo) / (f.hi - f.lo)
                for f in free
            ]
        )

    u = start = np.clip(to_unit(_start(spec)), 0.0, 1.0)

    def residuals(u: np.ndarray) -> np.ndarray:
        sim = evaluate(to_params(u))
        misses = [
            (sim[k].mean - t) / spec.tolerance[k] if math.isfinite(sim[k].mean) else 1e6
            for k, t in spec.targets.items()
        ]
        # a weak pull toward the starting values: with fewer targets than free parameters, the ones no target
        # needs stay where they were (moving one across its whole range costs a quarter of a tolerance squared)
        return np.concatenate([misses, PRIOR_WEIGHT * (np.clip(u, 0.0, 1.0) - start)])

    with contextlib.suppress(_BudgetSpentError):
        for step in itertools.cycle(DIFF_STEPS):  # until the trial budget is spent
            least_squares(residuals, u, bounds=(0.0, 1.0), method="trf", diff_step=step, max_nfev=spec.trials)
            u = np.clip(to_unit({k: evaluate.best[k] for k in (f.key for f in free)}), 0.0, 1.0)


def _fit_tpe(spec: CalibrationSpec, evaluate: _Evaluator) -> None:
    """Optuna's TPE sampler on the tolerance-scaled loss, starting from the current values.

    Several workers may share the study (``out_dir``); each stops when the study holds ``trials``
    complete trials.
    """
    import optuna

    study = evaluate.study
    if not study.get_trials(deepcopy=False):
        start = _start(spec)
        study.enqueue_trial({f.name: round(start[f.key]) if f.integer else start[f.key] for f in spec.free})

    def objective(trial: optuna.Trial) -> float:
        params = {}
        for f in spec.free:
            if f.integer:
                params[f.key] = trial.suggest_int(f.name, math.ceil(f.lo), math.floor(f.hi), log=f.log)
            else:
                params[f.key] = trial.suggest_float(f.name, f.lo, f.hi, log=f.log)
        _, loss, attrs = evaluate.simulate(params)
        for key, value in attrs.items():
            trial.set_user_attr(key, value)
        evaluate.record(trial.number, attrs)
        return loss

    optimize_until(study, objective, spec.trials, len(evaluate.history), lambda: evaluate.close_enough)
    evaluate.reload()


def _sampler(spec: CalibrationSpec, done: int) -> Any:
    """The study's sampler: TPE whose proposals depend only on the sampler seed and the complete trials.

    A resumed TPE study therefore proposes what the uninterrupted one would have (``done`` is not needed and
    kept for the callers); the least-squares fit adds its own trials, so the sampler does not matter there.
    """
    return replayable_tpe(spec.sampler_seed, multivariate=True, n_startup_trials=max(1, min(10, spec.trials // 3)))


PRIOR_WEIGHT = 0.5  # least squares: residual per free parameter, per unit of its range, toward its start
DIFF_STEPS = (0.1, 0.05, 0.2)  # finite-difference steps of the successive least-squares restarts (share of range)
# optimise: the point fit by its general name (least squares), beside the Bayesian fit the uncertainty work adds
METHODS = {"least_squares": _fit_least_squares, "tpe": _fit_tpe, "optimise": _fit_least_squares}


def calibrate(spec: CalibrationSpec, progress: Callable[[str], None] = print) -> CalibrationResult:
    """Fit the free parameters (resuming the study in ``spec.out_dir``), then report the best fit on fresh seeds.

    A target is met when it lies within the 95% CI of the reported mean widened by the target's
    tolerance, the CI counting at most one tolerance (so too few replications cannot make any
    target look met): ``|mean - target| <= tolerance + min(CI half-width, tolerance)``.

    Args:
        spec: The validated specification (``spec.method``: ``least_squares`` or ``tpe``).
        progress: Called with one line per trial (trial k/n, its loss, the best so far).

    Returns:
        The fit, its report and the trial history.
    """
    if spec.method == "abc":
        return _calibrate_abc(spec, progress)
    write_record(spec.out_dir, study_settings(spec.config), spec.command)
    probe = open_study(spec.out_dir, STUDY_NAME, ["minimize"], _sampler(spec, 0))
    complete, running = trials_in(probe)
    if complete or running:
        note = f"; {running} trial(s) left running by an interrupted worker are not counted" if running else ""
        progress(f"resuming the study in {spec.out_dir}: {len(complete)} of {spec.trials} trials done{note}")
    study = open_study(spec.out_dir, STUDY_NAME, ["minimize"], _sampler(spec, len(complete)))
    evaluate = _Evaluator(spec, study, progress)
    METHODS[spec.method](spec, evaluate)
    best = evaluate.best
    params = {f.key: best[f.key] for f in spec.free}
    progress(f"re-running the best fit (trial {best['trial'] + 1}) on {spec.report_replications} fresh seeds ...")
    report = _simulate(spec, params, spec.report_seeds)
    return CalibrationResult(
        params=params, report=report, met=_met(spec, report), trials=evaluate.history, best_trial=int(best["trial"])
    )


def _calibrate_abc(spec: CalibrationSpec, progress: Callable[[str], None]) -> CalibrationResult:
    """ABC-SMC (:mod:`sim.experiments.calibration.abc`), then the posterior median reported on fresh seeds."""
    from sim.experiments.calibration.abc import predictive_check, run_abc

    assert spec.abc is not None  # noqa: S101 - load_spec sets it for method=abc
    write_record(spec.out_dir, study_settings(spec.config, spec.abc), spec.command)
    posterior = run_abc(spec, spec.abc, progress)
    progress(f"posterior predictive check: the targets at {spec.report_replications} posterior draws ...")
    posterior.check = predictive_check(spec, posterior, spec.report_replications)
    params = posterior.median()
    params = {f.key: float(round(params[f.key])) if f.integer else params[f.key] for f in spec.free}
    progress(f"re-running the posterior median on {spec.report_replications} fresh seeds ...")
    report = _simulate(spec, params, spec.report_seeds)
    met = _met(spec, report)
    particles = posterior.particles.assign(weight=posterior.weights)
    trials = [{"trial": i, **row} for i, row in enumerate(particles.to_dict("records"))]
    return CalibrationResult(params=params, report=report, met=met, trials=trials, best_trial=0, posterior=posterior)


def _met(spec: CalibrationSpec, report: dict[str, Interval]) -> dict[str, bool]:
    met = {}
    for name, target in spec.targets.items():
        r = report[name]
        tol = spec.tolerance[name]
        met[name] = bool(math.isfinite(r.mean) and abs(r.mean - target) <= tol + min(r.half_width, tol))
    return met
