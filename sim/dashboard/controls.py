"""The dashboard's controls: the sidebar's inputs, how they become Hydra overrides, and the model they build.

A control is a Hydra override on top of the chosen scenario. The scenario-level controls (shared
stage-metric weight, follow-up capacity and cut-off, response rate, engagement, communication,
patience) start at the baseline defaults of the schema; a control left at that baseline value
keeps whatever the chosen scenario sets, a control moved away from it overrides the scenario.
"""

from __future__ import annotations

import functools
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape
from typing import Any

from sim.config import ConfigError, SiloConfig, compose_config, group_options
from sim.config.run import scenario_title
from sim.engine.model import SiloModel

__all__ = [
    "BASELINE_SCENARIO",
    "CONTROLS",
    "DEFAULT_CUSTOMERS",
    "Control",
    "DashboardModel",
    "changed_controls",
    "control_override",
    "control_overrides",
    "model_params",
    "parse_seed",
    "scenario_controls",
    "scenario_labels",
    "scenarios",
    "settings_html",
]

BASELINE_SCENARIO = "siloed_scorecards"
_SCHEMA = SiloConfig()  # schema defaults: the baseline every scenario-level control starts from

# Default population of the dashboard: the model's own default (MODEL.md, 20,000). One week at
# 20,000 customers costs about 10 ms and the warm-up in the constructor about 0.3 s on a laptop
# core; redrawing the figures costs several times a week's simulation, so the population is not
# what limits responsiveness. The render interval is (see sim.dashboard.page.RENDER_INTERVAL_WEEKS).
DEFAULT_CUSTOMERS = _SCHEMA.customers
CUSTOMERS_RANGE = (1_000, 100_000, 1_000)  # slider min, max, step; 100,000 steps at about 0.1 s/week
WEEKS_RANGE = (4, 520, 4)  # up to ten years, in months of four weeks
PATIENCE_MAX_WEEKS = 156  # the patience slider's range: up to the default three-year horizon

_COMPOSE_LOCK = threading.Lock()  # Hydra's global state is not thread-safe; sessions reset in threads


def scenarios() -> list[str]:
    """The scenarios a user can pick: the bundled ones and those of a loaded scenario folder."""
    with _COMPOSE_LOCK:
        return group_options("scenario")


def scenario_labels() -> dict[str, tuple[str, str]]:
    """Display title and one-line description of every scenario a user can pick, a loaded scenario folder's too."""
    return {name: _scenario_label(name) for name in scenarios()}


@functools.cache
def _scenario_label(name: str) -> tuple[str, str]:
    """A scenario's display title and description (composed once per process)."""
    with _COMPOSE_LOCK:
        about = compose_config([f"scenario={name}"]).about
    return scenario_title(name, about.title), str(about.description or "")


@dataclass(frozen=True)
class Control:
    """A scenario-level control: the slider and the Hydra key it overrides.

    Attributes:
        key: Hydra override key, e.g. ``governance.executive_engagement``.
        label: Short slider label in the sidebar.
        doc: What the control sets, with its unit (shown in the settings card).
        baseline: The schema default; at this value the control keeps the scenario's own setting.
        lo: Slider minimum.
        hi: Slider maximum.
        step: Slider step.
    """

    key: str
    label: str
    doc: str
    baseline: float
    lo: float
    hi: float
    step: float

    @property
    def is_int(self) -> bool:
        """Whether the slider is an integer slider."""
        return all(isinstance(v, int) for v in (self.baseline, self.lo, self.hi, self.step))


