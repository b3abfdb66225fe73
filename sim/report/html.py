"""The comparison report: one self-contained HTML page a consultant can email.

It leads with the answer in plain words and numbers, then shows the figures (embedded as
base64 PNG, so the page opens from a file or an attachment with nothing else), the summary
table, the key assumptions, the method and the command that reproduces it.
"""

from __future__ import annotations

import base64
import html
import subprocess
from collections.abc import Mapping, Sequence
from datetime import datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import pandas as pd

from sim.experiments.analysis import RunSet
from sim.report.figures import FigureFile, pretty

__all__ = ["answer_sentences", "differing_parameters", "write_report"]

SECTIONS = ("answer", "figures", "summary", "assumptions", "method", "reproduce")

CSS = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1.2em; color: #1a1a1a; line-height: 1.45; }
h1 { font-size: 1.7em; margin-bottom: 0.2em; } h2 { margin-top: 1.8em; border-bottom: 2px solid #ddd; }
.sub { color: #555; margin-top: 0; }
.answer { background: #f4f7fb; border-left: 5px solid #0072B2; padding: 0.8em 1.2em; font-size: 1.08em; }
.answer li { margin: 0.35em 0; }
figure { margin: 1.5em 0; } figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { color: #444; font-size: 0.93em; }
table { border-collapse: collapse; font-size: 0.9em; margin: 0.8em 0; }
th, td { border-bottom: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; }
th:first-child, td:first-child { text-align: left; }
th { background: #f2f2f2; } code, pre { background: #f6f6f6; padding: 0.1em 0.3em; }
pre { padding: 0.8em; overflow-x: auto; white-space: pre-wrap; }
.warn { background: #fff4e5; border-left: 5px solid #D55E00; padding: 0.6em 1em; }
"""


def _fmt_ci(mean: float, low: float, high: float, scale: float = 1.0, digits: int = 1, sign: bool = True) -> str:
    f = f"{{:{'+' if sign else ''},.{digits}f}}"
    return f"{f.format(scale * mean)} ({f.format(scale * low)} to {f.format(scale * high)})"


def answer_sentences(summary: pd.DataFrame, baseline: str, weeks: int, level: float) -> list[str]:
    """One plain sentence per alternative scenario: its effect on retention and true NPS against the baseline.

    Args:
        summary: The summary table.
        baseline: The baseline scenario.
        weeks: Horizon in weeks.
        level: Confidence level.

    Returns:
        Sentences, the alternative with the largest retention gain first.
    """
    pct = round(100 * level)
    if weeks >= 52:
        horizon = f"annual retention in year {weeks // 52}" if weeks % 52 == 0 else "annual retention in the final year"
    else:
        horizon = f"annualised retention over {weeks} weeks"
    rows = summary[summary["scenario"] != baseline].sort_values("annual_retention_diff", ascending=False)
    out = []
    for _, r in rows.iterrows():
        parts = []
        for key, what, scale, unit in (
            ("annual_retention", horizon, 100.0, "points"),
            ("true_nps", "true NPS", 1.0, "points"),
        ):
            d, lo, hi = (scale * r[f"{key}_diff{s}"] for s in ("", "_ci_low", "_ci_high"))
            if lo > 0:
                verb = "raise"
            elif hi < 0:
                verb = "lower"
            else:
                parts.append(
                    f"leave {what} statistically unchanged ({d:+.1f} {unit}, {pct}% CI {lo:+.1f} to {hi:+.1f})"
                )
                continue
            parts.append(f"{verb} {what} by {abs(d):.1f} {unit}, {pct}% CI {lo:+.1f} to {hi:+.1f}")
        out.append(
            f"<b>{html.escape(pretty(r['scenario']))}</b> would {parts[0]}, and {parts[1]}, compared with "
            f"{html.escape(pretty(baseline).lower())}."
        )
    return out


def _flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def differing_parameters(configs: Mapping[str, Mapping[str, Any]]) -> pd.DataFrame:
    """Parameters whose value differs between the scenarios' resolved configurations.

    Args:
        configs: Resolved configuration per scenario.

    Returns:
        One row per differing parameter, one column per scenario.
    """
    flat = {s: _flatten(c) for s, c in configs.items()}
    keys = sorted(set().union(*(f.keys() for f in flat.values())))
    skip = ("scenario_name", "output.")
    rows = []
    for k in keys:
        if k.startswith(skip):
            continue
        values = [flat[s].get(k, "—") for s in configs]
        if len({repr(v) for v in values}) > 1:
            rows.append({"parameter": k, **dict(zip(configs, values, strict=True))})
    return pd.DataFrame(rows)


def _img(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, escape=True, border=0, na_rep="—")


def _summary_html(summary: pd.DataFrame, baseline: str, level: float) -> str:
    pct = round(100 * level)
    rows = []
    for _, r in summary.iterrows():
        base = r["scenario"] == baseline
        rows.append(
            {
                "Scenario": pretty(r["scenario"]) + (" (baseline)" if base else ""),
                "Runs": int(r["replications"]),
                f"True NPS, final ({pct}% CI)": _fmt_ci(
                    r["true_nps_mean"], r["true_nps_ci_low"], r["true_nps_ci_high"]
                ),
                "True NPS vs baseline": "—"
                if base
                else _fmt_ci(r["true_nps_diff"], r["true_nps_diff_ci_low"], r["true_nps_diff_ci_high"]),
                "Measured NPS, final": _fmt_ci(
                    r["measured_nps_mean"], r["measured_nps_ci_low"], r["measured_nps_ci_high"]
                ),
                "Annual retention, %": _fmt_ci(
                    r["annual_retention_mean"],
                    r["annual_retention_ci_low"],
                    r["annual_retention_ci_high"],
                    100,
                    sign=False,
                ),
                "Retention vs baseline, points": "—"
                if base
                else _fmt_ci(
                    r["annual_retention_diff"],
                    r["annual_retention_diff_ci_low"],
                    r["annual_retention_diff_ci_high"],
                    100,
                ),
                "Active customers, final": _fmt_ci(
                    r["active_customers_mean"],
                    r["active_customers_ci_low"],
                    r["active_customers_ci_high"],
                    digits=0,
                    sign=False,
                ),
                "Cumulative revenue": _fmt_ci(
                    r["cumulative_revenue_mean"],
                    r["cumulative_revenue_ci_low"],
                    r["cumulative_revenue_ci_high"],
                    digits=0,
                    sign=False,
                ),
                "Customer lifetime value": _fmt_ci(
                    r["customer_lifetime_value_mean"],
                    r["customer_lifetime_value_ci_low"],
                    r["customer_lifetime_value_ci_high"],
                    digits=0,
                    sign=False,
                ),
            }
        )
    return _table(pd.DataFrame(rows))


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parent,
            timeout=5,
            check=False,
        )
        return out.stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _silosim_version() -> str:
    try:
        return version("silosim")
    except PackageNotFoundError:
        return "unknown"


def write_report(
    path: Path,
    summary: pd.DataFrame,
    runs: RunSet,
    figures: Sequence[FigureFile],
    meta: Mapping[str, Any],
    configs: Mapping[str, Mapping[str, Any]],
) -> Path:
    """Write the self-contained HTML report.

    Args:
        path: Where to write ``report.html``.
        summary: The summary table.
        runs: The runs (for failures and counts).
        figures: The figures, in order.
        meta: Comparison settings (name, scenarios, baseline, replications, seeds, customers, weeks,
            overrides, confidence, clv_discount_rate, command, wall_seconds).
        configs: Resolved configuration per scenario.

    Returns:
        The path written.
    """
    level, baseline, weeks = float(meta["confidence"]), str(meta["baseline"]), int(meta["weeks"])
    pct = round(100 * level)
    esc = html.escape
    sentences = answer_sentences(summary, baseline, weeks, level)
    failures = runs.failures
    diff = differing_parameters(configs)
    seeds = meta["seeds"]
    parts = [
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>silosim comparison: {esc(str(meta['name']))}</title><style>{CSS}</style></head><body>",
        f"<h1>What silos cost: {esc(str(meta['name']).replace('_', ' '))} comparison</h1>",
        f"<p class='sub'>{len(summary)} scenarios, {meta['replications']} replications each, "
        f"{int(meta['customers']):,} customers, {weeks} weeks. Generated {datetime.now():%Y-%m-%d %H:%M} by silosim "
        f"{esc(_silosim_version())} (commit {esc(_git_commit())}).</p>",
        "<section id='answer'><h2>The answer</h2><div class='answer'><ul>",
        *(f"<li>{s}</li>" for s in sentences),
        "</ul></div>",
        f"<p>Every figure is the mean of {meta['replications']} simulated replications; ranges are {pct}% confidence "
        "intervals. 'True NPS' asks every active customer; 'measured NPS' is what the survey shows.</p>",
    ]
    if not failures.empty:
        parts.append(
            f"<p class='warn'>{len(failures)} run(s) failed and are left out: "
            + "; ".join(
                f"{esc(str(f['scenario']))} seed {f['seed']} ({esc(str(f['error']))})" for _, f in failures.iterrows()
            )
            + ".</p>"
        )
    parts += ["</section>", "<section id='figures'><h2>Figures</h2>"]
    for f in figures:
        parts.append(
            f"<figure id='fig-{f.name}'><img src='{_img(f.png)}' alt='{esc(f.title)}'>"
            f"<figcaption><b>{esc(f.title)}.</b> {esc(f.caption)} Files: figures/{f.png.name}, "
            f"figures/{f.svg.name}.</figcaption></figure>"
        )
    parts += [
        "</section>",
        f"<section id='summary'><h2>Summary table</h2><p>Means with {pct}% confidence intervals; differences from "
        f"the baseline ({esc(pretty(baseline).lower())}) are paired by replication. The same figures are in "
        "<code>summary.csv</code>.</p>",
        _summary_html(summary, baseline, level),
        "</section>",
        "<section id='assumptions'><h2>Key assumptions</h2><ul>",
        f"<li>Population: {int(meta['customers']):,} customers at the start, acquired and lost over the run.</li>",
        f"<li>Horizon: {weeks} weeks, one step a week, after a {configs[baseline].get('warmup_weeks', 26)}-week "
        "warm-up under siloed practice.</li>",
        f"<li>Replications: {meta['replications']} per scenario, seeds {seeds[0]} to {seeds[-1]}.</li>",
        f"<li>Overrides applied to every scenario: {esc(', '.join(meta['overrides']) or 'none')}.</li>",
        f"<li>Customer lifetime value: revenue per customer-year in the final year x r / (1 + d - r), r = annual "
        f"retention, d = {meta['clv_discount_rate']:.0%} a year (Gupta &amp; Lehmann 2003); revenue only, no costs."
        "</li></ul>",
        "<p>Parameters that differ between the scenarios (everything else is the same; all defaults and their "
        "sources are in <code>docs/parameters.md</code>):</p>",
        _table(diff) if not diff.empty else "<p>None: the scenarios share one configuration.</p>",
        "</section>",
        "<section id='method'><h2>Method</h2>",
        "<p>silosim is an agent-based model (Mesa): customers move through an agreed journey whose touchpoints "
        "belong to departments that each chase their own scorecard; hand-offs between departments fail, contacts "
        "conflict, problems wait, and satisfaction, recommendation, churn and word of mouth follow. The model is "
        "described in <code>docs/odd.md</code> (ODD protocol).</p>",
        f"<p>Common random numbers: replication r of every scenario uses the same seed, and every mechanism draws "
        f"from its own random stream, so scenarios see the same customers and the same luck wherever their "
        f"mechanisms agree. Differences are therefore taken run by run (paired), which removes most of the "
        f"run-to-run noise. Intervals are Student-t {pct}% confidence intervals over replications: of the mean for "
        f"each scenario, and of the mean paired difference for each effect. They describe simulation uncertainty "
        f"only, not uncertainty in the parameters themselves (for that, see sensitivity analysis).</p>",
        "</section>",
        "<section id='reproduce'><h2>Reproduce</h2>",
        f"<p>From the repository root (runs took {meta['wall_seconds']} s):</p><pre>{esc(str(meta['command']))}</pre>",
        "<p>Each run's own directory (under <code>runs/</code>) holds its resolved configuration "
        "(<code>.hydra/config.yaml</code>) and reruns alone with <code>silosim</code>.</p></section>",
        "</body></html>",
    ]
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
