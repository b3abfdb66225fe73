"""Parameter draws: the design, each run's draw applied, and a comparison's draws planned, written and summarised."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml

from sim.config import ConfigError, with_values
from sim.config.walk import uncertain_parameters
from sim.experiments.uncertainty.effects import PLAUSIBLE_DEFAULT, plausible_draws, uncertainty_tables

if TYPE_CHECKING:
    from omegaconf import DictConfig

    from sim.config import RunConfig, SiloConfig
    from sim.config.distributions import Uncertainty
    from sim.config.walk import Param

__all__ = [
    "DRAWS_FILE",
    "apply_draw",
    "draw_parameter_sets",
    "held_keys",
    "parameter_values",
]


DRAWS_FILE = "draws.json"


# ------------------------------------------------------------------------------------------------ drawing
def design_points(n: int, dims: int, seed: int) -> np.ndarray:
    """A scrambled Latin hypercube of ``n`` points in ``(0, 1)^dims``, deterministic in ``seed``."""
    from scipy.stats import qmc

    return qmc.LatinHypercube(d=dims, seed=seed).random(n)


def draw_parameter_sets(
    table: Mapping[str, tuple[Param, Uncertainty]], keys: Sequence[str], n: int, seed: int
) -> pd.DataFrame:
    """``n`` parameter sets drawn from the keys' declared distributions.

    Args:
        table: Key -> (parameter, uncertainty) (:func:`sim.config.walk.uncertain_parameters`).
        keys: The keys to draw (varied ones), in a fixed order: the design's axes.
        n: Number of draws.
        seed: The design's seed.

    Returns:
        One row per draw (index ``draw``), one column per key: the drawn value (a multiplier for a list).
    """
    points = design_points(n, len(keys), seed)
    columns = {key: table[key][1].ppf(points[:, j]) for j, key in enumerate(keys)}
    return pd.DataFrame(columns, index=pd.RangeIndex(n, name="draw"))


def parameter_values(table: Mapping[str, tuple[Param, Uncertainty]], row: Mapping[str, float]) -> dict[str, Any]:
    """The values a run applies for one draw: integers rounded, a list's elements times its multiplier."""
    values: dict[str, Any] = {}
    for key, drawn in row.items():
        p, u = table[key]
        if u.multiplier:
            values[key] = [float(v) * float(drawn) for v in p.value]
        elif p.kind is int:
            values[key] = round(float(drawn))
        else:
            values[key] = float(drawn)
    return values


def held_keys(
    table: Mapping[str, tuple[Param, Uncertainty]], configs: Mapping[str, Mapping[str, Any]], default: SiloConfig
) -> list[str]:
    """Varied keys a scenario or an override sets away from the default: held at the set value, never drawn.

    Args:
        table: The uncertain parameters.
        configs: Each scenario's resolved configuration (plain containers).
        default: The default configuration the distributions belong to.

    Returns:
        The held keys, in the table's order.
    """
    from sim.config.walk import find

    held = []
    for key, (_, u) in table.items():
        if not u.varied:
            continue
        base = find(default, key)
        for config in configs.values():
            node: Any = config
            for part in key.split("."):
                node = node.get(part) if isinstance(node, Mapping) else None
            if base is not None and node != base.value:
                held.append(key)
                break
    return held


