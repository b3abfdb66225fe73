"""SiloModel: builds its parts from the configuration and runs them in the weekly step order.

Read :meth:`SiloModel._simulate_week` top to bottom: it is the model's schedule (the "process
overview and scheduling" of the ODD description in docs/odd.md). Each part keeps its own weekly
counters and returns its own columns of ``metrics.parquet`` (``record()``); the model adds the
population's columns and merges them (:meth:`SiloModel._record`).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd
from numba import njit

from sim.config.compose import to_config
from sim.config.schema import SiloConfig
from sim.config.validation import validate
from sim.config.vocabularies import WEEKS_PER_YEAR
from sim.config.walk import walk
from sim.engine import loyalty
from sim.engine.customers import RESOLUTION_NAMES, WEEKLY_FLAGS, Customer, CustomerStore
from sim.engine.departments import Department
from sim.engine.feedback import InnerLoop, OuterLoop, Survey
from sim.engine.governance import Programme
from sim.engine.journey import Journey
from sim.engine.market import Market
from sim.engine.metrics import DETRACTOR_MAX, PROMOTER_MIN, likelihood_to_recommend, nps_from_counts
from sim.engine.network import Network
from sim.engine.organisation import Organisation
from sim.engine.streams import Streams

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = [
    "INITIAL_TENURE_WEEKS",
    "WARMUP_UNREAD",
    "SiloModel",
    "WarmState",
    "settled_problem_rate",
    "warm_up",
    "warmup_key",
]

INITIAL_TENURE_WEEKS = 20 * WEEKS_PER_YEAR  # the initial book: survivors of 20 years of joining (few stay longer)

# The model settings the warm-up never reads, each with the reason (read off _simulate_week for weeks < 0, where the
# programme is never updated, so its adoption stays 0). Every other model setting is part of the warm-up key; a new
# setting is therefore in the key until someone shows it is unread here (tests/test_warmup.py forks across each
# of these and compares the outputs to the byte).
WARMUP_UNREAD: dict[str, str] = {
    "scenario_name": "a label (the progress bar)",
    "calibration_source": "a label (the calibrated file's path)",
    "industry.name": "a label of the preset (its parameters are the other keys)",
    "industry.nps": "a target of the preset, read by calibration and reports only",
    "industry.annual_retention": "a target of the preset, read by calibration and reports only",
    "industry.source": "a label of the preset",
    "weeks": "the horizon after the warm-up",
    # the programme: everything it does is scaled by its adoption, which is 0 until week 0 (Programme.update)
    "governance.program_start_week": "read by Programme.update, from week 0",
    "governance.scorecard.own_kpi": "blended by adoption: the weights in force are siloed (1, 0, 0)",
    "governance.scorecard.shared_stage": "blended by adoption: the weights in force are siloed (1, 0, 0)",
    "governance.scorecard.outcome": "blended by adoption: the weights in force are siloed (1, 0, 0)",
    "governance.shared_customer_view": "its effectiveness is adoption x communication: 0",
    "governance.conflict_suppression": "multiplied by the shared view's effectiveness: 0",
    "governance.handoff_reduction": "multiplied by the shared view's effectiveness: 0",
    "governance.shared_resource_planning": "capacity moves only once adoption is above 0",
    "governance.flex_share": "read only when capacity moves",
    "governance.executive_engagement": "read by Programme.update, from week 0",
    "governance.adoption_weeks_full_engagement": "read by Programme.update, from week 0",
    "governance.adoption_decay_weeks": "read by Programme.update, from week 0",
    "governance.communication": "multiplied by adoption: 0",
    "governance.patience_weeks": "read by Programme.update, from week 0",
    "governance.patience_target_gain": "read by Programme.update, from week 0",
    "governance.relaunch_after_weeks": "read by Programme.update, from week 0",
    "governance.cynicism": "read by Programme.update, from week 0",
    "governance.silo_projects_capacity": "multiplied by adoption: 0",
    "governance.silo_projects_uplift": "multiplied by adoption: 0",
    # gaming intensity is the outcome's share of the weights in force: 0
    "feedback.gaming.pressure_prob": "read only when gaming intensity is above 0",
    "feedback.gaming.inflate_prob": "read only when gaming intensity is above 0",
    "feedback.gaming.inflate_points": "read only when gaming intensity is above 0",
    "feedback.gaming.steer_prob": "read only when gaming intensity is above 0",
    "feedback.gaming.steer_below": "read only when gaming intensity is above 0",
    "feedback.gaming.full_intensity_share": "divides an outcome share of 0",
    "feedback.gaming.pressure_annoyance": "read only when gaming intensity is above 0",
    # the inner loop's capacity in force is capacity x adoption: 0, so nothing is queued or served
    "feedback.inner_loop.capacity": "multiplied by adoption: 0",
    "feedback.inner_loop.max_recovery": "read only when a follow-up is served",
    "feedback.inner_loop.recovery_half_life_weeks": "read only when a follow-up is served",
    "feedback.inner_loop.max_wait_weeks": "read only when something is queued",
    "feedback.inner_loop.recovery_lift": "lifts the recovered, of whom there are none",
    "feedback.inner_loop.touches_per_followup": "multiplies the follow-ups, of which there are none",
    # the outer loop's fixes in force are fixes x adoption: 0, so nothing is trended, bucketed or fixed
    "feedback.outer_loop.fixes_per_quarter": "multiplied by adoption: 0",
    "feedback.outer_loop.fix_effect": "read only when a fix takes effect",
    "feedback.outer_loop.quarter_weeks": "read only when fixes are in force",
    "feedback.outer_loop.fix_weeks": "read only when a fix starts",
    "feedback.outer_loop.fix_capacity_share": "read only for a fix in progress",
    "feedback.outer_loop.contact_bucketing": "bucketing in force is adoption: 0",
    "feedback.outer_loop.misclassification": "read only when contacts are bucketed",
    "feedback.outer_loop.trend_half_life_weeks": "the trend moves only when fixes are in force",
    "feedback.outer_loop.backlog_free": "the starvation it sets is recomputed every week before it is read",
    "feedback.outer_loop.backlog_full": "the starvation it sets is recomputed every week before it is read",
}


class SiloModel(mesa.Model):
    """Customers, departments, journey, closed loop and governance, one step per week.

    Attributes:
        cfg: The typed configuration.
        week: Weeks simulated so far (the next step simulates this week).
        store: Customer state (struct of arrays).
        organisation: The departments and what their levers do.
        journey: Touchpoints, hand-offs and experience.
        network: The word-of-mouth graph.
        market: Prospect pool and acquisition.
        programme: The scenario's programme (adoption, patience).
        survey: Survey and score gaming.
        inner_loop: Detractor follow-up.
        outer_loop: Root-cause fixes.
        records: One dict of metrics per simulated week.
    """

    def __init__(self, cfg: SiloConfig | DictConfig, *, collect: bool = True) -> None:
        """Build the model and run the warm-up.

        Args:
            cfg: A composed configuration (DictConfig from Hydra or the typed dataclass).
            collect: Collect the tracked panel and the departments with the Mesa DataCollector every week,
                Mesa's way of reading a run in a notebook or script (``model.datacollector``). A run written to
                disk keeps none of it, so every command that writes runs builds its models without (it costs
                about a fifth of a week at 10,000 customers).

        Raises:
            ConfigError: If the configuration is invalid.
        """
        cfg = to_config(cfg)
        validate(cfg)
        super().__init__(rng=cfg.seed)
        self.cfg = cfg
        self.collect = collect
        self.week = -cfg.warmup_weeks - 1  # set-up draws use the week before the warm-up
        self.streams = Streams(cfg.seed)
        self.streams.week = self.week
        scale = cfg.customers / 1000.0

        self.journey = Journey(
            cfg.journey,
            cfg.customer,
            list(cfg.org.departments),
            cfg.governance.handoff_reduction,
            cfg.feedback.survey.transactional_touchpoints,
        )
        self.organisation = Organisation(self, cfg, self.journey)
        self.store = self._create_initial_book()
        self.network = Network(cfg.network.degree, cfg.network.rewire_prob)
        self.network.add_nodes(slice(0, cfg.customers), self.streams.rng("network"))
        self.market = Market(cfg.market, cfg.customers)
        self.programme = Programme(cfg.governance, cfg.feedback)
        self.survey = Survey(cfg.feedback.survey, cfg.feedback.gaming, len(self.journey.stages))
        self.inner_loop = InnerLoop(cfg.feedback.inner_loop, scale)
        self.outer_loop = OuterLoop(cfg.feedback.outer_loop, len(self.journey.names))
        self.fixed_touchpoints: list[tuple[int, str]] = []

        panel_rows = self.streams.rng("panel").choice(cfg.customers, size=cfg.track_customers, replace=False)
        self.panel = [Customer(self, self.store, int(r)) for r in np.sort(panel_rows)]
        self.datacollector = _new_datacollector()
        self.records: list[dict[str, Any]] = []
        self._initial_book_rows = 0  # rows of the customers on the book at the start of week 0 (set then)
        self._leaving = np.empty(0, dtype=np.int64)  # this week's leavers
        self.open_complaints = 0  # open problems the customers have complained about (the firm's backlog)
        self.week += 1
        while self.week < 0:  # warm-up under siloed practice: departments search, nothing recorded, no programme
            self._simulate_week()
        self.fixed_touchpoints.clear()

    @classmethod
    def from_warm(cls, state: WarmState, cfg: SiloConfig | DictConfig, *, collect: bool = True) -> SiloModel:
        """A model at week 0 continued from a shared warm-up: the same as ``SiloModel(cfg)``, to the bit.

        The warm-up runs under siloed practice and reads none of :data:`WARMUP_UNREAD`, so every configuration
        with the same :func:`warmup_key` reaches the same state at week 0. This copies that state and hands it
        the configuration: the parts built from the settings the warm-up does not read (the programme, the inner
        and outer loop, which are still as built) are built again from ``cfg``, and every part that keeps a
        piece of the configuration gets ``cfg``'s.

        Args:
            state: What :func:`warm_up` returned for a configuration with the same warm-up key.
            cfg: This run's configuration.
            collect: As for :class:`SiloModel`.

        Returns:
            The model, ready to run its weeks.

        Raises:
            ConfigError: If the configuration is invalid.
            ValueError: If ``cfg``'s warm-up differs from the one ``state`` holds (another warm-up key).
        """
        cfg = to_config(cfg)
        validate(cfg)
        key = warmup_key(cfg)
        if key != state.key:
            raise ValueError(
                f"this warm-up (key {state.key[:12]}) is not {cfg.scenario_name!r} seed {cfg.seed}'s (key {key[:12]}): "
                "they differ in a setting the warm-up reads (sim.engine.model.warmup_key)"
            )
        model = pickle.loads(state.blob)  # noqa: S301 - a state this process or a sibling job wrote
        if not isinstance(model, cls) or model.week != 0:
            raise ValueError(f"the warm state holds a {type(model).__name__} at week {getattr(model, 'week', '?')}")
        model._continue_as(cfg, collect)
        return model

    def _continue_as(self, cfg: SiloConfig, collect: bool) -> None:
        """Hand a warmed model (week 0) the configuration of the run that continues it (:meth:`from_warm`)."""
        if len(self.inner_loop) or self.outer_loop.in_progress or self.outer_loop.trend.any():
            raise ValueError("the warm state's inner or outer loop worked in the warm-up; it cannot be shared")
        self.cfg, self.collect = cfg, collect
        self.datacollector = _new_datacollector()
        journey, organisation = self.journey, self.organisation
        journey.cfg, journey.customer_cfg = cfg.journey, cfg.customer
        journey.handoff_reduction = cfg.governance.handoff_reduction
        organisation.cfg, organisation.effects = cfg, cfg.org.lever_effects
        for department in organisation.departments:
            department.lever_conf = dict(cfg.org.departments[department.name].levers)
        self.market.cfg = cfg.market
        self.survey.cfg, self.survey.gaming = cfg.feedback.survey, cfg.feedback.gaming
        self.programme = Programme(cfg.governance, cfg.feedback)
        self.inner_loop = InnerLoop(cfg.feedback.inner_loop, cfg.customers / 1000.0)
        self.outer_loop = OuterLoop(cfg.feedback.outer_loop, len(journey.names))

    def __getstate__(self) -> dict[str, Any]:
        """Everything but the DataCollector (its reporters are local functions; :meth:`from_warm` makes a new one)."""
        state = self.__dict__.copy()
        state.pop("datacollector", None)
        return state

    def _create_initial_book(self) -> CustomerStore:
        """The customers at the start of the warm-up (:func:`loyalty.initial_book`), in the use stage."""
        cfg = self.cfg
        store = CustomerStore(capacity=int(cfg.customers * 1.3) + 1024)
        rows = store.add(cfg.customers, 0, self.streams.rng("demographics"), cfg.customer, cfg.market)
        book = loyalty.initial_book(
            cfg.customers,
            self.streams.rng("initial_book"),
            cfg.customer,
            INITIAL_TENURE_WEEKS,
            self._touch_rate(),
            loyalty.problem_renewal_loss(cfg.customer, settled_problem_rate(self.journey, self.organisation)),
        )
        store.joined_step[rows] = -cfg.warmup_weeks - book.tenure  # tenure at the start of the warm-up
        store.fit[rows], store.bias[rows] = book.fit, book.bias
        store.satisfaction[rows], store.expectation[rows] = book.satisfaction, book.expectation
        store.true_ltr[rows] = likelihood_to_recommend(store.satisfaction[rows], store.bias[rows])
        usage = self.journey.touchpoint_of_kind["usage"]
        store.stage[rows] = store.last_stage[rows] = self.journey.stage_of[usage]
        store.last_owner[rows] = self.journey.owner_of[usage]
        return store

    def _touch_rate(self) -> float:
        """Touches a settled customer has per week: usage, bills and questions."""
        journey = self.cfg.journey
        return journey.usage_touch_prob + 1.0 / journey.billing_period_weeks + journey.question_prob

    @property
    def departments(self) -> list[Department]:
        """The Department agents, in configuration order."""
        return self.organisation.departments

    # --------------------------------------------------------------------- step
    def step(self) -> None:
        """Simulate one week and record it."""
        self._simulate_week()
        if self.collect:
            self.datacollector.collect(self)

    def _simulate_week(self) -> None:
        """The weekly schedule; warm-up weeks (negative) are not recorded (the departments search in them too)."""
        cfg, store, journey, organisation, week = self.cfg, self.store, self.journey, self.organisation, self.week
        effects = cfg.org.lever_effects
        self.streams.week = week
        for flag in WEEKLY_FLAGS:
            getattr(store, flag)[: store.n] = False
        active_before = self.active_count()
        if week == 0:  # rows are never reused: the book at the start of week 0 is every row created before it
            self._initial_book_rows = store.n
            start = store.active[: store.n]
            store.initial_ltr[: store.n] = np.where(start, store.true_ltr[: store.n], -1)

        # 1. governance: adoption, the CEO's review, the regime in force this week; improvement work takes capacity
        if week >= 0:
            self.programme.update(week, self.survey.measured_nps)
        programme = self.programme
        organisation.open_week(programme, self.inner_loop.followups, [tp for tp, _ in self.outer_loop.in_progress])

        # 2. word of mouth and acquisition
        referrals = self.market.referrals(store, self.streams)
        active_detractors = self.market.active_detractors(store)
        acquired = self.market.acquire(
            referrals,
            campaign=effects.campaign_acquisition * organisation.lever("campaign_volume"),
            conversion_boost=effects.over_promise_conversion * organisation.lever("over_promise"),
            active_detractor_share=float(np.count_nonzero(active_detractors)) / max(active_before, 1),
            streams=self.streams,
        )
        self._acquisition_touches(acquired.total, acquired.marketing)

        # 3. the journey this week: onboarding, use, bills, dunning and cancellation notices, support, offers
        journey.onboarding_touches(store, week, self.streams)
        journey.usage_touches(store, self.streams)
        journey.billing_touches(store, week, self.streams, collections=organisation.lever("collections"))
        resolved = journey.support_touches(store, self.streams, organisation.first_contact_resolution)
        loyalty.resolve(store, resolved, cfg.customer, cfg.customer.resolution_lift)
        journey.offer_touches(
            store,
            self.streams,
            offer_prob=cfg.journey.offer_max_prob * organisation.lever("cross_sell"),
            suppression=programme.shared_view * cfg.governance.conflict_suppression,
        )
        store.value[journey.accepted_offers] *= 1.0 + cfg.market.cross_sell_value_uplift

        # 4. renewal decisions and problems that age or are given up
        not_renewed = loyalty.renewals(store, week, journey, self.streams, cfg.customer)
        given_up = loyalty.age_problems(store, cfg.customer)
        loyalty.fade_grudges(store, cfg.customer.grudge_half_life_weeks)

        # 5. recommendation, survey, inner and outer loop
        self._update_ltr()
        open_problems = self._feedback_loops()

        # 6. churn: the weekly hazard, plus those who did not renew
        leaving, active_detractors_after = self._churn(not_renewed)

        # 7. departments: record KPIs and scorecards; review every review period (the warm-up too); 8. metrics
        organisation.end_week(week, self.active_count(), acquired, self.survey, programme, record=week >= 0)
        if week >= 0:
            self._record(
                active_before=active_before,
                churned=int(leaving.size),
                not_renewed=int(not_renewed.size),
                given_up=given_up,
                open_problems=open_problems,
                active_detractors=active_detractors_after,
            )
        self.week += 1

    def _acquisition_touches(self, total: int, by_marketing: int) -> None:
        """New customers join the book and the network; the campaign and the purchase touch them."""
        cfg, journey = self.cfg, self.journey
        over_promise = cfg.org.lever_effects.over_promise_expectation * self.organisation.lever("over_promise")
        new = self.store.add(
            total, self.week, self.streams.rng("demographics"), cfg.customer, cfg.market, expectation_shift=over_promise
        )
        self.network.add_nodes(new, self.streams.rng("network"))
        new_rows = np.arange(new.start, new.stop)
        for rows, kind in ((new_rows[:by_marketing], "acquisition"), (new_rows, "purchase")):
            touchpoint = journey.touchpoint_of_kind[kind]
            over = journey.overloaded(rows, touchpoint, self.streams)
            journey.touch(self.store, rows, touchpoint, self.streams, failed_extra=over)

    def _feedback_loops(self) -> int:
        """The survey, the inner loop's recoveries and the outer loop's fixes; returns the open problems."""
        cfg, store, programme, journey = self.cfg, self.store, self.programme, self.journey
        self.survey.run(store, self.streams, programme.gaming_intensity, self.week)
        recovered = self.inner_loop.step(
            store, self.week, self.survey.detractor_rows, programme.followups, self.streams
        )
        with_problem = recovered[store.problem_cause[recovered] >= 0]
        loyalty.resolve(store, with_problem, cfg.customer, 0.0)
        lift = cfg.feedback.inner_loop.recovery_lift
        store.satisfaction[recovered] = np.minimum(10.0, store.satisfaction[recovered] + lift)
        active_now = max(self.active_count(), 1)
        holding = store.active[: store.n] & (store.problem_cause[: store.n] >= 0)
        open_problems = int(np.count_nonzero(holding))
        self.open_complaints = int(np.count_nonzero(holding & store.problem_complains[: store.n]))
        bucketing = programme.bucketing
        filed = (
            self.outer_loop.bucket(journey.contact_rows, journey.contact_causes, self.streams)
            if bucketing > 0
            else None
        )
        fixed = self.outer_loop.step(
            self.week,
            self.survey.causes,
            programme.fixes,
            1000.0 * self.open_complaints / active_now,  # the firefighting backlog: the problems the firm has heard of
            journey.defect,
            self.streams,
            contact_causes=filed,
            bucketing=bucketing,
        )
        self.fixed_touchpoints += [(self.week, self.journey.names[tp]) for tp in fixed]
        # only the recovered and the respondents pressed for a ten changed satisfaction since the last update
        self._update_ltr(np.union1d(recovered, self.survey.annoyed))
        return open_problems

    def _churn(self, not_renewed: np.ndarray) -> tuple[np.ndarray, int]:
        """The weekly churn hazard, plus those who did not renew, leave; returns them and the active detractors left."""
        cfg, store = self.cfg, self.store
        detractor_flag = self.market.active_detractors(store)
        exposure = self.network.exposure(detractor_flag)
        churners = loyalty.weekly_churn(store, self.streams, cfg.customer, exposure, cfg.market.negative_wom_churn)
        leaving = np.sort(np.concatenate([churners, not_renewed]))  # both sorted; a customer may be in both
        leaving = leaving[np.diff(leaving, prepend=-1) != 0]
        loyalty.retire(store, leaving, self.week)
        self._leaving = leaving
        self.market.returned(int(leaving.size))
        active_detractors = int(np.count_nonzero(detractor_flag) - np.count_nonzero(detractor_flag[leaving]))
        return leaving, active_detractors

    def active_count(self) -> int:
        """Active customers now."""
        return int(np.count_nonzero(self.store.active[: self.store.n]))

    def _update_ltr(self, rows: np.ndarray | None = None) -> None:
        """True likelihood to recommend (satisfaction, attitude, grudge) of every row or of ``rows``."""
        store, n = self.store, self.store.n
        if rows is not None:
            store.true_ltr[rows] = likelihood_to_recommend(
                store.satisfaction[rows], store.bias[rows], grudge=store.grudge[rows]
            )
            return
        # Every row: a customer's satisfaction and grudge are frozen when they leave, right after the weekly
        # updates, so a departed row gets back the score it left with (one pass, no masked writes).
        _ltr_of_every_row(store.satisfaction[:n], store.bias[:n], store.grudge[:n], store.true_ltr[:n])

    def _record(
        self,
        *,
        active_before: int,
        churned: int,
        not_renewed: int,
        given_up: int,
        open_problems: int,
        active_detractors: int,
    ) -> None:
        """Append this week's metrics row: the population's columns, then each part's own."""
        store, n = self.store, self.store.n
        # one pass over the book: counts by category, sums, and each active customer's revenue this week
        counts, sums = _census(
            store.active[:n],
            store.true_ltr[:n],
            store.satisfaction[:n],
            store.expectation[:n],
            store.value[:n],
            store.problem_cause[:n],
            store.revenue[:n],
            np.asarray(self.cfg.market.spend_by_category, dtype=np.float32),
        )
        n_active, p, d, p_open, d_open = (int(c) for c in counts)
        satisfaction, expectation, revenue = (float(x) for x in sums)
        share = (lambda count: count / n_active) if n_active else (lambda count: float("nan"))
        leaving_ltr = store.true_ltr[self._leaving]
        self.records.append(
            {
                "step": self.week,
                "active_customers": n_active,
                "churned": churned,
                "true_nps": nps_from_counts(p, d, n_active),
                "true_nps_open_problem": nps_from_counts(p_open, d_open, open_problems),
                "true_nps_no_open_problem": nps_from_counts(p - p_open, d - d_open, n_active - open_problems),
                "promoters_share": share(p),
                "passives_share": share(n_active - p - d),
                "detractors_share": share(d),
                "mean_satisfaction": satisfaction / n_active if n_active else float("nan"),
                "revenue": revenue,
                "active_before": active_before,
                "retention_rate": 1.0 - churned / active_before if active_before else float("nan"),
                "churned_at_renewal": not_renewed,
                "problems_given_up": given_up,
                "open_problems": open_problems,
                "open_complaints": self.open_complaints,
                "active_detractors": active_detractors,
                "initial_book_active": int(np.count_nonzero(store.active[: self._initial_book_rows])),
                "mean_expectation": expectation / n_active if n_active else float("nan"),
                "churned_promoters": int(np.count_nonzero(leaving_ltr >= PROMOTER_MIN)),
                "churned_passives": int(np.count_nonzero((leaving_ltr > DETRACTOR_MAX) & (leaving_ltr < PROMOTER_MIN))),
                "churned_detractors": int(np.count_nonzero(leaving_ltr <= DETRACTOR_MAX)),
                **self.market.record(),
                **self.journey.week.record(),
                **self.survey.record(),
                **self.inner_loop.record(),
                **self.outer_loop.record(),
                **self.programme.record(),
            }
        )

    # ---------------------------------------------------------------------- run
    def run(self, weeks: int | None = None, progress: bool = False) -> SiloModel:
        """Simulate ``weeks`` weeks (default: the configured horizon).

        Args:
            weeks: Weeks to simulate.
            progress: Show a progress bar on stderr.

        Returns:
            The model itself, for chaining.
        """
        total = self.cfg.weeks if weeks is None else weeks
        if not progress:
            for _ in range(total):
                self.step()
            return self
        from tqdm import tqdm

        label = f"{self.cfg.scenario_name} seed {self.cfg.seed}"
        with tqdm(total=total, unit="week", desc=label, leave=False) as bar:
            for _ in range(total):
                self.step()
                bar.update()
        return self

    # ------------------------------------------------------------------ outputs
    def metrics_frame(self) -> pd.DataFrame:
        """One row per simulated week (the metrics.parquet contract)."""
        return pd.DataFrame.from_records(self.records)

    def departments_frame(self) -> pd.DataFrame:
        """One row per week and department (the departments.parquet contract)."""
        return self.organisation.frame()

    def customers_frame(self) -> pd.DataFrame:
        """One row per customer ever active, at the end of the run (the customers.parquet contract)."""
        store = self.store
        # everyone active at some point of the recorded run (not those who left during the warm-up)
        rows = np.flatnonzero(store.active[: store.n] | (store.left_step[: store.n] >= 0))
        count = store.touch_count[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            touch_mean = np.where(count > 0, store.touch_score_sum[rows] / np.maximum(count, 1), np.nan)
        return pd.DataFrame(
            {
                "customer_id": rows.astype(np.int64),
                "joined_step": store.joined_step[rows],
                "left_step": store.left_step[rows],
                "satisfaction": store.satisfaction[rows],
                "touchpoint_score_mean": touch_mean.astype(np.float32),
                "true_ltr": store.true_ltr[rows],
                "measured_ltr": store.measured_ltr[rows],
                "problems": store.problems[rows],
                "problem_resolution": pd.Categorical.from_codes(
                    store.resolution[rows], categories=list(RESOLUTION_NAMES)
                ),
                "followed_up": store.followed_up[rows],
                "complained": store.complained[rows],
                "cancellation_notice": store.cancellation_notice[rows],
                "cancellation_conflict": store.cancellation_conflict[rows],
                "referrals_made": store.referrals_made[rows],
                "value_per_week": store.value[rows],
                "initial_true_ltr": pd.array(
                    np.where(store.initial_ltr[rows] >= 0, store.initial_ltr[rows], None), dtype="Int8"
                ),
                "revenue": store.revenue[rows],
            }
        )


@dataclass(frozen=True)
class WarmState:
    """A model at the end of its warm-up (week 0), for :meth:`SiloModel.from_warm`.

    Attributes:
        key: The warm-up key of the configuration it was warmed with (:func:`warmup_key`).
        blob: The pickled model (numpy arrays, random generators and all; no DataCollector). Bytes, so a job can
            ship it to another process or keep it on disk.
    """

    key: str
    blob: bytes


def warmup_key(cfg: SiloConfig | DictConfig) -> str:
    """What the warm-up depends on, as a digest: every model setting except :data:`WARMUP_UNREAD`, seed included.

    Two configurations with the same key reach the same state at week 0, so they may share one warm-up
    (:func:`warm_up`, :meth:`SiloModel.from_warm`). Run settings (output, design, about) are not model settings.
    """
    typed = to_config(cfg)
    read = [(p.key, p.value) for p in walk(typed, within=SiloConfig) if p.key not in WARMUP_UNREAD]
    text = json.dumps(read, sort_keys=False, default=repr, allow_nan=True)
    return hashlib.sha256(text.encode()).hexdigest()


def warm_up(cfg: SiloConfig | DictConfig) -> WarmState:
    """Build a model and run its warm-up, once for every configuration that shares its :func:`warmup_key`.

    Raises:
        ConfigError: If the configuration is invalid.
    """
    typed = to_config(cfg)
    model = SiloModel(typed, collect=False)
    return WarmState(warmup_key(typed), pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL))


