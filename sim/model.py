"""SiloModel: builds its parts from the configuration and runs them in the weekly step order.

Read :meth:`SiloModel.step` top to bottom: it is the model's schedule (the
"process overview and scheduling" of the ODD description in docs/odd.md).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import mesa
import numpy as np
import pandas as pd

from sim import loyalty
from sim.company import Company
from sim.config import SiloConfig, to_config, validate
from sim.customers import RESOLUTION_NAMES, Customer, CustomerStore
from sim.departments import Department
from sim.feedback import InnerLoop, OuterLoop, Survey
from sim.governance import Programme
from sim.journey import Journey
from sim.market import Market
from sim.metrics import annual_retention, categories, likelihood_to_recommend, nps_from_counts
from sim.network import Network
from sim.streams import Streams

if TYPE_CHECKING:
    from omegaconf import DictConfig

__all__ = ["SiloModel"]

INITIAL_TENURE_WEEKS = 5 * 52  # the initial book joined uniformly over the last five years (assumption)


class SiloModel(Company, mesa.Model):
    """Customers, departments, journey, closed loop and governance, one step per week.

    Attributes:
        cfg: The typed configuration.
        week: Weeks simulated so far (the next step simulates this week).
        store: Customer state (struct of arrays).
        departments: The Department agents, in configuration order.
        journey: Touchpoints, hand-offs and experience.
        network: The word-of-mouth graph.
        market: Prospect pool and acquisition.
        programme: The scenario's programme (adoption, patience).
        survey: Survey and score gaming.
        inner_loop: Detractor follow-up.
        outer_loop: Root-cause fixes.
        records: One dict of metrics per simulated week.
        department_records: One dict per week and department.
    """

    def __init__(self, cfg: SiloConfig | DictConfig) -> None:
        """Build the model.

        Args:
            cfg: A composed configuration (DictConfig from Hydra or the typed dataclass).

        Raises:
            ConfigError: If the configuration is invalid.
        """
        cfg = to_config(cfg)
        validate(cfg)
        super().__init__(rng=cfg.seed)
        self.cfg = cfg
        self.week = -cfg.warmup_weeks - 1  # set-up draws use the week before the warm-up
        self.streams = Streams(cfg.seed)
        self.streams.week = self.week
        scale = cfg.customers / 1000.0
        names = list(cfg.org.departments)

        self.journey = Journey(cfg.journey, cfg.customer, names, cfg.governance.handoff_reduction)
        self.departments: list[Department] = self._build_departments(scale)

        self.store = CustomerStore(capacity=int(cfg.customers * 1.3) + 1024)
        rows = self.store.add(cfg.customers, 0, self.streams.rng("demographics"), cfg.customer, cfg.market)
        self.store.joined_step[rows] = -self.streams.rng("tenure").integers(1, INITIAL_TENURE_WEEKS, cfg.customers)
        self.store.true_ltr[rows] = likelihood_to_recommend(self.store.satisfaction[rows], self.store.bias[rows])
        usage = self.journey.tp["usage"]  # the book is in the use stage, last served by the usage owner
        self.store.stage[rows] = self.store.last_stage[rows] = self.journey.stage_of[usage]
        self.store.last_owner[rows] = self.journey.owner_of[usage]
        self.network = Network(cfg.network.degree, cfg.network.rewire_prob)
        self.network.add_nodes(rows, self.streams.rng("network"))
        self.market = Market(cfg.market, cfg.customers)
        self.programme = Programme(cfg.governance, cfg.feedback)
        self.survey = Survey(cfg.feedback.survey, cfg.feedback.gaming, len(self.journey.stages))
        self.inner_loop = InnerLoop(cfg.feedback.inner_loop, scale)
        self.outer_loop = OuterLoop(cfg.feedback.outer_loop, len(self.journey.names))
        self.fixed_touchpoints: list[tuple[int, str]] = []

        panel_rows = self.streams.rng("panel").choice(cfg.customers, size=cfg.track_customers, replace=False)
        self.panel = [Customer(self, self.store, int(r)) for r in np.sort(panel_rows)]
        self.datacollector = mesa.DataCollector(
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
        self.records: list[dict[str, Any]] = []
        self._active_detractors = 0  # active detractors after this week's churn (for the record)
        self.department_records: list[dict[str, Any]] = []
        self.week += 1
        while self.week < 0:  # warm-up under siloed practice: not recorded, no reviews, no programme
            self._simulate_week()
        self.fixed_touchpoints.clear()

    # --------------------------------------------------------------------- step
    def step(self) -> None:
        """Simulate one week and record it."""
        self._simulate_week()
        self.datacollector.collect(self)

    def _simulate_week(self) -> None:
        """The weekly schedule; warm-up weeks (negative) skip reviews and recording."""
        cfg, st, j, w = self.cfg, self.store, self.journey, self.week
        warmup = w < 0
        fx = cfg.org.lever_effects
        self.streams.week = w
        n0 = st.n
        for flag in (st.touched, st.conflict, st.notice, st.complaint):
            flag[:n0] = False
        active_before = int(np.count_nonzero(st.active[:n0]))

        # 1. governance: adoption, patience, the regime in force this week
        if not warmup:
            self.programme.update(w, self.survey.measured_nps, cfg.feedback.survey.window_weeks)
        prog = self.programme
        j.begin_week(self._effective_capacity(), self._failure_multipliers(), prog.shared_view, prog.silo_uplift)

        # 2. word of mouth and acquisition
        referrals = self.market.referrals(st, self.streams)
        active_detractors = self.market.active_detractors(st)
        ad_share = float(np.count_nonzero(active_detractors)) / max(active_before, 1)
        acquired = self.market.acquire(
            referrals.total,
            campaign=fx.campaign_acquisition * self._lever("campaign_volume"),
            conversion_boost=fx.over_promise_conversion * self._lever("over_promise"),
            active_detractor_share=ad_share,
            streams=self.streams,
        )
        new = st.add(
            acquired.total,
            w,
            self.streams.rng("demographics"),
            cfg.customer,
            cfg.market,
            expectation_shift=fx.over_promise_expectation * self._lever("over_promise"),
        )
        self.network.add_nodes(new, self.streams.rng("network"))
        new_rows = np.arange(new.start, new.stop)
        by_marketing = new_rows[: acquired.marketing]
        j.touch(
            st,
            by_marketing,
            j.tp["acquisition"],
            self.streams,
            failed_extra=j.overloaded(by_marketing, j.tp["acquisition"], self.streams),
        )
        j.touch(
            st,
            new_rows,
            j.tp["purchase"],
            self.streams,
            failed_extra=j.overloaded(new_rows, j.tp["purchase"], self.streams),
        )

        # 3. the journey this week: onboarding, use, bills and notices, support, offers
        j.onboarding_touches(st, w, self.streams)
        j.usage_touches(st, self.streams)
        j.billing_touches(st, w, self.streams, collections=self._lever("collections"))
        resolved = j.support_touches(st, self.streams, self.first_contact_resolution)
        loyalty.resolve(st, resolved, cfg.customer.quick_resolution_weeks, cfg.customer.resolution_lift)
        j.offer_touches(
            st,
            self.streams,
            offer_prob=cfg.journey.offer_max_prob * self._lever("cross_sell"),
            suppression=prog.shared_view * cfg.governance.conflict_suppression,
        )
        st.value[j.accepted_offers] *= 1.0 + cfg.market.cross_sell_value_uplift

        # 4. renewal decisions and problems that age or are given up
        not_renewed = loyalty.renewals(st, w, j, self.streams, cfg.customer)
        given_up = loyalty.age_problems(st, cfg.customer)

        # 5. recommendation, survey, inner and outer loop
        self._update_ltr()
        self.survey.run(st, self.streams, prog.gaming_intensity)
        recovered = self.inner_loop.step(st, w, self.survey.detractor_rows, prog.followups, self.streams)
        with_problem = recovered[st.problem_cause[recovered] >= 0]
        loyalty.resolve(st, with_problem, cfg.customer.quick_resolution_weeks, 0.0)
        lift = cfg.feedback.inner_loop.recovery_lift
        st.satisfaction[recovered] = np.minimum(10.0, st.satisfaction[recovered] + lift)
        active_now = max(int(np.count_nonzero(st.active[: st.n])), 1)
        open_problems = int(np.count_nonzero(st.active[: st.n] & (st.problem_cause[: st.n] >= 0)))
        fixed = self.outer_loop.step(
            w, self.survey.causes, prog.fixes, 1000.0 * open_problems / active_now, j.defect, self.streams
        )
        self.fixed_touchpoints += [(w, j.names[tp]) for tp in fixed]
        self._update_ltr(recovered)  # only the recovered changed satisfaction since the last update

        # 6. churn: the weekly hazard, plus those who did not renew
        detractor_flag = self.market.active_detractors(st)
        exposed = self.network.neighbour_counts(detractor_flag)
        churners = loyalty.weekly_churn(st, self.streams, cfg.customer, exposed, cfg.market.negative_wom_churn)
        leaving = np.sort(np.concatenate([churners, not_renewed]))  # both sorted; a customer may be in both
        leaving = leaving[np.diff(leaving, prepend=-1) != 0]
        loyalty.retire(st, leaving, w)
        self.market.returned(int(leaving.size))
        self._active_detractors = int(np.count_nonzero(detractor_flag) - np.count_nonzero(detractor_flag[leaving]))

        # 7. departments: record KPIs and scorecards; review every review period; 8. metrics
        if not warmup:
            self._departments_week(acquired.marketing, acquired.total)
            self._record(
                active_before,
                acquired,
                referrals,
                leaving.size,
                not_renewed.size,
                given_up,
                recovered.size,
                open_problems,
            )
        self.week += 1

    def active_count(self) -> int:
        """Active customers now."""
        return int(np.count_nonzero(self.store.active[: self.store.n]))

    def _update_ltr(self, rows: np.ndarray | None = None) -> None:
        """True likelihood to recommend from satisfaction and rating bias, of every row or of ``rows``."""
        st, n = self.store, self.store.n
        if rows is not None:
            st.true_ltr[rows] = likelihood_to_recommend(st.satisfaction[rows], st.bias[rows])
            return
        # Every row: a customer's satisfaction is frozen when they leave, right after the weekly updates,
        # so a departed row gets back the score it left with (one pass, no masked writes).
        likelihood_to_recommend(st.satisfaction[:n], st.bias[:n], out=st.true_ltr[:n])

    def _record(
        self,
        active_before: int,
        acquired: Any,
        referrals: Any,
        churned: int,
        not_renewed: int,
        given_up: int,
        recovered: int,
        open_problems: int,
    ) -> None:
        """Append this week's metrics row."""
        st, wk = self.store, self.journey.week
        act = st.active[: st.n]
        n_act = int(np.count_nonzero(act))
        promoters, detractors = categories(st.true_ltr[: st.n])
        p, d = int(np.count_nonzero(promoters & act)), int(np.count_nonzero(detractors & act))
        touches = int(wk.touches.sum())
        self.records.append(
            {
                "step": self.week,
                "active_customers": n_act,
                "acquired": acquired.total,
                "churned": int(churned),
                "referrals": referrals.total,
                "referrals_from_promoters": referrals.promoters,
                "referrals_from_passives": referrals.passives,
                "referrals_from_detractors": referrals.detractors,
                "true_nps": nps_from_counts(p, d, n_act),
                "measured_nps": self.survey.measured_nps,
                "promoters_share": p / n_act if n_act else float("nan"),
                "passives_share": (n_act - p - d) / n_act if n_act else float("nan"),
                "detractors_share": d / n_act if n_act else float("nan"),
                "mean_satisfaction": (
                    float(np.where(act, st.satisfaction[: st.n], 0.0).sum(dtype=np.float64)) / n_act
                    if n_act
                    else float("nan")
                ),
                "revenue": float(np.where(act, st.value[: st.n], 0.0).sum(dtype=np.float64)),
                "handoff_failures": wk.handoff_failures,
                "conflicting_contacts": wk.conflicting_contacts,
                "survey_responses": self.survey.responses,
                "followups": self.inner_loop.followups,
                "recoveries": int(recovered),
                "rootcause_fixes": self.outer_loop.fixes,
                "program_active": int(self.programme.active),
                # further columns
                "active_before": active_before,
                "retention_rate": 1.0 - churned / active_before if active_before else float("nan"),
                "churned_at_renewal": int(not_renewed),
                "acquired_marketing": acquired.marketing,
                "acquired_referral": acquired.referral,
                "prospects": self.market.prospects,
                "handoffs": wk.handoffs,
                "conflicts_suppressed": wk.conflicts_suppressed,
                "problems_opened": wk.problems_opened,
                "problems_given_up": int(given_up),
                "open_problems": open_problems,
                "first_contact_resolution": (
                    wk.support_first_resolved / wk.support_first_contacts if wk.support_first_contacts else float("nan")
                ),
                "touches": touches,
                "mean_touchpoint_score": float(wk.recorded_sum.sum() / touches) if touches else float("nan"),
                "detractor_responses": int(self.survey.detractor_rows.size),
                "inflated_responses": self.survey.inflated,
                "followup_queue": len(self.inner_loop),
                "improvement_starvation": self.outer_loop.starvation,
                "notices": wk.notices,
                "offers": wk.offers,
                "adoption": self.programme.adoption,
                "gaming_intensity": self.programme.gaming_intensity,
                "active_detractors": self._active_detractors,
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
        if progress:
            from tqdm import tqdm

            bar = tqdm(total=total, unit="week", desc=f"{self.cfg.scenario_name} seed {self.cfg.seed}", leave=False)
            for _ in range(total):
                self.step()
                bar.update()
            bar.close()
        else:
            for _ in range(total):
                self.step()
        return self

    # ------------------------------------------------------------------ outputs
    def metrics_frame(self) -> pd.DataFrame:
        """One row per simulated week (the metrics.parquet contract)."""
        return pd.DataFrame.from_records(self.records)

    def departments_frame(self) -> pd.DataFrame:
        """One row per week and department (the departments.parquet contract)."""
        return pd.DataFrame.from_records(self.department_records)

    def customers_frame(self) -> pd.DataFrame:
        """One row per customer ever active, at the end of the run (the customers.parquet contract)."""
        st = self.store
        # everyone active at some point of the recorded run (not those who left during the warm-up)
        rows = np.flatnonzero(st.active[: st.n] | (st.left_step[: st.n] >= 0))
        count = st.touch_count[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            touch_mean = np.where(count > 0, st.touch_score_sum[rows] / np.maximum(count, 1), np.nan)
        return pd.DataFrame(
            {
                "customer_id": rows.astype(np.int64),
                "joined_step": st.joined_step[rows],
                "left_step": st.left_step[rows],
                "satisfaction": st.satisfaction[rows],
                "touchpoint_score_mean": touch_mean.astype(np.float32),
                "true_ltr": st.true_ltr[rows],
                "measured_ltr": st.measured_ltr[rows],
                "problems": st.problems[rows],
                "problem_resolution": pd.Categorical.from_codes(st.resolution[rows], categories=list(RESOLUTION_NAMES)),
                "followed_up": st.followed_up[rows],
                "referrals_made": st.referrals_made[rows],
                "value_per_week": st.value[rows],
            }
        )

    def summary(self) -> dict[str, Any]:
        """Headline figures: final and averaged over the run."""
        m = self.metrics_frame()
        if m.empty:
            return {"scenario": self.cfg.scenario_name, "seed": self.cfg.seed, "weeks": 0}
        last = m.iloc[-1]

        def avg(col: str) -> float:
            return float(m[col].mean())

        return {
            "scenario": self.cfg.scenario_name,
            "seed": self.cfg.seed,
            "customers": self.cfg.customers,
            "weeks": len(m),
            "final": {
                "true_nps": float(last["true_nps"]),
                "measured_nps": float(last["measured_nps"]),
                "nps_gap": float(last["measured_nps"] - last["true_nps"]),
                "active_customers": int(last["active_customers"]),
                "annual_retention": annual_retention(m["active_before"], m["churned"]),
                "mean_satisfaction": float(last["mean_satisfaction"]),
                "weekly_revenue": float(last["revenue"]),
                "program_active": bool(last["program_active"]),
            },
            "mean": {
                "true_nps": avg("true_nps"),
                "measured_nps": avg("measured_nps"),
                "first_contact_resolution": avg("first_contact_resolution"),
                "mean_touchpoint_score": avg("mean_touchpoint_score"),
                "weekly_revenue": avg("revenue"),
                "conflicting_contacts_per_week": avg("conflicting_contacts"),
                "handoff_failures_per_week": avg("handoff_failures"),
            },
            "total": {
                "revenue": float(m["revenue"].sum()),
                "acquired": int(m["acquired"].sum()),
                "churned": int(m["churned"].sum()),
                "referrals": int(m["referrals"].sum()),
                "followups": int(m["followups"].sum()),
                "recoveries": int(m["recoveries"].sum()),
                "rootcause_fixes": int(m["rootcause_fixes"].sum()),
            },
            "programme": {
                "present": self.programme.present,
                "abandoned": self.programme.abandoned,
                "fixed_touchpoints": [{"step": s, "touchpoint": t} for s, t in self.fixed_touchpoints],
            },
        }