def apply_draw(cfg: DictConfig, typed: RunConfig) -> tuple[DictConfig, RunConfig]:
    """Apply this run's parameter draw (``uncertainty.file``, row ``seed - uncertainty.first_seed``), if any.

    Args:
        cfg: The composed configuration.
        typed: Its typed tree.

    Returns:
        The configuration with the draw's values written into their keys, and its typed tree.

    Raises:
        ConfigError: If the draws file cannot be read or holds no row for this seed.
    """
    from omegaconf import OmegaConf

    settings = typed.uncertainty
    if not settings.file:
        return cfg, typed
    try:
        record = json.loads(Path(settings.file).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"`uncertainty.file` is '{settings.file}', which cannot be read as a draws file ({exc})."
        ) from None
    row = typed.seed - settings.first_seed
    rows = record.get("values", [])
    if not 0 <= row < len(rows):
        raise ConfigError(
            f"`seed` is {typed.seed}, but the draws file '{settings.file}' holds draws for seeds "
            f"{settings.first_seed} to {settings.first_seed + len(rows) - 1}."
        )
    values = rows[row]
    for key, value in values.items():
        OmegaConf.update(cfg, key, value, merge=False)
    return cfg, with_values(typed, values)


def write_draws(
    path: Path,
    cfg: SiloConfig,
    distributions: Mapping[str, Any],
    held: Sequence[str],
    n: int,
    seed: int,
    calibration: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Draw the comparison's parameter sets and write them where every run reads its row.

    Args:
        path: The draws file.
        cfg: The default configuration the distributions belong to.
        distributions: The user's distributions.
        held: Keys held at their set values.
        n: Number of draws.
        seed: The design's seed.
        calibration: The calibration's record (:func:`sim.experiments.uncertainty.posterior.calibration_plan`): its
            ``posterior_keys`` are drawn from its posterior, whole particles along one more axis of the design.

    Returns:
        The drawn values (one row per draw; multipliers for lists).
    """
    from sim.experiments.uncertainty.posterior import posterior_sets

    table, errors = uncertain_parameters(cfg, distributions)
    if errors:  # pragma: no cover - the plan checks the declarations before anything runs
        raise ConfigError("; ".join(errors) + ".")
    fitted = list((calibration or {}).get("posterior_keys") or [])
    keys = [k for k, (_, u) in table.items() if u.varied and k not in held and k not in fitted]
    if fitted:
        points = design_points(n, len(keys) + 1, seed)
        draws = pd.DataFrame(
            {key: table[key][1].ppf(points[:, j]) for j, key in enumerate(keys)}, index=pd.RangeIndex(n, name="draw")
        )
        draws = draws.join(posterior_sets(str(calibration["file"]), n, points[:, -1], fitted))  # type: ignore[index]
    else:
        draws = draw_parameter_sets(table, keys, n, seed)
    values = [parameter_values(table, draws.loc[i].to_dict()) for i in draws.index]
    record = {
        "keys": [*keys, *fitted],
        "held": list(held),
        "seed": seed,
        "posterior_keys": fitted,
        "drawn": draws.to_dict("records"),
        "values": values,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
    return draws


def read_draws(path: Path) -> pd.DataFrame:
    """The drawn values written by :func:`write_draws` (one row per draw)."""
    record = json.loads(path.read_text(encoding="utf-8"))
    return pd.DataFrame(record["drawn"], columns=record["keys"]).rename_axis("draw")


# ------------------------------------------------------------------------------------------------ comparisons
UNCERTAINTY_MODES = ("none", "parameters")
# A plausible world reproduces what the model was calibrated to: the baseline's true NPS and annual retention
# within these distances of the baseline's at the declared values (history matching). The calibration targets
# are a cross-industry median NPS of about +16 (industries span about +9 to +43) and annual retention of
# 80-90%: 20 NPS points and 7.5 retention points either way keep every world inside those published spans.
PLAUSIBLE = PLAUSIBLE_DEFAULT
SUMMARY_FILE = "uncertainty.csv"
IMPORTANCE_FILE = "importance.csv"
DRAWS_DIR = "draws"


def read_distributions(path: str | None) -> tuple[dict[str, Any], list[str]]:
    """The user's distributions file (``distributions=PATH``): parameter key -> ``{kind, args, basis}``.

    Returns:
        The mapping (empty without a file) and the problems reading it (each naming ``distributions``).
    """
    if not path:
        return {}, []
    shown = f"`distributions` is '{path}'"
    try:
        data = yaml.safe_load(Path(path).expanduser().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}, [f"{shown}, but there is no such file; pass a YAML file of parameter key: {{kind, args, basis}}"]
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        return {}, [f"{shown}, but it cannot be read as YAML ({type(exc).__name__})"]
    if not isinstance(data, dict) or not all(isinstance(k, str) for k in data):
        return {}, [f"{shown}, but it must map parameter keys to {{kind, args, basis}}, e.g. {_EXAMPLE}"]
    return data, []


_EXAMPLE = "'feedback.outer_loop.fix_effect: {kind: uniform, args: [0.1, 0.5], basis: \"wide: assumption\"}'"


def setting_errors(mode: str, draws: int, distributions: str | None, default: SiloConfig) -> list[str]:
    """Every problem with a comparison's ``uncertainty``, ``draws`` and ``distributions`` settings.

    Args:
        mode: ``none`` or ``parameters``.
        draws: Parameter draws per scenario.
        distributions: A YAML file of the user's distributions by key, replacing the schema's (or None).
        default: The default configuration the distributions belong to.

    Returns:
        Sentences, each naming the setting (or the parameter) and what is allowed.
    """
    if mode not in UNCERTAINTY_MODES:
        return [f"`uncertainty` is {mode!r}, but it must be one of {', '.join(UNCERTAINTY_MODES)}"]
    if mode == "none":
        if draws or distributions:
            given = "`draws`" if draws else "`distributions`"
            return [f"{given} is given, but `uncertainty` is 'none'; add uncertainty=parameters to draw parameters"]
        return []
    errors = []
    if draws < 2:
        errors.append(
            f"`draws` is {draws}, but uncertainty=parameters needs at least 2 parameter draws (a few dozen to tell "
            "what the answer hinges on; e.g. draws=32)"
        )
    mapping, errors_file = read_distributions(distributions)
    errors += errors_file or uncertain_parameters(default, mapping)[1]
    return errors


def plan_draws(
    draws: int, first_seed: int, replications: int, distributions: Mapping[str, Any], configs: Mapping[str, Any]
) -> dict[str, Any]:
    """What a comparison's parameter draws are: how many, the design's seed, the runs' seeds and the held keys.

    The draws run with seeds after the replications' (``first_seed + replications`` on), so no draw run
    shares a seed with a run at the declared values. With a calibration the fitted parameters come from its
    posterior (or are held at their fitted values): :mod:`sim.experiments.uncertainty.posterior`.

    Args:
        draws: Draws per scenario.
        first_seed: The comparison's first seed (also the design's seed).
        replications: Replications at the declared values.
        distributions: The user's distributions.
        configs: Each scenario's resolved configuration.

    Returns:
        The plan of the draws (JSON-ready).
    """
    from sim.config import compose_config, to_config
    from sim.experiments.uncertainty.posterior import calibration_plan

    default = to_config(compose_config([]))
    table, _ = uncertain_parameters(default, distributions)
    held, calibration = calibration_plan(configs, table, distributions, held_keys(table, configs, default))
    plan = {
        "draws": draws,
        "design_seed": first_seed,
        "first_seed": first_seed + replications,
        "held": held,
        "distributions": {k: dict(v) for k, v in distributions.items()},
    }
    return {**plan, "calibration": calibration} if calibration else plan


def draw_arguments(arguments: Sequence[str], spec: Mapping[str, Any], draws_file: Path) -> list[str]:
    """The multirun arguments of the draw runs: the comparison's, with the draws' seeds and file."""
    first = int(spec["first_seed"])
    out = [f"seed=range({first},{first + int(spec['draws'])})" if a.startswith("seed=") else a for a in arguments]
    return [*out, f"uncertainty.file={draws_file.resolve()}", f"uncertainty.first_seed={first}"]


def write_plan_draws(work: Path, spec: Mapping[str, Any]) -> Path:
    """Write the comparison's draws file (once; a resumed comparison reuses it) and return its path."""
    from sim.config import compose_config, to_config

    path = work / DRAWS_DIR / DRAWS_FILE
    if not path.exists():
        default = to_config(compose_config([]))
        write_draws(
            path,
            default,
            spec["distributions"],
            spec["held"],
            int(spec["draws"]),
            int(spec["design_seed"]),
            spec.get("calibration"),
        )
    return path


