"""Sensitivity analysis: SALib indices on a function with known answers, and end to end on tiny sweeps."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import assert_user_error, run_command

from sim.config import DesignConf
from sim.experiments.sweeps.design import design_matrix
from sim.experiments.sweeps.sensitivity import analyse

TINY_EXPERIMENT = """# @package _global_
customers: 500
weeks: 8
warmup_weeks: 4
output: {{customers: false, progress: false}}
design:
  method: {method}
  samples: {samples}
  parameters:
    journey.handoff_failure_prob: [0.0, 0.4]
    market.value_mean: [10.0, 30.0]
    feedback.survey.relationship_response_rate: [0.1, 0.3]
  outcomes: [final.true_nps, total.revenue]
hydra:
  sweep:
    dir: runs
"""


def test_sobol_indices_of_the_ishigami_function_match_the_analytic_values() -> None:
    """Ishigami (a=7, b=0.1): S1 = 0.314, 0.442, 0; ST = 0.558, 0.442, 0.244 (Saltelli et al. 2008)."""
    design = DesignConf(
        method="sobol",
        samples=1024,
        seed=1,
        parameters={"x1": [-np.pi, np.pi], "x2": [-np.pi, np.pi], "x3": [-np.pi, np.pi]},
    )
    x = design_matrix(design)
    y = np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])
    indices = analyse(pd.DataFrame({"y": y}), design).set_index(["parameter", "index"])["value"]
    for name, s1, st in (("x1", 0.314, 0.558), ("x2", 0.442, 0.442), ("x3", 0.0, 0.244)):
        assert indices[(name, "S1")] == pytest.approx(s1, abs=0.05)
        assert indices[(name, "ST")] == pytest.approx(st, abs=0.05)
    assert indices[("x1 x x3", "S2")] == pytest.approx(0.244, abs=0.08)


def _run(tmp_path: Path, method: str, samples: int, *extra: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "exps").mkdir(exist_ok=True)
    (tmp_path / "exps" / "tiny.yaml").write_text(TINY_EXPERIMENT.format(method=method, samples=samples))
    return run_command(
        "silosim-sensitivity",
        "tiny",
        f"experiment_dir={tmp_path / 'exps'}",
        "hydra.launcher.n_jobs=2",
        *extra,
        cwd=tmp_path,
    )


@pytest.mark.slow
@pytest.mark.e2e
def test_sobol_end_to_end_finds_the_dominant_parameter(tmp_path: Path) -> None:
    """Hand-off failure drives true NPS; mean customer value drives revenue only; the survey response rate
    moves neither (common random numbers make its effect exactly zero)."""
    out = _run(tmp_path, "sobol", 4)
    assert out.returncode == 0, out.stderr + out.stdout
    assert "runs 32/32 done" in out.stderr  # the launcher's progress lines
    runs = pd.read_parquet(tmp_path / "runs" / "runs.parquet")
    assert len(runs) == 32 == runs["design.row"].nunique()
    indices = pd.read_csv(tmp_path / "runs" / "sensitivity_indices.csv")
    assert set(indices["index"]) == {"S1", "ST", "S2"}
    assert {"conf", "ci_low", "ci_high"} <= set(indices.columns)
    nps = indices[indices["outcome"] == "final.true_nps"].set_index(["parameter", "index"])
    st = nps.xs("ST", level="index")["value"]
    assert st.idxmax() == "journey.handoff_failure_prob" and st.max() > 0.3
    assert st["market.value_mean"] == pytest.approx(0, abs=1e-9)
    assert st["feedback.survey.relationship_response_rate"] == pytest.approx(0, abs=1e-9)
    s1 = nps.xs("S1", level="index")
    assert s1["value"].sum() <= 1 + s1["conf"].sum()
    revenue = indices[(indices["outcome"] == "total.revenue") & (indices["index"] == "ST")].set_index("parameter")
    assert revenue["value"].idxmax() == "market.value_mean"
    assert (tmp_path / "runs" / "sensitivity.png").stat().st_size > 10_000


@pytest.mark.slow
@pytest.mark.e2e
def test_morris_end_to_end_screens_and_resumes_after_a_lost_run(tmp_path: Path) -> None:
    out = _run(tmp_path, "morris", 3)
    assert out.returncode == 0, out.stderr + out.stdout
    indices = pd.read_csv(tmp_path / "runs" / "sensitivity_indices.csv")
    mu_star = indices[(indices["outcome"] == "final.true_nps") & (indices["index"] == "mu_star")]
    mu_star = mu_star.set_index("parameter")["value"]
    assert mu_star.idxmax() == "journey.handoff_failure_prob" and mu_star.max() > 1.0  # NPS points over the range
    assert mu_star["feedback.survey.relationship_response_rate"] == 0 and mu_star["market.value_mean"] == 0
    # A run lost: analysing alone says which rows are missing; the same command again reruns just that one.
    lost = sorted((tmp_path / "runs").glob("design.row=*"))[5]
    shutil.rmtree(lost)
    alone = _run(tmp_path, "morris", 3, "--analyse-only")
    assert_user_error(alone, "silosim-sensitivity", ["1 of the 12 design rows", "run the same command again"])
    again = _run(tmp_path, "morris", 3)
    assert again.returncode == 0, again.stderr
    log = (tmp_path / "runs" / "sweep.log").read_text()
    assert log.count("done in") == 12 + 1 and log.count("skipped") == 11
    assert pd.read_csv(tmp_path / "runs" / "sensitivity_indices.csv").equals(indices)


@pytest.mark.e2e
def test_sensitivity_needs_a_sobol_or_morris_design(tmp_path: Path) -> None:
    out = _run(tmp_path, "lhs", 4)
    assert_user_error(out, "silosim-sensitivity", ["'lhs'", "sobol"])
    assert not (tmp_path / "runs").exists()


@pytest.mark.e2e
def test_the_sweep_directory_the_user_names_is_the_one_used(tmp_path: Path) -> None:
    """`hydra.sweep.dir=DIR` wins over the experiment's own directory (here: analysing an empty one says so)."""
    out = _run(tmp_path, "morris", 3, "--analyse-only", "hydra.sweep.dir=elsewhere")
    assert_user_error(out, "silosim-sensitivity", ["'elsewhere'", "does not exist"])
    assert not (tmp_path / "runs").exists() and not (tmp_path / "elsewhere").exists()


def test_the_figure_states_the_finding_in_the_parameters_documented_words(tmp_path: Path) -> None:
    from sim.report.research import parameter_label, plot_indices, sensitivity_finding

    indices = pd.DataFrame(
        [
            {"outcome": o, "parameter": p, "index": "mu_star", "value": v, "conf": c, "ci_low": max(v - c, 0),
             "ci_high": v + c}
            for o, p, v, c in (
                ("final.true_nps", "journey.handoff_failure_prob", 6.0, 1.0),
                ("final.true_nps", "market.value_mean", 0.0, 0.0),
                ("total.revenue", "journey.handoff_failure_prob", 40_000.0, 9_000.0),
                ("total.revenue", "market.value_mean", 2_500_000.0, 100_000.0),
            )
        ]
    )  # fmt: skip
    finding = sensitivity_finding(indices, "morris")
    assert finding.startswith("Most influential: True NPS, final week: probability that a hand-off")
    assert "Cumulative revenue: mean revenue per active customer per week (mu* 2,500,000)" in finding
    assert parameter_label("journey.handoff_failure_prob").endswith("(probability)")
    assert parameter_label("not.a.key") == "not.a.key"
    figure = plot_indices(indices, "morris", tmp_path / "s.png", "Morris screening of a test")
    assert figure.stat().st_size > 10_000
