"""What every deliverable of a comparison says, built once: the HTML report, its PDF, the slides and the workbook.

The answer in plain words (one sentence per alternative, with its numbers and the intervals the
verdicts rest on), the summary table, the scenarios and the parameters that differ between them,
the key assumptions, the method (common random numbers, intervals, how many comparisons the answer
makes and how they are adjusted), the provenance of the runs and the command that reproduces them.
The renderers only lay this out, so the report, the slides and the workbook cannot disagree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config import WEEKS_PER_YEAR
from sim.config.run import scenario_title
from sim.experiments.analysis.outcomes import comparison_outcomes
from sim.experiments.compare.comparison import Comparison
from sim.experiments.compare.deliverables import ReportConf
from sim.report.figures import FigureFile
from sim.report.wording import Answer, answers, ci_name, money, number, verdict_columns

__all__ = [
    "Answer",
    "ReportContent",
    "Table",
    "answer_sentences",
    "answers",
    "build_content",
    "ci_name",
    "client_suffix",
    "differing_parameters",
    "flatten",
    "method_summary",
    "parameter_name",
    "parameter_value",
    "report_currency",
    "report_settings",
    "report_title",
    "summary_text_table",
]

# Keys of the resolved configuration that are labels or bookkeeping, not assumptions of the model.
_NOT_ASSUMPTIONS = ("scenario_name", "output.", "about.", "seed", "design.", "calibration_source")


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
    footer: str = ""
    method_summary: str = ""
    calibration: list[str] = field(default_factory=list)
    parameter_values: pd.DataFrame | None = None
    uncertainty: Table | None = None  # uncertainty=parameters: how sure each effect is (sim.report.uncertainty)
    extra: dict[str, Any] = field(default_factory=dict)


def report_settings(meta: Mapping[str, Any]) -> ReportConf:
    """The ``report.*`` settings a comparison carries (defaults where it carries none)."""
    from omegaconf import OmegaConf

    merged = OmegaConf.merge(OmegaConf.structured(ReportConf), OmegaConf.create(dict(meta.get("report") or {})))
    return OmegaConf.to_object(merged)  # type: ignore[return-value]


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
        One row per differing parameter: its documented name (``parameter``, from the schema's meaning and
        unit), its key, and one column per scenario with the raw value (None where it is not set).
    """
    titles = dict(titles or {})
    flat = {s: flatten(c) for s, c in configs.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values()))) if flat else []
    rows = []
    for k in keys:
        if k.startswith(_NOT_ASSUMPTIONS):
            continue
        values = [flat[s].get(k, _MISSING) for s in configs]
        if len({repr(v) for v in values}) > 1:
            row = {"parameter": parameter_name(k), "key": k}
            row.update({titles.get(s, s): v for s, v in zip(configs, values, strict=True)})
            rows.append(row)
    return pd.DataFrame(rows)


_MISSING = "—"


@lru_cache(maxsize=1)
def _documented() -> dict[str, tuple[str, str]]:
    """Each parameter's meaning and unit as docs/parameters.md gives them, by key (the default configuration's)."""
    from sim.config import checked_config
    from sim.config.walk import walk

    return {p.key: (str(p.meta.get("doc") or ""), str(p.meta.get("unit") or "")) for p in walk(checked_config([]))}


_NAME_CHARS = 70
# A long meaning is cut before its last qualifying clause that starts within the limit ("Weekly churn hazard of a
# customer | at the reference likelihood to recommend"), so the name stays a phrase; else between words.
_CLAUSES = re.compile(r",? (?:with|when|who|whose|at|through|in|for|and|below|on) ")


def _shortened(name: str) -> str:
    """A meaning longer than :data:`_NAME_CHARS`, cut to a phrase that ends with an ellipsis.

    >>> _shortened("Renewal probability of a fully satisfied customer with no problem in the year before renewal")
    'Renewal probability of a fully satisfied customer with no problem…'
    """
    cuts = [m.start() for m in _CLAUSES.finditer(name) if m.start() >= 30 and m.end() <= _NAME_CHARS + 1]
    head = name[: cuts[-1]] if cuts else name[:_NAME_CHARS].rsplit(" ", 1)[0]
    return head.rstrip(",;: ") + "…"


