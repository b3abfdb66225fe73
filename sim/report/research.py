"""Figures of research runs: sensitivity indices and the policy search's trade-off frontier.

Outcomes are labelled with the outcome registry's words and units (:mod:`sim.experiments.outcomes`),
so ``final.true_nps`` reads "True NPS, final week (NPS points)".
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from sim.experiments.outcomes import OUTCOMES
from sim.experiments.policy import objective_label
from sim.experiments.sweeps.sensitivity import CONF_LEVEL

__all__ = ["outcome_label", "plot_indices", "policy_frontier"]


def outcome_label(column: str) -> str:
    """``final.true_nps`` -> ``True NPS, final week (NPS points)``: the registry's words for a summary column."""
    for outcome in OUTCOMES.values():
        if outcome.summary_key == column:
            return f"{outcome.label} ({outcome.unit})"
    return column


def plot_indices(indices: pd.DataFrame, method: str, path: Path, title: str) -> Path:
    """Bar chart of the indices with their confidence intervals as error bars, one panel per outcome.

    Args:
        indices: :func:`analyse`'s table.
        method: ``sobol`` or ``morris``.
        path: The PNG to write.
        title: Figure title.

    Returns:
        ``path``.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    outcomes = list(dict.fromkeys(indices["outcome"]))
    shown = ["S1", "ST"] if method == "sobol" else ["mu_star"]
    params = list(dict.fromkeys(indices.loc[indices["index"].isin(shown), "parameter"]))
    fig, axes = plt.subplots(
        1, len(outcomes), figsize=(4.8 * len(outcomes), 1.2 + 0.55 * len(params) + 1.5), squeeze=False
    )
    width = 0.8 / len(shown)
    for ax, outcome in zip(axes[0], outcomes, strict=True):
        sub = indices[indices["outcome"] == outcome]
        for k, index in enumerate(shown):
            part = sub[sub["index"] == index].set_index("parameter").reindex(params)
            y = np.arange(len(params)) + (k - (len(shown) - 1) / 2) * width
            ax.barh(
                y,
                part["value"],
                height=width,
                xerr=part["conf"],
                capsize=3,
                label={"S1": "first-order S1", "ST": "total-order ST", "mu_star": "mu* (mean |effect|)"}[index],
            )
        ax.set_yticks(np.arange(len(params)), params, fontsize=8)
        ax.invert_yaxis()
        ax.axvline(0, color="black", linewidth=0.6)
        label = outcome_label(outcome)
        if method == "sobol":
            ax.set_xlabel("share of the outcome's variance (0-1)")
        else:
            unit = label[label.rfind("(") + 1 : -1] if label.endswith(")") else "outcome units"
            ax.set_xlabel(f"mean absolute elementary effect ({unit} over the range)")
        ax.set_title(label, fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    fig.suptitle(
        f"{title}\nbars: index; error bars: {int(CONF_LEVEL * 100)}% bootstrap confidence interval", fontsize=10
    )
    fig.tight_layout()
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}.png")
    fig.savefig(tmp, dpi=120)
    plt.close(fig)
    os.replace(tmp, path)
    return path


def policy_frontier(
    points: pd.DataFrame, front: pd.DataFrame, best: Mapping[str, Any], cfg: DictConfig, path: Path
) -> None:
    """The policy search's trials and frontier: objective (mean, 95% CI) against programme cost, as PNG and SVG.

    Args:
        points: Every evaluated setting (baseline and trials) with ``cost``, ``mean``, its CI and ``feasible``.
        front: The frontier (:func:`sim.experiments.policy.frontier`).
        best: The best setting within budget.
        cfg: The policy configuration (objective, budget, replications, model size).
        path: Where to write (the suffix is replaced by .png and .svg).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    label, unit = objective_label(cfg)
    feasible = points[points["feasible"]]
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.errorbar(
        feasible["cost"],
        feasible["mean"],
        yerr=[feasible["mean"] - feasible["ci95_low"], feasible["ci95_high"] - feasible["mean"]],
        fmt="o",
        color="0.65",
        ecolor="0.8",
        ms=4,
        label="trial (mean, 95% CI)",
    )
    ax.errorbar(
        front["cost"],
        front["mean"],
        yerr=[front["mean"] - front["ci95_low"], front["ci95_high"] - front["mean"]],
        fmt="-o",
        drawstyle="steps-post",
        color="tab:blue",
        capsize=3,
        label="frontier",
    )
    ax.plot([best["cost"]], [best["mean"]], marker="*", ms=16, color="tab:red", ls="none", label="best within budget")
    ax.axvline(float(cfg.policy.budget), color="tab:red", ls="--", lw=1, label=f"budget {cfg.policy.budget:g}")
    infeasible = int((~points["feasible"]).sum())
    ax.set_xlabel("Programme cost (currency per week per 1,000 initial customers)")
    ax.set_ylabel(f"{label}\n({unit})")
    ax.set_title(
        f"Governance levers: {label} vs cost\n{len(points) - 1} trials ({infeasible} over budget, not "
        f"simulated), {int(cfg.replications)} replications each, {int(cfg.model.customers):,} customers x "
        f"{int(cfg.model.weeks)} weeks",
        fontsize=10,
    )
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path.with_suffix(".png"), dpi=120)
    fig.savefig(path.with_suffix(".svg"))
    plt.close(fig)
