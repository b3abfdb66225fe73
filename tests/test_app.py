"""The dashboard's model factory, controls and figures, without a browser (see test_app_browser.py)."""

from __future__ import annotations

import inspect

import numpy as np
import pytest
from conftest import SCENARIOS as BUNDLED

from sim.config import ConfigError
from sim.dashboard.controls import CONTROLS, DashboardModel, control_overrides, model_params, scenarios, settings_html
from sim.dashboard.plots import (
    category_of,
    counters_html,
    customers_figure,
    department_kpi_figure,
    funnel_counts,
    funnel_figure,
    levers_figure,
    network_figure,
    nps_figure,
    panel_graph,
    trailing_retention,
)

SCENARIOS = scenarios()

SMALL = {"customers": 1000, "weeks": 12}


@pytest.fixture(scope="module")
def stepped() -> DashboardModel:
    model = DashboardModel(scenario_name="closed_loop_followup", **SMALL)
    for _ in range(10):
        model.step()
    return model


def test_controls_at_baseline_keep_the_scenario_and_changed_controls_override_it() -> None:
    overrides, source = control_overrides("full_transformation", 5000, 52, 3)
    assert overrides == ["scenario=full_transformation", "customers=5000", "weeks=52", "seed=3"]
    assert set(source.values()) == {"scenario"}
    overrides, source = control_overrides(
        "full_transformation",
        5000,
        52,
        3,
        shared_stage_weight=0.25,
        followup_capacity=5.0,
        response_rate=0.13000000000000003,
        patience_weeks=40,
    )
    assert overrides[4:] == [
        "governance.scorecard.shared_stage=0.25",
        "feedback.inner_loop.capacity=5",
        "governance.patience_weeks=40",
    ]
    assert source["shared_stage_weight"] == source["followup_capacity"] == source["patience_weeks"] == "control"
    assert source["response_rate"] == "scenario"  # slider float noise around the baseline is the baseline
    with pytest.raises(ValueError, match="unknown dashboard controls"):
        control_overrides("siloed_scorecards", 1000, 4, 0, engagement=0.5)


def test_the_model_is_built_from_the_controls_as_the_cli_would() -> None:
    kept = DashboardModel(scenario_name="impatient_ceo", **SMALL)
    assert kept.cfg.scenario_name == "impatient_ceo"
    assert kept.cfg.governance.patience_weeks == 26  # patience slider at 0 keeps the scenario's 26 weeks
    assert kept.cfg.governance.scorecard.shared_stage == 0.5  # from full_transformation, which it extends
    changed = DashboardModel(
        scenario_name="impatient_ceo",
        seed="7",
        shared_stage_weight=1.5,
        followup_capacity=2.5,
        followup_max_wait_weeks=3,
        response_rate=0.3,
        executive_engagement=0.2,
        communication=0.4,
        patience_weeks=52,
        **SMALL,
    )
    g, f = changed.cfg.governance, changed.cfg.feedback
    assert (g.scorecard.shared_stage, f.inner_loop.capacity, f.inner_loop.max_wait_weeks) == (1.5, 2.5, 3)
    assert (f.survey.relationship_response_rate, g.executive_engagement, g.communication, g.patience_weeks) == (
        0.3,
        0.2,
        0.4,
        52,
    )
    assert (changed.cfg.seed, changed.cfg.customers, changed.cfg.weeks) == (7, 1000, 12)
    assert set(changed.control_source.values()) == {"control"}


def test_bad_input_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="Seed is 'seven', but it must be a whole number"):
        DashboardModel(seed="seven", **SMALL)
    with pytest.raises(ConfigError, match="Seed is -1"):
        DashboardModel(seed="-1", **SMALL)
    with pytest.raises(ConfigError, match="response_rate"):
        DashboardModel(response_rate=1.5, **SMALL)


def test_model_params_match_the_constructor_and_the_scenarios() -> None:
    params = model_params()
    signature = inspect.signature(DashboardModel.__init__).parameters
    assert set(params) == set(signature) - {"self"}
    assert params["scenario_name"]["values"] == SCENARIOS == BUNDLED  # every scenarios/*.yaml
    for name, control in CONTROLS.items():
        p = params[name]
        assert p["min"] <= p["value"] <= p["max"], name
        assert p["value"] == signature[name].default == control.baseline
        assert p["type"] == ("SliderInt" if control.is_int else "SliderFloat")


