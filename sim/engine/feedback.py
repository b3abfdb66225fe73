"""Feedback: the survey, score gaming, the inner loop and the outer loop.

* The **survey** invites a share of the customers touched this week; a share of
  those respond. The measured score is the true likelihood to recommend unless
  the front line games it: when scorecards reward the outcome score, some
  respondents are asked for a ten and some of those inflate their score, and
  unhappy customers are steered out of the survey. Measured NPS is reported
  over a rolling window next to true NPS.
* The **inner loop** puts detractor responses in a follow-up queue, served
  oldest first with a limited weekly capacity; the chance of recovering a
  customer halves with every ``recovery_half_life_weeks`` of delay.
* The **outer loop** tags each response with its root cause (the touchpoint
  of the customer's last failure), trends the causes, and each quarter fixes
  the top causes, lowering that touchpoint's failures for every customer. Its
  capacity is drawn from the same staff as firefighting, so a large backlog of
  open problems starves it (Repenning & Sterman 2001).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np

from sim.engine.metrics import DETRACTOR_MAX, PROMOTER_MIN, nps_from_counts

if TYPE_CHECKING:
    from sim.config.schema import GamingConf, InnerLoopConf, OuterLoopConf, SurveyConf
    from sim.engine.customers import CustomerStore
    from sim.engine.streams import Streams

__all__ = ["InnerLoop", "OuterLoop", "Survey"]


class Survey:
    """The recommendation survey and its gaming.

    Attributes:
        responses: Responses this week.
        annoyed: Rows pressed for a ten this week (their satisfaction fell).
        detractor_rows: Rows of this week's detractor responses (by measured score).
        causes: Root causes (touchpoint index, -1 none) of this week's responses.
    """

    def __init__(self, cfg: SurveyConf, gaming: GamingConf, n_stages: int) -> None:
        """Set up the survey.

        Args:
            cfg: Survey configuration.
            gaming: Gaming configuration.
            n_stages: Number of journey stages (for stage-level scores).
        """
        self.cfg = cfg
        self.gaming = gaming
        self.n_stages = n_stages
        self._window: deque[tuple[int, int, int]] = deque(maxlen=cfg.window_weeks)
        self._stage_window: deque[np.ndarray] = deque(maxlen=cfg.window_weeks)
        self.responses = 0
        self.inflated = 0
        self.detractor_rows = np.empty(0, dtype=np.int64)
        self.causes = np.empty(0, dtype=np.int16)
        self.annoyed = np.empty(0, dtype=np.int64)  # rows pressed for a ten this week (their satisfaction fell)

    def run(self, store: CustomerStore, streams: Streams, intensity: float) -> None:
        """Survey this week's touched customers.

        Args:
            store: Customer store (``true_ltr`` up to date).
            streams: Random streams.
            intensity: Gaming intensity, 0-1.
        """
        n, gaming = store.n, self.gaming
        invited = streams.dense_bernoulli("survey:invite", n, self.cfg.invite_prob)
        invited &= store.touched[:n]
        invited &= store.active[:n]
        rows = np.flatnonzero(invited)
        if intensity > 0:
            unhappy = (store.satisfaction[rows] < gaming.steer_below) | (store.problem_cause[rows] >= 0)
            steered = unhappy & (streams.uniform("survey:steer", rows) < gaming.steer_prob * intensity)
            rows = rows[~steered]
        rows = rows[streams.uniform("survey:respond", rows) < self.cfg.response_rate]
        score = store.true_ltr[rows].astype(np.int16)
        self.inflated = 0
        self.annoyed = rows[:0]
        if intensity > 0 and rows.size:
            pressured = streams.uniform("survey:pressure", rows) < gaming.pressure_prob * intensity
            inflate = pressured & (streams.uniform("survey:inflate", rows) < gaming.inflate_prob)
            score = np.where(inflate, np.minimum(10, score + gaming.inflate_points), score)
            self.inflated = int(inflate.sum())
            # being pressed for a ten annoys: the respondent's own satisfaction falls (its score is already given)
            self.annoyed = annoyed = rows[pressured]
            store.satisfaction[annoyed] = np.maximum(0.0, store.satisfaction[annoyed] - gaming.pressure_annoyance)
        store.measured_ltr[rows] = score
        detractors = self.tally(score, store.stage[rows], store.last_failure_tp[rows])
        self.detractor_rows = rows[detractors]

    def tally(self, score: np.ndarray, stage: np.ndarray, causes: np.ndarray) -> np.ndarray:
        """Add this week's responses to the rolling windows.

        Args:
            score: Measured scores (0-10) of the responses.
            stage: Journey stage of each respondent's last touch.
            causes: Root cause (touchpoint of the last failure, -1 none) of each response.

        Returns:
            Mask of the detractor responses.
        """
        promoters, detractors = score >= PROMOTER_MIN, score <= DETRACTOR_MAX
        self._window.append((int(promoters.sum()), int(detractors.sum()), int(score.size)))
        stage = np.asarray(stage).astype(np.int64)
        per_stage = np.stack(
            [
                np.bincount(stage, weights=promoters, minlength=self.n_stages),
                np.bincount(stage, weights=detractors, minlength=self.n_stages),
                np.bincount(stage, minlength=self.n_stages).astype(float),
            ]
        )
        self._stage_window.append(per_stage)
        self.responses = int(score.size)
        self.causes = np.asarray(causes, dtype=np.int16)
        return detractors

    def record(self) -> dict[str, float | int]:
        """This week's survey columns of metrics.parquet."""
        return {
            "measured_nps": self.measured_nps,
            "survey_responses": self.responses,
            "detractor_responses": int(self.detractor_rows.size),
            "inflated_responses": self.inflated,
        }

    @property
    def measured_nps(self) -> float:
        """Measured NPS over the rolling window (NaN before any response)."""
        p, d, t = (sum(x) for x in zip(*self._window, strict=True)) if self._window else (0, 0, 0)
        return nps_from_counts(p, d, t)

    def stage_nps(self) -> np.ndarray:
        """Measured NPS by the stage of the respondent's last touch, over the window (NaN if none)."""
        if not self._stage_window:
            return np.full(self.n_stages, np.nan)
        p, d, t = np.sum(self._stage_window, axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(t > 0, 100.0 * (p - d) / np.maximum(t, 1), np.nan)


class InnerLoop:
    """The detractor follow-up queue."""

    def __init__(self, cfg: InnerLoopConf, capacity_scale: float) -> None:
        """Set up an empty queue.

        Args:
            cfg: Inner-loop configuration.
            capacity_scale: Initial customers / 1000.
        """
        self.cfg = cfg
        self.scale = capacity_scale
        self._rows = np.empty(0, dtype=np.int64)
        self._since = np.empty(0, dtype=np.int32)
        self.followups = 0
        self.recoveries = 0
        self.dropped = 0

    def __len__(self) -> int:
        """Follow-ups waiting."""
        return int(self._rows.size)

    def record(self) -> dict[str, int]:
        """This week's inner-loop columns of metrics.parquet."""
        return {"followups": self.followups, "recoveries": self.recoveries, "followup_queue": len(self)}

    def step(
        self, store: CustomerStore, week: int, detractors: np.ndarray, capacity: float, streams: Streams
    ) -> np.ndarray:
        """Queue this week's detractors, drop stale or departed ones, serve the oldest.

        Args:
            store: Customer store.
            week: Current week.
            detractors: Rows of this week's detractor responses.
            capacity: Follow-ups per week per 1,000 initial customers in force.
            streams: Random streams.

        Returns:
            Rows recovered this week.
        """
        self.followups = self.recoveries = self.dropped = 0
        slots = capacity * self.scale
        if slots <= 0:  # no inner loop: nothing is queued
            self._rows = self._rows[:0]
            self._since = self._since[:0]
            return np.empty(0, dtype=np.int64)
        queued = ~np.isin(detractors, self._rows, assume_unique=True)
        self._rows = np.concatenate([self._rows, detractors[queued]])
        self._since = np.concatenate([self._since, np.full(int(queued.sum()), week, dtype=np.int32)])
        keep = store.active[self._rows] & (week - self._since <= self.cfg.max_wait_weeks)
        self.dropped = int((~keep).sum())
        self._rows, self._since = self._rows[keep], self._since[keep]
        rng = streams.rng("inner_loop")
        whole = int(slots)
        served_n = min(self._rows.size, whole + int(rng.random() < slots - whole))
        served, since = self._rows[:served_n], self._since[:served_n]
        self._rows, self._since = self._rows[served_n:], self._since[served_n:]
        delay = (week - since).astype(np.float64)
        p = self.cfg.max_recovery * 0.5 ** (delay / self.cfg.recovery_half_life_weeks)
        u = streams.uniform("inner_loop:recover", served)
        recovered = served[u < p]
        store.followed_up[served] = True
        self.followups = int(served.size)
        self.recoveries = int(recovered.size)
        return recovered


class OuterLoop:
    """Root-cause trending and quarterly fixes."""

    def __init__(self, cfg: OuterLoopConf, touchpoints: int) -> None:
        """Set up the trend.

        Args:
            cfg: Outer-loop configuration.
            touchpoints: Number of touchpoints.
        """
        self.cfg = cfg
        self.trend = np.zeros(touchpoints)
        self.decay = 0.5 ** (1.0 / cfg.trend_half_life_weeks)
        self.fixes = 0
        self.starvation = 0.0

    def record(self) -> dict[str, float | int]:
        """This week's outer-loop columns of metrics.parquet."""
        return {"rootcause_fixes": self.fixes, "improvement_starvation": self.starvation}

    def step(
        self,
        week: int,
        causes: np.ndarray,
        fixes_in_force: float,
        open_per_1000: float,
        defect: np.ndarray,
        streams: Streams,
    ) -> list[int]:
        """Trend this week's causes and, at the end of a quarter, fix the top ones.

        Args:
            week: Current week.
            causes: Root causes of this week's responses (-1 = none).
            fixes_in_force: Fixes per quarter the programme provides this week.
            open_per_1000: Open problems per 1,000 active customers (the firefighting backlog).
            defect: Per-touchpoint failure multipliers, lowered in place by fixes.
            streams: Random streams.

        Returns:
            Touchpoints fixed this week.
        """
        cfg = self.cfg
        self.fixes = 0
        self.trend *= self.decay
        tagged = causes[causes >= 0].astype(np.int64)
        self.trend += np.bincount(tagged, minlength=self.trend.size)
        self.starvation = float(
            np.clip((open_per_1000 - cfg.backlog_free) / (cfg.backlog_full - cfg.backlog_free), 0, 1)
        )
        if fixes_in_force <= 0 or (week + 1) % cfg.quarter_weeks:
            return []
        budget = fixes_in_force * (1.0 - self.starvation)
        whole = int(budget)
        count = whole + int(streams.rng("outer_loop").random() < budget - whole)
        ranked = [int(i) for i in np.argsort(-self.trend, kind="stable") if self.trend[i] > 0][:count]
        for tp in ranked:
            defect[tp] *= 1.0 - cfg.fix_effect
            self.trend[tp] = 0.0
        self.fixes = len(ranked)
        return ranked
