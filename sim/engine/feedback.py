"""Feedback: the survey, score gaming, the inner loop and the outer loop.

* The **survey** runs as feedback programmes do. A *relationship* survey (the company's NPS) invites a share of
  the active customers each quarter, spread over the weeks, at most once a quarter each; *transactional* surveys
  follow defined touches (support contacts and onboarding by default). One contact-frequency rule covers both:
  nobody is invited again within ``min_weeks_between_invitations`` weeks. Each kind has its response rate.
  The measured score is the true likelihood to recommend unless the front line games it: when scorecards reward
  the outcome score, some respondents are asked for a ten and some of those inflate their score, and unhappy
  customers are steered out of the survey (both kinds). Measured NPS pools the relationship responses over a
  rolling window, next to true NPS; stage NPS pools the transactional responses by the stage of the touch.
* The **inner loop** puts detractor responses (either kind) in a follow-up queue, served oldest first with a
  limited weekly capacity; the chance of recovering a customer halves with every ``recovery_half_life_weeks`` of
  delay. Each follow-up uses support capacity the week after (the capability trap).
* The **outer loop** tags each response with its root cause (the touchpoint of the customer's last failure) and,
  with call-centre bucketing, each support contact about a problem with the problem's cause (some of them filed
  under a wrong one); it trends the causes and each quarter starts fixing the top causes. A fix takes
  ``fix_weeks`` and part of the owning department's capacity meanwhile, then lowers that touchpoint's failures for
  every customer. Improvement capacity is drawn from the same staff as firefighting, so a large backlog of open
  complaints starves it (Repenning & Sterman 2001).
"""

from __future__ import annotations

from collections import deque
from typing import TYPE_CHECKING

import numpy as np
from numba import njit

from sim.config.vocabularies import WEEKS_PER_QUARTER
from sim.engine.metrics import DETRACTOR_MAX, PROMOTER_MIN, nps_from_counts
from sim.engine.streams import compact_flagged, draw_bits, draw_uniform

if TYPE_CHECKING:
    from sim.config.schema import GamingConf, InnerLoopConf, OuterLoopConf, SurveyConf
    from sim.engine.customers import CustomerStore
    from sim.engine.streams import Streams

__all__ = ["InnerLoop", "OuterLoop", "Survey"]


