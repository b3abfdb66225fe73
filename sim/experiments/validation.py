"""The validation suite: the stylized facts the model must reproduce, run and judged (``silosim-validate``).

Pattern-oriented modelling (Grimm et al. 2005, "Pattern-oriented modeling of agent-based complex
systems") validates a model by the several patterns it must reproduce at once, each from an
independent source. Here a *fact* (declared in ``conf/validate.yaml``: name, title, source) holds
when all its *checks* hold. A check is a statistic of the runs with a confidence interval and a
threshold the whole interval must clear:

* a per-run *measure* (:data:`MEASURES`, computed from one finished run by :func:`measure_run`),
* averaged over the seeds of one scenario (Student-t interval), or, with ``against``, paired by seed
  with another scenario (the same seeds in both: common random numbers; paired-t interval),
* ``holds``: ``{above: x}`` (lower bound above x), ``{below: x}`` (upper bound below x) or
  ``{within: [a, b]}``;
* optionally ``overrides``: model parameters applied to the check's own scenario only (not to ``against``),
  so a check can compare a scenario with a variant of itself (low against high executive engagement).

Every scenario x seed a fact needs is run once, whatever the number of facts reading it.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from scipy import stats

from sim.config import WEEKS_PER_QUARTER, WEEKS_PER_YEAR, ConfigError, checked_config
from sim.config.compose import compose
from sim.experiments.analysis import Interval, mean_ci, paired_difference
from sim.experiments.files import atomic_directory, check_writable, require_fresh, safe_table
from sim.experiments.runs.executor import Backend, backend_setting, map_jobs

__all__ = [
    "MEASURES",
    "Check",
    "CheckResult",
    "Fact",
    "ValidationSpec",
    "judge",
    "load_spec",
    "measure_run",
    "run_label",
    "run_validation",
    "write_outputs",
]

WINDOW = WEEKS_PER_YEAR  # weeks: the journey-vs-touchpoint window (scores over one year, churn over the next)
SILO_MECHANISMS = ("campaign_volume", "cross_sell", "over_promise", "throughput", "handle_time", "collections")


@dataclass(frozen=True)
class Measure:
    """A per-run figure a check can read."""

    label: str
    unit: str


MEASURES: dict[str, Measure] = {
    "true_nps_trend": Measure("Trend of true NPS over the horizon", "points / year"),
    "expectation_drift": Measure("Change in customers' mean expectation over the horizon", "points (0-10)"),
    "true_nps_y1": Measure("True NPS, year 1", "NPS points"),
    "true_nps_y3": Measure("True NPS, last 52 weeks", "NPS points"),
    "true_nps_y3_minus_y1": Measure("True NPS, last 52 weeks less year 1", "NPS points"),
    "measured_nps_y3": Measure("Measured NPS, last 52 weeks", "NPS points"),
    "touchpoint_score_y3": Measure("Mean touchpoint score, last 52 weeks", "points (0-10)"),
    "promoter_referral_share": Measure("Share of referrals given by promoters", "share"),
    "renewal_quick_minus_slow": Measure("Renewal rate: quick resolution less slow", "share"),
    "renewal_slow_minus_unresolved": Measure("Renewal rate: slow resolution less unresolved", "share"),
    "churn_ratio_detractor_promoter": Measure("Annual churn, detractors over promoters", "ratio"),
    "ltv_ratio_promoter_detractor": Measure("Lifetime value, promoters over detractors", "ratio"),
    "open_problem_nps_gap": Measure("True NPS with an open problem less without", "NPS points"),
    "journey_over_touchpoint": Measure("Churn prediction: journey satisfaction over touchpoint score", "ratio"),
    "silo_lever_pressure": Measure("Silo lever pressure (silo levers less hand-off care), year 3", "0-1 setting"),
    "share_detractors": Measure("Customers scoring 0-6 at the end", "share"),
    "share_passives": Measure("Customers scoring 7-8 at the end", "share"),
    "share_promoters": Measure("Customers scoring 9-10 at the end", "share"),
    "share_tens": Measure("Customers scoring 10 at the end", "share"),
    "share_five_or_below": Measure("Customers scoring 5 or below at the end", "share"),
    "annual_retention": Measure("Annual retention", "share"),
    "first_contact_resolution": Measure("First-contact resolution, last 52 weeks", "share"),
    "renewal_silent_minus_unresolved": Measure("Renewal rate: silent (never complained) less unresolved", "share"),
    "share_quick": Measure("Problem holders at renewal: resolved quickly", "share"),
    "share_slow": Measure("Problem holders at renewal: resolved slowly", "share"),
    "share_unresolved": Measure("Problem holders at renewal: complained, unresolved", "share"),
    "share_silent": Measure("Problem holders at renewal: never complained (silent)", "share"),
    "invitations_per_customer_year": Measure("Survey invitations per customer-year", "per customer-year"),
    "responses_per_customer_year": Measure("Survey responses per customer-year", "per customer-year"),
    "time_to_fix_top_cause": Measure("Weeks until the first quarter's top problem cause is fixed", "weeks"),
    "cancellation_conflict_churn_gap": Measure(
        "Customers who left: cancellation notice and offer less notice only", "share"
    ),
    "cancellation_conflict_ltr_gap": Measure(
        "True likelihood to recommend: cancellation notice and offer less notice only", "points (0-10)"
    ),
    "cancellation_conflicts_suppressed_share_y3": Measure(
        "Cancellation conflicts the shared view stopped, last 52 weeks", "share"
    ),
    "first_contact_resolution_y1": Measure("First-contact resolution, year 1", "share"),
    "overload_failures_y1": Measure(
        "Inbound touches failed for lack of capacity, year 1, per 1,000 customers a week", "per 1,000 customer-weeks"
    ),
    "true_nps_y23": Measure("True NPS, years 2-3", "NPS points"),
    "programme_adoption_y3": Measure("Programme adoption, last 52 weeks", "0-1"),
    "programme_abandoned": Measure("Programme abandoned (share of runs)", "share"),
}
CLASSES = ("quick", "slow", "unresolved", "silent")  # resolution classes of problem holders at renewal
QUARTER = WEEKS_PER_QUARTER  # weeks: the quarter whose problems name the top cause
DISTRIBUTION = ("share_detractors", "share_passives", "share_promoters", "share_tens", "share_five_or_below")
HOLDS = ("above", "below", "within")


# ------------------------------------------------------------------------------------------ declarations
@dataclass(frozen=True)
class Check:
    """One statistic of a fact and the threshold its interval must clear."""

    measure: str
    scenario: str
    against: str | None
    holds: dict[str, Any]
    overrides: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """The run the check reads: its scenario, with its own model overrides if any."""
        return run_label(self.scenario, self.overrides)

    @property
    def scenarios(self) -> tuple[str, ...]:
        """The runs the check reads (labels: a scenario, with overrides if any)."""
        return (self.label,) if self.against is None else (self.label, self.against)

    def threshold_text(self) -> str:
        """The threshold in words, e.g. ``above 0.8`` or ``within [-1, 1]``."""
        kind, value = next(iter(self.holds.items()))
        if kind == "within":
            return f"within [{value[0]:g}, {value[1]:g}]"
        return f"{kind} {value:g}"

    def statistic_text(self) -> str:
        """What the interval is of: a mean over seeds or a paired difference."""
        if self.against is None:
            return f"{self.label}, mean over seeds"
        return f"{self.label} less {self.against}, paired by seed"


def run_label(scenario: str, overrides: Sequence[str] = ()) -> str:
    """The name of a run: the scenario, and its check-level overrides in brackets.

    >>> run_label("full_transformation", ["governance.executive_engagement=0.2"])
    'full_transformation [governance.executive_engagement=0.2]'
    """
    return f"{scenario} [{', '.join(overrides)}]" if overrides else scenario


@dataclass(frozen=True)
class Fact:
    """A stylized fact: its name, what it says, its source, and its checks."""

    name: str
    title: str
    source: str
    checks: tuple[Check, ...]


@dataclass
class ValidationSpec:
    """What ``silosim-validate`` runs: the facts, the population, the seeds and where it writes."""

    facts: list[Fact]
    customers: int
    weeks: int
    seeds: list[int]
    confidence: float
    jobs: int
    out: Path
    overrides: list[str]
    config: dict[str, Any] = field(default_factory=dict)
    backend: Backend | None = None  # where the runs go (launcher, launcher_options; the executor's)

    @property
    def scenarios(self) -> list[str]:
        """Every run (scenario, with check-level overrides if any) a fact reads, in the order the facts name them."""
        return list(self.runs_of)

    @property
    def runs_of(self) -> dict[str, tuple[str, tuple[str, ...]]]:
        """Each run label: its scenario and its check-level overrides."""
        seen: dict[str, tuple[str, tuple[str, ...]]] = {}
        for fact in self.facts:
            for check in fact.checks:
                seen.setdefault(check.label, (check.scenario, check.overrides))
                if check.against is not None:
                    seen.setdefault(check.against, (check.against, ()))
        return seen


def _integer(cfg: DictConfig, key: str, least: int) -> int:
    value = cfg.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise ConfigError(f"`{key}` is {value!r}, but it must be a whole number of at least {least}.")
    return int(value)


def _holds(value: Any, where: str) -> dict[str, Any]:
    """A check's threshold, checked: one of above / below (a number) or within (two increasing numbers)."""
    if not isinstance(value, dict) or len(value) != 1 or next(iter(value)) not in HOLDS:
        raise ConfigError(
            f"`{where}` is {value!r}, but it must be one of {{above: x}}, {{below: x}} or {{within: [a, b]}}."
        )
    kind, bound = next(iter(value.items()))
    if kind == "within":
        ok = isinstance(bound, list) and len(bound) == 2 and all(isinstance(b, int | float) for b in bound)
        if not ok or bound[0] >= bound[1]:
            raise ConfigError(f"`{where}.within` is {bound!r}, but it must be two increasing numbers [a, b].")
        return {"within": [float(bound[0]), float(bound[1])]}
    if isinstance(bound, bool) or not isinstance(bound, int | float):
        raise ConfigError(f"`{where}.{kind}` is {bound!r}, but it must be a number.")
    return {kind: float(bound)}


