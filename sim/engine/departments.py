"""Departments: levers, own KPI, scorecard, and local search on the scorecard.

Each department climbs its own hill (Rivkin & Siggelkow 2003): review periods
alternate between measuring its scorecard with the levers where they are and
trying one small move on one lever; it keeps the move if the scorecard beat the
period just before and reverts it otherwise. Under siloed scorecards the hill is the department's
own KPI, which its levers buy at the customer's expense; that is where silo
behaviour comes from. With shared stage metrics or the outcome score in the
scorecard, the same search climbs a different hill.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import mesa
import numpy as np

if TYPE_CHECKING:
    from sim.config.schema import DepartmentConf

__all__ = ["Department", "Weights"]

Weights = tuple[float, float, float]  # own KPI, shared stage metrics, outcome score


class Department(mesa.Agent):
    """A department that owns touchpoints and chases its scorecard.

    Attributes:
        name: Department name.
        index: Position in the model's department list.
        kpi_name: Which own KPI it is judged on.
        base_capacity: Weekly touch capacity at the start (absolute).
        capacity: Current weekly touch capacity (moves under shared resource planning).
        levers: Current lever settings by lever name.
        mechanisms: Lever name by mechanism it drives.
        stages: Indices of the journey stages its touchpoints belong to.
        kpi: Latest weekly own-KPI value.
        scorecard: Latest scorecard value.
        demand: Touches demanded of it this week.
        period_demand: Mean weekly demand over the last closed review period.
    """

    def __init__(
        self,
        model: mesa.Model,
        name: str,
        index: int,
        conf: DepartmentConf,
        capacity_scale: float,
        stages: set[int],
        rng: np.random.Generator,
    ) -> None:
        """Create a department from its configuration.

        Args:
            model: The model.
            name: Department name.
            index: Position in the department list.
            conf: Its configuration.
            capacity_scale: Initial customers / 1000 (capacity is configured per 1,000 customers).
            stages: Journey stages its touchpoints belong to.
            rng: The department's own random stream (local-search moves).
        """
        super().__init__(model)
        self.name = name
        self.index = index
        self.kpi_name = conf.kpi
        self.base_capacity = conf.capacity * capacity_scale
        self.capacity = self.base_capacity
        self.lever_conf = dict(conf.levers)
        self.levers = {k: float(v.initial) for k, v in conf.levers.items()}
        self.mechanisms = {v.mechanism: k for k, v in conf.levers.items()}
        self.stages = stages
        self.search_rng = rng
        self.kpi = float("nan")
        self.scorecard = float("nan")
        self.demand = 0.0
        self.period_demand = 0.0
        self._demand_period: list[float] = []
        self.handled = 0.0
        # local search state
        self._kpi_period: list[float] = []
        self._stage_period: list[float] = []
        self._outcome_period: list[float] = []
        self._refs: tuple[float, float, float] | None = None
        self._trial: tuple[str, float] | None = None  # lever changed and its previous value
        self._score_before_trial = float("nan")
        self.moves_tried = 0
        self.moves_kept = 0

    # ------------------------------------------------------------------ levers
    def lever(self, mechanism: str) -> float:
        """Current setting of the lever driving ``mechanism`` (0 if the department has none)."""
        name = self.mechanisms.get(mechanism)
        return self.levers[name] if name is not None else 0.0

    # --------------------------------------------------------------- scorecard
    def record_week(self, kpi: float, stage_metric: float, outcome: float, weights: Weights, demand: float) -> None:
        """Record this week's own KPI, shared stage metric, outcome score and demand, and update the scorecard.

        Args:
            kpi: The department's own KPI this week (higher is better).
            stage_metric: Mean success of the stages it touches this week, 0-1.
            outcome: The outcome score as the department sees it (measured NPS, -100..100).
            weights: Effective scorecard weights (own KPI, shared stage, outcome).
            demand: Touches demanded of it this week.
        """
        self.kpi, self.demand = kpi, demand
        self._demand_period.append(demand)
        if math.isfinite(kpi):
            self._kpi_period.append(kpi)
        if math.isfinite(stage_metric):
            self._stage_period.append(stage_metric)
        if math.isfinite(outcome):
            self._outcome_period.append(outcome)
        if self._refs is not None:
            self.scorecard = self._score(kpi, stage_metric, outcome, weights)

    def _score(self, kpi: float, stage: float, outcome: float, weights: Weights) -> float:
        """Scorecard: weighted components, each relative to its value in the first review period.

        The own KPI and the outcome score count by their ratio to the reference; the shared stage metric (a
        success share) counts the way operations manage such rates, by how far its failures fell: the reference
        failure share over the current one (failures cut by a tenth score 1.11).
        """
        if self._refs is None:  # no reference period yet
            return float("nan")
        k_ref, s_ref, o_ref = self._refs
        parts = (
            kpi / k_ref if k_ref else 1.0,
            (1.0 - s_ref) / (1.0 - stage) if stage < 1.0 and s_ref < 1.0 else 1.0,
            (outcome + 100.0) / (o_ref + 100.0) if o_ref > -100 else 1.0,
        )
        total = sum(w for w in weights)
        if total <= 0:
            return float("nan")
        return float(sum(w * (p if math.isfinite(p) else 1.0) for w, p in zip(weights, parts, strict=True)) / total)

    def review(self, weights: Weights) -> None:
        """Close a review period: judge a trial move, or measure a baseline and start the next trial.

        Review periods alternate. In a baseline period the levers stay where they are and the scorecard is
        measured; then one lever moves a step (the trial). At the end of the trial period the move is kept if
        the scorecard beat the baseline period's, and reverted otherwise; the next period measures a fresh
        baseline. Comparing each trial with a baseline measured just before it, under the same conditions, is
        what keeps noisy scorecards from freezing the search: comparing against the best score seen so far
        would compare against a lucky draw.

        Args:
            weights: Effective scorecard weights this period.
        """
        means = tuple(
            float(np.mean(v)) if v else float("nan")
            for v in (self._kpi_period, self._stage_period, self._outcome_period)
        )
        self._kpi_period, self._stage_period, self._outcome_period = [], [], []
        self.period_demand = float(np.mean(self._demand_period)) if self._demand_period else 0.0
        self._demand_period = []
        if self._refs is None:
            self._refs = means  # the first period sets the reference the scorecard is read against
        score = self._score(*means, weights)
        if self._trial is not None:  # a trial period ends: keep the move or revert it; a baseline period follows
            lever, previous = self._trial
            if np.isfinite(score) and np.isfinite(self._score_before_trial) and score > self._score_before_trial:
                self.moves_kept += 1
            else:
                self.levers[lever] = previous
            self._trial = None
            return
        if self.levers and np.isfinite(score):  # a baseline period ends: try a move against it
            self._try_move(score)

    def _try_move(self, baseline: float) -> None:
        """Move one lever, chosen at random, a step up or down; remember where it was and the baseline score."""
        names = list(self.levers)
        lever = names[int(self.search_rng.integers(len(names)))]
        conf = self.lever_conf[lever]
        direction = 1.0 if self.search_rng.random() < 0.5 else -1.0
        new = float(np.clip(self.levers[lever] + direction * conf.step, conf.min, conf.max))
        if new == self.levers[lever]:
            return
        self._trial = (lever, self.levers[lever])
        self._score_before_trial = baseline
        self.levers[lever] = new
        self.moves_tried += 1
