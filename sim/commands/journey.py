"""``silosim-journey``: import the client's journey map, or export today's journey as one.

    silosim-journey export out=journey_map.csv
    silosim-journey import acme_map.xlsx out=my_journeys/acme_journey.yaml

A journey map has one row per touchpoint, in journey order: stage, touchpoint, department (one of
the organisation's), kind (acquisition, purchase, onboarding, usage, offer, support, billing,
notice, cancellation, renewal: each exactly once), and optionally base_quality (0-10) and
failure_rate (0-1); blank takes the default for its kind. ``import`` validates it, writes a
journey file that every command takes as journey=PATH (in place of conf/journey/default.yaml) and
a swimlane figure beside it (<out>.png and .pdf: stages across, departments down, hand-offs as
arrows, failure hot spots coloured). ``export`` writes today's default journey as a map (.csv or
.xlsx), so a client can start from it; importing that map gives the default journey back.

Exit status: 0 written; 2 bad input (one paragraph naming every problem; nothing written).
"""

from __future__ import annotations

import sys
from pathlib import Path

from sim.commands._common import user_errors, wants_help

__all__ = ["main"]

PROG = "silosim-journey"
ACTIONS = ("import", "export")


def _settings(rest: list[str], allowed: tuple[str, ...]) -> dict[str, str]:
    from sim.config import ConfigError

    out = {}
    for arg in rest:
        key, sep, value = arg.partition("=")
        if not sep or key not in allowed:
            raise ConfigError(f"`{arg}` is not a setting of {PROG}; it takes {', '.join(f'{a}=...' for a in allowed)}.")
        out[key] = value
    return out


def _import(args: list[str]) -> None:
    from sim.config import ConfigError, checked_config
    from sim.experiments.journeymap import journey_yaml, read_journey_map
    from sim.experiments.runs.files import atomic_write
    from sim.report.swimlane import write_swimlane

    if not args or "=" in args[0]:
        raise ConfigError(f"`{PROG} import` needs the journey map first: {PROG} import map.csv out=journey.yaml.")
    source = Path(args[0])
    settings = _settings(args[1:], ("out",))
    out = Path(settings.get("out") or f"{source.stem}_journey.yaml").expanduser()
    if out.suffix not in (".yaml", ".yml"):
        raise ConfigError(f"`out` is '{out}', but the journey file must end in .yaml.")
    if out.exists():
        raise ConfigError(
            f"`out` is '{out}', but that file exists; choose a new name (journeys are never overwritten)."
        )
    journey = read_journey_map(source)
    text = journey_yaml(journey, source)
    # validated like any configuration before it is kept: composed in place of the default journey
    check = out.with_name(f".{out.stem}.check.yaml")
    out.parent.mkdir(parents=True, exist_ok=True)
    try:
        check.write_text(text)
        checked_config([f"journey={check.resolve()}"])
    finally:
        check.unlink(missing_ok=True)
    figures = write_swimlane(journey, out.with_suffix(""))
    atomic_write(out, lambda tmp: tmp.write_text(text))
    print(
        f"Journey of {len(journey.stages)} stages and {len(journey.touchpoints)} touchpoints written to {out}; "
        f"swimlane: {', '.join(str(f) for f in figures)}"
    )
    print(f"Use it: silosim journey={out} [scenario=...]   silosim-compare journey={out} ...")


def _export(args: list[str]) -> None:
    from sim.config import ConfigError
    from sim.experiments.journeymap import default_journey, journey_rows
    from sim.experiments.runs.files import atomic_write

    settings = _settings(args, ("out",))
    out = Path(settings.get("out") or "journey_map.csv").expanduser()
    if out.suffix.lower() not in (".csv", ".xlsx"):
        raise ConfigError(f"`out` is '{out}', but a journey map is written as .csv or .xlsx.")
    if out.exists():
        raise ConfigError(f"`out` is '{out}', but that file exists; choose a new name.")
    rows = journey_rows(default_journey())
    if out.suffix.lower() == ".xlsx":
        atomic_write(out, lambda tmp: rows.to_excel(tmp, index=False, engine="openpyxl"))
    else:
        atomic_write(out, lambda tmp: rows.to_csv(tmp, index=False))
    print(f"Today's default journey ({len(rows)} touchpoints) written to {out} as a journey map.")


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silosim-journey`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if wants_help(argv):
        print(__doc__)
        return
    with user_errors(PROG):
        from sim.config import ConfigError

        if not argv or argv[0] not in ACTIONS:
            given = repr(argv[0]) if argv else "missing"
            raise ConfigError(
                f"The action is {given}, but it must be import (a client's journey map to a journey file) or export "
                f"(today's journey as a map): {PROG} import map.csv out=journey.yaml, or {PROG} export out=map.csv."
            )
        (_import if argv[0] == "import" else _export)(argv[1:])


if __name__ == "__main__":
    main()
