"""silosim-calibrate: recovering a known baseline, unreachable targets, bad input, and the calibrated file."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
import pytest
import yaml
from conftest import assert_user_error, run_command, run_main

from sim.config import ConfigError, checked_config, with_values
from sim.experiments.analysis.statistics import Interval
from sim.experiments.calibration.fit import calibrate
from sim.experiments.calibration.outputs import bound_warning, write_outputs
from sim.experiments.calibration.spec import TARGETS, CalibrationResult, load_spec
from sim.experiments.replications import mean_ci, measuring, run_replications

if TYPE_CHECKING:
    from sim.config.schema import SiloConfig
    from sim.engine.model import SiloModel

# the calibration's own book and year: with silent customers and the relationship survey, 1,500 customers over 26
# weeks leave replications too noisy to recover from (sd about 9 NPS points, 0.025 retention, 0.04-0.07 FCR)
BOOK = ["model.customers=4000", "model.weeks=52"]
KNOWN = {
    "customer.rating_bias_mean": -1.2,
    "customer.base_weekly_churn": 0.0025,
    "journey.first_contact_resolution": 0.70,
}
# the free parameters that move mainly one target each (the other two keep their defaults), so a known setting
# can be recovered from three figures
ONE_EACH = ["~calibrate.free.failure_scale", "~calibrate.free.renewal"]
ATTITUDE_ONLY = [*ONE_EACH, "~calibrate.free.weekly_churn", "~calibrate.free.first_contact_resolution"]


def test_mean_ci_pins_numbers() -> None:
    ci = mean_ci([1.0, 2.0, 3.0, 4.0])
    assert ci.mean == pytest.approx(2.5)
    # t(0.975, 3) = 3.182; sd = 1.291; half = 3.182 * 1.291 / 2 = 2.054
    assert ci.half_width == pytest.approx(2.054, abs=1e-3)
    assert mean_ci([5.0]).half_width == 0.0


@pytest.mark.slow
def test_calibration_recovers_targets_generated_from_a_known_setting(tmp_path: Path) -> None:
    spec = load_spec(
        [
            "target.nps=0",
            "target.annual_retention=0.5",
            "target.first_contact_resolution=0.5",
            *BOOK,
            *ONE_EACH,
            # three figures, three parameters: the book's growth is not one of the known setting's figures
            "~calibrate.free.acquisition",
            "target.book_growth=null",
            # the budget the industry presets were fitted with: trials run the full model, the departments' lever
            # search included, and at the known setting one replication's FCR varies with sd 0.04 (NPS 4.7,
            # retention 0.008; seeds 500-515). With 3 replications x 20 trials the fit put FCR at 0.77 (known 0.70)
            # and missed its target; with 6 x 20 it stalled at retention 0.80. This one stops after 31 trials.
            "replications=8",
            "trials=60",
            "report_replications=10",
            f"out_dir={tmp_path / 'fit'}",
        ]
    )
    # the client's figures: the baseline at a known parameter setting, on seeds the fit never uses
    names = ("nps", "annual_retention", "first_contact_resolution")
    outcomes = {k: TARGETS[k][0] for k in names}
    runs = run_replications(with_values(spec.base, KNOWN), range(500, 506), measuring(list(outcomes.values())))
    observed = {k: mean_ci(r[outcomes[k]] for r in runs).mean for k in names}
    assert observed["nps"] < 0 and observed["annual_retention"] < 0.78  # far from the defaults (about +15, 0.80)
    spec.targets = observed
    lines: list[str] = []
    result = calibrate(spec, progress=lines.append)
    assert result.reachable, result.report
    for name, target in observed.items():
        r = result.report[name]
        assert abs(r.mean - target) <= r.half_width + spec.tolerance[name], (name, r, target)
    # the strongly identified parameters come back near the known setting
    assert result.params["journey.first_contact_resolution"] == pytest.approx(0.70, abs=0.06)
    assert result.params["customer.rating_bias_mean"] == pytest.approx(-1.2, abs=0.35)
    assert len(result.trials) <= 60
    assert lines[0].startswith("trial 1/60") and "best so far" in lines[0]

    written = write_outputs(spec, result)
    assert written.name == "calibrated.yaml"
    fit = pd.read_csv(written.parent / "fit.csv")
    assert list(fit["target"]) == ["nps", "annual_retention", "first_contact_resolution"]
    assert (fit["ci95_low"] <= fit["simulated_mean"]).all() and (fit["simulated_mean"] <= fit["ci95_high"]).all()
    assert fit["met"].all()
    payload = json.loads((written.parent / "fit.json").read_text())
    assert payload["status"] == "met"
    assert {p["key"] for p in payload["parameters"]} == set(KNOWN)


# The corners of the range consultants meet, and the parameters silosim-calibrate fitted for them
# (docs/how-to/calibrate.md): a laggard and a leader. Both fitted from the defaults, trials running the
# full model (the departments' lever search included) over 6 replications of 4,000 customers (seeds 0-5):
#   silosim-calibrate target.nps=-30 target.annual_retention=0.70 target.first_contact_resolution=0.55 trials=100
#       replications=6 jobs=2: stopped after 23 trials (39 s); on 10 fresh seeds (10000-10009) NPS -28.2 (95% CI
#       -30.6 to -25.7), retention 0.697 (0.690 to 0.705), FCR 0.549 (0.531 to 0.567): all met.
#   silosim-calibrate target.nps=70 target.annual_retention=0.97 target.first_contact_resolution=0.85 trials=100
#       replications=6 jobs=2: ran all 100 trials (2 min 11 s); on 10 fresh seeds NPS +71.1 (+69.3 to +72.9),
#       retention 0.962 (0.961 to 0.964), FCR 0.845 (0.816 to 0.874): all met; renewal_no_problem is flagged at its
#       upper bound (0.999169 of 1).
# The values below are the tool's fitted values (6 significant digits); none is set by hand.
CORNERS = {
    "laggard": (
        {"nps": -30.0, "annual_retention": 0.70, "first_contact_resolution": 0.55},
        {
            "customer.rating_bias_mean": -1.30743,
            "customer.base_weekly_churn": 0.000219358,
            "journey.failure_scale": 1.74026,
            "customer.renewal_no_problem": 0.945186,
            "journey.first_contact_resolution": 0.620192,
        },
    ),
    "leader": (
        {"nps": 70.0, "annual_retention": 0.97, "first_contact_resolution": 0.85},
        {
            "customer.rating_bias_mean": 1.82464,
            "customer.base_weekly_churn": 0.000199359,
            "journey.failure_scale": 0.151662,
            "customer.renewal_no_problem": 0.999169,
            "journey.first_contact_resolution": 0.956745,
        },
    ),
}


@pytest.mark.parametrize("corner", list(CORNERS))
def test_the_declared_free_parameters_reach_the_corners_of_the_range(corner: str) -> None:
    """On fresh seeds (4 x 4,000 customers), the fitted corner settings, all inside the declared bounds of
    conf/calibrate/default.yaml, reproduce a laggard (-30, 70% retention, FCR 0.55) and a leader (+70, 97%, 0.85)
    within twice each target's tolerance (four seeds instead of the fit's ten)."""
    targets, params = CORNERS[corner]
    given = [f"target.{k}={v}" for k, v in targets.items()]
    spec = load_spec([*given, "out_dir=/nonexistent/never-written"])
    for f in spec.free:
        assert f.key not in params or f.lo <= params[f.key] <= f.hi, f.key  # acquisition is not a corner's
    outcomes = {k: TARGETS[k][0] for k in targets}
    runs = run_replications(with_values(spec.base, params), range(700, 704), measuring(list(outcomes.values())))
    for name, target in targets.items():
        mean = mean_ci(r[outcomes[name]] for r in runs).mean
        assert abs(mean - target) <= 2 * spec.tolerance[name], (name, mean, target)


@pytest.fixture(scope="module")
def unreachable(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    base = tmp_path_factory.mktemp("unreachable")
    out = run_command(
        "silosim-calibrate",
        "target.nps=99",
        *ATTITUDE_ONLY,
        # the calibration's book: with the departments' lever search in every trial, 800 customers over 13 weeks
        # left two replications' NPS so noisy (95% CI +34 to +82 at the best trial) that the fit stopped short of
        # the attitude's upper bound
        *BOOK,
        "replications=2",
        "trials=16",
        "report_replications=3",
        "out_dir=fit",
        cwd=base,
    )
    return out, base / "fit"


@pytest.mark.e2e
def test_unreachable_target_names_the_target_and_the_closest_value(
    unreachable: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    out, fit_dir = unreachable
    assert out.returncode == 3, out.stderr
    assert "Traceback" not in out.stderr
    paragraph = " ".join(out.stderr.split())
    assert paragraph.startswith("silosim-calibrate: Target not met: `target.nps` is +99.0")
    assert "closest_fit.yaml" in paragraph
    assert "customer.rating_bias_mean" in paragraph and "(upper bound)" in paragraph
    # what to do: a budget setting or a bound on the command line, never an edit of a file inside the package
    assert "trials=32" in paragraph and "calibrate.free.attitude.hi=" in paragraph
    assert "conf/calibrate/default.yaml" not in paragraph
    fit = pd.read_csv(fit_dir / "fit.csv").set_index("target")
    assert not fit.loc["nps", "met"]
    assert fit.loc["nps", "simulated_mean"] < 95  # below 99 even at the most favourable attitude the bounds allow
    closest = f"{fit.loc['nps', 'simulated_mean']:+.1f}"
    assert f"closest fit found within the declared bounds gives {closest}" in paragraph
    assert (fit_dir / "closest_fit.yaml").read_text().splitlines()[1].startswith("# CLOSEST FIT, NOT A CALIBRATION")
    assert not (fit_dir / "calibrated.yaml").exists()
    assert json.loads((fit_dir / "fit.json").read_text())["status"] == "unreachable"


@pytest.mark.e2e
def test_calibrated_file_is_accepted_by_silosim(
    unreachable: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path
) -> None:
    _, fit_dir = unreachable
    fitted = {p["key"]: p["fitted"] for p in json.loads((fit_dir / "fit.json").read_text())["parameters"]}
    path = fit_dir / "closest_fit.yaml"
    out = run_command(
        "silosim",
        f"calibration={path}",
        "scenario=closed_loop_followup",
        "customers=500",
        "weeks=3",
        "warmup_weeks=1",
        "hydra.run.dir=run",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    config = yaml.safe_load((tmp_path / "run" / ".hydra" / "config.yaml").read_text())
    assert config["calibration_source"] == str(path.resolve())
    assert config["customer"]["rating_bias_mean"] == pytest.approx(fitted["customer.rating_bias_mean"])
    assert config["feedback"]["inner_loop"]["capacity"] == 5.0  # the scenario still applies on top


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["target.nps=150"], ["`target.nps`", "150", "[-100, 100]"]),
        (["target.annual_retention=1.2"], ["`target.annual_retention`", "1.2", "(0, 1]"]),
        (["target.nps=10", "target.npss=3"], ["`target.npss`", "not a calibration setting", "annual_retention"]),
        ([], ["No target given"]),
        (["target.book_growth=0.05"], ["No target given"]),  # the book's growth alone describes no client
        (["target.annual_retention=0.8", "target.annual_churn=0.2"], ["same figure"]),
        (
            ["target.nps=10", "calibrate.free.attitude.hi=11"],
            ["calibrate.free.attitude", "11", "declared in [-10, 10]"],
        ),
        (
            ["target.nps=10", "calibrate.free.weekly_churn.key=customer.nope"],
            ["customer.nope", "not a model parameter"],
        ),
    ],
)
def test_bad_calibration_input_is_one_paragraph_exit_2_and_no_output(
    tmp_path: Path, args: list[str], expected: list[str]
) -> None:
    out = run_main("silosim-calibrate", *args, "out_dir=fit", cwd=tmp_path)
    assert_user_error(out, "silosim-calibrate", expected)
    assert not (tmp_path / "fit").exists()


def test_missing_calibration_file_is_a_user_error(tmp_path: Path) -> None:
    out = run_main(
        "silosim", "calibration=nowhere/calibrated.yaml", "weeks=2", "customers=500", "hydra.run.dir=run", cwd=tmp_path
    )
    assert_user_error(out, "silosim", ["`calibration`", "nowhere/calibrated.yaml", "no such file"])
    assert not (tmp_path / "run").exists()
    with pytest.raises(ConfigError, match="may only set model parameters"):
        load_spec(["target.nps=1", "model.overrides=['calibration=nowhere.yaml']"])


INDUSTRIES = sorted(p.stem for p in (Path(__file__).resolve().parent.parent / "conf" / "industry").glob("*.yaml"))


@pytest.mark.parametrize("industry", INDUSTRIES)
def test_an_industry_preset_reproduces_its_published_figures(industry: str) -> None:
    """`industry=NAME` sets the baseline to the preset's fitted values; on fresh seeds (4 x 4,000 customers) its
    measured NPS and annual retention land within twice the calibration tolerance of the published figures it
    names, with a source."""
    spec = load_spec([f"model.industry={industry}", "out_dir=/nonexistent/never-written"])
    published = spec.base.industry
    assert published.name == industry and published.source
    # the book is held too: its growth over the calibration year (the horizon's first) within twice its tolerance
    assert spec.targets == {"nps": published.nps, "annual_retention": published.annual_retention, "book_growth": 0.0}
    outcomes = {k: TARGETS[k][0] for k in spec.targets}
    runs = run_replications(spec.base, range(800, 804), measuring(list(outcomes.values())))
    for name, target in spec.targets.items():
        mean = mean_ci(r[outcomes[name]] for r in runs).mean
        assert abs(mean - target) <= 2 * spec.tolerance[name], (name, mean, target)


def test_a_target_given_overrides_the_industry_figure() -> None:
    given = ["model.industry=telecom", "target.nps=10", "out_dir=/nonexistent/never-written"]
    spec = load_spec(given)
    assert spec.targets == {"nps": 10.0, "annual_retention": 0.78, "book_growth": 0.0}
    assert load_spec([*given, "target.book_growth=0.05"]).targets["book_growth"] == 0.05  # the client's own growth
    assert "book_growth" not in load_spec([*given, "target.book_growth=null"]).targets  # the book not held
    assert spec.base.customer.rating_bias_mean == pytest.approx(0.287189)  # the fit starts from the preset


# ------------------------------------------------------------------ a stationary status quo, calibrated or not
BOOK_DRIFT = 0.05  # the book over the three recorded years: within 5% of its size at week 0 (mean over the seeds)
HORIZON_SEEDS = range(900, 920)


def _book_over_the_horizon(cfg: SiloConfig) -> float:
    """Mean over :data:`HORIZON_SEEDS` of the book at the end of the recorded horizon over that at week 0, minus 1."""

    def book(model: SiloModel) -> dict[str, float]:
        m = model.metrics_frame()
        return {"change": float(m["active_customers"].iloc[-1]) / float(m["active_before"].iloc[0]) - 1.0}

    return mean_ci(r["change"] for r in run_replications(cfg, HORIZON_SEEDS, book)).mean


# The model's own defaults are no preset: their acquisition rate (0.00148) was calibrated to acquisitions / churn
# 0.99 over 20 seeds, and over seeds 900-919 their book ends the horizon +5.2% above week 0 (seeds 0-5: -0.4%),
# within the "few percent" docs/parameters.md promises but past this test's 5%. Refitting it would change every
# default run (the golden run included), so it is kept as a known miss, not hidden by other seeds.
DEFAULT_DRIFT = pytest.param(
    "default",
    marks=pytest.mark.xfail(reason="the model default drifts about +5% over the horizon (see above)", strict=False),
)
# Every preset's acquisition holds its book over the whole horizon: fitted over the calibration year (the horizon's
# first), insurance and retail banking still crept up in years two and three (+5.0% and +6.0% over these seeds), and
# their acquisition was refitted over the three years on seeds 0-19 (the preset files say how).
PRESETS = INDUSTRIES


@pytest.mark.slow
@pytest.mark.parametrize("preset", [DEFAULT_DRIFT, *PRESETS])
def test_the_status_quo_keeps_its_book_over_the_horizon(preset: str) -> None:
    """The siloed baseline of every shipped industry preset, 20 x 3,000 customers over the default 156 recorded
    weeks after the 104-week warm-up: the book ends within 5% of its size at week 0 (mean over the seeds; one
    run's own drift has a standard deviation of 4% to 13%). Before acquisition was fitted with the presets they
    drifted by -17% (retail banking) to +23% (SaaS) (2 seeds of 2,000 customers)."""
    cfg = checked_config([*([f"industry={preset}"] if preset != "default" else []), "customers=3000"])
    assert (cfg.weeks, cfg.warmup_weeks) == (156, 104)
    change = _book_over_the_horizon(cfg)
    assert abs(change) <= BOOK_DRIFT, f"{preset}: the book changed by {change:+.1%} over the horizon"


# Two client-like targets, each outside the presets' span (NPS -1 to +40, retention 0.75 to 0.90) on one figure:
# the loyal client (retention 0.91, NPS +35; the default acquisition grew its book by 24% by itself) and a
# disloyal one (NPS -10, retention 0.76).
CLIENTS = [pytest.param(35, 0.91, id="loyal"), pytest.param(-10, 0.76, id="disloyal")]


@pytest.mark.slow
@pytest.mark.e2e
@pytest.mark.parametrize(("nps", "retention"), CLIENTS)
def test_a_calibrated_baseline_keeps_its_book_over_the_horizon(tmp_path: Path, nps: int, retention: float) -> None:
    """A client calibrated with the book held (target.book_growth 0, the default): its baseline keeps its book
    within 5% over the horizon, as every preset does."""
    out = run_main(
        "silosim-calibrate",
        f"target.nps={nps}",
        f"target.annual_retention={retention}",
        "model.customers=2000",
        "replications=3",
        "trials=16",
        "report_replications=4",
        "jobs=1",
        "out_dir=fit",
        cwd=tmp_path,
    )
    assert out.returncode in (0, 3), (
        out.stderr
    )  # met, or a closest fit on this small budget: the book is held either way
    fit = json.loads((tmp_path / "fit" / "fit.json").read_text())
    assert "book_growth" in fit["targets"] and fit["met"]["book_growth"], fit["fit"]["book_growth"]
    written = tmp_path / "fit" / fit["calibrated_file"]
    cfg = checked_config([f"calibration={written}", "customers=3000"])
    change = _book_over_the_horizon(cfg)
    assert abs(change) <= BOOK_DRIFT, f"the calibrated book changed by {change:+.1%} over the horizon"


RESUMABLE = ["target.nps=12", "target.annual_retention=0.86", "trials=6", "replications=2", "model.customers=800",
             "model.weeks=13", "report_replications=2"]  # fmt: skip


@pytest.mark.slow
@pytest.mark.e2e
def test_a_sigkilled_calibration_resumes_where_it_stopped_and_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    import os
    import signal

    from conftest import BIN

    whole = run_command("silosim-calibrate", *RESUMABLE, "out_dir=whole", cwd=tmp_path)
    assert whole.returncode in (0, 3), whole.stderr  # met, or a closest fit (six trials of a small book)
    proc = subprocess.Popen(
        [str(BIN / "silosim-calibrate"), *RESUMABLE, "out_dir=cut"],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("trial 3/6"):
            break
    os.killpg(proc.pid, signal.SIGKILL)  # no clean-up of any kind
    proc.wait(timeout=30)
    assert not (tmp_path / "cut" / "fit.json").exists()  # no result yet: only the study
    resumed = run_command("silosim-calibrate", *RESUMABLE, "out_dir=cut", cwd=tmp_path)
    assert resumed.returncode == whole.returncode, resumed.stderr
    assert "resuming the study in cut: 3 of 6 trials done" in resumed.stdout
    assert sum(line.startswith("trial ") for line in resumed.stdout.splitlines()) == 3  # only the rest is run
    # the least-squares path is deterministic: the resumed study holds the uninterrupted one's trials
    pd.testing.assert_frame_equal(
        pd.read_csv(tmp_path / "cut" / "trials.csv"), pd.read_csv(tmp_path / "whole" / "trials.csv")
    )
    assert (tmp_path / "cut" / "calibrated.yaml").exists() == (tmp_path / "whole" / "calibrated.yaml").exists()
    fit = json.loads((tmp_path / "cut" / "fit.json").read_text())
    assert fit["fit"] == json.loads((tmp_path / "whole" / "fit.json").read_text())["fit"]
    assert fit["provenance"]["packages"]["optuna"] and fit["provenance"]["python"]


def test_an_out_dir_holding_other_files_is_refused(tmp_path: Path) -> None:
    (tmp_path / "fit").mkdir()
    (tmp_path / "fit" / "notes.txt").write_text("mine")
    out = run_main("silosim-calibrate", "target.nps=10", "out_dir=fit", cwd=tmp_path)
    assert_user_error(out, "silosim-calibrate", ["`out_dir`", "not a silosim-calibrate study", "never overwritten"])
    assert [p.name for p in (tmp_path / "fit").iterdir()] == ["notes.txt"]


def test_a_fit_at_a_bound_is_warned_about_in_words_that_say_what_it_means() -> None:
    spec = load_spec(["target.nps=10", "target.annual_retention=0.91"])
    renewal = next(f for f in spec.free if f.key == "customer.renewal_no_problem")
    inside = {f.key: (f.lo + f.hi) / 2 for f in spec.free}
    report = {k: Interval(v, v - 1e-3, v + 1e-3, 10) for k, v in spec.targets.items()}
    met = dict.fromkeys(spec.targets, True)
    assert bound_warning(spec, CalibrationResult(inside, report, met, [], 0)) is None
    at_bound = {**inside, renewal.key: 0.99976}
    text = bound_warning(spec, CalibrationResult(at_bound, report, met, [], 0))
    assert text is not None and text.startswith("Warning: customer.renewal_no_problem (")
    assert f"fitted at 0.99976, at the upper bound of its search range [{renewal.lo:g}, {renewal.hi:g}]" in text
    assert "meets its targets only by pushing this parameter as far as the search allows" in text
    assert "plausible" in text


def test_a_calibration_from_an_industry_preset_writes_the_preset_into_its_file(tmp_path: Path) -> None:
    """``calibration=FILE`` alone gives the preset's settings the calibration started from, as with industry=."""
    from sim.config import compose_config

    spec = load_spec(
        [
            "model.industry=telecom",
            "target.nps=24",
            "target.annual_retention=null",
            "target.book_growth=null",
            *ATTITUDE_ONLY,
            "~calibrate.free.acquisition",
            "model.customers=300",
            "model.weeks=13",
            "model.overrides=['warmup_weeks=4']",
            "replications=2",
            "report_replications=2",
            "trials=1",
            "jobs=1",
            f"out_dir={tmp_path / 'fit'}",
        ]
    )
    written = write_outputs(spec, calibrate(spec, progress=lambda _: None))
    text = written.read_text()
    assert "# Calibrated from the telecom industry preset (conf/industry/telecom.yaml)" in text
    alone = to_plain(compose_config([f"calibration={written}"]))
    with_preset = to_plain(compose_config(["industry=telecom", f"calibration={written}"]))
    assert alone == with_preset  # the file carries the preset: industry= adds nothing
    with pytest.raises(ConfigError, match=r"`industry` is 'saas', but `calibration` names .* preset 'telecom'"):
        compose_config(["industry=saas", f"calibration={written}"])  # a second preset would mix under it
    # a setting the preset makes and the calibration did not fit: the preset's, not the schema's default (0.975)
    assert alone["customer"]["renewal_no_problem"] == pytest.approx(0.938021)
    assert alone["market"]["marketing_acquisition_rate"] == pytest.approx(0.00191286)
    assert alone["industry"]["name"] == "telecom"
    fitted = {p["key"]: p["fitted"] for p in json.loads((written.parent / "fit.json").read_text())["parameters"]}
    assert alone["customer"]["rating_bias_mean"] == pytest.approx(fitted["customer.rating_bias_mean"])
    assert alone["warmup_weeks"] == 4  # the fixed value (model.overrides) over the preset's


def test_an_industry_preset_under_a_calibration_from_the_defaults_is_refused(tmp_path: Path) -> None:
    """A file calibrated from the model defaults with ``industry=NAME``: one paragraph, exit 2, nothing written."""
    written = tmp_path / "calibrated.yaml"
    written.write_text(f"# @package _global_\ncalibration_source: {written}\ncustomer:\n  rating_bias_mean: 0.2\n")
    out = tmp_path / "run"
    result = run_command("silosim", f"calibration={written}", "industry=telecom", f"hydra.run.dir={out}", cwd=tmp_path)
    expected = ["`industry` is 'telecom'", "from the model defaults (no industry preset)", "Leave `industry` out"]
    assert_user_error(result, "silosim", expected)
    assert not out.exists()


def to_plain(cfg: object) -> dict:
    """A composed configuration as plain data, without where its calibrated file was read from."""
    from omegaconf import OmegaConf

    plain = OmegaConf.to_container(cfg, resolve=True)  # type: ignore[arg-type]
    assert isinstance(plain, dict)
    plain.pop("calibration_source", None)
    return plain
