"""Configuration: every scenario composes, the schema rejects bad keys and values, YAML extends the model."""

from __future__ import annotations

import dataclasses
import re
from importlib.resources import files
from pathlib import Path

import pytest
from conftest import REPO, SCENARIOS

from sim.config import ConfigError, SiloConfig, checked_config, compose_config, group_options, register_group_dir
from sim.config.walk import parameter_table
from sim.engine.model import SiloModel


def checked(overrides: list[str]) -> SiloConfig:
    """Compose and validate like the command does."""
    return checked_config(overrides)


def test_every_scenario_file_is_a_scenario_option() -> None:
    """The scenarios are found by globbing scenarios/*.yaml (a new file is tested without editing a list)."""
    assert "siloed_scorecards" in SCENARIOS and "closed_loop_followup" in SCENARIOS
    installed = files("sim._conf").joinpath("scenario")
    assert sorted(p.name.removesuffix(".yaml") for p in installed.iterdir() if p.name.endswith(".yaml")) == SCENARIOS
    assert set(SCENARIOS) <= set(group_options("scenario"))  # (a test may have registered a user's directory too)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_scenario_composes_validates_and_documents_itself(scenario: str) -> None:
    cfg = checked([f"scenario={scenario}"])
    assert cfg.scenario_name == scenario
    text = (REPO / "scenarios" / f"{scenario}.yaml").read_text()
    assert text.startswith("# @package _global_\n")
    header = [line for line in text.splitlines()[1:] if line.startswith("#")]
    assert len(" ".join(header)) > 80, "each scenario explains what it stands for in the essays' terms"
    assert not re.search(r"^\s*_target_\s*:", text, flags=re.MULTILINE)


def test_baseline_is_the_default_and_scenarios_override_only_what_they_change() -> None:
    default = checked([])
    assert default.scenario_name == "siloed_scorecards"
    assert default.customers == 20_000 and default.weeks == 156
    loop = checked(["scenario=closed_loop_followup"])
    assert loop.feedback.inner_loop.capacity > 0
    assert loop.journey == default.journey and loop.market == default.market and loop.customer == default.customer


def test_impatient_ceo_builds_on_full_transformation() -> None:
    full, impatient = checked(["scenario=full_transformation"]), checked(["scenario=impatient_ceo"])
    assert impatient.feedback == full.feedback
    assert impatient.governance.patience_weeks < full.governance.patience_weeks  # impatient: a review in six months
    assert impatient.governance.patience_target_gain > full.governance.patience_target_gain


@pytest.mark.parametrize(
    ("override", "fragments"),
    [
        ("feedback.survey.respons_rate=0.2", ["`feedback.survey.respons_rate`", "response_rate"]),
        ("customers=many", ["`customers`", "'many'", "whole number"]),
        ("governance.shared_customer_view=perhaps", ["`governance.shared_customer_view`", "perhaps", "true or false"]),
        ("journey.touchpoints.setup.colour=red", ["`journey.touchpoints.setup.colour`", "base_quality"]),
    ],
)
def test_schema_rejects_misspelt_keys_and_wrong_types(override: str, fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        compose_config([override])
    for fragment in fragments:
        assert fragment in str(err.value), (fragment, str(err.value))


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (
            ["feedback.survey.relationship_response_rate=1.5"],
            ["feedback.survey.relationship_response_rate", "1.5", "between 0 and 1"],
        ),
        (["journey.handoff_failure_prob=-0.1"], ["journey.handoff_failure_prob", "-0.1"]),
        (["org.departments.Service.capacity=-5"], ["org.departments.Service.capacity", "at least 0"]),
        (["journey.stages=[]"], ["journey.stages", "empty"]),
        (["journey.stages=[a,a,b,c,d,e,f]"], ["unique"]),
        (["journey.touchpoints.setup.owner=Legal"], ["journey.touchpoints.setup.owner", "'Legal'", "Billing"]),
        (["journey.touchpoints.setup.stage=moon"], ["journey.touchpoints.setup.stage", "'moon'", "onboard"]),
        (["journey.touchpoints.setup.kind=usage"], ["journey.touchpoints", "'usage'", "already has that kind"]),
        (["governance.scorecard.own_kpi=-1"], ["governance.scorecard.own_kpi", "at least 0"]),
        (["governance.metric_type=vibes"], ["governance.metric_type", "outcome"]),
        (["network.degree=5"], ["network.degree", "even"]),
        (["customer.renewal_minor=[0.9,0.8]"], ["customer.renewal_minor", "four"]),
        (["customers=100", "track_customers=500"], ["track_customers", "500"]),
        (["org.departments.Sales.levers.over_promising.initial=2"], ["over_promising", "min <= initial <= max"]),
    ],
)
def test_validation_names_key_value_and_what_is_allowed(overrides: list[str], fragments: list[str]) -> None:
    with pytest.raises(ConfigError) as err:
        checked(overrides)
    message = str(err.value)
    for fragment in fragments:
        assert fragment in message, (fragment, message)


