"""The comparison's summary as a text table, for the terminal and notebooks."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from sim.config.run import scenario_title
from sim.report.wording import interval_text, number, verdict_columns

__all__ = ["print_summary"]


def signed(value: float) -> str:
    """A signed number with one decimal, never ``-0.0`` (the report's rule)."""
    return number(value, 1, sign=True)


def print_summary(
    summary: pd.DataFrame, baseline: str, confidence: float, titles: Mapping[str, str] | None = None
) -> None:
    """The table a strategist reads first: each scenario's outcomes and its paired effect.

    Effects are shown with the intervals the verdicts rest on (adjusted for the number of comparisons
    when the table carries adjusted intervals).

    Args:
        summary: The summary table.
        baseline: The baseline scenario.
        confidence: Confidence level.
        titles: Display titles (default: each scenario's file name in words).
    """
    titles = dict(titles or {})
    adjusted = "true_nps_diff_adj_ci_low" in summary
    pct = f"{'adj. ' if adjusted else ''}{round(100 * confidence)}%"
    nps_lo, nps_hi = verdict_columns(summary, "true_nps")
    ret_lo, ret_hi = verdict_columns(summary, "annual_retention")
    names = {s: titles.get(s) or scenario_title(s) for s in summary["scenario"]}
    width = max(24, *(len(n) for n in names.values())) + 1
    header = (
        f"{'Scenario':<{width}} {'True NPS':>9} {'vs baseline (' + pct + ' CI)':>30} {'Retention':>10} "
        f"{'vs baseline, pts':>22} {'Customers':>10} {'Revenue':>14} {'CLV':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for _, r in summary.iterrows():
        base = r["scenario"] == baseline
        nps_d = "baseline" if base else f"{signed(r['true_nps_diff'])} ({interval_text(r[nps_lo], r[nps_hi])})"
        ret_d = (
            "baseline"
            if base
            else (f"{signed(100 * r['annual_retention_diff'])} ({interval_text(100 * r[ret_lo], 100 * r[ret_hi])})")
        )
        print(
            f"{names[r['scenario']]:<{width}} {signed(r['true_nps_mean']):>9} {nps_d:>30} "
            f"{100 * r['annual_retention_mean']:>9.1f}% {ret_d:>22} {r['active_customers_mean']:>10,.0f} "
            f"{r['cumulative_revenue_mean']:>14,.0f} {r['customer_lifetime_value_mean']:>8,.0f}"
        )