def _check(entry: Any, where: str) -> Check:
    if not isinstance(entry, dict):
        raise ConfigError(f"`{where}` is {entry!r}, but a check is a mapping with measure, scenario and holds.")
    unknown = sorted(set(entry) - {"measure", "scenario", "against", "holds", "overrides"})
    if unknown:
        raise ConfigError(
            f"`{where}.{unknown[0]}` is not a check setting; use measure, scenario, against, holds, overrides."
        )
    measure = entry.get("measure")
    if measure not in MEASURES:
        raise ConfigError(f"`{where}.measure` is {measure!r}, but it must be one of {', '.join(MEASURES)}.")
    scenario, against = entry.get("scenario"), entry.get("against")
    if not isinstance(scenario, str) or not scenario:
        raise ConfigError(f"`{where}.scenario` is {scenario!r}, but it must name a scenario.")
    overrides = entry.get("overrides") or []
    if not isinstance(overrides, list) or not all(isinstance(o, str) and "=" in o for o in overrides):
        raise ConfigError(
            f"`{where}.overrides` is {overrides!r}, but it must be a list of model settings key=value, "
            "e.g. [governance.executive_engagement=0.2]."
        )
    if against is not None and (not isinstance(against, str) or (against == scenario and not overrides)):
        raise ConfigError(
            f"`{where}.against` is {against!r}, but it must name another scenario, or the same one when the "
            "check has overrides (or be left out)."
        )
    return Check(measure, scenario, against, _holds(entry.get("holds"), f"{where}.holds"), tuple(overrides))


