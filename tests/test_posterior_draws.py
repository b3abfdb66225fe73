"""``silosim-compare calibration=DIR uncertainty=parameters``: the fitted parameters come from the posterior."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import assert_user_error, run_main

from sim.config import ConfigError, checked_config, compose_config, to_config
from sim.config.walk import uncertain_parameters
from sim.experiments.calibration.abc import weighted_quantile
from sim.experiments.uncertainty.draws import write_draws
from sim.experiments.uncertainty.posterior import calibration_plan, read_calibration

CHURN, FCR, FIX = "customer.base_weekly_churn", "journey.first_contact_resolution", "feedback.outer_loop.fix_effect"
ACME = Path(__file__).resolve().parents[1] / "examples" / "acme"


def make_calibration(directory: Path, posterior: bool = True, n: int = 400, seed: int = 1, **extra: object) -> Path:
    """A calibration's output directory as silosim-calibrate writes it: calibrated.yaml, fit.json, posterior.csv.

    The posterior of the weekly churn sits around 0.0008, far outside its declared distribution (0.0002 to 0.0004),
    and the FCR's is tied to it (a particle's FCR is 0.5 + 200 x its churn), so a draw that mixed particles or fell
    back on the declared distribution is seen.
    """
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    churn = rng.uniform(0.0004, 0.0012, n)
    weights = rng.uniform(0.2, 1.0, n)
    frame = pd.DataFrame({CHURN: churn, FCR: 0.5 + 200 * churn, "weight": weights / weights.sum()})
    if posterior:
        frame.to_csv(directory / "posterior.csv", index=False)
    point = {CHURN: weighted_quantile(churn, weights, 0.5), FCR: 0.5 + 200 * weighted_quantile(churn, weights, 0.5)}
    fit = {"parameters": [{"key": k, "fitted": v} for k, v in point.items()], "status": "met"}
    (directory / "fit.json").write_text(json.dumps(fit))
    node: dict = {"calibration_source": str(directory / "calibrated.yaml"), **extra}
    for key, value in point.items():
        head, tail = key.split(".")
        node.setdefault(head, {})[tail] = value
    (directory / "calibrated.yaml").write_text("# @package _global_\n" + yaml.safe_dump(node))
    return directory


def _configs(*overrides: str) -> dict[str, dict]:
    from omegaconf import OmegaConf

    return {
        s: OmegaConf.to_container(OmegaConf.structured(checked_config([f"scenario={s}", *overrides])), resolve=True)
        for s in ("siloed_scorecards", "closed_loop_followup")
    }


def _draw(tmp_path: Path, configs: dict, n: int, seed: int = 0, distributions: dict | None = None) -> pd.DataFrame:
    from sim.experiments.uncertainty.draws import plan_draws

    spec = plan_draws(n, seed, 2, distributions or {}, configs)
    default = to_config(compose_config([]))
    return write_draws(
        tmp_path / f"draws_{seed}.json", default, spec["distributions"], spec["held"], n, seed, spec.get("calibration")
    )


def test_fitted_parameters_are_drawn_from_the_posterior_and_the_others_from_their_declared_distributions(
    tmp_path: Path,
) -> None:
    cal = make_calibration(tmp_path / "cal")
    configs = _configs(f"calibration={cal}")
    draws = _draw(tmp_path, configs, 300)
    posterior = pd.read_csv(cal / "posterior.csv")
    weights = posterior["weight"].to_numpy()
    for q in (0.1, 0.25, 0.5, 0.75, 0.9):  # the fitted parameter's draws follow the weighted posterior
        expected = weighted_quantile(posterior[CHURN].to_numpy(), weights, q)
        assert np.quantile(draws[CHURN], q) == pytest.approx(expected, abs=0.00003), q
    assert draws[CHURN].min() > 0.0004 - 1e-12  # none from the declared triangular(0.0002, 0.0003, 0.0004)
    # whole particles: each draw's FCR is its own churn's partner, as in the posterior
    np.testing.assert_allclose(draws[FCR], 0.5 + 200 * draws[CHURN])
    # an unfitted parameter follows its declared distribution
    table, _ = uncertain_parameters(to_config(compose_config([])))
    u = table[FIX][1]
    for q in (0.1, 0.5, 0.9):
        assert np.quantile(draws[FIX], q) == pytest.approx(float(u.ppf(np.array([q]))[0]), abs=0.02)
    # seeded and reproducible; another seed draws other particles
    pd.testing.assert_frame_equal(draws, _draw(tmp_path, configs, 300))
    assert not np.array_equal(_draw(tmp_path, configs, 300, seed=5)[CHURN], draws[CHURN])


def test_without_a_calibration_the_fitted_keys_come_from_their_declared_distributions(tmp_path: Path) -> None:
    draws = _draw(tmp_path, _configs(), 100)
    assert draws[CHURN].between(0.0002, 0.0004).all()


def test_a_point_calibration_holds_the_fitted_values_and_the_user_and_the_scenarios_win(tmp_path: Path) -> None:
    table, _ = uncertain_parameters(to_config(compose_config([])))
    point = make_calibration(tmp_path / "point", posterior=False)
    held, record = calibration_plan(_configs(f"calibration={point}"), table, {}, [])
    assert record is not None and record["source"] == "point" and record["posterior_keys"] == []
    assert set(record["point_keys"]) == {CHURN, FCR} and {CHURN, FCR} <= set(held)
    abc = make_calibration(tmp_path / "abc")
    mine = {CHURN: {"kind": "uniform", "args": [0.0001, 0.0005], "basis": "wide: assumption"}}
    held, record = calibration_plan(_configs(f"calibration={abc}", f"{FCR}=0.9"), table, mine, [FCR])
    assert record is not None and record["user_keys"] == [CHURN] and record["scenario_keys"] == [FCR]
    assert record["posterior_keys"] == [] and held == [FCR]
    held, record = calibration_plan(_configs(f"calibration={abc}"), table, {}, [CHURN, FCR, FIX])
    assert record is not None and record["posterior_keys"] == [CHURN, FCR] and held == [FIX]
    summary = {p["key"]: p for p in record["parameters"]}
    assert summary[CHURN]["low"] < summary[CHURN]["median"] < summary[CHURN]["high"]
    assert summary[CHURN]["declared_low"] == pytest.approx(0.0002 + np.sqrt(0.05 * 0.0002 * 0.0001), rel=0.01)


@pytest.mark.parametrize(
    ("damage", "fragments"),
    [
        (lambda d: (d / "fit.json").unlink(), ["no fit.json beside it"]),
        (lambda d: (d / "fit.json").write_text("{"), ["fit.json cannot be read"]),
        (lambda d: (d / "posterior.csv").write_text("weight\n1\n"), ["lacks the column", CHURN]),
        (lambda d: _edit(d, lambda f: f.assign(weight=-f["weight"])), ["negative or sum to zero"]),
        (lambda d: _edit(d, lambda f: f.assign(**{CHURN: -f[CHURN]})), [CHURN, "outside the parameter's declared"]),
        (lambda d: _edit(d, lambda f: f.assign(**{FCR: "high"})), ["not a finite number", FCR]),
    ],
)
def test_a_damaged_calibration_is_one_paragraph(tmp_path: Path, damage: object, fragments: list[str]) -> None:
    cal = make_calibration(tmp_path / "cal")
    damage(cal)  # type: ignore[operator]
    table, _ = uncertain_parameters(to_config(compose_config([])))
    with pytest.raises(ConfigError) as caught:
        read_calibration(cal / "calibrated.yaml", {k: (p.lo, p.hi) for k, (p, _) in table.items()})
    text = str(caught.value)
    assert "`calibration` names" in text and "\n" not in text
    for fragment in fragments:
        assert fragment in text


def _edit(directory: Path, change: object) -> None:
    frame = pd.read_csv(directory / "posterior.csv")
    change(frame).to_csv(directory / "posterior.csv", index=False)  # type: ignore[operator]


def test_calibration_dir_selects_its_calibrated_file_and_the_journey_it_carries(tmp_path: Path) -> None:
    journey = yaml.safe_load((ACME / "journey.yaml").read_text()) if (ACME / "journey.yaml").exists() else None
    if journey is None:
        from sim.experiments.journeymap import journey_yaml, read_journey_map

        journey = yaml.safe_load(journey_yaml(read_journey_map(ACME / "journey_map.csv"), ACME / "journey_map.csv"))
    cal = make_calibration(tmp_path / "cal", calibration_journey=journey)
    cfg = checked_config([f"calibration={cal}"])
    assert cfg.customer.base_weekly_churn > 0.0004 and cfg.calibration_source == str(cal / "calibrated.yaml")
    assert list(cfg.journey.stages) == journey["stages"]  # the client's journey came with the calibration
    assert cfg.journey.first_contact_resolution == pytest.approx(0.5 + 200 * cfg.customer.base_weekly_churn)
    # a journey asked for explicitly wins
    assert checked_config([f"calibration={cal}", "journey=default"]).journey.stages[0] == "discover"


@pytest.mark.parametrize(
    ("setup", "fragments"),
    [
        (lambda d: d.mkdir(), ["holds no calibrated.yaml", "not a calibration's output directory"]),
        (lambda d: (d.mkdir(), (d / "closest_fit.yaml").write_text("x: 1\n")), ["closest_fit.yaml", "did not meet"]),
        (lambda d: None, ["no such file"]),
    ],
)
def test_a_calibration_dir_that_is_not_one_is_refused_before_anything_runs(
    tmp_path: Path, setup: object, fragments: list[str]
) -> None:
    setup(tmp_path / "cal")  # type: ignore[operator]
    before = sorted(p.name for p in tmp_path.iterdir())
    out = run_main(
        "silosim-compare", "calibration=cal", "uncertainty=parameters", "draws=4", "customers=200", "out=cmp",
        cwd=tmp_path,
    )  # fmt: skip
    assert_user_error(out, "silosim-compare", ["`calibration`", *fragments])
    assert sorted(p.name for p in tmp_path.iterdir()) == before


@pytest.mark.e2e
def test_a_comparison_from_an_abc_calibration_on_the_clients_journey(tmp_path: Path) -> None:
    """silosim-journey import, silosim-calibrate method=abc data=..., then silosim-compare calibration=DIR."""
    from conftest import run_command

    out = run_command("silosim-journey", "import", str(ACME / "journey_map.csv"), "out=acme.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = run_command(
        "silosim-calibrate", f"data={ACME / 'records'}", "model.journey=acme.yaml", "method=abc",
        "abc.population=4", "abc.generations=1", "model.customers=300", "model.weeks=26",
        "model.overrides=['warmup_weeks=4']", "report_replications=2", "jobs=1", "out_dir=cal",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode in (0, 3), out.stderr  # 3: a closest fit (a tiny calibration may miss a target)
    cal = tmp_path / "cal"
    written = cal / "calibrated.yaml" if (cal / "calibrated.yaml").exists() else cal / "closest_fit.yaml"
    assert "calibration_journey:" in written.read_text()
    calibrated = "cal" if written.name == "calibrated.yaml" else "cal/closest_fit.yaml"  # a directory, or the file
    out = run_command(
        "silosim-compare", f"calibration={calibrated}", "scenarios=[siloed_scorecards,closed_loop_followup]",
        "replications=2", "customers=300", "weeks=20", "warmup_weeks=4", "uncertainty=parameters", "draws=3",
        "report.pdf=false", "n_jobs=1", "out=cmp", cwd=tmp_path, timeout=1200,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    cmp = tmp_path / "cmp"
    record = json.loads((cmp / "draws" / "draws.json").read_text())
    posterior = pd.read_csv(cal / "posterior.csv")
    fitted = [c for c in posterior.columns if c != "weight"]
    assert record["posterior_keys"] == fitted
    particles = {tuple(np.round(row, 12)) for row in posterior[fitted].to_numpy()}
    for values in record["values"]:  # every draw is one whole particle of the posterior
        assert tuple(np.round([values[k] for k in fitted], 12)) in particles
    run = yaml.safe_load((cmp / "draws" / "runs" / "closed_loop_followup_s2" / ".hydra" / "config.yaml").read_text())
    assert run["customer"]["base_weekly_churn"] == record["values"][0]["customer.base_weekly_churn"]
    assert run["journey"]["stages"][0] == "awareness"  # the client's journey came with the calibration
    html = (cmp / "report.html").read_text()
    assert "were drawn from its posterior" in html and 'id="fig-journey_swimlane"' in html
    import openpyxl
    from pptx import Presentation

    sheet = openpyxl.load_workbook(cmp / "summary.xlsx")["Calibrated parameters"]
    assert [c.value for c in sheet[1]][:2] == ["parameter", "drawn from"] and sheet.max_row == 1 + len(fitted)
    assert {sheet.cell(r, 2).value for r in range(2, sheet.max_row + 1)} == {"posterior"}
    titles = [s.shapes.title.text for s in Presentation(str(cmp / "report.pptx")).slides if s.shapes.title]
    assert any(t.startswith("The journey: 5 stages") for t in titles)