def parameter_name(key: str) -> str:
    """A parameter's documented name: the first clause of its meaning, with its unit (the key if undocumented).

    >>> parameter_name("market.value_mean")
    'Mean revenue per active customer per week (currency/week)'
    """
    doc, unit = _documented().get(key, ("", ""))
    parts = key.split(".")
    named = [parts[i + 1] for i, p in enumerate(parts[:-1]) if p in ("departments", "levers", "touchpoints")]
    whose = " ".join(n.replace("_", " ") for n in named)
    whose = whose[:1].upper() + whose[1:]
    if not doc:
        return f"{whose}: {parts[-1].replace('_', ' ')}" if whose else key
    name = re.split(r"(?<=[A-Za-z0-9)])[.;:](\s|$)| \(|, (?:so|which|as|one of) ", doc, maxsplit=1)[0].strip()
    if len(name) > _NAME_CHARS:
        name = _shortened(name)
    name = f"{name} ({unit})" if unit and unit not in name else name
    return f"{whose}: {name[0].lower()}{name[1:]}" if whose else name


def parameter_value(value: Any, key: str = "") -> str:
    """A parameter's value as a person reads it: numbers as numbers, booleans as yes/no, unset as 'not set'.

    >>> parameter_value(True), parameter_value(0.00148), parameter_value(20000), parameter_value(None)
    ('yes', '0.00148', '20,000', 'not set')
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        doc = _documented().get(key, ("", ""))[0]
        meaning = re.search(r"\(null\s*=\s*([^)]+)\)", doc)
        return f"not set ({meaning.group(1).strip()})" if meaning else "not set"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.6g}" if abs(value) >= 1e-4 or value == 0 else f"{value:.3g}"
    if isinstance(value, (list, tuple)):
        return ", ".join(parameter_value(v) for v in value)
    return str(value)


def _fmt_ci(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 1, sign: bool = True) -> str:
    if not math.isfinite(mean):
        return "—"
    if not (math.isfinite(low) and math.isfinite(high)):
        return number(scale * mean, digits, sign)
    m, lo, hi = (number(scale * v, digits, sign) for v in (mean, low, high))
    return f"{m} ({lo} to {hi})"


def report_currency(meta: Mapping[str, Any]) -> str:
    """The currency a comparison's money is shown in (``report.currency``; empty: none named)."""
    return str((meta.get("report") or {}).get("currency") or "")


def summary_text_table(
    summary: pd.DataFrame, baseline: str, level: float, titles: Mapping[str, str], currency: str = ""
) -> Table:
    """The summary table as the report shows it: formatted means and intervals, verdict intervals vs the baseline."""
    unit = currency or "currency units"
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
        f"Cumulative revenue, {unit}",
        f"Customer lifetime value, {unit}",
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


# Recorded in comparison.json, never shown: the interpreter's path is this machine's file system, not the runs'.
_PRIVATE_PROVENANCE = ("executable",)