_gov, _fb = _SCHEMA.governance, _SCHEMA.feedback
CONTROLS: dict[str, Control] = {
    "shared_stage_weight": Control(
        "governance.scorecard.shared_stage",
        "Shared stage weight",
        "Weight of shared stage metrics in every scorecard (weight, beside the own-KPI weight)",
        _gov.scorecard.shared_stage,
        0.0,
        2.0,
        0.05,
    ),
    "followup_capacity": Control(
        "feedback.inner_loop.capacity",
        "Follow-up capacity",
        "Detractor follow-ups per week per 1,000 initial customers (inner loop; 0 = none)",
        _fb.inner_loop.capacity,
        0.0,
        20.0,
        0.5,
    ),
    "followup_max_wait_weeks": Control(
        "feedback.inner_loop.max_wait_weeks",
        "Follow-up target delay",
        "Follow-up target delay: weeks a detractor may wait for a call-back before it is dropped",
        _fb.inner_loop.max_wait_weeks,
        1,
        26,
        1,
    ),
    "response_rate": Control(
        "feedback.survey.relationship_response_rate",
        "Survey response rate",
        "Share of customers invited to the relationship survey (the company's NPS) who answer it (probability)",
        _fb.survey.relationship_response_rate,
        0.01,
        0.6,
        0.01,
    ),
    "executive_engagement": Control(
        "governance.executive_engagement",
        "Executive engagement",
        "Executive engagement, 0-1: sets how fast the programme is adopted, how far and how long it holds",
        _gov.executive_engagement,
        0.0,
        1.0,
        0.05,
    ),
    "communication": Control(
        "governance.communication",
        "Communication",
        "Communication, 0-1: share of the front line that applies the new decision rules",
        _gov.communication,
        0.0,
        1.0,
        0.05,
    ),
    "patience_weeks": Control(
        "governance.patience_weeks",
        "Patience (weeks)",
        "Corporate patience: weeks before the CEO's quarterly reviews of the measured-NPS trend start (0 = the "
        "scenario's)",
        0,
        0,
        PATIENCE_MAX_WEEKS,
        1,
    ),  # 0 stands for the schema default None (unlimited patience)
}


def _fmt(value: float) -> str:
    """A control value as Hydra override text."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


def control_override(name: str, value: float) -> str:
    """The Hydra override that sets one control to ``value`` (patience 0 is ``null``: unlimited).

    >>> control_override("followup_capacity", 0.0), control_override("patience_weeks", 0)
    ('feedback.inner_loop.capacity=0', 'governance.patience_weeks=null')
    """
    control = CONTROLS[name]
    if name == "patience_weeks" and value == 0:
        return f"{control.key}=null"
    return f"{control.key}={_fmt(value)}"


@functools.cache
def scenario_controls(scenario: str) -> dict[str, float]:
    """Every control's value in a scenario as composed (patience ``null`` is 0), so its sliders start there.

    Args:
        scenario: A scenario name.

    Returns:
        Control name -> the scenario's own value.
    """
    with _COMPOSE_LOCK:
        cfg = compose_config([f"scenario={scenario}"])
    values: dict[str, float] = {}
    for name, control in CONTROLS.items():
        node: Any = cfg
        for part in control.key.split("."):
            node = node[part]
        values[name] = (0 if node is None else type(control.baseline)(node)) if control.is_int else float(node)
    return values


def changed_controls(controls: Mapping[str, float]) -> tuple[list[str], dict[str, str]]:
    """Hydra overrides for the scenario-level controls moved away from their baseline value.

    Args:
        controls: Values of scenario-level controls, by name in :data:`CONTROLS` (missing ones are at baseline).

    Returns:
        The overrides and, for each control, ``"control"`` if it overrides the scenario or ``"scenario"``
        if it leaves the scenario's setting in force.

    Raises:
        ValueError: If a control name is unknown.
    """
    unknown = sorted(set(controls) - set(CONTROLS))
    if unknown:
        raise ValueError(f"unknown dashboard controls {unknown}; known: {sorted(CONTROLS)}")
    overrides: list[str] = []
    source: dict[str, str] = {}
    for name, control in CONTROLS.items():
        value = controls.get(name, control.baseline)
        if math.isclose(value, control.baseline, abs_tol=control.step / 2):  # sliders return float noise
            source[name] = "scenario"
            continue
        overrides.append(f"{control.key}={_fmt(value)}")
        source[name] = "control"
    return overrides, source


def control_overrides(
    scenario_name: str,
    customers: int,
    weeks: int,
    seed: int,
    **controls: float,
) -> tuple[list[str], dict[str, str]]:
    """Translate dashboard controls into Hydra overrides, as the ``silosim`` command would receive them.

    Scenario, customers, weeks and seed always apply. A scenario-level control (one of
    :data:`CONTROLS`) applies only when it differs from its baseline value; at the baseline it
    leaves the scenario's own setting in force.

    Args:
        scenario_name: A scenario in ``scenarios/``.
        customers: Initial number of customers.
        weeks: Horizon in weeks.
        seed: Root seed.
        **controls: Values of the scenario-level controls, by name in :data:`CONTROLS`.

    Returns:
        The override list and, for each scenario-level control, ``"control"`` if it overrides
        the scenario or ``"scenario"`` if it leaves the scenario's setting in force.

    Raises:
        ValueError: If a control name is unknown.
    """
    levers, source = changed_controls(controls)
    overrides = [f"scenario={scenario_name}", f"customers={int(customers)}", f"weeks={int(weeks)}", f"seed={seed}"]
    return overrides + levers, source


def parse_seed(seed: int | str) -> int:
    """The seed from the sidebar's text box as an integer (a user error names the bad value and what is allowed)."""
    text = str(seed).strip()
    try:
        value = int(text)
    except ValueError:
        raise ConfigError(f"Seed is '{text}', but it must be a whole number of 0 or more (e.g. 0 or 42).") from None
    if value < 0:
        raise ConfigError(f"Seed is {value}, but it must be a whole number of 0 or more (e.g. 0 or 42).")
    return value


