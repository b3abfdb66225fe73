"""What every deliverable of a comparison says, built once: the HTML report, its PDF, the slides and the workbook.

The answer in plain words (one sentence per alternative, with its numbers and the intervals the
verdicts rest on), the summary table, the scenarios and the parameters that differ between them,
the key assumptions, the method (common random numbers, intervals, how many comparisons the answer
makes and how they are adjusted), the provenance of the runs and the command that reproduces them.
The renderers only lay this out, so the report, the slides and the workbook cannot disagree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

import pandas as pd

from sim.config import WEEKS_PER_YEAR
from sim.experiments.analysis import direction
from sim.experiments.compare import Comparison
from sim.experiments.deliverables import ReportConf
from sim.experiments.outcomes import comparison_outcomes
from sim.report.figures import FigureFile, verdict_columns

__all__ = [
    "Answer",
    "ReportContent",
    "Table",
    "answer_sentences",
    "answers",
    "build_content",
    "ci_name",
    "differing_parameters",
    "flatten",
    "report_settings",
    "summary_text_table",
]

# Keys of the resolved configuration that are labels or bookkeeping, not assumptions of the model.
_NOT_ASSUMPTIONS = ("scenario_name", "output.", "about.", "seed", "design.", "calibration_source")


@dataclass(frozen=True)
class Answer:
    """One alternative's effect against the baseline, in words.

    Attributes:
        scenario: The alternative's name.
        title: Its display title (shown in bold).
        clauses: What it would do to each outcome, with the number and interval.
        baseline_title: The baseline's display title.
    """

    scenario: str
    title: str
    clauses: tuple[str, ...]
    baseline_title: str

    @property
    def predicate(self) -> str:
        """The sentence after the scenario's title."""
        return f" would {', and '.join(self.clauses)}, compared with {self.baseline_title}."

    @property
    def text(self) -> str:
        """The whole sentence."""
        return self.title + self.predicate


@dataclass(frozen=True)
class Table:
    """A table as text: header and rows (already formatted)."""

    columns: list[str]
    rows: list[list[str]]


@dataclass
class ReportContent:
    """Everything the deliverables say, in the order the report says it."""

    title: str
    client: str
    date: str
    subtitle: str
    answers: list[Answer]
    answer_note: str
    comparisons_note: str
    failures: list[str]
    figures: list[FigureFile]
    summary: Table
    summary_note: str
    scenarios: Table
    assumptions: list[str]
    parameters: Table | None
    method: list[str]
    provenance: list[tuple[str, str]]
    command: str
    wall_seconds: float
    rebuilds: list[dict[str, Any]]
    settings: ReportConf
    generated_by: str
    extra: dict[str, Any] = field(default_factory=dict)


def report_settings(meta: Mapping[str, Any]) -> ReportConf:
    """The ``report.*`` settings a comparison carries (defaults where it carries none)."""
    from omegaconf import OmegaConf

    merged = OmegaConf.merge(OmegaConf.structured(ReportConf), OmegaConf.create(dict(meta.get("report") or {})))
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


def ci_name(level: float, adjusted: bool) -> str:
    """``95% CI`` or ``adjusted 95% CI``."""
    return f"{'adjusted ' if adjusted else ''}{round(100 * level)}% CI"


def _horizon_words(weeks: int) -> str:
    if weeks >= WEEKS_PER_YEAR:
        if weeks % WEEKS_PER_YEAR == 0:
            return f"annual retention in year {weeks // WEEKS_PER_YEAR}"
        return "annual retention in the final year"
    return f"annualised retention over {weeks} weeks"


def _clause(row: pd.Series, summary: pd.DataFrame, key: str, what: str, scale: float, label: str) -> str:
    low_col, high_col = verdict_columns(summary, key)
    d, lo, hi = (scale * row[c] for c in (f"{key}_diff", low_col, high_col))
    if not all(math.isfinite(v) for v in (d, lo, hi)):
        return f"change {what} by {d:+.1f} points (too few paired runs for an interval)"
    verdict = direction(lo, hi)
    if verdict == 0:
        return f"leave {what} statistically unchanged ({d:+.1f} points, {label} {lo:+.1f} to {hi:+.1f})"
    verb = "raise" if verdict > 0 else "lower"
    return f"{verb} {what} by {abs(d):.1f} points, {label} {lo:+.1f} to {hi:+.1f}"