def _provenance(meta: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The runs' provenance (silosim version, commit, packages, platform) as rows; empty if not recorded.

    >>> _provenance({"provenance": {"git_commit": None, "packages": {"numba": None}, "executable": "/venv/python"}})
    [('git_commit', 'not recorded'), ('packages.numba', 'not installed')]
    """
    recorded = meta.get("provenance")
    if not isinstance(recorded, Mapping) or not recorded:
        return []
    return [
        (k, ("not installed" if k.startswith("packages.") else "not recorded") if v is None else str(v))
        for k, v in flatten(recorded).items()
        if k not in _PRIVATE_PROVENANCE and not (k == "git_dirty" and recorded.get("git_commit") is None)
    ]


def _silosim_version() -> str:
    try:
        return version("silosim")
    except PackageNotFoundError:
        return "unknown"


def report_title(meta: Mapping[str, Any]) -> str:
    """The deliverables' title: ``report.title`` if set, else the client and the scenarios' display titles.

    ``Contoso Ltd: Contoso plan vs Siloed scorecards``; without a client ``What silos cost: ...``; with
    more than two alternatives ``3 alternatives vs Siloed scorecards``.
    """
    report = meta.get("report") or {}
    if report.get("title"):
        return str(report["title"])
    titles = meta.get("titles") or {}
    scenarios = [str(s) for s in meta.get("scenarios") or []]
    baseline = str(meta.get("baseline") or (scenarios[0] if scenarios else ""))

    def name(s: str) -> str:
        return str(titles.get(s) or scenario_title(s))

    alternatives = [name(s) for s in scenarios if s != baseline]
    if not alternatives:
        what = name(baseline) if baseline else str(meta.get("name", "comparison")).replace("_", " ")
    elif len(alternatives) <= 2:
        what = f"{' and '.join(alternatives)} vs {name(baseline)}"
    else:
        what = f"{len(alternatives)} alternatives vs {name(baseline)}"
    client = str(report.get("client") or "")
    return f"{client}: {what}" if client else f"What silos cost: {what}"


def client_suffix(title: str, client: str, joiner: str = " for ") -> str:
    """`` for Contoso Ltd`` after a title, or nothing when there is no client or the title names it already."""
    return f"{joiner}{client}" if client and client.casefold() not in title.casefold() else ""


def _population(comparison: Comparison) -> str:
    """The book as it really evolves: customers at set-up, and the baseline's book at week 0 and at the end."""
    meta = comparison.meta
    setup = int(meta["customers"])
    metrics = comparison.runs.metrics
    base = metrics[metrics["scenario"] == comparison.baseline]
    if base.empty or "active_customers" not in base:
        return f"Population: {setup:,} customers at set-up, acquired and lost over the run."
    book = base.groupby("step")["active_customers"].mean()
    start, end, weeks = float(book.iloc[0]), float(book.iloc[-1]), int(book.index[-1]) + 1
    change = end / start - 1 if start else math.nan
    if math.isfinite(change) and abs(change) >= 0.005:
        how = f"{'grows' if change > 0 else 'shrinks'} by {abs(change):.0%} to {end:,.0f} at week {weeks}"
    else:
        how = f"stays at about {end:,.0f} to week {weeks}"
    return (
        f"Population: {setup:,} customers at set-up; after the warm-up the baseline's book is {start:,.0f} customers "
        f"at week 0 and {how} (means over replications), as customers are acquired and lost. Totals are per "
        f"{setup:,} customers at set-up."
    )


def _revenue(comparison: Comparison, currency: str) -> str:
    """Revenue per customer, with its unit, and whether it is still the model's illustrative default."""
    from sim.config.schema import MarketConf

    values = {float((c.get("market") or {}).get("value_mean", math.nan)) for c in comparison.configs.values()}
    values = {v for v in values if math.isfinite(v)}
    default = float(MarketConf().value_mean)
    if not values:
        return ""
    weekly = min(values)
    unit = currency or "currency units"
    text = (
        f"Revenue: an active customer brings {money(weekly, currency, 2)} a week on average "
        f"({money(weekly * WEEKS_PER_YEAR, currency)} a year; market.value_mean); amounts are in {unit}"
    )
    if values == {default}:
        text += (
            ". This is the model's illustrative default, not the client's figure: set market.value_mean to the "
            "client's revenue per customer per week (and report.currency to its currency)"
        )
    return text + "."


def _calibration(record: Mapping[str, Any] | None) -> list[str]:
    """The calibration the scenarios carry: targets, fitted values with intervals, parameters at a bound flagged."""
    if not record:
        return []
    from sim.experiments.calibration.fit import fmt_target
    from sim.experiments.calibration.spec import TARGETS

    head = f"Calibrated to the client's figures with silosim-calibrate ({record['file']})"
    if not record.get("found"):
        return [f"{head}; its fit report (fit.json beside that file) was not found, so its targets are not shown."]

    def fmt(name: str, value: float) -> str:
        return fmt_target(name, value) if name in TARGETS else f"{value:g}"

    lines = []
    status = "all targets met" if record.get("status") == "met" else "CLOSEST FIT: a target was not met"
    fits = []
    for name, target in record["targets"].items():
        r = record["fit"].get(name, {})
        met = "met" if record["met"].get(name) else "NOT met"
        fits.append(
            f"{name.replace('_', ' ')} target {fmt(name, target)}, simulated {fmt(name, r.get('mean', math.nan))} "
            f"(95% CI {fmt(name, r.get('low', math.nan))} to {fmt(name, r.get('high', math.nan))}), {met}"
        )
    lines.append(f"{head}, {status}: {'; '.join(fits)}.")
    fitted, warnings = [], []
    for p in record.get("parameters", []):
        bound = f", at the {p['at_bound']} bound" if p.get("at_bound") else ""
        fitted.append(
            f"Fitted: {parameter_name(p['key'])} ({p['key']}) = {p['fitted']:.4g}{bound} (default {p['default']:.4g}, "
            f"searched in [{p['lo']:g}, {p['hi']:g}])."
        )
        if p.get("at_bound"):
            warnings.append(
                f"{p['key']} was fitted at the {p['at_bound']} bound of its search range [{p['lo']:g}, {p['hi']:g}]: "
                "the targets were reached only by pushing it as far as allowed, so the calibrated baseline may lean "
                "on an extreme value there; check that the targets are plausible together before relying on it."
            )
    return lines + fitted + [f"Caution: {w}" for w in warnings]


def _shown_override(override: str) -> str:
    """An override as the deliverables show it: a calibration by its file's name, not a local path."""
    key, sep, value = override.partition("=")
    if sep and key.lstrip("+~") in ("calibration", "model.calibration"):
        return f"{key}={Path(value).name} (see Calibration)"
    return override


def _assumptions(comparison: Comparison, currency: str) -> list[str]:
    meta, configs, baseline = comparison.meta, comparison.configs, comparison.baseline
    seeds = list(meta.get("seeds") or [])
    seed_text = f", seeds {seeds[0]} to {seeds[-1]}" if seeds else ""
    warmup = configs.get(baseline, {}).get("warmup_weeks", 26)
    overrides = ", ".join(_shown_override(o) for o in meta.get("overrides") or []) or "none"
    lines = [
        _population(comparison),
        f"Horizon: {int(meta['weeks'])} weeks, one step a week, after a {warmup}-week warm-up under siloed practice.",
        f"Replications: {meta['replications']} per scenario{seed_text}.",
        f"Overrides applied to every scenario: {overrides}.",
        _revenue(comparison, currency),
        f"Customer lifetime value: revenue per customer-year in the final year x r / (1 + d - r), r = annual "
        f"retention, d = {float(meta.get('clv_discount_rate', 0.10)):.0%} a year (Gupta & Lehmann 2003); revenue "
        "only, no costs.",
    ]
    return [line for line in lines if line]


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


def method_summary(meta: Mapping[str, Any], level: float) -> str:
    """The method in one plain line, for the answer slide (the statistics are in the appendix)."""
    adjusted = str(meta.get("multiple_comparisons") or "none") != "none"
    return (
        f"How we know: every scenario was simulated {meta['replications']} times on the same customers with the same "
        f"luck, and an effect counts as clear only when its {ci_name(level, adjusted)} excludes zero (method and "
        "statistics in the appendix)."
    )


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
    currency = settings.currency
    pct = round(100 * level)
    order = comparison.order
    failures = [
        f"{titles.get(str(f['scenario']), f['scenario'])} seed {f['seed']} ({f['error']})"
        for _, f in comparison.runs.failures.iterrows()
    ]
    parameters = differing_parameters({s: comparison.configs[s] for s in order if s in comparison.configs}, titles)
    scenario_rows = [
        [titles[s] + (" (baseline)" if s == baseline else ""), comparison.descriptions.get(s, "") or "—", s]
        for s in order
    ]
    title = report_title(meta)
    date = f"{datetime.now():%d %B %Y}"
    parameter_table = None
    if not parameters.empty:
        scenario_columns = [c for c in parameters.columns if c not in ("parameter", "key")]
        parameter_table = Table(
            ["Parameter", "Key", *scenario_columns],
            [
                [r["parameter"], r["key"], *(parameter_value(r[c], r["key"]) for c in scenario_columns)]
                for _, r in parameters.iterrows()
            ],
        )
    return ReportContent(
        title=title,
        client=settings.client,
        date=date,
        subtitle=(
            f"{len(order)} scenarios, {meta['replications']} replications each, {int(meta['customers']):,} "
            f"customers at set-up, {int(meta['weeks'])} weeks"
        ),
        answers=answers(summary, baseline, int(meta["weeks"]), level, titles),
        answer_note=(
            f"Every figure is the mean of {meta['replications']} simulated replications; ranges are {pct}% confidence "
            "intervals. 'True NPS' asks every active customer; 'measured NPS' is what the survey shows."
        ),
        comparisons_note=_comparisons_note(meta, summary, level),
        failures=failures,
        figures=list(figures),
        summary=summary_text_table(summary, baseline, level, titles, currency),
        summary_note=(
            f"Means with {pct}% confidence intervals; differences from the baseline ({titles[baseline]}) are paired "
            "by replication. The same figures are in summary.csv and summary.xlsx."
        ),
        scenarios=Table(["Scenario", "What it changes", "File"], scenario_rows),
        assumptions=_assumptions(comparison, currency),
        parameters=parameter_table,
        method=_method(level),
        provenance=_provenance(meta),
        command=str(meta.get("command", "")),
        wall_seconds=float(meta.get("wall_seconds") or 0.0),
        rebuilds=list(meta.get("rebuilds") or []),
        settings=settings,
        generated_by=f"silosim {_silosim_version()}",
        footer=" · ".join(x for x in (title, client_suffix(title, settings.client, ""), date) if x),
        method_summary=method_summary(meta, level),
        calibration=_calibration(meta.get("calibration")),
        parameter_values=None if parameters.empty else parameters,
    )