def _fact(name: str, entry: Any) -> Fact:
    where = f"facts.{name}"
    if not isinstance(entry, dict):
        raise ConfigError(f"`{where}` is {entry!r}, but a fact is a mapping with title, source and checks.")
    for key in ("title", "source"):
        if not isinstance(entry.get(key), str) or not entry[key].strip():
            raise ConfigError(f"`{where}.{key}` is {entry.get(key)!r}, but every fact needs a {key} (text).")
    checks = entry.get("checks")
    if not isinstance(checks, list) or not checks:
        raise ConfigError(f"`{where}.checks` is {checks!r}, but a fact needs a list of at least one check.")
    return Fact(
        name,
        " ".join(entry["title"].split()),
        " ".join(entry["source"].split()),
        tuple(_check(c, f"{where}.checks[{i}]") for i, c in enumerate(checks)),
    )


def load_spec(overrides: Sequence[str]) -> ValidationSpec:
    """Compose ``conf/validate.yaml`` with overrides and check every setting and fact.

    Args:
        overrides: e.g. ``["seeds=10", "customers=5000", "only=[stationary_baseline]"]``.

    Returns:
        The validated specification (the scenarios and model overrides are checked by composing one run).

    Raises:
        ConfigError: One paragraph naming the key, the value and what is allowed.
    """
    cfg = compose("validate", list(overrides))
    raw = OmegaConf.to_container(cfg, resolve=True)
    if not isinstance(raw, dict):  # a primary config is always a mapping
        raise ConfigError("conf/validate.yaml must be a mapping of settings and facts.")
    facts_node = raw.get("facts") or {}
    if not isinstance(facts_node, dict) or not facts_node:
        raise ConfigError("`facts` is empty, but silosim-validate needs at least one declared fact.")
    only = raw.get("only") or []
    if not isinstance(only, list):
        raise ConfigError(f"`only` is {only!r}, but it must be a list of fact names, e.g. only=[stationary_baseline].")
    unknown = [n for n in only if n not in facts_node]
    if unknown:
        raise ConfigError(f"`only` names '{unknown[0]}', but the declared facts are {', '.join(facts_node)}.")
    facts = [_fact(name, entry) for name, entry in facts_node.items() if not only or name in only]
    confidence = cfg.get("confidence")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float) or not 0 < confidence < 1:
        raise ConfigError(f"`confidence` is {confidence!r}, but it must be a level between 0 and 1, e.g. 0.95.")
    model_overrides = [str(o) for o in (raw.get("overrides") or [])]
    spec = ValidationSpec(
        facts=facts,
        customers=_integer(cfg, "customers", 200),
        weeks=_integer(cfg, "weeks", 2 * WINDOW),
        seeds=list(range(_integer(cfg, "first_seed", 0), cfg.first_seed + _seed_count(cfg))),
        confidence=float(confidence),
        jobs=_integer(cfg, "jobs", 1),
        out=Path(str(cfg.out)).expanduser()
        if cfg.get("out")
        else Path("outputs/validation") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S"),
        overrides=model_overrides,
        config=raw,
        backend=backend_setting(cfg, _integer(cfg, "jobs", 1)),
    )
    for label in spec.scenarios:  # every scenario and model override composes (one paragraph if not)
        checked_config(_run_overrides(spec, label, spec.seeds[0]))
    check_writable(spec.out, "out")  # before the runs, which take minutes
    require_fresh(spec.out, "out", "validation results")
    return spec


