"""``silosim-compare`` end to end: runs, tidy table, summary, figures, report; failures and bad input."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import assert_user_error, run_command, run_main

from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.analysis.runsets import load_runs
from sim.experiments.analysis.statistics import paired_difference, unpaired_difference
from sim.report.html import SECTIONS

OUTCOMES = [o.name for o in comparison_outcomes()]

SMALL = [
    "scenarios=[siloed_scorecards,closed_loop_followup]",
    "replications=3",
    "customers=600",
    "weeks=20",
    "track_customers=5",
]
FIGURES = {"true_nps", "effects_forest", "customers_retention", "nps_gap", "kpis_vs_outcomes", "closed_loop_funnel"}


@pytest.fixture(scope="module")
def comparison(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("cmp")
    out = run_command("silosim-compare", *SMALL, "out=cmp", cwd=tmp)
    assert out.returncode == 0, out.stderr
    return tmp / "cmp", out


@pytest.mark.e2e
def test_comparison_directory_follows_the_contract(comparison: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    d, _ = comparison
    runs = sorted(p.name for p in (d / "runs").iterdir() if p.is_dir())
    assert runs == [f"{s}_s{k}" for s in ("closed_loop_followup", "siloed_scorecards") for k in range(3)]
    for r in runs:
        assert (d / "runs" / r / "metrics.parquet").exists()
        config = (d / "runs" / r / ".hydra" / "config.yaml").read_text()
        assert "track_customers: 5" in config and "customers: 600" in config  # model overrides reach every run
    tidy = pd.read_parquet(d / "comparison.parquet")
    assert len(tidy) == 2 * 3 * 20
    assert {"scenario", "replication", "seed", "step", "true_nps", "measured_nps", "active_customers"} <= set(tidy)
    assert not tidy.duplicated(["scenario", "replication", "step"]).any()
    summary = pd.read_csv(d / "summary.csv")
    assert list(summary["scenario"]) == ["siloed_scorecards", "closed_loop_followup"]
    for key in OUTCOMES:
        for suffix in ("_mean", "_ci_low", "_ci_high", "_diff", "_diff_ci_low", "_diff_ci_high"):
            assert f"{key}{suffix}" in summary
    assert (summary.loc[summary["scenario"] == "siloed_scorecards", "true_nps_diff"] == 0).all()
    names = {p.stem for p in (d / "figures").iterdir()}
    assert names == FIGURES
    assert {p.suffix for p in (d / "figures").iterdir()} == {".png", ".svg"}
    assert not list(d.parent.glob(".cmp.tmp-*"))
    assert not list(d.rglob("*.warm"))  # the runs' shared warm-ups are deleted when they end


@pytest.mark.e2e
def test_summary_matches_the_runs(comparison: tuple[Path, subprocess.CompletedProcess[str]]) -> None:
    d, _ = comparison
    rs = load_runs(d / "runs")
    summary = pd.read_csv(d / "summary.csv").set_index("scenario")
    for scenario, group in rs.outcomes.groupby("scenario"):
        assert summary.loc[scenario, "true_nps_mean"] == pytest.approx(group["true_nps"].mean(), rel=1e-5)
        finals = [
            json.loads((d / "runs" / f"{scenario}_s{s}" / "summary.json").read_text())["final"]["true_nps"]
            for s in range(3)
        ]
        assert sorted(group["true_nps"]) == pytest.approx(sorted(finals))


@pytest.mark.e2e
def test_common_random_numbers_make_paired_intervals_narrower(
    comparison: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    """On the same runs, the paired interval of a difference is narrower than the unpaired (Welch) one."""
    d, _ = comparison
    o = load_runs(d / "runs").outcomes
    a = o[o["scenario"] == "closed_loop_followup"].set_index("seed")
    b = o[o["scenario"] == "siloed_scorecards"].set_index("seed")
    for key in ("true_nps", "cumulative_revenue", "customer_lifetime_value"):
        paired = paired_difference(a[key], b[key])
        unpaired = unpaired_difference(a[key].to_numpy(), b[key].to_numpy())
        assert paired.mean == pytest.approx(unpaired.mean)
        assert paired.half_width < unpaired.half_width, key


@pytest.mark.e2e
def test_report_has_every_section_and_embeds_its_images(
    comparison: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    d, _ = comparison
    page = (d / "report.html").read_text()
    for section in SECTIONS:
        assert f'<section id="{section}">' in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == len(FIGURES)
    assert all(src.startswith("data:image/png;base64,") and len(src) > 5000 for src in images)
    assert 'src="figures/' not in page
    assert not re.search(r"""(src|href)=['"]?(https?:|//)|url\(\s*['"]?https?:""", page)  # nothing fetched
    answer = page.split('<section id="answer">')[1].split("</section>")[0]
    assert re.search(r"Closed-loop follow-up</b> would (raise|lower|make no clear difference)", answer)  # display title
    assert "adjusted 95% CI" in answer and "Bonferroni" in answer
    assert "silosim-compare" in page and "replications=3" in page  # the command that reproduces it


