"""The A/B what-if behind the dashboard (without a browser): inputs, the runs, the paired bands, the figure, the
export as a normal comparison that its own command reproduces, and the Results page's listing."""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import run_command

from sim.config import checked_config
from sim.dashboard.controls import CONTROLS, changed_controls, scenario_controls, scenario_labels
from sim.dashboard.plots import whatif_figure
from sim.dashboard.results import list_comparisons, open_comparison
from sim.dashboard.whatif import (
    CancelledError,
    WhatIf,
    WhatIfResult,
    check_whatif,
    difference_bands,
    export_whatif,
    final_effect,
    parse_whatif,
    run_whatif,
)

SMALL = {"customers": "300", "weeks": "16", "replications": "3", "first_seed": "0"}
LEVERS = {"followup_capacity": 20.0, "shared_stage_weight": 1.0}


@pytest.fixture(scope="module")
def result() -> WhatIfResult:
    spec, errors = parse_whatif("siloed_scorecards", "siloed_scorecards", LEVERS, **SMALL)
    assert not errors and spec is not None
    seen: list[tuple[int, int]] = []
    out = run_whatif(spec, progress=lambda done, total: seen.append((done, total)))
    assert seen[0] == (0, 6) and seen[-1] == (6, 6) and [d for d, _ in seen] == sorted(d for d, _ in seen)
    return out


@pytest.mark.parametrize(
    ("inputs", "key", "fragment"),
    [
        ({"customers": "lots"}, "customers", "Customers is 'lots', which is not a number"),
        ({"customers": "50"}, "customers", "from 100 to 200,000"),
        ({"weeks": "2.5"}, "weeks", "not a whole number"),
        ({"replications": "1"}, "replications", "out of range"),
        ({"first_seed": "-1"}, "first_seed", "First seed is -1"),
    ],
)
def test_bad_inputs_are_messages_for_their_own_input(inputs: dict[str, str], key: str, fragment: str) -> None:
    spec, errors = parse_whatif("siloed_scorecards", "closed_loop_followup", {}, **{**SMALL, **inputs})
    assert spec is None and set(errors) == {key} and fragment in errors[key]


def test_the_alternative_must_differ_from_the_baseline() -> None:
    spec, errors = parse_whatif("siloed_scorecards", "siloed_scorecards", {}, **SMALL)
    assert spec is None and "baseline itself" in errors["alternative"]
    spec, errors = parse_whatif("siloed_scorecards", "siloed_scorecards", {"followup_capacity": 7.0}, **SMALL)
    assert spec is not None and not errors and spec.alternative_name == "siloed_scorecards_what_if"
    assert spec.lever_overrides() == ["feedback.inner_loop.capacity=7"]
    # a lever at the alternative's own setting (where its slider starts) changes nothing
    same, _ = parse_whatif("siloed_scorecards", "closed_loop_followup", {"followup_capacity": 5.0}, **SMALL)
    assert same is not None and same.changes == () and same.alternative_name == "closed_loop_followup"


def test_a_lever_moves_from_the_alternatives_own_setting() -> None:
    """Closed-loop follow-up sets capacity 5: its slider starts there, and 4 is a cut, 0 switches it off."""
    assert scenario_controls("closed_loop_followup")["followup_capacity"] == 5.0
    assert scenario_controls("siloed_scorecards")["followup_capacity"] == 0.0
    cut, _ = parse_whatif("siloed_scorecards", "closed_loop_followup", {"followup_capacity": 4.0}, **SMALL)
    assert cut is not None and cut.lever_overrides() == ["feedback.inner_loop.capacity=4"]
    off, _ = parse_whatif("siloed_scorecards", "closed_loop_followup", {"followup_capacity": 0.0}, **SMALL)
    assert off is not None and off.lever_overrides() == ["feedback.inner_loop.capacity=0"]  # explicit, not dropped
    assert checked_config(off.overrides("alternative")).feedback.inner_loop.capacity == 0.0


def test_an_invalid_combination_is_reported_before_anything_runs() -> None:
    bad = WhatIf("siloed_scorecards", "closed_loop_followup", (("response_rate", 1.5),), 300, 8, 2, 0)
    errors = check_whatif(bad)
    assert "response_rate" in errors["levers"] and "1.5" in errors["levers"]


def test_changed_controls_keep_the_scenarios_own_setting_at_baseline() -> None:
    overrides, source = changed_controls(
        {"followup_capacity": 10.0, "communication": CONTROLS["communication"].baseline}
    )
    assert overrides == ["feedback.inner_loop.capacity=10"]
    assert source["followup_capacity"] == "control" and source["communication"] == "scenario"


