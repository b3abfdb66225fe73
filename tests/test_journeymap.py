"""silosim-journey: the client's journey map in, today's journey out, and back again."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import assert_user_error, run_command, run_main

from sim.config import ConfigError, checked_config
from sim.engine.model import SiloModel
from sim.experiments.journeymap import default_journey, handoffs, journey_rows, journey_yaml, read_journey_map

# A client's map unlike the default: six stages of its own names, the help desk in Operations' stage order,
# cross-selling by Sales, onboarding by Service, and its own qualities and failure rates (blank: the default).
CLIENT_MAP = """stage,touchpoint,department,kind,base_quality,failure_rate,notes
Awareness,TV and web campaign,Marketing,acquisition,7.5,,a column the model ignores
Sign-up,Online sale,Sales,purchase,8.5,0.01,
Sign-up,Welcome call,Service,onboarding,8.0,0.05,
Living with us,Network service,Operations,usage,,0.006,
Living with us,Upgrade offer,Sales,offer,,,
Living with us,Contact centre,Service,support,8.2,,
Paying,Monthly bill,Billing,billing,,0.01,
Paying,Reminder letter,Billing,notice,,,
Paying,Final notice,Billing,cancellation,,,
Staying,Contract renewal,Sales,renewal,,,
"""


def _as_plain(journey: object) -> tuple[list[str], dict[str, tuple]]:
    return list(journey.stages), {  # type: ignore[attr-defined]
        k: (tp.stage, tp.owner, tp.kind, float(tp.base_quality), float(tp.failure_prob))
        for k, tp in journey.touchpoints.items()  # type: ignore[attr-defined]
    }


def test_export_then_import_gives_the_default_journey_back(tmp_path: Path) -> None:
    default = default_journey()
    for suffix in (".csv", ".xlsx"):
        path = tmp_path / f"map{suffix}"
        rows = journey_rows(default)
        if suffix == ".csv":
            rows.to_csv(path, index=False)
        else:
            rows.to_excel(path, index=False)
        journey = read_journey_map(path)
        out = tmp_path / f"journey{suffix}.yaml"
        out.write_text(journey_yaml(journey, path))
        assert _as_plain(checked_config([f"journey={out}"]).journey) == _as_plain(default)
    assert len(handoffs(journey.stages, journey.touchpoints)) == 8  # counted by hand from conf/journey/default.yaml


def test_a_client_map_becomes_a_journey_every_command_runs(tmp_path: Path) -> None:
    path = tmp_path / "acme.csv"
    path.write_text(CLIENT_MAP)
    journey = read_journey_map(path)
    assert journey.stages == ["awareness", "sign_up", "living_with_us", "paying", "staying"]
    tp = journey.touchpoints
    assert tp["welcome_call"] == {
        "stage": "sign_up",
        "owner": "Service",
        "kind": "onboarding",
        "base_quality": 8.0,
        "failure_prob": 0.05,
    }
    assert tp["upgrade_offer"]["owner"] == "Sales" and tp["upgrade_offer"]["base_quality"] == 7.0  # the default's
    assert tp["tv_and_web_campaign"]["failure_prob"] == 0.004  # blank: the default for its kind
    out = tmp_path / "acme_journey.yaml"
    out.write_text(journey_yaml(journey, path))
    assert "'TV and web campaign'" in out.read_text()
    cfg = checked_config([f"journey={out}", "scenario=closed_loop_followup", "customers=300", "warmup_weeks=4"])
    assert cfg.journey.touchpoints["contact_centre"].stage == "living_with_us"
    model = SiloModel(cfg, collect=False).run(8)
    frame = model.metrics_frame()
    assert len(frame) == 8 and frame["touches"].sum() > 0


def test_a_comparison_on_a_client_journey_gets_its_swimlane_and_one_on_the_default_none(tmp_path: Path) -> None:
    from omegaconf import OmegaConf

    from sim.experiments.journeymap import journey_of
    from sim.report.swimlane import comparison_swimlane

    path = tmp_path / "acme.csv"
    path.write_text(CLIENT_MAP)
    out = tmp_path / "acme_journey.yaml"
    out.write_text(journey_yaml(read_journey_map(path), path))

    def plain(*overrides: str) -> dict:
        return OmegaConf.to_container(OmegaConf.structured(checked_config(list(overrides))), resolve=True)  # type: ignore[return-value]

    assert journey_of(plain()) is None
    assert journey_of(plain("journey.failure_scale=2")) is None  # a calibrated scale is not another journey
    assert comparison_swimlane({"base": plain()}, "base", tmp_path / "figures") is None
    client = plain(f"journey={out}", "journey.failure_scale=2")
    journey = journey_of(client)
    assert journey is not None and journey.stages[0] == "awareness"
    assert journey.touchpoints["welcome_call"]["failure_prob"] == pytest.approx(0.10)  # 0.05 x the baseline's scale
    assert journey.departments == ["Marketing", "Sales", "Operations", "Service", "Billing"]
    figure = comparison_swimlane({"base": client}, "base", tmp_path / "figures")
    assert figure is not None and figure.png.exists() and figure.name == "journey_swimlane"
    assert figure.title.startswith("The journey: 5 stages, 10 touchpoints") and "Welcome call (10.0%" in figure.title


def _map(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "map.csv"
    path.write_text(text)
    return path


BAD_MAPS = [
    (
        CLIENT_MAP.replace(",offer,", ",upsell,"),
        ["row 6: kind 'upsell' is not a touchpoint kind", "acquisition, purchase"],
    ),
    (
        CLIENT_MAP.replace("Paying,Final notice", "Sign-up,Final notice"),
        ["row 10: stage 'Sign-up' comes back after stage 'Paying' began", "journey order"],
    ),
    (
        CLIENT_MAP.replace("Paying,Monthly bill,Billing", "Paying,Monthly bill,Finance"),
        ["department 'Finance' is not a department of the organisation", "Marketing, Sales"],
    ),
    (
        CLIENT_MAP.replace("Network service,Operations", "Network service,Service"),
        ["department 'Operations' owns no touchpoint"],
    ),
    (CLIENT_MAP.replace(",renewal,", ",purchase,"), ["kind 'purchase' is already the kind of row 3"]),
    (CLIENT_MAP.replace("Staying,Contract renewal,Sales,renewal,,,\n", ""), ["no touchpoint of kind renewal"]),
    (CLIENT_MAP.replace("8.5,0.01", "85,0.01"), ["row 3: base_quality is '85', but it must be a number from 0 to 10"]),
    (CLIENT_MAP.replace("8.5,0.01", "8.5,high"), ["failure_rate is 'high'"]),
    (CLIENT_MAP.replace("Welcome call,Service", "Welcome call,"), ["row 4: column department is blank"]),
    (CLIENT_MAP.replace("Upgrade offer", "Online sale"), ["touchpoint 'Online sale' is named twice"]),
    (CLIENT_MAP.replace("stage,touchpoint", "phase,touchpoint"), ["has no column 'stage'", "'phase'"]),
]


@pytest.mark.parametrize(("text", "fragments"), BAD_MAPS, ids=[b[1][0][:40] for b in BAD_MAPS])
def test_a_bad_map_is_one_paragraph_naming_the_row_and_what_is_allowed(
    tmp_path: Path, text: str, fragments: list[str]
) -> None:
    with pytest.raises(ConfigError) as caught:
        read_journey_map(_map(tmp_path, text))
    message = str(caught.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message, (fragment, message)


@pytest.mark.e2e
def test_silosim_journey_runs_as_a_process(tmp_path: Path) -> None:
    """The console script itself (the in-process test below runs its ``main``)."""
    out = run_command("silosim-journey", "export", "out=map.csv", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "map.csv").read_text().count("\n") > 5
    assert_user_error(run_command("silosim-journey", "draw", cwd=tmp_path), "silosim-journey", ["The action is 'draw'"])


def test_silosim_journey_export_import_and_refusals(tmp_path: Path) -> None:
    out = run_main("silosim-journey", "export", "out=map.xlsx", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    out = run_main("silosim-journey", "import", "map.xlsx", "out=journeys/mine.yaml", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    for name in ("mine.yaml", "mine.png", "mine.pdf"):
        assert (tmp_path / "journeys" / name).stat().st_size > 500, name
    assert sorted(p.name for p in (tmp_path / "journeys").iterdir()) == ["mine.pdf", "mine.png", "mine.yaml"]
    assert _as_plain(checked_config([f"journey={tmp_path / 'journeys' / 'mine.yaml'}"]).journey) == _as_plain(
        default_journey()
    )
    (tmp_path / "bad.csv").write_text(CLIENT_MAP.replace(",offer,", ",upsell,"))
    for args, fragments in [
        (["import", "bad.csv", "out=b.yaml"], ["kind 'upsell' is not a touchpoint kind"]),
        (["import", "map.xlsx", "out=journeys/mine.yaml"], ["that file exists"]),
        (["import", "map.xlsx", "out=b.txt"], ["must end in .yaml"]),
        (["import", "missing.csv"], ["does not exist"]),
        (["export", "out=map.xlsx"], ["that file exists"]),
        (["export", "out=map.json"], [".csv or .xlsx"]),
        (["draw"], ["The action is 'draw'"]),
        (["import", "map.xlsx", "colour=red"], ["`colour=red` is not a setting"]),
    ]:
        assert_user_error(run_main("silosim-journey", *args, cwd=tmp_path), "silosim-journey", fragments)
    assert not (tmp_path / "b.yaml").exists() and not (tmp_path / "b.png").exists()
