"""Uncertainty declared once, in the schema: every numeric parameter has a sound distribution and basis."""

from __future__ import annotations

import numpy as np
import pytest

from sim.config import compose_config, to_config
from sim.config.distributions import Uncertainty, fixed, lognormal, triangular, uncertainty_errors, uniform
from sim.config.schema import SiloConfig
from sim.config.walk import uncertain_parameters, walk


@pytest.fixture(scope="module")
def cfg() -> SiloConfig:
    return to_config(compose_config([]))


def test_every_numeric_parameter_declares_a_sound_uncertainty(cfg: SiloConfig) -> None:
    table, errors = uncertain_parameters(cfg)
    assert errors == []
    numeric = [p.key for p in walk(cfg, within=SiloConfig) if p.numeric]
    assert sorted(table) == sorted(numeric)
    varied = {k for k, (_, u) in table.items() if u.varied}
    # the scenario choices are never drawn; the assumptions the issue names are
    assert "feedback.inner_loop.capacity" not in varied
    assert "governance.executive_engagement" not in varied
    assert {"feedback.outer_loop.fix_effect", "customer.failure_penalty", "customer.renewal_minor"} <= varied
    # every parameter whose source says it is an assumption, and is numeric and not a choice, is varied or says why
    for key, (p, u) in table.items():
        if str(p.meta.get("source", "")).startswith("Assumption") and not u.varied:
            assert u.basis.startswith(("not varied", "scenario choice")), key


def test_list_parameters_vary_by_a_multiplier_inside_their_range(cfg: SiloConfig) -> None:
    table, _ = uncertain_parameters(cfg)
    p, u = table["customer.renewal_minor"]
    assert u.multiplier
    low, high = u.support()
    assert max(p.value) * high <= 1.0
    assert min(p.value) * low >= 0.0


def test_distributions_map_design_points_to_their_support() -> None:
    u = triangular(0.1, 0.3, 0.5, "wide: assumption")
    x = u.ppf(np.linspace(0.001, 0.999, 101))
    assert x.min() > 0.1 and x.max() < 0.5
    assert u.ppf([0.5])[0] == pytest.approx(0.3)  # a symmetric triangle's median is its mode
    assert lognormal(2.0, 1.5, "published spread").ppf([0.5])[0] == pytest.approx(2.0)
    assert uniform(0.0, 4.0, "wide: assumption").ppf([0.25])[0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    ("u", "fragment"),
    [
        (Uncertainty("gaussian", (0.1, 0.5), "wide: assumption"), "kind 'gaussian', which is unknown"),
        (uniform(0.1, 0.5, ""), "has no basis"),
        (uniform(0.1, 0.5, "my hunch"), "must begin with one of"),
        (uniform(0.1, 1.5, "wide: assumption"), "outside the parameter's range [0, 1]"),
        (uniform(0.4, 0.5, "wide: assumption"), "excludes the default 0.3"),
        (lognormal(0.3, 1.5, "wide: assumption"), "outside the parameter's range [0, 1]"),
        (triangular(0.5, 0.3, 0.1, "wide: assumption"), "needs low <= mode <= high"),
        (fixed("wide: assumption"), "must begin with one of 'scenario choice'"),
        (None, "is not declared"),
    ],
)
def test_bad_declarations_name_the_key(u: Uncertainty | None, fragment: str) -> None:
    errors = uncertainty_errors("feedback.outer_loop.fix_effect", u, 0.3, 0.0, 1.0)
    assert len(errors) == 1
    assert "`feedback.outer_loop.fix_effect`" in errors[0] and fragment in errors[0], errors[0]


def test_a_users_distribution_replaces_the_schemas_and_is_checked(cfg: SiloConfig) -> None:
    mine = {"feedback.outer_loop.fix_effect": {"kind": "uniform", "args": [0.05, 0.6], "basis": "source range: ours"}}
    table, errors = uncertain_parameters(cfg, mine)
    assert errors == []
    assert table["feedback.outer_loop.fix_effect"][1].args == (0.05, 0.6)
    _, errors = uncertain_parameters(cfg, {"feedback.outer_loop.fix_efect": {"kind": "uniform", "args": [0, 1]}})
    assert (
        len(errors) == 1 and "fix_efect" in errors[0] and "Did you mean `feedback.outer_loop.fix_effect`" in errors[0]
    )
    _, errors = uncertain_parameters(cfg, {"feedback.outer_loop.fix_effect": {"kind": "uniform", "args": "wide"}})
    assert len(errors) == 1 and "`distributions.feedback.outer_loop.fix_effect`.args" in errors[0]