def test_all_problems_reported_at_once() -> None:
    with pytest.raises(ConfigError) as err:
        checked(["feedback.survey.relationship_response_rate=2", "org.departments.Billing.capacity=-1"])
    assert "response_rate" in str(err.value) and "Billing.capacity" in str(err.value)


def test_a_department_and_a_stage_are_added_in_yaml_alone(tmp_path: Path) -> None:
    """A user adds a Retention department that owns the renewal in a new 'retain' stage, in a scenario file."""
    (tmp_path / "retention_team.yaml").write_text(
        "# @package _global_\n"
        "journey:\n"
        "  stages: [discover, buy, onboard, use, get_help, pay, retain]\n"
        "  touchpoints:\n"
        "    renewal: {stage: retain, owner: Retention}\n"
        "org:\n"
        "  departments:\n"
        "    Retention:\n"
        "      kpi: new_sales\n"
        "      capacity: 30\n"
        "      levers: {}\n"
    )
    register_group_dir("scenario", tmp_path)
    overrides = ["scenario=retention_team", "customers=1500", "weeks=26"]
    cfg = checked(overrides)
    assert cfg.journey.touchpoints["renewal"].owner == "Retention"
    model = SiloModel(compose_config(overrides)).run()
    names = [d.name for d in model.departments]
    assert names[-1] == "Retention" and len(names) == 6
    assert model.journey.stages[-1] == "retain"
    dept = model.departments_frame()
    retention = dept[dept["department"] == "Retention"]
    assert len(retention) == cfg.weeks and retention["demand"].sum() > 0


def test_a_department_owning_a_missing_stage_is_rejected(tmp_path: Path) -> None:
    (tmp_path / "bad_org.yaml").write_text(
        "# @package _global_\norg:\n  departments:\n    Legal: {kpi: leads, capacity: 5}\n"
        "journey:\n  touchpoints:\n    invoice: {stage: court}\n"
    )
    register_group_dir("scenario", tmp_path)
    with pytest.raises(ConfigError, match=r"journey\.touchpoints\.invoice\.stage` is 'court'"):
        checked(["scenario=bad_org"])


def test_parameter_table_documents_every_parameter() -> None:
    rows = parameter_table()
    keys = {r["key"] for r in rows}
    assert {"seed", "customers", "weeks", "feedback.inner_loop.capacity", "governance.patience_weeks"} <= keys
    missing = [r["key"] for r in rows if not r["meaning"] or not r["source"]]
    assert not missing, f"parameters without a meaning or a source: {missing}"
    leaves = sum(1 for _ in _leaf_fields(SiloConfig))
    assert len(rows) == leaves


def _leaf_fields(root: type) -> list[str]:
    out: list[str] = []
    instance = root()
    for f in dataclasses.fields(root):
        value = getattr(instance, f.name)
        if dataclasses.is_dataclass(value):
            out += _leaf_fields(type(value))
        elif isinstance(value, dict) and value and dataclasses.is_dataclass(next(iter(value.values()))):
            out += _leaf_fields(type(next(iter(value.values()))))
        else:
            out.append(f.name)
    return out


def test_user_yaml_is_data_not_code(tmp_path: Path) -> None:
    """A `_target_` in a user file is an unknown key, never something imported or run."""
    marker = tmp_path / "pwned"
    (tmp_path / "evil.yaml").write_text(
        "# @package _global_\ngovernance:\n  _target_: os.system\n  _args_: ['touch " + str(marker) + "']\n"
    )
    register_group_dir("scenario", tmp_path)
    with pytest.raises(ConfigError, match="_target_"):
        cfg = compose_config(["scenario=evil", "customers=500", "weeks=2"])
        SiloModel(cfg).run()
    assert not marker.exists()


def test_a_kept_composition_is_a_copy_and_a_changed_scenario_file_is_composed_again(tmp_path: Path) -> None:
    """Compositions are kept (sim.config.compose._COMPOSED), keyed on all they depend on."""
    first = compose_config(["scenario=closed_loop_followup", "customers=1234"])
    first.customers = 99  # a caller's change stays with its copy
    again = compose_config(["scenario=closed_loop_followup", "customers=1234"])
    assert again.customers == 1234 and again is not first
    assert again.scenario_name == "closed_loop_followup"

    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "own.yaml").write_text("customers: 111\n")
    register_group_dir("scenario", mine)
    assert compose_config(["scenario=own"]).customers == 111
    (mine / "own.yaml").write_text("customers: 222\n")  # edited and registered again (as a new command would)
    register_group_dir("scenario", mine)
    assert compose_config(["scenario=own"]).customers == 222
