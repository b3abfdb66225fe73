"""The report's answer sentences say the direction the numbers show: a reversed verdict fails here.

A summary table with known signs (one alternative clearly better, one clearly worse, one whose
interval crosses zero) must read "raise", "lower" and "make no clear difference", with the sizes and
interval bounds of the table, adjusted intervals taking precedence when the table carries them.
"""

from __future__ import annotations

import pandas as pd

from sim.report.content import answer_sentences, answers


def _summary(adjusted: bool = False) -> pd.DataFrame:
    rows = [
        # scenario, retention diff (share) and CI, true NPS diff and CI
        ("siloed_scorecards", 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
        ("better", 0.040, 0.030, 0.050, 6.0, 4.5, 7.5),
        ("worse", -0.020, -0.030, -0.010, -3.0, -4.0, -2.0),
        ("unclear", 0.004, -0.002, 0.010, 0.5, -1.0, 2.0),
    ]
    frame = pd.DataFrame(
        rows,
        columns=[
            "scenario",
            "annual_retention_diff",
            "annual_retention_diff_ci_low",
            "annual_retention_diff_ci_high",
            "true_nps_diff",
            "true_nps_diff_ci_low",
            "true_nps_diff_ci_high",
        ],
    )
    if adjusted:  # adjusted intervals twice as wide: "better"'s NPS gain still clear, "worse"'s retention loss not
        for key in ("annual_retention", "true_nps"):
            d, lo, hi = (frame[f"{key}_diff{s}"] for s in ("", "_ci_low", "_ci_high"))
            frame[f"{key}_diff_adj_ci_low"] = d - 2 * (d - lo)
            frame[f"{key}_diff_adj_ci_high"] = d + 2 * (hi - d)
    return frame


def test_verdicts_follow_the_signs_of_the_intervals() -> None:
    found = {a.scenario: a.clauses for a in answers(_summary(), "siloed_scorecards", 156, 0.95)}
    assert found["better"] == (
        "raise annual retention in year 3 by 4.0 points, 95% CI +3.0 to +5.0",
        "raise true NPS by 6.0 points, 95% CI +4.5 to +7.5",
    )
    assert found["worse"] == (
        "lower annual retention in year 3 by 2.0 points, 95% CI -3.0 to -1.0",
        "lower true NPS by 3.0 points, 95% CI -4.0 to -2.0",
    )
    assert all(clause.startswith("make no clear difference to") for clause in found["unclear"])


def test_sentences_name_the_alternative_and_the_baseline_best_first() -> None:
    sentences = answer_sentences(
        _summary(), "siloed_scorecards", 156, 0.95, titles={"siloed_scorecards": "Siloed scorecards"}
    )
    assert len(sentences) == 3
    assert sentences[0].startswith("better would raise") and sentences[-1].startswith("worse would lower")
    assert all(s.endswith("compared with Siloed scorecards.") for s in sentences)


def test_a_verdict_rests_on_the_adjusted_interval_when_there_is_one() -> None:
    found = {a.scenario: a.clauses for a in answers(_summary(adjusted=True), "siloed_scorecards", 156, 0.95)}
    assert found["better"][1] == "raise true NPS by 6.0 points, adjusted 95% CI +3.0 to +9.0"
    assert found["worse"][0].startswith("make no clear difference to annual retention in year 3")