MAX_SEEDS = 1000  # seeds per scenario; each fact runs every scenario it needs on every seed


def _seed_count(cfg: DictConfig) -> int:
    """``seeds``, at most :data:`MAX_SEEDS`."""
    seeds = _integer(cfg, "seeds", 3)
    if seeds > MAX_SEEDS:
        raise ConfigError(
            f"`seeds` is {seeds:,}, but it must be at most {MAX_SEEDS:,} (each seed runs every scenario of the "
            "facts; 10 to 50 seeds already give narrow intervals)."
        )
    return seeds


def _run_overrides(spec: ValidationSpec, label: str, seed: int) -> list[str]:
    scenario, own = spec.runs_of[label]
    return [
        f"scenario={scenario}",
        f"seed={seed}",
        f"customers={spec.customers}",
        f"weeks={spec.weeks}",
        "track_customers=0",
        "output.progress=false",
        *spec.overrides,
        *own,
    ]


# ------------------------------------------------------------------------------------------------ one run
def measure_run(overrides: Sequence[str]) -> dict[str, float]:
    """Run one configuration and compute every measure of :data:`MEASURES` from it.

    Args:
        overrides: The run's configuration overrides (scenario, seed, population, horizon, ...).

    Returns:
        Measure name -> value (NaN where the run cannot say, e.g. no unresolved problem came up for renewal).
    """
    from sim.engine.model import SiloModel

    model = SiloModel(checked_config(list(overrides)), collect=False)
    store, weeks = model.store, model.cfg.weeks
    start = (store.touch_score_sum[: store.n].copy(), store.touch_count[: store.n].copy())
    noticed_before = store.cancellation_notice[: store.n].copy()  # notices of the warm-up: not compared
    spend = _CategorySpend()
    snapshot: dict[str, np.ndarray] = {}
    first_quarter_problems = np.zeros(len(model.journey.names), dtype=np.int64)
    for week in range(weeks):
        model.step()
        spend.add(model)
        if week < QUARTER:
            first_quarter_problems += model.journey.week.problems_by_cause
        if week == WINDOW - 1:
            snapshot = _journey_snapshot(model, start)
    return {
        **_measures(model, snapshot, spend),
        "time_to_fix_top_cause": _time_to_fix(model, first_quarter_problems),
        **_cancellation_gaps(model, noticed_before),
    }


def _time_to_fix(model: Any, first_quarter_problems: np.ndarray) -> float:
    """Weeks from the programme's start until the first quarter's top problem cause is first fixed.

    The top cause is the touchpoint that caused the most problems in weeks 0-12; fixed means its fix took effect.
    The horizon if it never is.
    """
    top = model.journey.names[int(np.argmax(first_quarter_problems))]
    weeks = [week for week, name in model.fixed_touchpoints if name == top]
    start = model.cfg.governance.program_start_week
    return float(min(weeks) - start) if weeks else float(model.cfg.weeks - start)


def _cancellation_gaps(model: Any, noticed_before: np.ndarray) -> dict[str, float]:
    """Customers with a cancellation notice in the recorded weeks: with a cancellation conflict less without.

    Those who also got a cross-sell offer in a notice's week (a cancellation conflict) less those who got only
    notices, in the share who left during the recorded weeks and in true likelihood to recommend at the end (or
    when they left).
    """
    store = model.store
    n = store.n
    fresh = store.cancellation_notice[:n].copy()
    fresh[: noticed_before.size] &= ~noticed_before
    both = fresh & store.cancellation_conflict[:n]
    only = fresh & ~store.cancellation_conflict[:n]
    if not both.any() or not only.any():
        return {"cancellation_conflict_churn_gap": math.nan, "cancellation_conflict_ltr_gap": math.nan}
    left = store.left_step[:n] >= 0
    ltr = store.true_ltr[:n].astype(np.float64)
    return {
        "cancellation_conflict_churn_gap": float(left[both].mean() - left[only].mean()),
        "cancellation_conflict_ltr_gap": float(ltr[both].mean() - ltr[only].mean()),
    }