def answers(
    summary: pd.DataFrame, baseline: str, weeks: int, level: float, titles: Mapping[str, str] | None = None
) -> list[Answer]:
    """One answer per alternative: its effect on retention and true NPS against the baseline.

    The verdict (raise, lower, statistically unchanged) rests on the adjusted interval when the summary
    table has one (``<outcome>_diff_adj_ci_low``), otherwise on the unadjusted one.

    Args:
        summary: The summary table.
        baseline: The baseline scenario.
        weeks: Horizon in weeks.
        level: Confidence level.
        titles: Display titles (default: the scenario names).

    Returns:
        Answers, the alternative with the largest retention gain first.
    """
    titles = dict(titles or {})
    adjusted = "annual_retention_diff_adj_ci_low" in summary
    label = ci_name(level, adjusted)
    rows = summary[summary["scenario"] != baseline].sort_values("annual_retention_diff", ascending=False)
    out = []
    for _, r in rows.iterrows():
        clauses = (
            _clause(r, summary, "annual_retention", _horizon_words(weeks), 100.0, label),
            _clause(r, summary, "true_nps", "true NPS", 1.0, label),
        )
        name = str(r["scenario"])
        out.append(Answer(name, titles.get(name, name), clauses, titles.get(baseline, baseline)))
    return out


