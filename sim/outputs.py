"""Writing a run directory (MODEL.md's output contract), all or nothing.

Everything is written into a hidden temporary directory beside the target and
renamed into place only when complete, so an interrupted or failed run never
leaves a half-written run directory behind.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError

if TYPE_CHECKING:
    from sim.model import SiloModel

__all__ = ["CONTRACT_FILES", "CUSTOMER_COLUMNS", "DEPARTMENT_COLUMNS", "METRIC_COLUMNS", "write_run"]

CONTRACT_FILES = ("metrics.parquet", "departments.parquet", "customers.parquet", "summary.json",
                  ".hydra/config.yaml")
# The columns MODEL.md's output contract promises (more are written; README documents all).
METRIC_COLUMNS = (
    "step", "active_customers", "acquired", "churned", "referrals", "referrals_from_promoters",
    "referrals_from_passives", "referrals_from_detractors", "true_nps", "measured_nps", "promoters_share",
    "passives_share", "detractors_share", "mean_satisfaction", "revenue", "handoff_failures",
    "conflicting_contacts", "survey_responses", "followups", "recoveries", "rootcause_fixes", "program_active",
)
DEPARTMENT_COLUMNS = ("step", "department", "kpi", "scorecard")
CUSTOMER_COLUMNS = (
    "customer_id", "joined_step", "left_step", "satisfaction", "touchpoint_score_mean", "true_ltr",
    "measured_ltr", "problems", "problem_resolution", "followed_up", "referrals_made",
)


def _json_safe(value: Any) -> Any:
    """Replace NaN and infinities (not valid JSON) with None, recursively."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def _parquet(frame: pd.DataFrame, path: Path) -> None:
    """Write a frame deterministically (no index, fixed compression)."""
    frame.to_parquet(path, index=False, engine="pyarrow", compression="zstd")


def write_run(
    model: SiloModel,
    run_dir: Path,
    config: DictConfig,
    overrides: list[str] | None = None,
    hydra_config: DictConfig | None = None,
) -> Path:
    """Write one run directory atomically.

    Args:
        model: A model that has been run.
        run_dir: Target directory; must not exist or be empty.
        config: The composed configuration (written resolved to ``.hydra/config.yaml``).
        overrides: The command-line overrides (``.hydra/overrides.yaml``).
        hydra_config: Hydra's own configuration (``.hydra/hydra.yaml``), if any.

    Returns:
        The run directory.

    Raises:
        ConfigError: If ``run_dir`` already holds files.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()):
        raise ConfigError(f"The run directory `hydra.run.dir` is '{run_dir}', but it already contains files; "
                          "choose a new directory (runs are never overwritten).")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = run_dir.parent / f".{run_dir.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    try:
        (tmp / ".hydra").mkdir(parents=True)
        _parquet(model.metrics_frame(), tmp / "metrics.parquet")
        _parquet(model.departments_frame(), tmp / "departments.parquet")
        if model.cfg.output.customers:
            _parquet(model.customers_frame(), tmp / "customers.parquet")
        (tmp / ".hydra" / "config.yaml").write_text(OmegaConf.to_yaml(config, resolve=True))
        (tmp / ".hydra" / "overrides.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create(list(overrides or []))))
        if hydra_config is not None:
            (tmp / ".hydra" / "hydra.yaml").write_text(OmegaConf.to_yaml(OmegaConf.create({"hydra": hydra_config})))
        summary = _json_safe(model.summary())
        (tmp / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
        if run_dir.exists():
            run_dir.rmdir()  # empty (checked above); rename needs it gone
        tmp.rename(run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir
