"""silosim-calibrate method=abc: each free parameter's prior is its declared distribution truncated to its bounds."""

from __future__ import annotations

import math
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error, run_main
from scipy import integrate, stats

from sim.experiments.calibration.abc import Posterior, posterior_markdown, posterior_rows, write_posterior
from sim.experiments.calibration.priors import FreePrior, free_priors
from sim.experiments.calibration.spec import FreeParameter, load_spec

# journey.first_contact_resolution is declared triangular(0.74, 0.79, 0.84): bounds 0.5-0.8 cut off its top
FCR = FreeParameter("first_contact_resolution", "journey.first_contact_resolution", 0.5, 0.8)
# customer.base_weekly_churn is declared triangular(0.0002, 0.0003, 0.0004), searched on a log scale
CHURN = FreeParameter("weekly_churn", "customer.base_weekly_churn", 0.00025, 0.01, log=True)
# a fixed fact (the currency scale): no distribution to take
VALUE = FreeParameter("value", "market.value_mean", 10.0, 40.0)


def _truncated_cdf(lo: float, hi: float) -> object:
    """The declared triangular of first-contact resolution truncated to [lo, hi], straight from scipy."""
    tri = stats.triang(c=0.5, loc=0.74, scale=0.1)
    a, b = tri.cdf(lo), tri.cdf(hi)
    return lambda v: np.clip((tri.cdf(v) - a) / (b - a), 0, 1)


def test_draws_follow_the_declared_distribution_truncated_to_the_bounds() -> None:
    prior = free_priors([FCR], "declared")[FCR.key]
    assert prior.declared is not None and prior.declared.describe() == "triangular(0.74, 0.79, 0.84)"
    assert prior.mass == pytest.approx(0.68)  # the triangle's mass below 0.8
    np.random.seed(3)  # the global generator pyabc seeds
    draws = prior.rvs(4000)
    assert draws.min() >= 0.74 and draws.max() <= 0.8
    assert stats.kstest(draws, _truncated_cdf(0.5, 0.8)).pvalue > 0.01
    # and not the untruncated triangle, nor the old uniform over the bounds
    assert stats.kstest(draws, stats.triang(c=0.5, loc=0.74, scale=0.1).cdf).pvalue < 1e-6
    assert stats.kstest(draws, stats.uniform(0.5, 0.3).cdf).pvalue < 1e-6
    np.random.seed(3)
    assert np.array_equal(prior.rvs(4000), draws)  # seeded, it repeats


def test_the_density_integrates_to_one_inside_the_bounds_and_is_zero_outside() -> None:
    prior = free_priors([FCR], "declared")[FCR.key]
    assert integrate.quad(lambda y: float(prior.pdf(y)), 0.5, 0.8, points=[0.74, 0.79])[0] == pytest.approx(1, abs=1e-6)
    assert prior.pdf(0.81) == 0 and prior.pdf(0.49) == 0 and prior.pdf(0.6) == 0  # outside, or outside the triangle
    assert prior.pdf(0.79) == pytest.approx(20 / 0.68)  # the triangle's peak, 2 / 0.1, over the mass kept
    assert prior.cdf(0.5) == 0 and prior.cdf(0.8) == pytest.approx(1)


def test_a_declared_range_from_the_defaults_own_calibration_is_no_prior_for_a_client() -> None:
    prior = free_priors([CHURN, FCR], "declared")
    assert prior[CHURN.key].declared is None  # basis "calibrated: ...": the fit replaces that calibration
    assert "the default's own calibration" in prior[CHURN.key].describe()
    assert prior[FCR.key].declared is not None  # basis: a source's range


def test_a_log_scale_particle_has_the_declared_density_transformed() -> None:
    from sim.config import checked_config
    from sim.config.walk import uncertain_parameters

    declared = uncertain_parameters(checked_config([]))[0][CHURN.key][1]  # as if the churn's range were a source's
    prior = FreePrior(CHURN.key, CHURN.lo, CHURN.hi, log=True, declared=declared)
    tri = stats.triang(c=0.5, loc=0.0002, scale=0.0002)
    kept = 1 - tri.cdf(0.00025)
    for v in (0.00026, 0.0003, 0.00035):  # f(e^y) e^y, truncated
        assert prior.pdf(math.log(v)) == pytest.approx(tri.pdf(v) * v / kept)
    low, high = prior.bounds
    assert (low, high) == (math.log(0.00025), math.log(0.01))
    total = integrate.quad(lambda y: float(prior.pdf(y)), low, high, points=[math.log(0.0003), math.log(0.0004)])[0]
    assert total == pytest.approx(1, abs=1e-6)
    np.random.seed(5)
    particles = prior.rvs(3000)
    assert low <= particles.min() and particles.max() <= math.log(0.0004)
    values = np.exp(particles)  # the value itself follows the declared triangle truncated at 0.00025
    assert stats.kstest(values, lambda v: np.clip((tri.cdf(v) - tri.cdf(0.00025)) / kept, 0, 1)).pvalue > 0.01
    # the value's density in the figure is the declared one, not the particle's
    assert prior.value_density(0.0003) == pytest.approx(tri.pdf(0.0003) / kept)


def test_no_declared_distribution_or_abc_prior_uniform_keeps_the_uniform_prior() -> None:
    priors = free_priors([FCR, VALUE], "declared")
    assert priors[VALUE.key].declared is None
    assert priors[VALUE.key].describe() == "uniform over [10, 40] (declared fixed)"
    assert priors[FCR.key].describe() == "triangular(0.74, 0.79, 0.84) within [0.5, 0.8]"
    uniform = free_priors([CHURN], "uniform")[CHURN.key]
    assert uniform.declared is None and uniform.describe() == "log-uniform over [0.00025, 0.01] (abc.prior=uniform)"
    low, high = uniform.bounds
    assert uniform.pdf(math.log(0.001)) == pytest.approx(1 / (high - low))