class _CategorySpend:
    """Revenue and customer-weeks by NPS category, summed over the recorded weeks."""

    def __init__(self) -> None:
        self.revenue = np.zeros(3)  # detractors, passives, promoters
        self.weeks = np.zeros(3)

    def add(self, model: Any) -> None:
        store = model.store
        active = store.active[: store.n]
        ltr = store.true_ltr[: store.n][active]
        category = np.where(ltr >= 9, 2, np.where(ltr <= 6, 0, 1))
        value = store.value[: store.n][active] * np.asarray(model.cfg.market.spend_by_category)[category]
        self.revenue += np.bincount(category, weights=value, minlength=3)
        self.weeks += np.bincount(category, minlength=3)


def _journey_snapshot(model: Any, start: tuple[np.ndarray, np.ndarray]) -> dict[str, np.ndarray]:
    """At the end of the first year: each active customer's journey satisfaction and mean touchpoint score.

    Journey satisfaction is the customer's running satisfaction with the touches as lived (hand-off failures,
    conflicting and repeat contacts included) less the grudge problems left behind; the touchpoint score is
    the mean of the scores the departments recorded at the customer's touches over the year.
    """
    store = model.store
    n = store.n
    total, count = store.touch_score_sum[:n].astype(np.float64), store.touch_count[:n].astype(np.float64)
    total[: start[0].size] -= start[0]
    count[: start[1].size] -= start[1]
    rows = np.flatnonzero(store.active[:n] & (count >= 3))
    return {
        "rows": rows,
        # the journey as the customer lives it: running satisfaction less the resentment problems left behind
        "satisfaction": (store.satisfaction[rows] - store.grudge[rows]).astype(np.float64),
        "touchpoint": total[rows] / count[rows],
    }


def _journey_over_touchpoint(model: Any, snapshot: dict[str, np.ndarray]) -> float:
    """How much better journey satisfaction ranks next year's leavers than the recorded touchpoint scores."""
    if not snapshot or model.cfg.weeks < 2 * WINDOW:
        return float("nan")
    left = model.store.left_step[snapshot["rows"]]
    leaves = ((left >= WINDOW) & (left < 2 * WINDOW)).astype(np.float64)
    if leaves.min() == leaves.max():
        return float("nan")
    journey = -stats.spearmanr(snapshot["satisfaction"], leaves).statistic
    touchpoint = -stats.spearmanr(snapshot["touchpoint"], leaves).statistic
    return float(journey / touchpoint) if touchpoint > 0 else float("nan")


def _annual_churn(metrics: pd.DataFrame, share: str, churned: str) -> float:
    """Annual churn of one NPS category: its leavers over its exposure (active customers x category share)."""
    exposure = (metrics["active_before"] * metrics[share].shift(1).fillna(metrics[share])).sum()
    weekly = metrics[churned].sum() / exposure if exposure > 0 else float("nan")
    return float(1.0 - (1.0 - weekly) ** WEEKS_PER_YEAR)


def _rate(metrics: pd.DataFrame, name: str) -> float:
    decisions = metrics[f"renewals_{name}"].sum()
    return float(metrics[f"renewed_{name}"].sum() / decisions) if decisions > 0 else float("nan")


def _class_shares(metrics: pd.DataFrame) -> dict[str, float]:
    """Renewal decisions of customers with a problem in the year, by the resolution class of the worst one."""
    counts = {name: float(metrics[f"renewals_{name}"].sum()) for name in CLASSES}
    total = sum(counts.values())
    return {f"share_{name}": counts[name] / total if total else math.nan for name in CLASSES}


def _per_customer_year(metrics: pd.DataFrame, column: str) -> float:
    """A weekly count summed over the run, per customer-year (active customers summed over the weeks / 52)."""
    exposure = metrics["active_customers"].sum() / WEEKS_PER_YEAR
    return float(metrics[column].sum() / exposure) if exposure > 0 else math.nan


def _suppressed_share(metrics: pd.DataFrame) -> float:
    """Of the cancellation conflicts that would have happened in the last 52 weeks, the share the view stopped."""
    stopped = metrics["cancellation_conflicts_suppressed"].sum()
    total = stopped + metrics["cancellation_conflicts"].sum()
    return float(stopped / total) if total > 0 else math.nan


def _lever_pressure(model: Any) -> float:
    """Mean year-3 setting of the silo levers less the mean hand-off care (higher: more silo)."""
    frame = model.departments_frame()
    recent = frame[frame["step"] >= model.cfg.weeks - WINDOW]
    silo, care = [], []
    for name, department in model.cfg.org.departments.items():
        rows = recent[recent["department"] == name]
        for lever, conf in department.levers.items():
            value = float(rows[f"lever_{lever}"].mean())
            if conf.mechanism in SILO_MECHANISMS:
                silo.append(value)
            elif conf.mechanism == "handoff_care":
                care.append(value)
    return float(np.mean(silo) - (np.mean(care) if care else 0.0)) if silo else float("nan")


