"""The comparison's summary as a text table, for the terminal and notebooks."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd

from sim.config.run import scenario_title
from sim.report.wording import interval_text, money, number, verdict_columns

__all__ = ["print_summary"]


def signed(value: float) -> str:
    """A signed number with one decimal, never ``-0.0`` (the report's rule)."""
    return number(value, 1, sign=True)


def print_summary(
    summary: pd.DataFrame,
    baseline: str,
    confidence: float,
    titles: Mapping[str, str] | None = None,
    currency: str = "",
) -> None:
    """The table a strategist reads first: each scenario's outcomes and its paired effect.

    Effects are shown with the intervals the verdicts rest on (adjusted for the number of comparisons
    when the table carries adjusted intervals).

    Args:
        summary: The summary table.
        baseline: The baseline scenario.
        confidence: Confidence level.
        titles: Display titles (default: each scenario's file name in words).
        currency: The currency of revenue and lifetime value (``report.currency``; empty: none named, and a line
            under the table says the amounts are in the model's currency units).
    """
    titles = dict(titles or {})
    adjusted = "true_nps_diff_adj_ci_low" in summary
    pct = f"{'adj. ' if adjusted else ''}{round(100 * confidence)}%"
    nps_lo, nps_hi = verdict_columns(summary, "true_nps")
    ret_lo, ret_hi = verdict_columns(summary, "annual_retention")
    names = {s: titles.get(s) or scenario_title(s) for s in summary["scenario"]}
    width = max(24, *(len(n) for n in names.values())) + 1
    revenue = {
        s: money(v, currency) for s, v in zip(summary["scenario"], summary["cumulative_revenue_mean"], strict=True)
    }
    clv = {
        s: money(v, currency) for s, v in zip(summary["scenario"], summary["customer_lifetime_value_mean"], strict=True)
    }
    unit = f" ({currency})" if currency else ""
    rev_w = max(14, len("Revenue" + unit), *(len(v) for v in revenue.values()))
    clv_w = max(8, len("CLV" + unit), *(len(v) for v in clv.values()))
    header = (
        f"{'Scenario':<{width}} {'True NPS':>9} {'vs baseline (' + pct + ' CI)':>30} {'Retention':>10} "
        f"{'vs baseline, pts':>22} {'Customers':>10} {'Revenue' + unit:>{rev_w}} {'CLV' + unit:>{clv_w}}"
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
            f"{revenue[r['scenario']]:>{rev_w}} {clv[r['scenario']]:>{clv_w}}"
        )
    if not currency:
        print("Revenue and CLV (customer lifetime value) are in the model's currency units: set report.currency.")
