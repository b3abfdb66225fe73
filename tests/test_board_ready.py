"""The comparison is about the client (issue 23): its title, its money, its book as it evolves, its calibration.

Pure functions of the content layer, checked with numbers: the default title comes from the client and the
scenarios' display titles (``report.title`` wins, the client is never named twice), amounts carry
``report.currency``, the population is stated as it evolves, the calibration's targets, fitted values and
parameters at a bound appear by file name (never a local path), and parameters read by documented names.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace

import pandas as pd

from sim.experiments.calibration.outputs import calibration_record
from sim.experiments.compare.deliverables import ReportConf, report_errors
from sim.report.content import (
    _calibration,
    _population,
    _revenue,
    _shown_override,
    client_suffix,
    parameter_name,
    parameter_value,
    report_title,
)

META = {
    "name": "headline",
    "scenarios": ["siloed_scorecards", "contoso_plan"],
    "baseline": "siloed_scorecards",
    "titles": {"siloed_scorecards": "Siloed scorecards", "contoso_plan": "Contoso plan"},
}


def test_the_title_comes_from_the_client_and_the_scenarios_and_report_title_wins() -> None:
    assert (
        report_title({**META, "report": {"client": "Contoso Ltd"}}) == "Contoso Ltd: Contoso plan vs Siloed scorecards"
    )
    assert report_title({**META, "report": {}}) == "What silos cost: Contoso plan vs Siloed scorecards"
    many = {**META, "scenarios": ["siloed_scorecards", "a", "b", "c"], "report": {"client": "Contoso Ltd"}}
    assert report_title(many) == "Contoso Ltd: 3 alternatives vs Siloed scorecards"
    mine = {**META, "report": {"client": "Contoso Ltd", "title": "Loyalty options for the Board"}}
    assert report_title(mine) == "Loyalty options for the Board"
    # the client is named once: not "Contoso Ltd: ... for Contoso Ltd"
    assert client_suffix("Contoso Ltd: Contoso plan vs Siloed scorecards", "Contoso Ltd") == ""
    assert client_suffix("Loyalty options for the Board", "Contoso Ltd") == " for Contoso Ltd"


def _comparison(book: list[float], value_mean: float = 20.0) -> SimpleNamespace:
    metrics = pd.DataFrame(
        [
            {"scenario": "siloed_scorecards", "seed": seed, "step": step, "active_customers": n * (1 + 0.01 * seed)}
            for seed in (0, 1)
            for step, n in enumerate(book)
        ]
    )
    configs = {s: {"market": {"value_mean": value_mean}} for s in META["scenarios"]}
    return SimpleNamespace(
        meta={**META, "customers": 5000}, runs=SimpleNamespace(metrics=metrics), baseline="siloed_scorecards",
        configs=configs,
    )  # fmt: skip


def test_the_population_is_stated_as_it_evolves() -> None:
    grown = _population(_comparison([6397.0, 7000.0, 7910.0]))  # type: ignore[arg-type]
    assert grown.startswith("Population: 5,000 customers at set-up; after the warm-up the baseline's book is 6,429")
    assert "grows by 24% to 7,950 at week 3" in grown and "at the start" not in grown
    steady = _population(_comparison([5000.0, 5010.0, 5004.0]))  # type: ignore[arg-type]
    assert "stays at about 5,029 to week 3" in steady


def test_money_has_its_currency_and_the_illustrative_default_is_flagged() -> None:
    default = _revenue(_comparison([1.0]), "EUR")  # type: ignore[arg-type]
    assert "20.00 EUR a week on average (1,040 EUR a year" in default and "illustrative default" in default
    client = _revenue(_comparison([1.0], value_mean=35.0), "$")  # type: ignore[arg-type]
    assert "$35.00 a week" in client and "illustrative" not in client
    assert "currency units" in _revenue(_comparison([1.0], value_mean=35.0), "")  # type: ignore[arg-type]
    assert report_errors(ReportConf(currency="EUR")) == []
    [error] = report_errors(ReportConf(currency="12 EUR"))
    assert error.startswith("`report.currency` is '12 EUR'") and "EUR, USD or $" in error


def test_the_calibration_shows_its_targets_fits_and_a_parameter_at_a_bound_by_file_name(tmp_path: Path) -> None:
    calibrated = tmp_path / "calibrated.yaml"
    calibrated.write_text("# @package _global_\ncustomer:\n  renewal_no_problem: 0.99976\n")
    (tmp_path / "fit.json").write_text(
        json.dumps(
            {
                "status": "met",
                "targets": {"nps": 35.0, "annual_retention": 0.91},
                "fit": {
                    "nps": {"mean": 35.4, "low": 33.9, "high": 36.9, "n": 10},
                    "annual_retention": {"mean": 0.905, "low": 0.9, "high": 0.91, "n": 10},
                },
                "met": {"nps": True, "annual_retention": True},
                "parameters": [
                    {
                        "name": "renewal",
                        "key": "customer.renewal_no_problem",
                        "fitted": 0.99976,
                        "default": 0.97,
                        "lo": 0.85,
                        "hi": 1.0,
                        "at_bound": "upper",
                    },
                    {
                        "name": "attitude",
                        "key": "customer.rating_bias_mean",
                        "fitted": 0.41,
                        "default": -0.35,
                        "lo": -3.0,
                        "hi": 3.0,
                        "at_bound": None,
                    },
                ],
            }
        )
    )
    configs = {"siloed_scorecards": {"calibration_source": str(calibrated)}, "plan": {"calibration_source": ""}}
    record = calibration_record(configs)
    assert record is not None and record["file"] == "calibrated.yaml" and record["scenarios"] == ["siloed_scorecards"]
    lines = _calibration(record)
    text = " ".join(lines)
    assert str(tmp_path) not in text  # the file's name, not a local path
    assert "nps target +35.0, simulated +35.4 (95% CI +33.9 to +36.9), met" in text
    assert "annual retention target 0.910, simulated 0.905 (95% CI 0.900 to 0.910), met" in text
    assert "(customer.renewal_no_problem) = 0.9998, at the upper bound (default 0.97, searched in [0.85, 1])." in text
    assert "`" not in text and sum(line.startswith("Fitted: ") for line in lines) == 2
    [caution] = [line for line in lines if line.startswith("Caution:")]
    assert "customer.renewal_no_problem was fitted at the upper bound of its search range [0.85, 1]" in caution
    assert calibration_record({"a": {"calibration_source": ""}}) is None
    (tmp_path / "fit.json").unlink()
    assert "was not found" in _calibration(calibration_record(configs))[0]


def test_a_calibration_override_is_shown_by_its_file_name() -> None:
    assert (
        _shown_override("calibration=/home/me/acme/calibrated.yaml") == "calibration=calibrated.yaml (see Calibration)"
    )
    assert _shown_override("governance.communication=0.9") == "governance.communication=0.9"


def test_parameters_read_by_their_documented_names_and_values_as_a_person_reads_them() -> None:
    assert parameter_name("feedback.inner_loop.capacity").startswith("Detractor follow-ups per week")
    assert parameter_name("org.departments.Service.levers.handle_time_push.initial").startswith(
        "Service handle time push: "
    )
    assert parameter_value(None, "governance.patience_weeks") == "not set (never reviewed: unlimited patience)"
    assert (parameter_value(True), parameter_value(False), parameter_value(104), parameter_value(0.5)) == (
        "yes",
        "no",
        "104",
        "0.5",
    )
    assert parameter_value(float("nan")) == "not set"