# --------------------------------------------------------------------------- model
class DashboardModel(SiloModel):
    """SiloModel built from keyword controls, as SolaraViz's ``model_params`` require.

    The controls become Hydra overrides (:func:`control_overrides`), composed exactly as the
    ``silosim`` command composes them; :class:`SiloModel` then validates the configuration and
    runs its warm-up. The model stops (``running`` is False) at the configured horizon.

    Attributes:
        overrides: The Hydra overrides the model was composed from.
        control_source: For each scenario-level control, whether it overrides the scenario.
    """

    def __init__(
        self,
        scenario_name: str = BASELINE_SCENARIO,
        customers: int = DEFAULT_CUSTOMERS,
        weeks: int = _SCHEMA.weeks,
        seed: int | str = _SCHEMA.seed,
        shared_stage_weight: float = CONTROLS["shared_stage_weight"].baseline,
        followup_capacity: float = CONTROLS["followup_capacity"].baseline,
        followup_max_wait_weeks: int = CONTROLS["followup_max_wait_weeks"].baseline,  # type: ignore[assignment]
        response_rate: float = CONTROLS["response_rate"].baseline,
        executive_engagement: float = CONTROLS["executive_engagement"].baseline,
        communication: float = CONTROLS["communication"].baseline,
        patience_weeks: int = CONTROLS["patience_weeks"].baseline,  # type: ignore[assignment]
    ) -> None:
        """Compose the configuration from the controls and build the model.

        Args:
            scenario_name: Scenario to start from (a file in ``scenarios/``).
            customers: Initial number of customers.
            weeks: Horizon in weeks; the model stops there.
            seed: Root seed (an integer, or its text from the sidebar).
            shared_stage_weight: ``governance.scorecard.shared_stage``.
            followup_capacity: ``feedback.inner_loop.capacity``.
            followup_max_wait_weeks: ``feedback.inner_loop.max_wait_weeks``.
            response_rate: ``feedback.survey.relationship_response_rate``.
            executive_engagement: ``governance.executive_engagement``.
            communication: ``governance.communication``.
            patience_weeks: ``governance.patience_weeks`` (0 keeps the scenario's setting).

        Raises:
            ConfigError: If the resulting configuration is invalid.
        """
        self.overrides, self.control_source = control_overrides(
            scenario_name,
            customers,
            weeks,
            parse_seed(seed),
            shared_stage_weight=shared_stage_weight,
            followup_capacity=followup_capacity,
            followup_max_wait_weeks=followup_max_wait_weeks,
            response_rate=response_rate,
            executive_engagement=executive_engagement,
            communication=communication,
            patience_weeks=patience_weeks,
        )
        with _COMPOSE_LOCK:
            cfg = compose_config(self.overrides)
        super().__init__(cfg)
        self.running = self.week < self.cfg.weeks

    def step(self) -> None:
        """Simulate one week, unless the horizon is reached (then only stop running)."""
        if self.week < self.cfg.weeks:
            super().step()
        self.running = self.week < self.cfg.weeks


