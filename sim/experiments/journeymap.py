"""The client's journey map: one row per touchpoint, read into a journey configuration and written back.

A journey map is a table (CSV or XLSX) with one row per touchpoint, in journey order::

    stage,touchpoint,department,kind,base_quality,failure_rate
    Discover,TV campaign,Marketing,acquisition,8.0,0.004
    Buy,Online sale,Sales,purchase,,

* ``stage``: the journey stage; the rows list the stages in journey order, each stage's touchpoints
  together (a stage that comes back after another began is out of order);
* ``touchpoint``: its name;
* ``department``: the owning department, one of the organisation's (``org.departments``); every
  department must own at least one touchpoint;
* ``kind``: what the touchpoint does in the model, one of :data:`~sim.config.vocabularies.TOUCHPOINT_KINDS`,
  each exactly once (the engine gives each kind its weekly rhythm);
* ``base_quality`` (0-10) and ``failure_rate`` (0-1), optional: blank takes the default journey's
  value for that kind.

Names become configuration keys (lower case, other characters as underscores: ``TV campaign`` is
``tv_campaign``). Hand-offs follow from the rows: a customer passes from one department to another
wherever consecutive touches in different stages are owned by different departments.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.config import ConfigError
from sim.config.vocabularies import OUTBOUND_KINDS, TOUCHPOINT_KINDS

if TYPE_CHECKING:
    from sim.config.schema import JourneyConf

__all__ = [
    "MAP_COLUMNS",
    "JourneyMap",
    "default_journey",
    "handoffs",
    "journey_rows",
    "journey_yaml",
    "read_journey_map",
]

# documented column -> (required, other headers accepted)
MAP_COLUMNS: dict[str, tuple[bool, tuple[str, ...]]] = {
    "stage": (True, ()),
    "touchpoint": (True, ("name",)),
    "department": (True, ("owner",)),
    "kind": (True, ()),
    "base_quality": (False, ("quality",)),
    "failure_rate": (False, ("failure_prob", "failure_probability")),
}


@dataclasses.dataclass
class JourneyMap:
    """A validated journey: stages in order, touchpoints by key, and the names as the client wrote them."""

    stages: list[str]
    touchpoints: dict[str, dict[str, Any]]  # key -> stage, owner, kind, base_quality, failure_prob
    labels: dict[str, str]  # key (stage or touchpoint) -> the client's own name
    departments: list[str]


def slug(name: str) -> str:
    """A configuration key from a client's name.

    >>> slug("TV campaign"), slug("Get help!"), slug("2nd bill")
    ('tv_campaign', 'get_help', 't_2nd_bill')
    """
    key = re.sub(r"[^0-9a-z]+", "_", name.strip().casefold()).strip("_")
    return f"t_{key}" if key[:1].isdigit() else key


def default_journey() -> JourneyConf:
    """Today's default journey (``conf/journey/default.yaml`` as composed)."""
    from sim.config import checked_config

    return checked_config([]).journey


def default_departments() -> list[str]:
    """The organisation's departments (``conf/org/default.yaml``)."""
    from sim.config import checked_config

    return list(checked_config([]).org.departments)


def journey_rows(journey: JourneyConf) -> pd.DataFrame:
    """A journey as its map: one row per touchpoint, stages in order."""
    rows = []
    for stage in journey.stages:
        for name, tp in journey.touchpoints.items():
            if tp.stage == stage:
                rows.append(
                    {
                        "stage": stage,
                        "touchpoint": name,
                        "department": tp.owner,
                        "kind": tp.kind,
                        "base_quality": tp.base_quality,
                        "failure_rate": tp.failure_prob,
                    }
                )
    return pd.DataFrame(rows, columns=list(MAP_COLUMNS))


