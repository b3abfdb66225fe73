"""``silosim-compare uncertainty=parameters draws=N``: paired parameter draws, two intervals, bad input refused."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import assert_user_error, run_command, run_main

SMALL = [
    "scenarios=[siloed_scorecards,closed_loop_followup]",
    "replications=3",
    "customers=300",
    "weeks=20",
    "warmup_weeks=10",
    "track_customers=5",
    "report.pdf=false",
]
FIX = "feedback.outer_loop.fix_effect"


@pytest.fixture(scope="module")
def drawn(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess[str]]:
    tmp = tmp_path_factory.mktemp("unc")
    out = run_command(
        "silosim-compare", *SMALL, "uncertainty=parameters", "draws=5", "customer.failure_penalty=3.5", "out=cmp",
        cwd=tmp,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    return tmp / "cmp", out


def _config(run: Path) -> dict:
    return yaml.safe_load((run / ".hydra" / "config.yaml").read_text())


@pytest.mark.e2e
def test_each_draw_is_one_parameter_set_shared_by_every_scenario(
    drawn: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, process = drawn
    record = json.loads((out / "draws" / "draws.json").read_text())
    assert len(record["values"]) == 5
    # a key the user set is held at the set value, never drawn
    assert "customer.failure_penalty" in record["held"] and "customer.failure_penalty" not in record["keys"]
    assert FIX in record["keys"]
    runs = out / "draws" / "runs"
    for i, values in enumerate(record["values"]):
        seed = 3 + i  # the draws' seeds follow the replications'
        a, b = (_config(runs / f"{s}_s{seed}") for s in ("siloed_scorecards", "closed_loop_followup"))
        assert a["feedback"]["outer_loop"]["fix_effect"] == b["feedback"]["outer_loop"]["fix_effect"] == values[FIX]
        assert a["customer"]["failure_penalty"] == 3.5
    assert len({v[FIX] for v in record["values"]}) == 5
    # the runs at the declared values are today's: no draw applied
    assert _config(out / "runs" / "closed_loop_followup_s0")["feedback"]["outer_loop"]["fix_effect"] == 0.3
    assert "parameter uncertainty: 10 runs" in process.stderr


@pytest.mark.e2e
def test_the_summary_has_both_intervals_the_share_of_worlds_and_what_it_hinges_on(
    drawn: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = drawn
    table = pd.read_csv(out / "uncertainty.csv")
    row = table[(table["scenario"] == "closed_loop_followup") & (table["outcome"] == "true_nps")].iloc[0]
    summary = pd.read_csv(out / "summary.csv").set_index("scenario")
    # the noise-only interval is today's unadjusted paired interval from the replications
    assert row["noise_low"] == pytest.approx(summary.loc["closed_loop_followup", "true_nps_diff_ci_low"], rel=1e-4)
    assert row["total_low"] <= row["median"] <= row["total_high"]
    assert 0.0 <= row["share_better"] <= 1.0
    best = table[table["outcome"] == "true_nps"]["probability_best"]
    assert best.sum() == pytest.approx(1.0)
    assert (
        isinstance(row["top1"], str) and row["top1"] in json.loads((out / "draws" / "draws.json").read_text())["keys"]
    )
    importance = pd.read_csv(out / "importance.csv")
    assert set(importance["parameter"]) == set(json.loads((out / "draws" / "draws.json").read_text())["keys"])
    meta = json.loads((out / "comparison.json").read_text())["uncertainty"]
    assert meta["draws"] == 5 and meta["draws_complete"] == 5 and len(meta["summary"]) == len(table)


@pytest.mark.parametrize(
    ("args", "fragments"),
    [
        (["uncertainty=parameters", "draws=1"], ["`draws` is 1", "at least 2"]),
        (["uncertainty=guesses", "draws=8"], ["`uncertainty` is 'guesses'", "none, parameters"]),
        (["draws=8"], ["`draws`", "uncertainty=parameters"]),
        (["uncertainty=parameters", "draws=8", "distributions=gaussian.yaml"], [f"`{FIX}`", "'gaussian'", "unknown"]),
        (["uncertainty=parameters", "draws=8", "distributions=outside.yaml"], [f"`{FIX}`", "range [0, 1]"]),
        (["uncertainty=parameters", "draws=8", "distributions=nobasis.yaml"], [f"`{FIX}`", "no basis"]),
        (["uncertainty=parameters", "draws=8", "distributions=missing.yaml"], ["`distributions`", "no such file"]),
    ],
)
def test_bad_uncertainty_input_is_one_paragraph_and_nothing_is_written(
    tmp_path: Path, args: list[str], fragments: list[str]
) -> None:
    for name, spec in (
        ("gaussian", "{kind: gaussian, args: [0.1, 0.5], basis: 'wide: assumption'}"),
        ("outside", "{kind: uniform, args: [0.1, 1.5], basis: 'wide: assumption'}"),
        ("nobasis", "{kind: uniform, args: [0.1, 0.5]}"),
    ):
        (tmp_path / f"{name}.yaml").write_text(f"{FIX}: {spec}\n")
    out = run_main("silosim-compare", *SMALL, *args, "out=cmp", cwd=tmp_path)
    assert_user_error(out, "silosim-compare", fragments)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gaussian.yaml", "nobasis.yaml", "outside.yaml"]


@pytest.mark.e2e
def test_the_report_says_how_sure_it_is_and_shows_the_tornado_of_the_effect(
    drawn: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    out, _ = drawn
    html = (out / "report.html").read_text()
    assert "How sure: Closed-loop follow-up" in html and "of plausible worlds (median" in html
    assert "simulation noise alone" in html
    assert "the answer hinges most on" in html or "no single assumption stands out" in html
    assert "Two kinds of uncertainty" in html
    assert (out / "figures" / "tornado.png").exists() and 'id="fig-tornado"' in html
    import openpyxl

    book = openpyxl.load_workbook(out / "summary.xlsx")
    sheet = book["Parameter uncertainty"]
    assert [c.value for c in sheet[1]][:3] == ["scenario", "outcome", "noise_mean"]
    assert sheet.max_row == 1 + len(pd.read_csv(out / "uncertainty.csv"))


@pytest.mark.e2e
def test_the_how_sure_table_agrees_with_the_summary_in_the_report_the_slides_and_the_dashboard(
    drawn: tuple[Path, subprocess.CompletedProcess[str]],
) -> None:
    from pptx import Presentation

    from sim.dashboard.results import open_comparison
    from sim.report.wording import interval_text

    out, _ = drawn
    table = pd.read_csv(out / "uncertainty.csv").set_index(["scenario", "outcome"])
    row = table.loc[("closed_loop_followup", "true_nps")]
    retention = table.loc[("closed_loop_followup", "annual_retention")]
    total = interval_text(row["total_low"], row["total_high"])
    noise = interval_text(row["noise_low"], row["noise_high"])
    held = interval_text(100 * retention["total_low"], 100 * retention["total_high"])  # points, not a fraction
    best = f"{table.loc[('siloed_scorecards', 'true_nps'), 'probability_best']:.0%}"
    # the dashboard's Results page: the sentences, the table (both intervals, both shares) and the tornado
    view = open_comparison(out)
    assert view.how_sure and view.how_sure[0].startswith("Closed-loop follow-up ")
    assert f"range {total};" in view.how_sure[0] and f"simulation noise alone {noise})" in view.how_sure[0]
    assert view.uncertainty is not None and "Two kinds of uncertainty" in view.uncertainty_method
    rows = {(r[0], r[1]): r for r in view.uncertainty.rows}
    nps = rows[("True NPS, points", "Closed-loop follow-up")]
    assert nps[3:6] == [total, noise, f"{row['share_better']:.0%}"]
    assert rows[("Annual retention, points", "Closed-loop follow-up")][3] == held
    assert rows[("True NPS, points", "Siloed scorecards (baseline)")][2:] == ["—"] * 4 + [best, "—"]
    assert sum(float(r[6].rstrip("%")) for r in view.uncertainty.rows if r[0] == "True NPS, points") == (
        pytest.approx(100, abs=1.5)
    )  # rounded shares of one probability
    assert out / "figures" / "tornado.png" in view.figures
    # the report: the same table in its own section
    html = (out / "report.html").read_text()
    section = html[html.index('id="how-sure"') : html.index('id="assumptions"')]
    assert total in section and noise in section and held in section and "Probability of being the best" in section
    # the slides: one slide with the sentences and the headline outcomes' rows
    deck = Presentation(str(out / "report.pptx"))
    slides = [s for s in deck.slides if s.shapes.title is not None and s.shapes.title.text.startswith("How sure")]
    assert len(slides) == 1
    texts = [shape.text_frame.text for shape in slides[0].shapes if shape.has_text_frame]
    assert any(t.startswith("Closed-loop follow-up ") and total in t for t in texts)
    cells = [c.text for shape in slides[0].shapes if shape.has_table for r in shape.table.rows for c in r.cells]
    assert total in cells and held in cells and "Measured NPS, points" not in cells


@pytest.mark.slow
def test_worlds_too_few_of_which_are_plausible_are_said_to_leave_the_answer_unmeasured(tmp_path: Path) -> None:
    """Every draw's baseline far from what the model reproduces: the report, slides and dashboard say that how
    sure the answer is was not measured and that the intervals are noise only; no table or tornado is made up."""
    from pptx import Presentation

    from sim.dashboard.results import open_comparison

    (tmp_path / "shifted.yaml").write_text(
        "customer.rating_bias_mean: {kind: triangular, args: [0.0, 10.0, 10.0], "
        "basis: 'wide: assumption, nearly every world far too loyal'}\n"
    )
    out = run_command(
        "silosim-compare", *SMALL, "uncertainty=parameters", "draws=2", "distributions=shifted.yaml", "out=cmp",
        cwd=tmp_path,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "only 0 of 2 parameter draws gave a plausible baseline" in out.stderr
    cmp = tmp_path / "cmp"
    said = "Not measured: Only 0 of 2 parameter draws gave a plausible baseline"
    noise_only = "Every interval here describes simulation noise only"
    html = (cmp / "report.html").read_text()
    assert f"How sure: {said}" in html and noise_only in html and "Two kinds of uncertainty" in html
    assert 'id="how-sure"' not in html and not (cmp / "figures" / "tornado.png").exists()
    deck = Presentation(str(cmp / "report.pptx"))
    texts = [sh.text_frame.text for slide in deck.slides for sh in slide.shapes if sh.has_text_frame]
    assert any(said in t for t in texts)
    titles = [s.shapes.title.text for s in deck.slides if s.shapes.title is not None]
    unmeasured = "How sure: not measured, the ranges are simulation noise only"
    assert [t for t in titles if t.startswith("How sure")] == [unmeasured]
    view = open_comparison(cmp)
    assert view.how_sure and view.how_sure[0].startswith(said) and view.uncertainty is None
    import openpyxl

    sheet = openpyxl.load_workbook(cmp / "summary.xlsx")["Parameter uncertainty"]
    assert sheet["A1"].value == "not measured" and str(sheet["A2"].value).startswith(said)


def test_a_comparison_without_draws_has_no_how_sure_table() -> None:
    from sim.report.uncertainty import how_sure_sentences, uncertainty_text_table

    meta = {"confidence": 0.95, "replications": 3}
    assert uncertainty_text_table(meta, "a", {}) is None and how_sure_sentences(meta, "a", {}) == []


def test_the_answer_sentence_in_words() -> None:
    from sim.report.uncertainty import uncertainty_sentence

    row = {
        "median": 5.1, "share_better": 0.96, "total_low": 1.2, "total_high": 9.0, "noise_low": 4.8,
        "noise_high": 5.4, "top1": FIX, "top1_switch_sign": 0.12,
    }  # fmt: skip
    text = uncertainty_sentence(row, "Closed-loop follow-up", 0.9)
    assert text.startswith(
        "Closed-loop follow-up raises true NPS in 96% of plausible worlds (median +5.1 points, 90% range +1.2 to "
        "+9.0; simulation noise alone +4.8 to +5.4); the answer hinges most on `feedback.outer_loop.fix_effect`"
    )
    assert text.endswith("its sign would change if it were below 0.12 (declared value 0.3).")
    down = uncertainty_sentence({**row, "median": -2.0, "share_better": 0.1, "top1_switch_sign": None}, "X", 0.9)
    assert down.startswith("X lowers true NPS in 90% of plausible worlds (median -2.0 points")
    assert down.endswith("no value in its plausible range changes the sign.")
    vague = uncertainty_sentence({**row, "top1_distinguishable": False, "top1_importance": 0.21}, "X", 0.9)
    assert vague.endswith(f"no single assumption stands out with these draws (the largest, `{FIX}` (relative "
                          "reduction of a touchpoint's failures), explains 21% of the spread across worlds but "
                          "cannot be told from zero).")  # fmt: skip
