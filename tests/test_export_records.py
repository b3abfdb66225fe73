"""silosim-export-records and silosim-calibrate data=: a run's records read back give the run's own figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import assert_user_error, run_command, run_main

from sim.config import ConfigError, checked_config
from sim.experiments.calibration.export_records import export_run, write_records
from sim.experiments.calibration.record_targets import measure_targets
from sim.experiments.calibration.records import read_records
from sim.experiments.calibration.spec import load_spec
from sim.experiments.calibration.tables import COLUMNS


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, float]]:
    """A small run's records (CSV) and the run's own measured figures."""
    run = export_run(checked_config(["customers=2500", "weeks=52", "seed=11"]))
    root = tmp_path_factory.mktemp("client")
    write_records(run, root)
    return root, run.measured


def test_exported_files_have_exactly_the_documented_columns(exported: tuple[Path, dict[str, float]]) -> None:
    root, _ = exported
    for kind in ("customers", "responses", "contacts"):
        header = pd.read_csv(root / f"{kind}.csv", nrows=0).columns.tolist()
        documented = [c.name for c in COLUMNS[kind]]
        assert set(header) <= set(documented), (kind, header)
        assert [c.name for c in COLUMNS[kind] if c.required] == [h for h in header if h in documented and any(
            c.name == h and c.required for c in COLUMNS[kind])]  # fmt: skip


def test_records_read_back_give_the_runs_own_figures(exported: tuple[Path, dict[str, float]]) -> None:
    root, measured = exported
    records = read_records(root)
    assert records.quality.empty, records.quality.head()
    targets = measure_targets(records).targets
    assert set(targets) == set(measured)
    for name, target in targets.items():
        # each of the run's figures lies inside the 95% interval its records give
        assert target.low <= measured[name] <= target.high, (name, target, measured[name])
    # the figures counted the same way agree closely: retention week by week against Kaplan-Meier day by day,
    # FCR of first contacts against that of every complaint contact, the same counts per customer-year
    assert targets["annual_retention"].value == pytest.approx(measured["annual_retention"], abs=0.005)
    assert targets["complaint_contacts_per_customer_year"].value == pytest.approx(
        measured["complaint_contacts_per_customer_year"], rel=0.02
    )
    assert targets["survey_responses_per_customer_year"].value == pytest.approx(
        measured["survey_responses_per_customer_year"], rel=0.02
    )
    assert targets["first_contact_resolution"].value == pytest.approx(measured["first_contact_resolution"], abs=0.04)
    assert targets["nps"].value == pytest.approx(measured["nps"], abs=8)


def test_calibration_takes_its_targets_and_tolerances_from_the_records(
    exported: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    root, _ = exported
    spec = load_spec([f"data={root}", f"out_dir={tmp_path / 'fit'}"])
    measured = measure_targets(read_records(root)).targets
    from_records = {k: measured[k].value for k in ("nps", "annual_retention", "first_contact_resolution")}
    # and the target that holds the book (conf/calibrate.yaml: target.book_growth 0, a stationary status quo)
    assert spec.targets == {**from_records, "book_growth": 0.0}
    floor = {"nps": 2.0, "annual_retention": 0.01, "first_contact_resolution": 0.02}
    for name in from_records:
        assert spec.tolerance[name] == max(floor[name], measured[name].half_width)
    assert spec.tolerance["nps"] > 5  # a few hundred respondents: the NPS is known to about +-10 points
    spec = load_spec(
        [f"data={root}", "data_targets=[complaint_contacts_per_customer_year]", f"out_dir={tmp_path / 'fit2'}"]
    )
    assert list(spec.targets) == ["complaint_contacts_per_customer_year", "book_growth"]


@pytest.mark.parametrize(
    ("extra", "fragments"),
    [
        (["target.nps=10"], ["`data` is", "`target.nps` is 10", "give one"]),
        (["data_targets=[nps,loyalty]"], ["`data_targets` is ['nps', 'loyalty']", "annual_retention"]),
        (["data_max_excluded=2"], ["`data_max_excluded` is 2"]),
        (["data_as_of=yesterday"], ["`data_as_of` is 'yesterday'"]),
    ],
)
def test_bad_record_settings_are_one_paragraph(
    exported: tuple[Path, dict[str, float]], tmp_path: Path, extra: list[str], fragments: list[str]
) -> None:
    root, _ = exported
    with pytest.raises(ConfigError) as caught:
        load_spec([f"data={root}", *extra, f"out_dir={tmp_path / 'fit'}"])
    for fragment in fragments:
        assert fragment in str(caught.value), (fragment, str(caught.value))
    assert not (tmp_path / "fit").exists()


def test_a_target_the_records_do_not_give_is_named(tmp_path: Path, exported: tuple[Path, dict[str, float]]) -> None:
    root, _ = exported
    only = tmp_path / "responses_only"
    only.mkdir()
    (only / "responses.csv").write_bytes((root / "responses.csv").read_bytes())
    with pytest.raises(ConfigError, match="`data_targets` names annual_retention, but the records"):
        load_spec([f"data={only}", f"out_dir={tmp_path / 'fit'}"])


@pytest.mark.e2e
def test_export_records_command_writes_the_files(tmp_path: Path) -> None:
    out = run_command(
        "silosim-export-records", f"out={tmp_path / 'x'}", "format=xlsx", "customers=600", "weeks=10", cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    assert sorted(p.name for p in (tmp_path / "x").iterdir()) == [
        "contacts.xlsx",
        "customers.xlsx",
        "responses.xlsx",
        "run.yaml",
    ]
    about = yaml.safe_load((tmp_path / "x" / "run.yaml").read_text())
    assert about["config"]["customers"] == 600 and set(about["measured_last_year"]) >= {"nps", "annual_retention"}
    records = read_records(tmp_path / "x")  # the workbook reads back as the client format
    assert records.quality.empty and records.read_rows["customers"] > 400 and records.read_rows["contacts"] > 0


def test_export_records_command_refuses_bad_input(tmp_path: Path) -> None:
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "run.yaml").write_text("{}")
    for args, fragments in [
        (["customers=600"], ["`out` is not given"]),
        ([f"out={tmp_path / 'y'}", "format=doc"], ["`format` is 'doc'", "csv, xlsx"]),
        ([f"out={tmp_path / 'y'}", "start=2099-01-01"], ["after today"]),
        ([f"out={tmp_path / 'x'}"], ["already exists and is not empty"]),
    ]:
        bad = run_main("silosim-export-records", *args, cwd=tmp_path)
        assert_user_error(bad, "silosim-export-records", fragments)
    assert not (tmp_path / "y").exists()


@pytest.mark.slow
def test_calibrate_from_records_writes_the_targets_the_quality_table_and_the_data_report(
    exported: tuple[Path, dict[str, float]], tmp_path: Path
) -> None:
    root, _ = exported
    out_dir = tmp_path / "fit"
    out = run_command(
        "silosim-calibrate",
        f"data={root}",
        "trials=2",
        "replications=2",
        "report_replications=2",
        "model.customers=1000",
        "jobs=1",
        f"out_dir={out_dir}",
        cwd=tmp_path,
    )
    assert out.returncode in (0, 3), out.stderr
    assert "Client records in" in out.stdout and "annual_retention" in out.stdout
    for name in ("targets.yaml", "data_quality.csv", "data_report.pdf", "data_report.png", "fit.md"):
        assert (out_dir / name).is_file(), name
    assert "Targets measured from the client's records" in (out_dir / "fit.md").read_text()


def test_the_example_client_reads_cleanly_and_gives_its_runs_figures() -> None:
    root = Path(__file__).resolve().parents[1] / "examples" / "acme"
    from sim.experiments.journeymap import read_journey_map

    journey = read_journey_map(root / "journey_map.csv")
    assert journey.stages == ["awareness", "sign_up", "living_with_us", "paying", "staying"]
    records = read_records(root / "records")
    assert records.quality.empty
    run = yaml.safe_load((root / "records" / "run.yaml").read_text())
    targets = measure_targets(records).targets
    for name, value in run["measured_last_year"].items():
        assert targets[name].low <= value <= targets[name].high, (name, targets[name], value)
