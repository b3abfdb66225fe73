"""Scenario display titles and descriptions: declared in every bundled scenario, a fallback for a user's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import REPO, SCENARIOS

from sim.config import checked_config, register_group_dir
from sim.config.run import scenario_title


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_every_bundled_scenario_declares_a_title_and_one_line(scenario: str) -> None:
    cfg = checked_config([f"scenario={scenario}"])
    assert cfg.about.title and cfg.about.title != scenario
    assert 3 <= len(cfg.about.title) <= 40, cfg.about.title  # fits a slide's legend and a table's first column
    assert 20 <= len(cfg.about.description) <= 110 and "\n" not in cfg.about.description
    lines = (REPO / "scenarios" / f"{scenario}.yaml").read_text().splitlines()
    before = lines[: lines.index("about:")]  # near the top: only comments and a defaults list come first
    assert all(not line or line.startswith(("#", "defaults:", "  - ")) for line in before), before


def test_titles_are_unique_among_the_bundled_scenarios() -> None:
    titles = [checked_config([f"scenario={s}"]).about.title for s in SCENARIOS]
    assert len(set(titles)) == len(titles), titles


def test_the_labels_leave_the_model_alone() -> None:
    """Two configurations that differ only in their labels are the same model."""
    a = checked_config(["scenario=closed_loop_followup"])
    b = checked_config(["scenario=closed_loop_followup", "about.title=Our call-back plan", "about.description=x"])
    assert (a.feedback, a.governance, a.journey, a.org) == (b.feedback, b.governance, b.journey, b.org)


def test_a_users_scenario_without_a_title_is_named_after_its_file(tmp_path: Path) -> None:
    (tmp_path / "our_plan.yaml").write_text("# @package _global_\nfeedback:\n  inner_loop: {capacity: 3.0}\n")
    (tmp_path / "named_plan.yaml").write_text(
        "# @package _global_\nabout: {title: Our named plan, description: Three call-backs a week.}\n"
    )
    register_group_dir("scenario", tmp_path)
    plain = checked_config(["scenario=our_plan"])
    assert plain.about.title == "" and scenario_title(plain.scenario_name, plain.about.title) == "Our plan"
    named = checked_config(["scenario=named_plan"])
    assert scenario_title(named.scenario_name, named.about.title) == "Our named plan"


def test_scenario_title_falls_back_to_the_file_name_in_words() -> None:
    assert scenario_title("closed_loop_followup") == "Closed loop followup"
    assert scenario_title("x", "  Two   spaces ") == "Two spaces"
    assert scenario_title("our_plan", None) == "Our plan"
