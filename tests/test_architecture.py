"""The house: layers that import one way, one style, and the recipes of docs/architecture.md done for real."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest
from conftest import BIN, REPO, run_main

from sim.config import compose_config, register_group_dir
from sim.engine.model import SiloModel
from sim.engine.reference import ReferenceModel


def _tool(name: str, *args: str) -> subprocess.CompletedProcess[str]:
    path = BIN / name
    if not path.exists():
        pytest.skip(f"{name} is a dev dependency: pip install -e '.[dev]'")
    return subprocess.run([str(path), *args], cwd=REPO, capture_output=True, text=True, timeout=300, check=False)


def test_layers_import_one_way() -> None:
    """commands -> dashboard -> report -> experiments -> engine -> config, and only the commands import the Hydra
    plugin shims, which call silosim's code: no import cycle through hydra_plugins (import-linter)."""
    out = _tool("lint-imports")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 kept, 0 broken" in out.stdout and "Only the commands import hydra_plugins KEPT" in out.stdout


def test_code_is_linted_and_formatted() -> None:
    check = _tool("ruff", "check", ".")
    assert check.returncode == 0, check.stdout
    formatted = _tool("ruff", "format", "--check", ".")
    assert formatted.returncode == 0, formatted.stdout


def test_silosim_help_is_a_short_page_not_the_configuration(tmp_path: Path) -> None:
    out = run_main("silosim", "--help", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert len(text.splitlines()) < 45
    assert "closed_loop_followup" in text and "scenario_dir=PATH" in text and "docs/parameters.md" in text
    assert "market:" not in text and "prospect_pool_ratio" not in text  # not the composed configuration
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_registered_outcome_appears_in_a_comparisons_summary(tmp_path: Path) -> None:
    """The recipe 'Add an outcome': register it, run a comparison, find it in summary.csv with its CI."""
    from sim import Outcome, compare, register_outcome
    from sim.experiments.analysis.outcomes import OUTCOMES

    register_outcome(
        Outcome(
            "peak_open_problems",
            "Open problems, highest week",
            "problems",
            lambda metrics, context: float(metrics["open_problems"].max()),
            comparison=True,
        )
    )
    try:
        comparison = compare(
            tmp_path / "cmp",
            scenarios=["siloed_scorecards", "closed_loop_followup"],
            replications=2,
            customers=400,
            weeks=8,
            launcher="basic",
        )
    finally:
        OUTCOMES.pop("peak_open_problems")
    summary = pd.read_csv(tmp_path / "cmp" / "summary.csv").set_index("scenario")
    peaks = comparison.runs.metrics.groupby(["scenario", "seed"])["open_problems"].max().groupby("scenario").mean()
    for scenario in ("siloed_scorecards", "closed_loop_followup"):
        assert summary.loc[scenario, "peak_open_problems_mean"] == pytest.approx(peaks[scenario])
    assert {"peak_open_problems_diff", "peak_open_problems_diff_ci_low"} <= set(summary.columns)


def test_a_new_kpi_is_measured_for_the_department_that_names_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The recipe 'Add a KPI': a vocabulary name and a registry entry; a department in YAML then uses it."""
    import sim.config.validation as validation
    from sim.engine.kpis import KPIS, Kpi

    monkeypatch.setattr(validation, "KPI_MEASURES", (*validation.KPI_MEASURES, "offers_per_customer"))
    monkeypatch.setitem(
        KPIS,
        "offers_per_customer",
        Kpi("offers_per_customer", "Offers", "offers / week per customer", lambda f, d: f.counts.offers / f.active),
    )
    (tmp_path / "offers_kpi.yaml").write_text(
        "# @package _global_\norg:\n  departments:\n    Marketing: {kpi: offers_per_customer}\n"
    )
    register_group_dir("scenario", tmp_path)
    model = SiloModel(compose_config(["scenario=offers_kpi", "customers=800", "weeks=6"])).run()
    marketing = model.departments_frame().query("department == 'Marketing'")
    offers = model.metrics_frame()["offers"].to_numpy()
    active = model.metrics_frame()["active_customers"].to_numpy()
    costs = model.cfg.org.lever_costs  # what Marketing's own pushes cost it, recorded beside the KPI
    cost = (
        costs.campaign_volume * marketing["lever_campaign_volume"] ** 2
        + costs.cross_sell * marketing["lever_cross_sell_pressure"] ** 2
        + costs.handoff_care * marketing["lever_handoff_care"] ** 2
    )
    assert marketing["kpi"].to_numpy() == pytest.approx(offers / active * (1 - cost.to_numpy()))


def test_each_part_owns_its_columns_of_the_record() -> None:
    """The recipe 'Add a mechanism': each part returns its own columns; the reference records the same ones."""
    cfg = compose_config(["scenario=full_transformation", "customers=300", "weeks=3", "warmup_weeks=2"])
    engine = SiloModel(cfg).run()
    parts = [
        engine.market.record(),
        engine.journey.week.record(),
        engine.survey.record(),
        engine.inner_loop.record(),
        engine.outer_loop.record(),
        engine.programme.record(),
    ]
    names = [name for part in parts for name in part]
    assert len(names) == len(set(names)), "two parts claim the same column"
    columns = set(engine.metrics_frame().columns)
    assert set(names) <= columns
    reference = ReferenceModel(cfg).run()
    assert set(reference.metrics_frame().columns) == columns


def test_the_packaged_conf_holds_every_scenario() -> None:
    """conf/ (with scenarios/ linked in as conf/scenario) is what the package sim._conf ships."""
    import importlib.resources

    packaged = Path(str(importlib.resources.files("sim._conf")))
    names = {p.relative_to(packaged).as_posix() for p in (*packaged.glob("*.yaml"), *packaged.glob("*/*.yaml"))}
    scenarios = {f"scenario/{p.name}" for p in (REPO / "scenarios").glob("*.yaml")}
    assert len(scenarios) == 9 and scenarios <= names and "config.yaml" in names
    assert (REPO / "conf" / "scenario").resolve() == (REPO / "scenarios").resolve()