def _measures(model: Any, snapshot: dict[str, np.ndarray], spend: _CategorySpend) -> dict[str, float]:
    from sim.engine.metrics import annual_retention

    f = model.metrics_frame()
    year1, year3 = f.iloc[:WINDOW], f.iloc[-WINDOW:]
    slope = float(np.polyfit(f["step"].to_numpy() / WEEKS_PER_YEAR, f["true_nps"].to_numpy(), 1)[0])
    churn_p = _annual_churn(f, "promoters_share", "churned_promoters")
    churn_d = _annual_churn(f, "detractors_share", "churned_detractors")
    per_week = spend.revenue / np.maximum(spend.weeks, 1)
    ltv_p, ltv_d = per_week[2] / churn_p, per_week[0] / churn_d
    store = model.store
    ltr = store.true_ltr[: store.n][store.active[: store.n]]
    referrals = f["referrals"].sum()
    return {
        "true_nps_trend": slope,
        "expectation_drift": float(f["mean_expectation"].iloc[-1] - f["mean_expectation"].iloc[0]),
        "true_nps_y1": float(year1["true_nps"].mean()),
        "true_nps_y3": float(year3["true_nps"].mean()),
        "true_nps_y3_minus_y1": float(year3["true_nps"].mean() - year1["true_nps"].mean()),
        "measured_nps_y3": float(year3["measured_nps"].mean()),
        "touchpoint_score_y3": float(year3["mean_touchpoint_score"].mean()),
        "promoter_referral_share": float(f["referrals_from_promoters"].sum() / referrals) if referrals else math.nan,
        "renewal_quick_minus_slow": _rate(f, "quick") - _rate(f, "slow"),
        "renewal_slow_minus_unresolved": _rate(f, "slow") - _rate(f, "unresolved"),
        "churn_ratio_detractor_promoter": churn_d / churn_p if churn_p > 0 else math.nan,
        "ltv_ratio_promoter_detractor": float(ltv_p / ltv_d) if ltv_d > 0 else math.nan,
        "open_problem_nps_gap": float((f["true_nps_open_problem"] - f["true_nps_no_open_problem"]).mean()),
        "journey_over_touchpoint": _journey_over_touchpoint(model, snapshot),
        "silo_lever_pressure": _lever_pressure(model),
        "share_detractors": float((ltr <= 6).mean()),
        "share_passives": float(((ltr >= 7) & (ltr <= 8)).mean()),
        "share_promoters": float((ltr >= 9).mean()),
        "share_tens": float((ltr == 10).mean()),
        "share_five_or_below": float((ltr <= 5).mean()),
        "annual_retention": float(annual_retention(f["active_before"], f["churned"])),
        "first_contact_resolution": float(year3["first_contact_resolution"].mean()),
        "renewal_silent_minus_unresolved": _rate(f, "silent") - _rate(f, "unresolved"),
        **_class_shares(f),
        "invitations_per_customer_year": _per_customer_year(f, "survey_invitations"),
        "responses_per_customer_year": _per_customer_year(f, "survey_responses"),
        "cancellation_conflicts_suppressed_share_y3": _suppressed_share(year3),
        "first_contact_resolution_y1": float(year1["first_contact_resolution"].mean()),
        "overload_failures_y1": 1000.0 * _per_customer_year(year1, "overload_failures") / WEEKS_PER_YEAR,
        "true_nps_y23": float(f.iloc[WINDOW:]["true_nps"].mean()),
        "programme_adoption_y3": float(year3["programme_adoption"].mean()),
        "programme_abandoned": float(model.programme.abandonments > 0),
    }


# ----------------------------------------------------------------------------------------------- the suite
@dataclass(frozen=True)
class CheckResult:
    """A check's interval and whether it clears its threshold."""

    fact: str
    check: Check
    interval: Interval
    holds: bool


def judge(check: Check, interval: Interval) -> bool:
    """Whether the whole interval clears the check's threshold (an undefined interval never does)."""
    low, high = interval.low, interval.high
    if not (math.isfinite(low) and math.isfinite(high)):
        return False
    kind, bound = next(iter(check.holds.items()))
    if kind == "above":
        return low > bound
    if kind == "below":
        return high < bound
    return bound[0] < low and high < bound[1]


def statistic(check: Check, runs: pd.DataFrame, confidence: float) -> Interval:
    """The check's interval over the runs (one row per scenario and seed, one column per measure).

    Args:
        check: The check.
        runs: Measures by run, with ``scenario`` and ``seed`` columns.
        confidence: Interval level.
    """
    values = runs.set_index(["scenario", "seed"])[check.measure]
    if check.against is None:
        return mean_ci(values.loc[check.label], confidence)
    return paired_difference(values.loc[check.label], values.loc[check.against], confidence)