def test_the_model_stops_at_the_horizon() -> None:
    model = DashboardModel(weeks=3, customers=1000)
    assert model.running and model.week == 0
    for _ in range(3):
        model.step()
    assert not model.running and len(model.records) == 3
    model.step()  # Mesa may call step once more; nothing is simulated
    assert len(model.records) == 3 and model.week == 3


def test_trailing_retention_annualises_weekly_churn() -> None:
    active = np.full(20, 1000.0)
    churned = np.r_[np.full(10, 2.0), np.full(10, 4.0)]
    r = trailing_retention(active, churned, window=5)
    assert r[0] == pytest.approx(0.998**52)
    assert r[9] == pytest.approx(0.998**52)
    assert r[19] == pytest.approx(0.996**52)
    assert r[11] == pytest.approx(np.exp(52 * (3 * np.log(0.998) + 2 * np.log(0.996)) / 5))


def test_figures_plot_the_model_records(stepped: DashboardModel) -> None:
    m = stepped.metrics_frame()
    ax = nps_figure(stepped).axes[0]
    true_line, measured_line = ax.get_lines()
    np.testing.assert_allclose(true_line.get_ydata(), m["true_nps"])
    np.testing.assert_allclose(measured_line.get_ydata(), m["measured_nps"])
    assert ax.get_title() == "True vs measured NPS" and "NPS" in ax.get_ylabel() and ax.get_xlabel() == "week"
    top, bottom = customers_figure(stepped).axes
    np.testing.assert_allclose(top.get_lines()[0].get_ydata(), m["active_customers"])
    assert "retention" in bottom.get_ylabel()
    kpi_axes = [a for a in department_kpi_figure(stepped).axes if a.get_visible()]
    assert len(kpi_axes) == len(stepped.departments) + 1
    assert all(a.get_ylabel() for a in kpi_axes)
    lever_lines = levers_figure(stepped).axes[0].get_lines()
    assert len(lever_lines) == sum(len(d.levers) for d in stepped.departments)


def test_funnel_counts_the_closed_loop(stepped: DashboardModel) -> None:
    m = stepped.metrics_frame()
    f = funnel_counts(stepped)
    assert (f.responses, f.detractors, f.followups, f.recoveries) == (
        m["survey_responses"].sum(),
        m["detractor_responses"].sum(),
        m["followups"].sum(),
        m["recoveries"].sum(),
    )
    assert f.responses >= f.detractors >= f.followups >= f.recoveries and f.followups > 0
    bars = funnel_figure(stepped).axes[0].patches
    assert [b.get_width() for b in bars] == [f.responses, f.detractors, f.followups, f.recoveries]


def test_network_view_is_the_panel_and_its_neighbours(stepped: DashboardModel) -> None:
    graph = panel_graph(stepped)
    panel = {c.row for c in stepped.panel}
    assert panel <= set(graph.nodes)
    for row in panel:
        assert set(graph.neighbors(row)) == set(stepped.network.neighbours(row).tolist())
    assert all(u in panel or v in panel or graph.has_edge(u, v) for u, v in graph.edges)
    rows = np.array(sorted(panel))
    cats = category_of(stepped, rows)
    ltr, active = stepped.store.true_ltr[rows], stepped.store.active[rows]
    assert cats.count("promoter") == int(((ltr >= 9) & active).sum())
    assert cats.count("detractor") == int(((ltr <= 6) & active).sum())
    assert cats.count("churned") == int((~active).sum())
    fig = network_figure(stepped)
    assert "Tracked panel" in fig.axes[0].get_title()


def test_cards_show_the_counters_and_the_settings_in_force(stepped: DashboardModel) -> None:
    m = stepped.metrics_frame()
    html = counters_html(stepped)
    assert f'data-value="week">{len(m)}<' in html
    assert f'data-value="active_customers">{m["active_customers"].iloc[-1]:,}<' in html
    assert f'data-value="conflicting_contacts_total">{m["conflicting_contacts"].sum():,}<' in html
    assert f'data-value="handoff_failures_total">{m["handoff_failures"].sum():,}<' in html
    settings = settings_html(stepped)
    assert "data-setting='followup_capacity'>5.0<" in settings  # closed_loop_followup's own capacity
    assert "closed_loop_followup" in settings
    fresh = DashboardModel(**SMALL)
    assert 'data-value="week">0<' in counters_html(fresh)