def _new_datacollector() -> mesa.DataCollector:
    """The Mesa DataCollector of the tracked panel and the departments (``SiloModel.collect``)."""
    return mesa.DataCollector(
        agenttype_reporters={
            Customer: {
                "customer_id": "customer_id",
                "active": "active",
                "satisfaction": "satisfaction",
                "true_ltr": "true_ltr",
                "stage": "stage",
                "open_problem": "open_problem",
            },
            Department: {"kpi": "kpi", "scorecard": "scorecard", "capacity": "capacity"},
        }
    )


def settled_problem_rate(journey: Journey, organisation: Organisation) -> float:
    """Problems a settled customer opens per week, at the departments' initial levers (for the initial book).

    Failed usage touches and bills, and failed hand-offs between them and questions that open a problem: a
    customer's inbound touches are independent streams (usage, bills, questions), so a touch follows one of
    another department with probability 1 - sum of the squared shares of the streams.
    """
    cfg = journey.cfg
    multiplier = organisation.failure_multipliers()
    rates = {"usage": cfg.usage_touch_prob, "billing": 1.0 / cfg.billing_period_weeks, "support": cfg.question_prob}
    total = sum(rates.values())
    failures = sum(
        rate * journey.failure_prob[tp] * multiplier[tp]
        for kind, rate in rates.items()
        for tp in (journey.touchpoint_of_kind[kind],)
    )
    handoff_share = 1.0 - sum((rate / total) ** 2 for rate in rates.values()) if total else 0.0
    handoffs = total * handoff_share * min(1.0, cfg.handoff_failure_prob * cfg.failure_scale) * cfg.handoff_problem_prob
    return float(failures + handoffs)