def run_validation(spec: ValidationSpec, progress: Callable[[str], None] | None = None) -> pd.DataFrame:
    """Run every scenario x seed the facts need, in parallel, and return the measures of each run.

    Args:
        spec: The suite.
        progress: Called with a line of progress now and then (default: stderr).

    Returns:
        One row per run: ``scenario``, ``seed``, ``seconds`` and every measure.
    """
    say = progress or (lambda line: print(line, file=sys.stderr, flush=True))
    jobs = [(s, seed) for s in spec.scenarios for seed in spec.seeds]
    say(
        f"silosim-validate: {len(spec.facts)} facts, {len(jobs)} runs ({len(spec.scenarios)} scenarios x "
        f"{len(spec.seeds)} seeds) of {spec.customers:,} customers x {spec.weeks} weeks on {spec.jobs} processes"
    )
    started, step = time.monotonic(), max(1, len(jobs) // 10)

    def report(done: int, total: int) -> None:
        if done and (done % step == 0 or done == total):
            say(f"silosim-validate: runs {done}/{total} done ({time.monotonic() - started:.0f} s)")

    results = map_jobs(
        _timed,
        [_run_overrides(spec, scenario, seed) for scenario, seed in jobs],
        spec.backend or Backend("local", spec.jobs),
        labels=[f"{scenario}, seed {seed}" for scenario, seed in jobs],
        progress=report,
    )
    return pd.DataFrame(
        [
            {"scenario": scenario, "seed": seed, **measures}
            for (scenario, seed), measures in zip(jobs, results, strict=True)
        ]
    )


def _timed(overrides: list[str]) -> dict[str, float]:
    started = time.monotonic()
    measures = measure_run(overrides)
    return {"seconds": time.monotonic() - started, **measures}


def results(spec: ValidationSpec, runs: pd.DataFrame) -> list[CheckResult]:
    """Every check of every fact, judged."""
    out = []
    for fact in spec.facts:
        for check in fact.checks:
            interval = statistic(check, runs, spec.confidence)
            out.append(CheckResult(fact.name, check, interval, judge(check, interval)))
    return out


# ------------------------------------------------------------------------------------------------ outputs
def _fmt(value: float, unit: str) -> str:
    if not math.isfinite(value):
        return "n/a"
    if unit == "share":
        return f"{value:.3f}"
    if unit == "ratio":
        return f"{value:.2f}"
    return f"{value:+.2f}" if "NPS" in unit or "/ year" in unit else f"{value:.3f}"


def _value_text(result: CheckResult) -> str:
    unit, i = MEASURES[result.check.measure].unit, result.interval
    return f"{_fmt(i.mean, unit)} [{_fmt(i.low, unit)}, {_fmt(i.high, unit)}]"


def fact_holds(spec: ValidationSpec, checked: list[CheckResult]) -> dict[str, bool]:
    """Whether each fact holds (all its checks)."""
    return {fact.name: all(r.holds for r in checked if r.fact == fact.name) for fact in spec.facts}


def table(spec: ValidationSpec, checked: list[CheckResult]) -> pd.DataFrame:
    """One row per check: fact, check, statistic, value with CI, threshold, holds."""
    return pd.DataFrame(
        [
            {
                "fact": r.fact,
                "check": MEASURES[r.check.measure].label,
                "statistic": r.check.statistic_text(),
                "unit": MEASURES[r.check.measure].unit,
                f"value [{spec.confidence:.0%} CI]": _value_text(r),
                "threshold": r.check.threshold_text(),
                "holds": "yes" if r.holds else "NO",
            }
            for r in checked
        ]
    )


def markdown(spec: ValidationSpec, checked: list[CheckResult], runs: pd.DataFrame, seconds: float) -> str:
    """validation.md: the verdicts, the table, the sources and the score distribution."""
    verdicts = fact_holds(spec, checked)
    held = sum(verdicts.values())
    lines = [
        "# silosim validation: stylized facts",
        "",
        f"{held} of {len(verdicts)} facts hold. {len(runs)} runs: {len(spec.seeds)} seeds "
        f"({spec.seeds[0]}-{spec.seeds[-1]}) x {len(spec.scenarios)} scenarios, {spec.customers:,} customers, "
        f"{spec.weeks} recorded weeks; {spec.confidence:.0%} confidence intervals; {seconds / 60:.1f} min on "
        f"{spec.jobs} processes." + (f" Model overrides: {', '.join(spec.overrides)}." if spec.overrides else ""),
        "",
        "A check holds when its whole interval clears the threshold. Paired differences compare two scenarios "
        "on the same seeds (common random numbers).",
        "",
        "| Fact | Check | Statistic | Value [CI] | Threshold | Holds |",
        "|---|---|---|---|---|---|",
    ]
    for r in checked:
        label, unit = MEASURES[r.check.measure].label, MEASURES[r.check.measure].unit
        lines.append(
            f"| {r.fact} | {label} ({unit}) | {r.check.statistic_text()} | {_value_text(r)} | "
            f"{r.check.threshold_text()} | {'yes' if r.holds else '**NO**'} |"
        )
    lines += ["", "## The facts and their sources", ""]
    for fact in spec.facts:
        lines.append(f"- **{fact.name}** ({'holds' if verdicts[fact.name] else 'FAILS'}): {fact.title}. {fact.source}")
    baseline = runs[runs["scenario"] == spec.scenarios[0]]
    lines += [
        "",
        f"## Score distribution ({spec.scenarios[0]}, active customers at the end, mean over seeds)",
        "",
        "| Scores | Share |",
        "|---|---|",
    ]
    for name in DISTRIBUTION:
        lines.append(
            f"| {MEASURES[name].label.removeprefix('Customers scoring ').removesuffix(' at the end')} | "
            f"{baseline[name].mean():.3f} |"
        )
    return "\n".join(lines) + "\n"


def figure(spec: ValidationSpec, checked: list[CheckResult], path: Path) -> None:
    """validation.png: one panel per check, its value and interval against the threshold (shaded where it holds)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = len(checked)
    cols = min(4, n)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.3 * rows), squeeze=False)
    for ax, r in zip(axes.flat, checked, strict=False):
        i, measure = r.interval, MEASURES[r.check.measure]
        kind, bound = next(iter(r.check.holds.items()))
        ends = [x for x in (i.low, i.high, i.mean) if math.isfinite(x)]
        ends += list(bound) if kind == "within" else [bound]
        lo, hi = min(ends), max(ends)
        pad = (hi - lo) * 0.25 or 1.0
        lo, hi = lo - pad, hi + pad
        zone = (bound, hi) if kind == "above" else (lo, bound) if kind == "below" else tuple(bound)
        ax.axvspan(*zone, color="#2e7d32", alpha=0.12, label="holds")
        colour = "#2e7d32" if r.holds else "#c62828"
        if math.isfinite(i.mean):
            ax.errorbar([i.mean], [0], xerr=[[i.mean - i.low], [i.high - i.mean]], fmt="o", color=colour, capsize=6)
        ax.set_xlim(lo, hi)
        ax.set_yticks([])
        ax.set_title(f"{r.fact}\n{measure.label}", fontsize=8)
        ax.set_xlabel(measure.unit, fontsize=8)
        ax.tick_params(labelsize=7)
        ax.text(0.02, 0.85, "holds" if r.holds else "FAILS", transform=ax.transAxes, color=colour, fontsize=8)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    held = sum(fact_holds(spec, checked).values())
    fig.suptitle(
        f"Stylized facts: {held} of {len(spec.facts)} hold (value and {spec.confidence:.0%} CI; green: where it "
        f"holds). {len(spec.seeds)} seeds x {spec.customers:,} customers",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _finite(node: Any) -> Any:
    """The payload with NaN and infinities as null (strict JSON)."""
    if isinstance(node, dict):
        return {k: _finite(v) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_finite(v) for v in node]
    if isinstance(node, float) and not math.isfinite(node):
        return None
    return node


def write_outputs(spec: ValidationSpec, checked: list[CheckResult], runs: pd.DataFrame, seconds: float) -> Path:
    """Write validation.md, validation.json, validation.png and runs.csv into ``spec.out`` (all or nothing)."""
    verdicts = fact_holds(spec, checked)
    payload = {
        "holds": all(verdicts.values()),
        "facts": [
            {
                **{k: v for k, v in asdict(fact).items() if k != "checks"},
                "holds": verdicts[fact.name],
                "checks": [
                    {
                        **asdict(r.check),
                        "label": MEASURES[r.check.measure].label,
                        "unit": MEASURES[r.check.measure].unit,
                        "statistic": r.check.statistic_text(),
                        "value": r.interval.mean,
                        "low": r.interval.low,
                        "high": r.interval.high,
                        "n": r.interval.n,
                        "holds": r.holds,
                    }
                    for r in checked
                    if r.fact == fact.name
                ],
            }
            for fact in spec.facts
        ],
        "distribution": {
            name: float(runs.loc[runs["scenario"] == spec.scenarios[0], name].mean()) for name in DISTRIBUTION
        },
        "settings": {k: v for k, v in spec.config.items() if k != "facts"},
        "runs": len(runs),
        "seconds": seconds,
    }
    with atomic_directory(spec.out) as work:
        (work / "validation.md").write_text(markdown(spec, checked, runs, seconds))
        (work / "validation.json").write_text(json.dumps(_finite(payload), indent=2, allow_nan=False) + "\n")
        safe_table(runs).to_csv(work / "runs.csv", index=False)
        figure(spec, checked, work / "validation.png")
    return spec.out