@pytest.mark.slow
def test_both_arms_share_their_seeds_and_the_bands_are_the_paired_differences(result: WhatIfResult) -> None:
    m = result.runs.metrics
    assert sorted(set(m["scenario"])) == ["siloed_scorecards", "siloed_scorecards_what_if"]
    assert sorted(set(m["seed"])) == [0, 1, 2]
    bands = difference_bands(result, "true_nps")
    base = m[m["scenario"] == "siloed_scorecards"].set_index(["seed", "step"])["true_nps"]
    alt = m[m["scenario"] == "siloed_scorecards_what_if"].set_index(["seed", "step"])["true_nps"]
    by_hand = (alt - base).groupby("step").agg(["mean", "std"])
    np.testing.assert_allclose(bands["mean"], by_hand["mean"])
    half = 4.302653 * by_hand["std"] / np.sqrt(3)  # t(0.975, 2 dof)
    np.testing.assert_allclose(bands["high"] - bands["mean"], half, rtol=1e-5)
    assert (bands["n"] == 3).all() and len(bands) == 16
    followups = m.groupby("scenario")["followups"].sum()  # the levers reached the alternative arm only
    assert followups["siloed_scorecards"] == 0 < followups["siloed_scorecards_what_if"]


@pytest.mark.slow  # its fixture runs the what-if in the dashboard's worker pool
def test_the_answer_and_the_figure_agree_on_the_verdict(result: WhatIfResult) -> None:
    d, lo, hi = final_effect(result, "true_nps")
    row = result.summary.set_index("scenario").loc["siloed_scorecards_what_if"]
    assert (lo, hi) == (row["true_nps_diff_adj_ci_low"], row["true_nps_diff_adj_ci_high"])
    [answer] = result.answers()
    assert answer.title == "Siloed scorecards, with your changes" and answer.baseline_title == "Siloed scorecards"
    words = "raise true NPS" if lo > 0 else "lower true NPS" if hi < 0 else "make no clear difference to true NPS"
    assert words in answer.text
    fig = whatif_figure(result)
    title = fig.texts[0].get_text() if fig.texts else fig._suptitle.get_text()
    title = title.replace("\n", " ")
    if lo > 0 or hi < 0:
        assert f"with {'higher' if lo > 0 else 'lower'} true NPS than Siloed scorecards" in title
        assert f"{d:+.1f} points" in title
    else:
        assert title.startswith("No clear difference in true NPS") and "higher" not in title and "lower" not in title
    nps_axis = fig.axes[0]
    band = nps_axis.collections[0].get_paths()[0].vertices
    assert np.ptp(band[:, 1]) > 0  # the band has a width
    np.testing.assert_allclose(nps_axis.get_lines()[0].get_ydata(), difference_bands(result, "true_nps")["mean"])
    assert "difference (NPS points)" in nps_axis.get_ylabel() and nps_axis.get_xlabel() == "week"


@pytest.mark.e2e
def test_export_is_a_normal_comparison_that_its_own_command_reproduces(result: WhatIfResult, tmp_path: Path) -> None:
    comparison = export_whatif(result, tmp_path / "outputs")
    out = comparison.out
    assert out.parent == tmp_path / "outputs" / "comparisons"
    for name in ("report.html", "report.pptx", "summary.xlsx", "summary.csv", "comparison.json", "runs.csv"):
        assert (out / name).exists(), name
    scenario_file = (out / "scenarios" / "siloed_scorecards_what_if.yaml").read_text()
    assert scenario_file.startswith("# @package _global_\n") and "capacity: 20" in scenario_file
    meta = json.loads((out / "comparison.json").read_text())
    assert meta["titles"]["siloed_scorecards_what_if"] == "Siloed scorecards, with your changes"
    # the command in comparison.json reruns the same A/B with silosim-compare: the same metrics, byte for byte
    command = shlex.split(meta["command"])
    assert command[0] == "silosim-compare"
    done = run_command("silosim-compare", *command[1:], "launcher=basic", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    rerun = Path(next(a for a in command if a.startswith("out=")).split("=", 1)[1])
    for run in sorted((out / "runs").iterdir()):
        assert (run / "metrics.parquet").read_bytes() == (rerun / "runs" / run.name / "metrics.parquet").read_bytes()
    summary, again = pd.read_csv(out / "summary.csv"), pd.read_csv(rerun / "summary.csv")
    pd.testing.assert_frame_equal(summary, again)
    # the Results page lists both, newest first, and opens one with its answer, table, figures and downloads
    listed = list_comparisons(tmp_path / "outputs")
    assert {e.path for e in listed} == {out, rerun}
    view = open_comparison(out)
    assert view.entry.title.startswith("What-if: Siloed scorecards, with your changes")
    assert len(view.figures) == 6 and [a.title for a in view.answers] == ["Siloed scorecards, with your changes"]
    assert {p.name for p, _, _ in view.downloads} >= {"report.html", "report.pptx", "summary.xlsx", "summary.csv"}


@pytest.mark.slow
def test_a_cancelled_whatif_keeps_nothing(tmp_path: Path) -> None:
    spec, _ = parse_whatif("siloed_scorecards", "closed_loop_followup", {}, **{**SMALL, "replications": "4"})
    with pytest.raises(CancelledError):
        run_whatif(spec, cancelled=lambda: True, staging=tmp_path / "staging")
    assert not (tmp_path / "staging").exists()


def test_results_listing_skips_what_is_not_a_comparison(tmp_path: Path) -> None:
    (tmp_path / "a" / "runs").mkdir(parents=True)
    (tmp_path / "a" / "comparison.json").write_text("{not json")
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "comparison.json").write_text(json.dumps({"name": "x"}))  # no runs/
    assert list_comparisons(tmp_path) == [] and list_comparisons(tmp_path / "missing") == []
    with pytest.raises(ValueError, match="not a readable comparison"):
        open_comparison(tmp_path / "a")