def test_a_named_comparison_is_selected(tmp_path: Path) -> None:
    from sim.experiments.compare.settings import compose_compare, split_arguments

    mine, model = split_arguments(["comparison=all_scenarios", "replications=2"])
    conf = compose_compare(mine)
    assert conf.name == "all_scenarios" and len(conf.scenarios) == 9 and conf.replications == 2 and model == []


@pytest.mark.e2e
def test_terminal_ends_with_the_summary_table_and_report_path(
    comparison: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    _d, out = comparison
    lines = out.stdout.strip().splitlines()
    assert lines[-1] == f"Report: {Path('cmp') / 'report.html'}"
    assert any(line.startswith("Closed-loop follow-up ") for line in lines)
    assert "runs 6/6 done" in out.stderr


@pytest.mark.e2e
def test_a_failed_run_is_reported_and_the_others_kept(tmp_path: Path) -> None:
    """A run that crashes (injected through sitecustomize in the run processes) is listed by scenario and seed."""
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(
        "import sim.engine.model\n"
        "_run = sim.engine.model.SiloModel.run\n"
        "def run(self, *a, **k):\n"
        "    if self.cfg.scenario_name == 'closed_loop_followup' and self.cfg.seed == 1:\n"
        "        raise RuntimeError('injected failure')\n"
        "    return _run(self, *a, **k)\n"
        "sim.engine.model.SiloModel.run = run\n"
    )
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(hook), os.environ.get("PYTHONPATH", "")])}
    out = run_command("silosim-compare", *SMALL, "out=cmp", "launcher=basic", cwd=tmp_path, env=env)
    assert out.returncode == 1, out.stderr
    assert "closed_loop_followup, seed 1: RuntimeError: injected failure" in out.stdout
    d = tmp_path / "cmp"
    assert (d / "report.html").exists()
    summary = pd.read_csv(d / "summary.csv").set_index("scenario")
    assert summary.loc["closed_loop_followup", "replications"] == 2
    assert summary.loc["siloed_scorecards", "replications"] == 3
    assert "injected failure" in (d / "report.html").read_text()
    assert "BasicLauncher" in (d / "runs" / "multirun.yaml").read_text()  # launcher=basic: one run at a time


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["scenarios=[siloed_scorecards,no_such]"], ["`scenarios`", "no_such", "closed_loop_followup"]),
        (["baseline=shared_stage_metrics", "scenarios=[siloed_scorecards,closed_loop_followup]"], ["`baseline`"]),
        (["replications=1"], ["`replications`", "at least 2"]),
        (["replicates=5"], ["`replicates`", "replications"]),
        (["feedback.survey.relationship_response_rate=1.5"], ["response_rate", "1.5", "between 0 and 1"]),
        (["seed=3"], ["`seed`", "first_seed"]),
        (["comparison=no_such"], ["no_such", "all_scenarios", "headline"]),
        (["scenario_dir=/no/such/dir"], ["scenario_dir", "/no/such/dir"]),
        (["oops"], ["`oops`", "key=value"]),
    ],
)
def test_bad_input_is_one_paragraph_and_nothing_is_written(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    out = run_main("silosim-compare", *args, "out=cmp", cwd=tmp_path)
    assert_user_error(out, "silosim-compare", fragments)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.e2e
def test_users_own_scenario_from_their_directory_and_a_calibrated_file(tmp_path: Path) -> None:
    mine = tmp_path / "my_scenarios"
    mine.mkdir()
    (mine / "our_plan.yaml").write_text(
        "# @package _global_\n# Our plan: the closed loop at double capacity.\n"
        "feedback:\n  inner_loop: {capacity: 10.0}\n"
    )
    calibrated = tmp_path / "calibrated.yaml"
    calibrated.write_text(  # as silosim-calibrate writes it
        f"calibration_source: {calibrated}\ncustomer:\n  base_weekly_churn: 0.0017\n"
    )
    out = run_command(
        "silosim-compare",
        "scenarios=[siloed_scorecards,our_plan]",
        f"scenario_dir={mine}",
        "replications=2",
        "customers=500",
        "weeks=12",
        "launcher=basic",
        "out=cmp",
        f"calibration={calibrated}",
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    config = (tmp_path / "cmp" / "runs" / "our_plan_s1" / ".hydra" / "config.yaml").read_text()
    assert "base_weekly_churn: 0.0017" in config and "capacity: 10.0" in config
    summary = pd.read_csv(tmp_path / "cmp" / "summary.csv")
    assert list(summary["scenario"]) == ["siloed_scorecards", "our_plan"]
    page = (tmp_path / "cmp" / "report.html").read_text()
    # the differing parameter is listed among the assumptions (its key wraps between its parts: <wbr>)
    assert "feedback.inner_loop.capacity" in page.replace("<wbr>", "")