def answer_sentences(
    summary: pd.DataFrame, baseline: str, weeks: int, level: float, titles: Mapping[str, str] | None = None
) -> list[str]:
    """:func:`answers` as plain sentences."""
    return [a.text for a in answers(summary, baseline, weeks, level, titles)]


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested mapping as dotted keys."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def differing_parameters(
    configs: Mapping[str, Mapping[str, Any]], titles: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Parameters whose value differs between the scenarios' resolved configurations.

    Args:
        configs: Resolved configuration per scenario.
        titles: Column headers per scenario (default: the scenario names).

    Returns:
        One row per differing parameter, one column per scenario.
    """
    titles = dict(titles or {})
    flat = {s: flatten(c) for s, c in configs.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values()))) if flat else []
    rows = []
    for k in keys:
        if k.startswith(_NOT_ASSUMPTIONS):
            continue
        values = [flat[s].get(k, "—") for s in configs]
        if len({repr(v) for v in values}) > 1:
            rows.append({"parameter": k, **{titles.get(s, s): v for s, v in zip(configs, values, strict=True)}})
    return pd.DataFrame(rows)


def _fmt_ci(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 1, sign: bool = True) -> str:
    if not math.isfinite(mean):
        return "—"
    f = f"{{:{'+' if sign else ''},.{digits}f}}"
    if not (math.isfinite(low) and math.isfinite(high)):
        return f.format(scale * mean)
    return f"{f.format(scale * mean)} ({f.format(scale * low)} to {f.format(scale * high)})"


def summary_text_table(summary: pd.DataFrame, baseline: str, level: float, titles: Mapping[str, str]) -> Table:
    """The summary table as the report shows it: formatted means and intervals, verdict intervals vs the baseline."""
    pct = round(100 * level)
    adjusted = "true_nps_diff_adj_ci_low" in summary
    vs = f"vs baseline ({ci_name(level, adjusted)})"
    columns = [
        "Scenario",
        "Runs",
        f"True NPS, final ({pct}% CI)",
        f"True NPS {vs}",
        "Measured NPS, final",
        "Annual retention, %",
        f"Retention {vs}, points",
        "Active customers, final",
        "Cumulative revenue",
        "Customer lifetime value",
    ]
    rows = []
    for _, r in summary.iterrows():
        base = r["scenario"] == baseline

        def diff(key: str, scale: float = 1.0, r: pd.Series = r, base: bool = base) -> str:
            low, high = verdict_columns(summary, key)
            return "—" if base else _fmt_ci(r[f"{key}_diff"], r[low], r[high], scale)

        def level_ci(key: str, scale: float = 1.0, digits: int = 1, sign: bool = True, r: pd.Series = r) -> str:
            return _fmt_ci(r[f"{key}_mean"], r[f"{key}_ci_low"], r[f"{key}_ci_high"], scale, digits, sign)

        rows.append(
            [
                titles.get(r["scenario"], r["scenario"]) + (" (baseline)" if base else ""),
                str(int(r["replications"])),
                level_ci("true_nps"),
                diff("true_nps"),
                level_ci("measured_nps"),
                level_ci("annual_retention", 100, sign=False),
                diff("annual_retention", 100),
                level_ci("active_customers", digits=0, sign=False),
                level_ci("cumulative_revenue", digits=0, sign=False),
                level_ci("customer_lifetime_value", digits=0, sign=False),
            ]
        )
    return Table(columns, rows)


def _comparisons_note(meta: Mapping[str, Any], summary: pd.DataFrame, level: float) -> str:
    """How many comparisons the answer makes and how their intervals are adjusted."""
    m = int(meta.get("family_size") or 0)
    outcomes = len(comparison_outcomes())
    alternatives = m // outcomes if outcomes else 0
    pct, alpha = round(100 * level), 1 - level
    family = (
        f"The report judges {m} paired differences ({alternatives} alternative{'s' if alternatives != 1 else ''} x "
        f"{outcomes} outcomes, each against the baseline)"
    )
    method = str(meta.get("multiple_comparisons") or "none")
    if m == 0:
        return "The report judges no differences: it has no alternative to the baseline."
    if method == "bonferroni":
        return (
            f"{family}. The intervals its verdicts rest on (in the answer, the effects figure and the 'vs baseline' "
            f"columns) are Bonferroni-adjusted: each is a {100 * (1 - alpha / m):.2f}% interval, so all {m} hold "
            f"together with at least {pct}% confidence. summary.csv and the workbook also give each difference's "
            "unadjusted interval and its paired t-test p-value, raw and adjusted (multiple_comparisons=holm or none "
            "changes this)."
        )
    if method == "holm":
        levels = [v for v in summary.filter(like="_diff_adj_level").to_numpy().ravel() if v != level]
        span = f" (between {100 * min(levels):.2f}% and {100 * max(levels):.2f}%)" if levels else ""
        return (
            f"{family}. Verdicts use Holm's step-down method: an effect is declared only when its adjusted p-value "
            f"is below {alpha:.2g}, which keeps the chance of any false verdict among the {m} at most {alpha:.2g}. "
            f"Each interval is drawn at its step's level{span}, so it clears zero exactly when the effect is "
            "declared; unlike Bonferroni intervals, they do not hold simultaneously."
        )
    return (
        f"{family}, each at {pct}% with no adjustment: among {m} comparisons without any real effect, about "
        f"{m * alpha:.1f} would look like one by chance. Set multiple_comparisons=bonferroni (the default) or holm "
        "to adjust."
    )


def _provenance(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The runs' provenance (silosim version, commit, packages, platform) as rows; empty if not recorded."""
    recorded = meta.get("provenance")
    if not isinstance(recorded, Mapping) or not recorded:
        return []
    return [(k, "—" if v is None else str(v)) for k, v in flatten(recorded).items()]


def _silosim_version() -> str:
    try:
        return version("silosim")
    except PackageNotFoundError:
        return "unknown"


def _assumptions(meta: Mapping[str, Any], configs: Mapping[str, Mapping[str, Any]], baseline: str) -> list[str]:
    seeds = list(meta.get("seeds") or [])
    seed_text = f", seeds {seeds[0]} to {seeds[-1]}" if seeds else ""
    warmup = configs.get(baseline, {}).get("warmup_weeks", 26)
    overrides = ", ".join(meta.get("overrides") or []) or "none"
    return [
        f"Population: {int(meta['customers']):,} customers at the start, acquired and lost over the run.",
        f"Horizon: {int(meta['weeks'])} weeks, one step a week, after a {warmup}-week warm-up under siloed practice.",
        f"Replications: {meta['replications']} per scenario{seed_text}.",
        f"Overrides applied to every scenario: {overrides}.",
        f"Customer lifetime value: revenue per customer-year in the final year x r / (1 + d - r), r = annual "
        f"retention, d = {float(meta.get('clv_discount_rate', 0.10)):.0%} a year (Gupta & Lehmann 2003); revenue "
        "only, no costs.",
    ]