def summarise_draws(
    work: Path,
    replicate_outcomes: pd.DataFrame,
    spec: Mapping[str, Any],
    baseline: str,
    order: Sequence[str],
    outcomes: Sequence[str],
    level: float,
    clv_discount_rate: float,
    target: Path | None = None,
) -> dict[str, Any]:
    """Load the draw runs, write uncertainty.csv and importance.csv, and return comparison.json's ``uncertainty``.

    Args:
        work: The comparison directory (being built, or finished) that holds the draw runs.
        replicate_outcomes: Outcomes of the runs at the declared values.
        spec: The plan of the draws (:func:`plan_draws`).
        baseline: The baseline scenario.
        order: Scenarios in display order.
        outcomes: The outcomes to summarise.
        level: Level of the intervals.
        clv_discount_rate: For the lifetime value outcome.
        target: Where to write the two tables (default: ``work``; a rebuild writes them aside first).

    Returns:
        The summary as plain data: settings, draws completed, and per alternative and outcome the effect's two
        intervals, share of worlds better, probability best, top parameters and switching values.
    """
    from sim.experiments.analysis.runsets import load_runs

    runs = load_runs(work / DRAWS_DIR / "runs", clv_discount_rate)
    params = read_draws(work / DRAWS_DIR / DRAWS_FILE)
    done = runs.outcomes.assign(draw=runs.outcomes["seed"] - int(spec["first_seed"]))
    complete = done.groupby("draw")["scenario"].nunique()
    paired = complete[complete == len(order)].index  # draws with every scenario complete
    done = done[done["draw"].isin(paired)]
    plausible = plausible_draws(done, replicate_outcomes, baseline, PLAUSIBLE)
    done = done[done["draw"].isin(plausible)]
    base = {k: v for k, v in spec.items() if k in ("draws", "design_seed", "first_seed", "held", "wall_seconds")}
    if spec.get("calibration"):  # the calibration's name and what came from it, not its local path
        base["calibration"] = {k: v for k, v in spec["calibration"].items() if k != "file"}
    record = {
        **base,
        "distributions": spec.get("distributions", {}),
        "varied": list(params.columns),
        "draws_complete": len(paired),
        "draws_plausible": len(plausible),
        "plausible": dict(PLAUSIBLE),
        "draws_failed": len(runs.failures),
        "level": level,
    }
    if len(plausible) < 2:
        note = (
            f"only {len(plausible)} of {len(paired)} parameter draws gave a plausible baseline (true NPS within "
            f"{PLAUSIBLE['true_nps']:g} points and annual retention within {100 * PLAUSIBLE['annual_retention']:g} "
            "points of the declared values), too few to say how sure the answer is; run more draws, or narrow the "
            "distributions"
        )
        return {**record, "summary": [], "note": note, "files": [f"{DRAWS_DIR}/{DRAWS_FILE}"]}
    summary, imp = uncertainty_tables(done, replicate_outcomes, params, baseline, order, outcomes, level)
    target = target or work
    summary.to_csv(target / SUMMARY_FILE, index=False, float_format="%.6g")
    imp.to_csv(target / IMPORTANCE_FILE, index=False, float_format="%.6g")
    clean = summary.astype(object).where(summary.notna(), None)
    return {
        **record,
        "summary": clean.to_dict("records"),
        "files": [SUMMARY_FILE, IMPORTANCE_FILE, f"{DRAWS_DIR}/{DRAWS_FILE}"],
    }
