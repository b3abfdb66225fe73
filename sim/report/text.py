"""The comparison's summary as a text table, for the terminal and notebooks."""

from __future__ import annotations

import pandas as pd

__all__ = ["print_summary"]


def print_summary(summary: pd.DataFrame, baseline: str, confidence: float) -> None:
    """The table a strategist reads first: each scenario's outcomes and its paired effect."""
    pct = f"{round(100 * confidence)}%"
    header = (
        f"{'Scenario':<24} {'True NPS':>9} {'vs baseline (' + pct + ' CI)':>26} {'Retention':>10} "
        f"{'vs baseline, pts':>22} {'Customers':>10} {'Revenue':>14} {'CLV':>8}"
    )
    print()
    print(header)
    print("-" * len(header))
    for _, r in summary.iterrows():
        base = r["scenario"] == baseline
        nps_d = (
            "baseline"
            if base
            else (f"{r['true_nps_diff']:+.1f} ({r['true_nps_diff_ci_low']:+.1f} to {r['true_nps_diff_ci_high']:+.1f})")
        )
        ret_d = (
            "baseline"
            if base
            else (
                f"{100 * r['annual_retention_diff']:+.1f} ({100 * r['annual_retention_diff_ci_low']:+.1f} to "
                f"{100 * r['annual_retention_diff_ci_high']:+.1f})"
            )
        )
        print(
            f"{r['scenario']:<24} {r['true_nps_mean']:>+9.1f} {nps_d:>26} {100 * r['annual_retention_mean']:>9.1f}% "
            f"{ret_d:>22} {r['active_customers_mean']:>10,.0f} {r['cumulative_revenue_mean']:>14,.0f} "
            f"{r['customer_lifetime_value_mean']:>8,.0f}"
        )