class Survey:
    """The relationship and transactional surveys and their gaming.

    Attributes:
        invitations: Invitations sent this week (both kinds).
        relationship_responses: Relationship-survey responses this week.
        transactional_responses: Transactional-survey responses this week.
        responses: All responses this week.
        annoyed: Rows pressed for a ten this week (their satisfaction fell).
        detractor_rows: Rows of this week's detractor responses (by measured score, either kind).
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
        # a share q of the book each quarter, spread evenly: 1 - (1 - q)^(1/13) a week
        self.weekly_relationship_prob = 1.0 - (1.0 - cfg.relationship_invite_prob) ** (1.0 / WEEKS_PER_QUARTER)
        self._window: deque[tuple[int, int, int]] = deque(maxlen=cfg.window_weeks)
        self._stage_window: deque[np.ndarray] = deque(maxlen=cfg.window_weeks)
        self.invitations = 0
        self.responses = self.relationship_responses = self.transactional_responses = 0
        self.inflated = 0
        self.detractor_rows = np.empty(0, dtype=np.int64)
        self.causes = np.empty(0, dtype=np.int16)
        self.annoyed = np.empty(0, dtype=np.int64)  # rows pressed for a ten this week (their satisfaction fell)
        # this week's respondents, their measured scores and which answered the relationship survey (read by
        # silosim-export-records, which writes them as a client's survey export)
        self.respondents = np.empty(0, dtype=np.int64)
        self.respondent_scores = np.empty(0, dtype=np.int16)
        self.respondent_relationship = np.empty(0, dtype=bool)

    def invite(self, store: CustomerStore, streams: Streams, week: int) -> tuple[np.ndarray, np.ndarray]:
        """This week's invitations before any steering: the rows and which of them are to the relationship survey.

        A customer may be invited only if not invited (to either kind) in the last ``min_weeks_between_invitations``
        weeks. The relationship survey invites with its weekly probability customers it has not invited within a
        quarter; the others who had a touch of a transactional kind this week are invited to a transactional
        survey with ``transactional_invite_prob``.
        """
        cfg, n = self.cfg, store.n
        return streams.select(
            _invitations,
            n,
            week,
            np.array([cfg.min_weeks_between_invitations, WEEKS_PER_QUARTER], dtype=np.int64),
            streams.base("survey:relationship"),
            np.float64(self.weekly_relationship_prob),
            streams.base("survey:invite"),
            np.float32(cfg.transactional_invite_prob),
            store.active[:n],
            store.last_invited[:n],
            store.last_relationship[:n],
            store.transaction[:n],
        )

    def run(self, store: CustomerStore, streams: Streams, intensity: float, week: int) -> None:
        """Invite, steer, collect and tally this week's responses.

        Args:
            store: Customer store (``true_ltr`` up to date).
            streams: Random streams.
            intensity: Gaming intensity, 0-1.
            week: The current week.
        """
        gaming = self.gaming
        rows, relationship = self.invite(store, streams, week)
        if intensity > 0:  # the front line keeps customers who look unhappy out (a problem it knows of included)
            known_problem = (store.problem_cause[rows] >= 0) & store.problem_complains[rows]
            unhappy = (store.satisfaction[rows] < gaming.steer_below) | known_problem
            steered = unhappy & (streams.uniform("survey:steer", rows) < gaming.steer_prob * intensity)
            rows, relationship = rows[~steered], relationship[~steered]
        store.last_invited[rows] = week
        store.last_relationship[rows[relationship]] = week
        self.invitations = int(rows.size)
        rate = np.where(relationship, self.cfg.relationship_response_rate, self.cfg.transactional_response_rate)
        answered = streams.uniform("survey:respond", rows) < rate
        rows, relationship = rows[answered], relationship[answered]
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
        self.respondents, self.respondent_scores, self.respondent_relationship = rows, score, relationship
        detractors = self.tally(score, store.transaction_stage[rows], store.last_failure_tp[rows], relationship)
        self.detractor_rows = rows[detractors]

    def tally(
        self, score: np.ndarray, stage: np.ndarray, causes: np.ndarray, relationship: np.ndarray | None = None
    ) -> np.ndarray:
        """Add this week's responses to the rolling windows.

        Relationship responses make measured NPS; transactional ones make stage NPS, by the stage of the touch the
        survey followed. Both kinds carry their root causes to the outer loop and their detractors to the inner loop.

        Args:
            score: Measured scores (0-10) of the responses.
            stage: Journey stage of the touch each transactional response followed.
            causes: Root cause (touchpoint of the last failure, -1 none) of each response.
            relationship: Mask of the relationship responses (default: all of them).

        Returns:
            Mask of the detractor responses.
        """
        score = np.asarray(score)
        relationship = np.ones(score.size, dtype=bool) if relationship is None else np.asarray(relationship, bool)
        promoters, detractors = score >= PROMOTER_MIN, score <= DETRACTOR_MAX
        self._window.append(
            (int(promoters[relationship].sum()), int(detractors[relationship].sum()), int(relationship.sum()))
        )
        transactional = ~relationship
        stage = np.asarray(stage).astype(np.int64)[transactional]
        per_stage = np.stack(
            [
                np.bincount(stage, weights=promoters[transactional], minlength=self.n_stages),
                np.bincount(stage, weights=detractors[transactional], minlength=self.n_stages),
                np.bincount(stage, minlength=self.n_stages).astype(float),
            ]
        )
        self._stage_window.append(per_stage)
        self.responses = int(score.size)
        self.relationship_responses = int(relationship.sum())
        self.transactional_responses = self.responses - self.relationship_responses
        self.causes = np.asarray(causes, dtype=np.int16)
        return detractors

    def record(self) -> dict[str, float | int]:
        """This week's survey columns of metrics.parquet."""
        return {
            "measured_nps": self.measured_nps,
            "survey_invitations": self.invitations,
            "survey_responses": self.responses,
            "relationship_responses": self.relationship_responses,
            "transactional_responses": self.transactional_responses,
            "detractor_responses": int(self.detractor_rows.size),
            "inflated_responses": self.inflated,
        }

    @property
    def measured_nps(self) -> float:
        """Measured NPS: the relationship responses over the rolling window (NaN before any response)."""
        p, d, t = (sum(x) for x in zip(*self._window, strict=True)) if self._window else (0, 0, 0)
        return nps_from_counts(p, d, t)

    def stage_nps(self) -> np.ndarray:
        """Measured NPS of the transactional responses by the stage of their touch, over the window (NaN if none)."""
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
    """Root-cause trending, call-centre bucketing and quarterly fixes that take time and staff."""

    def __init__(self, cfg: OuterLoopConf, touchpoints: int) -> None:
        """Set up the trend.

        Args:
            cfg: Outer-loop configuration.
            touchpoints: Number of touchpoints.
        """
        self.cfg = cfg
        self.trend = np.zeros(touchpoints)
        self.decay = 0.5 ** (1.0 / cfg.trend_half_life_weeks)
        self.in_progress: list[tuple[int, int]] = []  # fixes under way: (touchpoint, week they take effect)
        self.fixes = 0
        self.fixes_started = 0
        self.bucketed = 0
        self.starvation = 0.0

    def record(self) -> dict[str, float | int]:
        """This week's outer-loop columns of metrics.parquet."""
        return {
            "rootcause_fixes": self.fixes,
            "rootcause_fixes_started": self.fixes_started,
            "fixes_in_progress": len(self.in_progress),
            "contacts_bucketed": self.bucketed,
            "improvement_starvation": self.starvation,
        }

    def bucket(self, rows: np.ndarray, causes: np.ndarray, streams: Streams) -> np.ndarray:
        """Classify support contacts about a problem by cause: a share ``misclassification`` under a wrong one.

        Args:
            rows: The contacting customers' rows (each contact draws its own numbers).
            causes: The true cause (touchpoint) of each contact's problem.
            streams: Random streams.

        Returns:
            The cause each contact is filed under.
        """
        causes = np.asarray(causes, dtype=np.int64)
        others = self.trend.size - 1
        if others < 1 or causes.size == 0:
            return causes
        wrong = streams.uniform("bucket:misfile", rows) < self.cfg.misclassification
        pick = np.minimum((streams.uniform("bucket:cause", rows) * others).astype(np.int64), others - 1)
        pick += pick >= causes  # uniformly among the other touchpoints
        return np.where(wrong, pick, causes)

    def step(
        self,
        week: int,
        causes: np.ndarray,
        fixes_in_force: float,
        open_per_1000: float,
        defect: np.ndarray,
        streams: Streams,
        contact_causes: np.ndarray | None = None,
        bucketing: float = 0.0,
    ) -> list[int]:
        """Trend this week's causes, finish the fixes that are due and, at the end of a quarter, start new ones.

        Causes are trended only while the outer loop is in force (``fixes_in_force`` > 0): without the loop a
        survey only produces a score, so the trend starts from nothing when a programme starts the loop.

        Args:
            week: Current week.
            causes: Root causes of this week's survey responses (-1 = none).
            fixes_in_force: Fixes per quarter the programme provides this week.
            open_per_1000: Open complaints per 1,000 active customers (the firefighting backlog).
            defect: Per-touchpoint failure multipliers, lowered in place by finished fixes.
            streams: Random streams.
            contact_causes: Causes the support contacts were filed under (call-centre bucketing).
            bucketing: Weight of the bucketed contacts in the trend (the bucketing in force, 0-1).

        Returns:
            Touchpoints whose fix took effect this week.
        """
        cfg = self.cfg
        self.fixes = self.fixes_started = self.bucketed = 0
        if fixes_in_force > 0:  # causes are trended only while an outer loop is in force: else a survey is a score
            self.trend *= self.decay
            tagged = causes[causes >= 0].astype(np.int64)
            self.trend += np.bincount(tagged, minlength=self.trend.size)
            if bucketing > 0 and contact_causes is not None and contact_causes.size:
                filed = contact_causes[contact_causes >= 0].astype(np.int64)
                self.trend += bucketing * np.bincount(filed, minlength=self.trend.size)
                self.bucketed = int(filed.size)
        self.starvation = float(
            np.clip((open_per_1000 - cfg.backlog_free) / (cfg.backlog_full - cfg.backlog_free), 0, 1)
        )
        fixed = [tp for tp, due in self.in_progress if due <= week]
        self.in_progress = [(tp, due) for tp, due in self.in_progress if due > week]
        for tp in fixed:
            defect[tp] *= 1.0 - cfg.fix_effect
        self.fixes = len(fixed)
        if fixes_in_force > 0 and (week + 1) % cfg.quarter_weeks == 0:
            fixed += self._start_fixes(week, fixes_in_force, defect, streams)
        return fixed

    def _start_fixes(self, week: int, fixes_in_force: float, defect: np.ndarray, streams: Streams) -> list[int]:
        """Start fixing the top causes; a fix of zero weeks takes effect at once (returned), others later."""
        cfg = self.cfg
        budget = fixes_in_force * (1.0 - self.starvation)
        whole = int(budget)
        count = whole + int(streams.rng("outer_loop").random() < budget - whole)
        busy = {tp for tp, _ in self.in_progress}
        ranked = [int(i) for i in np.argsort(-self.trend, kind="stable") if self.trend[i] > 0 and int(i) not in busy]
        started = ranked[:count]
        self.fixes_started = len(started)
        for tp in started:
            self.trend[tp] = 0.0
        if cfg.fix_weeks > 0:
            self.in_progress += [(tp, week + cfg.fix_weeks) for tp in started]
            return []
        for tp in started:
            defect[tp] *= 1.0 - cfg.fix_effect
        self.fixes += len(started)
        return started


@njit(cache=True)
def _invitations(
    week, gaps, relationship_stream, relationship_prob, invite_stream, invite_prob, active, last_invited,
    last_relationship, transaction, mask, rows, relationship,
):  # fmt: skip
    """This week's invitations (the rule of :meth:`Survey.invite`); returns how many.

    Writes the rows and whether each is to the relationship survey. ``gaps``: the weeks between any two
    invitations, and between two relationship invitations, of a customer. Branch-free, so the first loop
    vectorises (:func:`sim.engine.streams.compact`).
    """
    threshold = relationship_prob * 4294967296.0
    for i in range(active.size):
        free = active[i] & (week - last_invited[i] >= gaps[0])
        to_relationship = (
            free
            & (week - last_relationship[i] >= gaps[1])
            & (np.float64(draw_bits(relationship_stream, i)) < threshold)
        )
        to_transactional = free & transaction[i] & (draw_uniform(invite_stream, i) < invite_prob)
        mask[i] = to_relationship | to_transactional
        relationship[i] = to_relationship
    return compact_flagged(mask, rows, relationship)