CALIBRATED = "# @package _global_\ncalibration_source: {path}\ncustomer:\n  rating_bias_mean: 0.9\n"
CLIENT_PLAN = (
    "# @package _global_\n# The client's plan.\ndefaults:\n  - closed_loop_followup\n  - _self_\n"
    "about:\n  title: Contoso plan\nfeedback:\n  inner_loop: {capacity: 12.0}\n"
)


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A calibration folder and a scenario folder as a consultant has them; the ConfigStore is left as found."""
    from hydra.core.config_store import ConfigStore

    for variable in ("SILOSIM_SCENARIO_DIR", "SILOSIM_EXPERIMENT_DIR"):
        monkeypatch.delenv(variable, raising=False)
    (tmp_path / "fit").mkdir()
    (tmp_path / "fit" / "calibrated.yaml").write_text(CALIBRATED.format(path=tmp_path / "fit" / "calibrated.yaml"))
    (tmp_path / "missed").mkdir()
    (tmp_path / "missed" / "closest_fit.yaml").write_text(CALIBRATED.format(path="x"))
    (tmp_path / "plans").mkdir()
    (tmp_path / "plans" / "contoso_plan.yaml").write_text(CLIENT_PLAN)
    (tmp_path / "empty").mkdir()
    repo = ConfigStore.instance().repo
    before = set(repo.get("scenario", {}))
    yield tmp_path
    for name in set(repo.get("scenario", {})) - before:
        del repo["scenario"][name]


def test_a_calibration_and_a_scenario_folder_are_loaded_or_refused_with_a_message(client: Path) -> None:
    scenario = str(Path(__file__).resolve().parent.parent / "scenarios" / "full_transformation.yaml")
    for calibration, fragment in (
        (client / "missed", "only closest_fit.yaml"),
        (client / "nowhere", "neither a file nor a folder"),
        (scenario, "not a calibrated file"),
    ):
        spec, errors = parse_whatif(
            "siloed_scorecards", "closed_loop_followup", {}, **SMALL, calibration=str(calibration)
        )
        assert spec is None and set(errors) == {"calibration"} and fragment in errors["calibration"], errors
    for folder, fragment in ((client / "empty", "no *.yaml"), (client / "nowhere", "not a readable directory")):
        spec, errors = parse_whatif("siloed_scorecards", "closed_loop_followup", {}, **SMALL, scenario_dir=str(folder))
        assert spec is None and set(errors) == {"scenario_dir"} and fragment in errors["scenario_dir"], errors
    # the folder silosim-calibrate wrote, and the client's scenario folder: the client's plan can be picked
    spec, errors = parse_whatif(
        "siloed_scorecards",
        "contoso_plan",
        {},
        **SMALL,
        calibration=str(client / "fit"),
        scenario_dir=str(client / "plans"),
    )
    assert spec is not None and not errors, errors
    assert spec.calibration == str((client / "fit" / "calibrated.yaml").resolve())
    assert scenario_labels()["contoso_plan"][0] == "Contoso plan"
    assert check_whatif(spec) == {}


@pytest.mark.slow
def test_a_whatif_runs_on_the_clients_calibration_and_scenario_and_exports_them(client: Path) -> None:
    spec, errors = parse_whatif(
        "siloed_scorecards",
        "contoso_plan",
        {},
        customers="300",
        weeks="6",
        replications="2",
        first_seed="0",
        calibration=str(client / "fit"),
        scenario_dir=str(client / "plans"),
    )
    assert spec is not None and not errors, errors
    result = run_whatif(spec)
    for run in (result.staging / "runs").iterdir():
        config = yaml.safe_load((run / ".hydra" / "config.yaml").read_text())
        assert config["calibration_source"] and config["customer"]["rating_bias_mean"] == 0.9, run.name
        if run.name.startswith("contoso_plan"):
            assert config["feedback"]["inner_loop"]["capacity"] == 12.0  # the client's plan, on top
    comparison = export_whatif(result, client / "outputs")
    assert (comparison.out / "scenarios" / "contoso_plan.yaml").read_text() == CLIENT_PLAN
    command = comparison.meta["command"]
    assert f"calibration={spec.calibration}" in command and "scenario_dir=" in command