def test_the_pyabc_random_variable_pickles_and_draws_from_the_seeded_global_generator() -> None:
    pyabc = pytest.importorskip("pyabc")
    from sim.experiments.calibration.prior_rv import PriorRV

    rv = PriorRV(free_priors([FCR], "declared")[FCR.key])
    copy = pickle.loads(pickle.dumps(rv))  # noqa: S301 - pyabc's workers get it pickled
    joint = pyabc.Distribution(fcr=rv, other=pyabc.RV("uniform", 0, 1))
    np.random.seed(11)
    first = [joint.rvs() for _ in range(5)]
    np.random.seed(11)
    again = [pyabc.Distribution(fcr=copy, other=pyabc.RV("uniform", 0, 1)).rvs() for _ in range(5)]
    assert [dict(p) for p in first] == [dict(p) for p in again]
    assert joint.pdf({"fcr": 0.79, "other": 0.5}) == pytest.approx(20 / 0.68)
    assert joint.pdf({"fcr": 0.6, "other": 0.5}) == 0


def test_a_declared_distribution_outside_the_bounds_is_a_user_error(tmp_path: Path) -> None:
    args = [
        "target.first_contact_resolution=0.6",
        "method=abc",
        "calibrate.free.first_contact_resolution.hi=0.7",
        "out_dir=fit",
    ]
    out = run_main("silosim-calibrate", *args, cwd=tmp_path)
    assert_user_error(
        out,
        "silosim-calibrate",
        [
            "`calibrate.free.first_contact_resolution`",
            "[0.5, 0.7]",
            "`journey.first_contact_resolution`",
            "triangular(0.74, 0.79, 0.84)",
            "abc.prior=uniform",
        ],
    )
    assert not (tmp_path / "fit").exists()
    # the same bounds with abc.prior=uniform are a search the user may ask for
    spec = load_spec([*args[:3], "abc.prior=uniform", f"out_dir={tmp_path / 'uniform'}"])
    assert spec.abc is not None and spec.abc.priors["journey.first_contact_resolution"].declared is None
    out = run_main("silosim-calibrate", *args[:3], "abc.prior=normal", "out_dir=fit", cwd=tmp_path)
    assert_user_error(out, "silosim-calibrate", ["`abc.prior` is 'normal'", "declared, uniform"])


def test_a_database_begun_under_other_declared_priors_is_not_resumed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The priors come from the schema as well as the command: a study begun before a declared distribution
    changed is refused by name, never resumed under the new priors."""
    from sim.config import ConfigError
    from sim.experiments.calibration import priors
    from sim.experiments.calibration.spec import study_settings
    from sim.experiments.runs.studies import write_record

    args = ["target.first_contact_resolution=0.6", "method=abc", f"out_dir={tmp_path / 'fit'}"]
    spec = load_spec(args)
    assert spec.abc is not None
    write_record(spec.out_dir, study_settings(spec.config, spec.abc), spec.command)  # as the calibration begins
    assert load_spec(args).resumed  # the same command, the same priors: resumed
    declared = priors.free_priors

    def widened(free: list[FreeParameter], kind: str) -> dict[str, FreePrior]:  # as if the schema's range moved
        out = declared(free, kind)
        fcr = out["journey.first_contact_resolution"]
        out[fcr.key] = FreePrior(fcr.key, fcr.lo, fcr.hi, fcr.log, uniform_because="a changed declaration")
        return out

    monkeypatch.setattr(priors, "free_priors", widened)
    with pytest.raises(ConfigError, match=r"holds a silosim-calibrate study of other settings \(priors\."):
        load_spec(args)


def test_the_posterior_report_and_figure_show_each_prior(tmp_path: Path) -> None:
    spec = load_spec(
        [
            "target.first_contact_resolution=0.78",
            "method=abc",
            *[f"~calibrate.free.{n}" for n in ("attitude", "weekly_churn", "failure_scale", "renewal", "acquisition")],
            "calibrate.free.first_contact_resolution.hi=0.8",
            "+calibrate.free.value={key: market.value_mean, lo: 10, hi: 40}",
            f"out_dir={tmp_path / 'fit'}",
        ]
    )
    rng = np.random.default_rng(0)
    particles = pd.DataFrame(
        {"journey.first_contact_resolution": rng.uniform(0.77, 0.79, 50), "market.value_mean": rng.uniform(10, 40, 50)}
    )
    posterior = Posterior(particles, np.ones(50), generations=2, simulations=120, epsilon=0.5)
    rows = {r["key"]: r for r in posterior_rows(spec, posterior)}
    fcr = rows["journey.first_contact_resolution"]
    assert fcr["prior"] == "triangular(0.74, 0.79, 0.84) within [0.5, 0.8]"
    assert 0.74 < fcr["prior_ci90_low"] < fcr["prior_ci90_high"] < 0.8
    assert fcr["share_of_prior"] < 0.6  # narrower than the prior's own 90% interval
    text = posterior_markdown(spec, posterior)
    assert "| triangular(0.74, 0.79, 0.84) within [0.5, 0.8] |" in text
    assert "uniform over [10, 40] (declared fixed)" in text
    assert "Uniform over the search bounds (declared fixed): market.value_mean." in text
    (tmp_path / "out").mkdir()
    write_posterior(spec, posterior, tmp_path / "out")
    assert (tmp_path / "out" / "posterior.png").stat().st_size > 10_000


def test_a_free_prior_is_plain_data() -> None:
    prior = free_priors([FCR], "declared")[FCR.key]
    assert isinstance(prior, FreePrior) and pickle.loads(pickle.dumps(prior)) == prior  # noqa: S301