def _columns(path: Path, frame: pd.DataFrame) -> dict[str, str]:
    from sim.experiments.calibration.tables import normal_header

    headers = {normal_header(h): h for h in frame.columns}
    found = {}
    for name, (required, aliases) in MAP_COLUMNS.items():
        header = next((headers[a] for a in (name, *aliases) if a in headers), None)
        if header is None and required:
            shown = ", ".join(repr(str(h)) for h in list(frame.columns)[:8])
            raise ConfigError(
                f"The journey map {path} has no column {name!r}; its headers are {shown}. A journey map needs "
                "stage, touchpoint, department and kind (and may give base_quality and failure_rate), one row "
                "per touchpoint in journey order."
            )
        if header is not None:
            found[name] = header
    return found


def _number(value: Any, lo: float, hi: float) -> float | None:
    """A number in [lo, hi], None for a blank; raises ValueError for anything else."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or str(value).strip() == "":
        return None
    number = float(str(value).strip().replace(",", ".")) if not isinstance(value, int | float) else float(value)
    if not lo <= number <= hi:
        raise ValueError
    return number


def read_journey_map(  # noqa: C901 - the rules of one row, read top to bottom as the docstring lists them
    path: Path | str, departments: list[str] | None = None
) -> JourneyMap:
    """Read and validate a client's journey map.

    Args:
        path: The map (.csv or .xlsx).
        departments: The organisation's departments (default: ``conf/org/default.yaml``'s).

    Returns:
        The journey, ready to write as a configuration.

    Raises:
        ConfigError: One paragraph naming every problem (file, row, column, value and what is allowed).
    """
    from sim.experiments.calibration.tables import read_table

    path = Path(path).expanduser()
    frame = read_table(path, [])
    cols = _columns(path, frame)
    departments = departments if departments is not None else default_departments()
    defaults = {tp.kind: tp for tp in default_journey().touchpoints.values()}
    errors: list[str] = []
    stages: list[str] = []
    labels: dict[str, str] = {}
    touchpoints: dict[str, dict[str, Any]] = {}
    kinds: dict[str, int] = {}
    for i, raw in enumerate(frame.to_dict("records")):
        row = i + 2  # the header is row 1
        cell = {name: raw[header] for name, header in cols.items()}
        text = {
            k: "" if v is None or (isinstance(v, float) and math.isnan(v)) else str(v).strip() for k, v in cell.items()
        }
        where = f"{path.name} row {row}"
        blank = [k for k in ("stage", "touchpoint", "department", "kind") if not text[k]]
        if blank:
            errors.append(f"{where}: column {blank[0]} is blank, but every touchpoint needs a {blank[0]}")
            continue
        stage, name, owner, kind = text["stage"], text["touchpoint"], text["department"], text["kind"].casefold()
        stage_key, key = slug(stage), slug(name)
        if not stage_key or not key:
            errors.append(f"{where}: the stage {stage!r} or touchpoint {name!r} has no letters or digits to name it by")
            continue
        if stage_key in stages and stages[-1] != stage_key:
            errors.append(
                f"{where}: stage {stage!r} comes back after stage {labels[stages[-1]]!r} began, but the rows must "
                "list the stages in journey order, each stage's touchpoints together"
            )
        elif stage_key not in stages:
            stages.append(stage_key)
            labels[stage_key] = stage
        if kind not in TOUCHPOINT_KINDS:
            errors.append(
                f"{where}: kind {text['kind']!r} is not a touchpoint kind of the model; allowed kinds are "
                f"{', '.join(TOUCHPOINT_KINDS)}"
            )
        elif kind in kinds:
            errors.append(
                f"{where}: kind {kind!r} is already the kind of row {kinds[kind]}, but each kind is one touchpoint "
                "(the model gives each kind its own weekly rhythm)"
            )
        else:
            kinds[kind] = row
        if owner not in departments:
            errors.append(
                f"{where}: department {owner!r} is not a department of the organisation; allowed are "
                f"{', '.join(departments)} (org.departments)"
            )
        if key in touchpoints:
            errors.append(
                f"{where}: touchpoint {name!r} is named twice (as {key!r}); give each touchpoint its own name"
            )
            continue
        values = {}
        for column, (lo, hi), field in (
            ("base_quality", (0.0, 10.0), "base_quality"),
            ("failure_rate", (0.0, 1.0), "failure_prob"),
        ):
            try:
                values[field] = _number(cell.get(column), lo, hi)
            except ValueError:
                errors.append(
                    f"{where}: {column} is {text.get(column)!r}, but it must be a number from {lo:g} to {hi:g}"
                )
                values[field] = None
            if values[field] is None and kind in defaults:
                values[field] = float(getattr(defaults[kind], field))
        touchpoints[key] = {"stage": stage_key, "owner": owner, "kind": kind, **values}
        labels[key] = name
    missing = [k for k in TOUCHPOINT_KINDS if k not in kinds]
    if missing and not any("kind" in e for e in errors):
        errors.append(
            f"{path.name}: no touchpoint of kind {', '.join(missing)}; the model needs exactly one touchpoint of each "
            f"kind ({', '.join(TOUCHPOINT_KINDS)})"
        )
    owning = {tp["owner"] for tp in touchpoints.values()}
    idle = [d for d in departments if d not in owning]
    if idle and touchpoints:
        errors.append(
            f"{path.name}: department {idle[0]!r} owns no touchpoint, but every department of the organisation must "
            f"own at least one (its levers and scorecard act through them); departments: {', '.join(departments)}"
        )
    if errors:
        shown = "; ".join(errors[:12]) + (f"; and {len(errors) - 12} more" if len(errors) > 12 else "")
        raise ConfigError(f"The journey map {path} has {len(errors)} problem(s): {shown}.")
    return JourneyMap(stages, touchpoints, labels, departments)


def handoffs(stages: list[str], touchpoints: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """The hand-offs a map implies: from each touchpoint to those of the next stage owned by another department.

    Outbound touchpoints (the firm initiates them) receive no hand-off, as in the engine.
    """
    by_stage = {s: [k for k, tp in touchpoints.items() if tp["stage"] == s] for s in stages}
    out = []
    for a, b in itertools.pairwise(stages):
        for src in by_stage[a]:
            for dst in by_stage[b]:
                if touchpoints[dst]["kind"] in OUTBOUND_KINDS:
                    continue
                if touchpoints[src]["owner"] != touchpoints[dst]["owner"]:
                    out.append((src, dst))
    return out


def journey_yaml(journey: JourneyMap, source: Path) -> str:
    """The journey as a file of the ``journey`` group (``silosim journey=PATH``), the client's names in comments."""
    import textwrap

    width = max(len(k) for k in journey.touchpoints) + 1
    renamed = [f"{k} = {journey.labels[k]!r}" for k in journey.stages if journey.labels[k] != k]
    lines = [
        f"# The client's journey, written by silosim-journey import from {source.name}.",
        "# Use it in place of conf/journey/default.yaml with journey=<this file>, e.g.",
        "#   silosim journey=<this file> scenario=closed_loop_followup",
        "#   silosim-compare journey=<this file> 'scenarios=[siloed_scorecards,closed_loop_followup]'",
    ]
    if renamed:
        lines += textwrap.wrap(
            "Stages in journey order; the client's names: " + ", ".join(renamed) + ".",
            width=110,
            initial_indent="# ",
            subsequent_indent="#   ",
        )
    lines += [f"stages: [{', '.join(journey.stages)}]", "touchpoints:"]
    for key, tp in journey.touchpoints.items():
        note = f"  # {journey.labels[key]!r}" if journey.labels[key] != key else ""
        lines.append(
            f"  {key + ':':{width}} {{stage: {tp['stage']}, owner: {tp['owner']}, kind: {tp['kind']}, "
            f"base_quality: {float(tp['base_quality'])!r}, failure_prob: {float(tp['failure_prob'])!r}}}{note}"
        )
    return "\n".join(lines) + "\n"