@njit(cache=True)
def _ltr_of_every_row(satisfaction, bias, grudge, out):
    """:func:`likelihood_to_recommend` of every row with its grudge, in one pass (the same float32 operations)."""
    for i in range(out.size):
        raw = np.rint((satisfaction[i] + bias[i]) - grudge[i])
        out[i] = np.int8(min(max(raw, np.float32(0.0)), np.float32(10.0)))


@njit(cache=True)
def _census(active, ltr, satisfaction, expectation, value, problem_cause, revenue, spend_by_category):
    """One pass over the book: counts by NPS category, sums, and this week's revenue of every active customer.

    Counts active customers, promoters and detractors (all, and those with an open problem); sums satisfaction,
    expectation and revenue; and adds each active customer's revenue this week to their ``revenue``.

    A customer's revenue is their value times the spend factor of their NPS category (detractor, passive, promoter).

    Returns:
        (counts: active, promoters, detractors, promoters with an open problem, detractors with one;
        sums: satisfaction, expectation, revenue)
    """
    # branch-free (active rows and categories are in random order, so branches mispredict): a departed row adds
    # zero to every count and sum (x + 0.0 is x exactly; the columns are finite)
    n_active = promoters = detractors = promoters_open = detractors_open = 0
    satisfaction_sum = expectation_sum = revenue_sum = 0.0
    for i in range(active.size):
        on = np.int64(active[i])
        promoter, detractor = on & np.int64(ltr[i] >= 9), on & np.int64(ltr[i] <= 6)
        holding = np.int64(problem_cause[i] >= 0)
        n_active += on
        promoters += promoter
        detractors += detractor
        promoters_open += promoter & holding
        detractors_open += detractor & holding
        satisfaction_sum += np.float64(satisfaction[i]) if on else 0.0
        expectation_sum += np.float64(expectation[i]) if on else 0.0
        # detractor 0, passive 1, promoter 2
        spend = np.float64(value[i] * spend_by_category[1 + promoter - detractor]) if on else 0.0
        revenue[i] += spend
        revenue_sum += spend
    counts = np.array([n_active, promoters, detractors, promoters_open, detractors_open], dtype=np.int64)
    return counts, np.array([satisfaction_sum, expectation_sum, revenue_sum])