def settings_html(model: DashboardModel) -> str:
    """The settings in force and where each comes from (the chosen scenario or a control)."""
    cfg = model.cfg
    values = {
        "shared_stage_weight": cfg.governance.scorecard.shared_stage,
        "followup_capacity": cfg.feedback.inner_loop.capacity,
        "followup_max_wait_weeks": cfg.feedback.inner_loop.max_wait_weeks,
        "response_rate": cfg.feedback.survey.relationship_response_rate,
        "executive_engagement": cfg.governance.executive_engagement,
        "communication": cfg.governance.communication,
        "patience_weeks": "unlimited" if cfg.governance.patience_weeks is None else cfg.governance.patience_weeks,
    }
    rows = "".join(
        f"<tr><td><b>{escape(c.label)}</b>: {escape(c.doc)}</td>"
        f"<td style='padding: 0 10px' data-setting='{name}'>{values[name]}</td>"
        f"<td>{'your control' if model.control_source[name] == 'control' else 'scenario'}</td></tr>"
        for name, c in CONTROLS.items()
    )
    return (
        f"<p>Settings in force: scenario <b>{escape(scenario_title(cfg.scenario_name, cfg.about.title))}</b> "
        f"(<code>{escape(cfg.scenario_name)}</code>), {cfg.customers:,} customers, "
        f"{cfg.weeks} weeks, seed {cfg.seed}.</p>"
        "<table><tr><th align='left'>setting</th><th>in force</th><th>from</th></tr>" + rows + "</table>"
        "<p>A control left at its baseline value keeps the scenario's setting; a changed control "
        "takes effect when you press Reset.</p>"
    )


def model_params() -> dict[str, Any]:
    """SolaraViz's ``model_params``: one sidebar input per constructor keyword of DashboardModel."""
    params: dict[str, Any] = {
        "scenario_name": {"type": "Select", "value": BASELINE_SCENARIO, "values": scenarios(), "label": "Scenario"},
        "customers": {
            "type": "SliderInt",
            "value": DEFAULT_CUSTOMERS,
            "min": CUSTOMERS_RANGE[0],
            "max": CUSTOMERS_RANGE[1],
            "step": CUSTOMERS_RANGE[2],
            "label": "Customers (initial)",
        },
        "weeks": {
            "type": "SliderInt",
            "value": _SCHEMA.weeks,
            "min": WEEKS_RANGE[0],
            "max": WEEKS_RANGE[1],
            "step": WEEKS_RANGE[2],
            "label": "Weeks (horizon)",
        },
        "seed": {"type": "InputText", "value": str(_SCHEMA.seed), "label": "Seed"},
    }
    for name, c in CONTROLS.items():
        params[name] = {
            "type": "SliderInt" if c.is_int else "SliderFloat",
            "value": c.baseline,
            "min": c.lo,
            "max": c.hi,
            "step": c.step,
            "label": c.label,
        }
    return params