def _method(level: float) -> list[str]:
    pct = round(100 * level)
    return [
        "silosim is an agent-based model (Mesa): customers move through an agreed journey whose touchpoints belong "
        "to departments that each chase their own scorecard; hand-offs between departments fail, contacts conflict, "
        "problems wait, and satisfaction, recommendation, churn and word of mouth follow. The model is described in "
        "docs/odd.md (ODD protocol).",
        "Common random numbers: replication r of every scenario uses the same seed, and every mechanism draws from "
        "its own random stream, so scenarios see the same customers and the same luck wherever their mechanisms "
        "agree. Differences are therefore taken run by run (paired), which removes most of the run-to-run noise.",
        f"Intervals are Student-t {pct}% confidence intervals over replications: of the mean for each scenario, and "
        "of the mean paired difference for each effect. They describe simulation uncertainty only, not uncertainty "
        "in the parameters themselves (for that, see sensitivity analysis).",
    ]


def build_content(comparison: Comparison, figures: Sequence[FigureFile]) -> ReportContent:
    """Everything the deliverables say about a comparison.

    Args:
        comparison: The comparison (runs, summary table with its adjustment, settings, configurations).
        figures: Its figures, in report order.

    Returns:
        The content.
    """
    meta, summary, level = comparison.meta, comparison.summary, comparison.confidence
    titles, baseline = comparison.titles, comparison.baseline
    settings = report_settings(meta)
    pct = round(100 * level)
    order = comparison.order
    name = str(meta["name"]).replace("_", " ")
    failures = [
        f"{titles.get(str(f['scenario']), f['scenario'])} seed {f['seed']} ({f['error']})"
        for _, f in comparison.runs.failures.iterrows()
    ]
    parameters = differing_parameters({s: comparison.configs[s] for s in order if s in comparison.configs}, titles)
    scenario_rows = [
        [titles[s] + (" (baseline)" if s == baseline else ""), comparison.descriptions.get(s, "") or "—", s]
        for s in order
    ]
    return ReportContent(
        title=settings.title or f"What silos cost: {name}",
        client=settings.client,
        date=f"{datetime.now():%d %B %Y}",
        subtitle=(
            f"{len(order)} scenarios, {meta['replications']} replications each, {int(meta['customers']):,} "
            f"customers, {int(meta['weeks'])} weeks"
        ),
        answers=answers(summary, baseline, int(meta["weeks"]), level, titles),
        answer_note=(
            f"Every figure is the mean of {meta['replications']} simulated replications; ranges are {pct}% confidence "
            "intervals. 'True NPS' asks every active customer; 'measured NPS' is what the survey shows."
        ),
        comparisons_note=_comparisons_note(meta, summary, level),
        failures=failures,
        figures=list(figures),
        summary=summary_text_table(summary, baseline, level, titles),
        summary_note=(
            f"Means with {pct}% confidence intervals; differences from the baseline ({titles[baseline]}) are paired "
            "by replication. The same figures are in summary.csv and summary.xlsx."
        ),
        scenarios=Table(["Scenario", "What it changes", "File"], scenario_rows),
        assumptions=_assumptions(meta, comparison.configs, baseline),
        parameters=Table(list(parameters.columns), parameters.astype(str).to_numpy().tolist())
        if not parameters.empty
        else None,
        method=_method(level),
        provenance=_provenance(meta),
        command=str(meta.get("command", "")),
        wall_seconds=float(meta.get("wall_seconds") or 0.0),
        rebuilds=list(meta.get("rebuilds") or []),
        settings=settings,
        generated_by=f"silosim {_silosim_version()}",
    )
