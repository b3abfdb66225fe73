"""The dashboard in a real browser: Solara serves sim.dashboard.page, headless Chromium drives its three pages.

The tests are self-contained, so they run from a clean clone: they make sure Debian's chromium is
installed (``.ci/ensure_chromium``, which apt-installs it when run as root), start the Solara
server on a free port on 127.0.0.1 with its outputs directory in a temporary place, and stop it
afterwards, also on failure. Playwright drives the Debian browser (``executable_path``);
Playwright's own browser download is not needed. Populations are tiny, so the A/B runs take
seconds. ``SILOSIM_SCREENSHOTS=docs/img`` also copies each page's screenshot there.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from conftest import CHROMIUM_ARGS

from sim.dashboard.serving import serve

REPO = Path(__file__).resolve().parent.parent
SERVER_START_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000
SCREENSHOT_COPY = os.environ.get("SILOSIM_DASHBOARD_SCREENSHOT")  # optional extra copy, e.g. docs/img/dashboard.png
SCREENSHOTS = os.environ.get("SILOSIM_SCREENSHOTS")  # optional directory for a copy of every page's screenshot
FIRST_RENDER_TIMEOUT_MS = 120_000  # a page's first render builds its model; 30 s was exceeded on a loaded CI machine
AB_TIMEOUT_MS = 180_000  # the first A/B starts the worker processes (imports, compiled kernels from the cache)

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The dashboard's outputs directory (``SILOSIM_OUTPUTS``): where A/B exports go and Results looks."""
    return tmp_path_factory.mktemp("outputs")


@contextmanager
def _serve(outputs: Path, log_path: Path, **env: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """The dashboard from the checkout, exporting to ``outputs``; yields its URL and process, stops it after."""
    with ExitStack() as stack:
        try:
            environment = {**os.environ, "SILOSIM_OUTPUTS": str(outputs), **env}
            served = stack.enter_context(serve(REPO, log_path, environment, SERVER_START_TIMEOUT_S))
        except RuntimeError as exc:  # it did not start
            pytest.fail(str(exc))
        yield served


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, outputs: Path) -> Iterator[str]:
    """The dashboard, served for the module's tests; yields its URL."""
    with _serve(outputs, tmp_path_factory.mktemp("solara") / "server.log") as (url, _):
        yield url


def _number(text: str) -> float:
    """A figure as the dashboard prints it (``+12.3``, ``20,113``, ``88.7%``) as a float."""
    return float(re.sub(r"[,%+]", "", text))


@contextmanager
def _browser(chromium: str, profile: Path, height: int = 1900) -> Iterator[tuple[Any, list[str]]]:
    """A Chromium page (and the list its page errors go to), closed afterwards."""
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(profile),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": height},
        )
        try:
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_default_timeout(UI_TIMEOUT_MS)
            yield page, errors
        finally:
            context.close()


def _open(page: Any, url: str) -> None:
    """Go to ``url`` and wait until the app has rendered (its three tabs are there), however long the first
    render takes; the tests' own waits then measure the dashboard, not the server's cold start."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="domcontentloaded")
    expect(page.get_by_role("tab")).to_have_count(3, timeout=FIRST_RENDER_TIMEOUT_MS)


def _keep(shot: Path, name: str) -> None:
    if SCREENSHOTS:
        shutil.copyfile(shot, REPO / SCREENSHOTS / name)


def test_dashboard_controls_steps_and_plots(chromium: str, server: str, tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # redraws take about a second; allow for a busy CI machine
    started = time.monotonic()
    errors: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1600, "height": 1900},  # tall enough for every card in the screenshot
        )
        try:
            page = context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.set_default_timeout(UI_TIMEOUT_MS)
            _open(page, server)

            def value(name: str) -> str:
                return page.locator(f'[data-value="{name}"]').inner_text()

            def week_becomes(n: int) -> None:
                expect(page.locator('[data-value="week"]')).to_have_text(str(n))

            def figures() -> list[str]:
                imgs = page.locator(".vue-grid-item img")
                return [imgs.nth(i).get_attribute("src") or "" for i in range(imgs.count())]

            # the page loads with the default model (20,000 customers, siloed baseline), week 0
            week_becomes(0)
            assert "Siloed scorecards, 20,000 customers" in page.locator(".vue-grid-item").first.inner_text()
            # the app bar's three tabs and nothing else: no stray "Page 0" tab over the cards, no Solara badge
            expect(page.get_by_role("tab")).to_have_count(3)
            expect(page.get_by_text("Made with Solara")).to_have_count(0)
            step, reset = page.get_by_role("button", name="Step"), page.get_by_role("button", name="Reset")

            # Step advances one render interval (5 weeks)
            step.click()
            week_becomes(5)
            before = {k: value(k) for k in ("active_customers", "true_nps", "handoff_failures_total")}
            plots_before = figures()
            assert len(plots_before) == 6 and all(src for src in plots_before)
            assert 18_000 < _number(before["active_customers"]) < 22_000

            # change two controls: the scenario and the population (slider to its minimum, 1,000)
            page.locator(".v-select", has_text="Scenario").click()
            page.locator(".v-menu__content .v-list-item", has_text="Closed-loop follow-up").click()  # by its title
            customers = page.locator(".v-input", has_text="Customers (initial)").get_by_role("slider")
            customers.focus()
            customers.press("Home")
            expect(customers).to_have_attribute("aria-valuenow", "1000")
            week_becomes(5)  # a control alone does not touch the running model, as in every Mesa app

            # Reset rebuilds the model with the new parameters
            reset.click()
            week_becomes(0)
            expect(page.locator(".vue-grid-item").first).to_contain_text("Closed-loop follow-up, 1,000 customers")
            expect(page.locator('[data-setting="followup_capacity"]')).to_have_text("5.0")

            # Step, then run with play and pause
            step.click()
            week_becomes(5)
            page.get_by_role("button", name="▶").click()
            expect(page.locator('[data-value="week"]')).to_have_text(re.compile(r"^(1[5-9]|[2-9]\d|1\d\d)$"))
            page.get_by_role("button", name="❚❚").click()
            expect(page.get_by_role("button", name="▶")).to_be_visible()
            paused_at = value("week")
            page.wait_for_timeout(1500)
            assert value("week") == paused_at, "the model kept running after pause"

            after = {k: value(k) for k in before}
            plots_after = figures()
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)
        finally:
            context.close()

    # the plotted values changed: the new population is ~1,000 customers, every figure was redrawn
    assert 500 < _number(after["active_customers"]) < 2_000, after
    assert after != before
    assert len(plots_after) == 6
    assert all(a != b for a, b in zip(plots_after, plots_before, strict=True))
    assert int(paused_at) % 5 == 0
    assert not errors, errors
    assert (tmp_path / "dashboard.png").stat().st_size > 50_000
    if SCREENSHOT_COPY:
        shutil.copyfile(tmp_path / "dashboard.png", REPO / SCREENSHOT_COPY)
    _keep(tmp_path / "dashboard.png", "dashboard.png")
    print(f"\nbrowser test: {time.monotonic() - started:.1f} s in the browser; screenshot {tmp_path / 'dashboard.png'}")


def test_a_bad_seed_is_marked_inline_and_the_page_stays_alive(chromium: str, server: str, tmp_path: Path) -> None:
    """A seed that is not a whole number: a red message under the input, Reset refuses and says why, no traceback."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    with _browser(chromium, tmp_path / "profile", height=1200) as (page, errors):
        _open(page, server)
        week = page.locator('[data-value="week"]')
        expect(week).to_have_text("0")
        page.get_by_role("button", name="Step").click()
        expect(week).to_have_text("5")
        seed = page.get_by_label("Seed")
        seed.fill("seven")
        message = page.locator(".v-messages__message", has_text="Seed is 'seven'")
        expect(message).to_contain_text("whole number of 0 or more")
        page.get_by_role("button", name="Reset").click()
        expect(page.locator(".reset-message")).to_contain_text("not reset")
        expect(week).to_have_text("5")  # the running model is untouched
        page.get_by_role("button", name="Step").click()
        expect(week).to_have_text("10")  # and still steps
        page.screenshot(path=str(tmp_path / "bad_seed.png"))
        seed.fill("-3")
        expect(page.locator(".v-messages__message", has_text="Seed is -3")).to_be_visible()
        seed.fill("7")
        expect(message).to_have_count(0)
        page.get_by_role("button", name="Reset").click()
        expect(week).to_have_text("0")
        expect(page.locator(".reset-message")).to_have_count(0)
        expect(page.locator(".vue-grid-item").first).to_contain_text("seed 7")
        body = page.locator("body").inner_text()
    assert "Traceback" not in body and not errors, errors


def test_ab_whatif_runs_in_the_background_exports_and_opens_in_results(
    chromium: str, server: str, outputs: Path, tmp_path: Path
) -> None:
    """The A/B page: bad input inline, a tiny A/B (the baseline with two levers changed) with a progress bar, the
    paired difference and its band, the answer; export writes a comparison that the Results page opens."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    with _browser(chromium, tmp_path / "profile", height=1600) as (page, errors):
        _open(page, server + "ab")
        run = page.get_by_role("button", name="Run A/B")
        expect(run).to_be_visible()
        # the alternative's levers start at its own settings and show their values (closed-loop follow-up sets 5)
        expect(page.locator(".v-input", has_text="Follow-up capacity: 5")).to_be_visible()
        expect(page.locator(".v-input", has_text="Executive engagement: 0.6")).to_be_visible()
        # three years by default, as the report; a shorter horizon is warned about
        expect(page.get_by_label("Weeks (horizon)")).to_have_value("156")
        expect(page.locator(".horizon-warning")).to_have_count(0)
        customers = page.get_by_label("Customers (initial)")
        customers.fill("lots")
        expect(page.locator(".v-messages__message", has_text="Customers is 'lots'")).to_be_visible()
        expect(run).to_be_disabled()
        page.get_by_label("Replications (runs per arm)").fill("1")
        expect(
            page.locator(".v-messages__message", has_text="Replications is 1, which is out of range")
        ).to_be_visible()
        # the alternative: the baseline itself, with two levers changed
        page.locator(".v-select", has_text="Alternative").click()
        page.locator(".v-menu__content .v-list-item", has_text="Siloed scorecards").click()
        expect(page.locator(".input-message", has_text="The alternative is the baseline itself")).to_be_visible()
        expect(page.locator(".v-input", has_text="Follow-up capacity: 0")).to_be_visible()  # siloed's own setting
        for lever in ("Follow-up capacity", "Shared stage weight"):
            slider = page.locator(".v-input", has_text=lever).get_by_role("slider")
            slider.focus()
            slider.press("End")
        expect(page.locator(".input-message")).to_have_count(0)
        expect(page.locator(".v-input", has_text="Follow-up capacity: 20 (scenario: 0)")).to_be_visible()
        customers.fill("300")
        page.get_by_label("Weeks (horizon)").fill("16")
        expect(page.locator(".horizon-warning")).to_contain_text("shorter than the report's three years")
        page.get_by_label("Replications (runs per arm)").fill("3")
        expect(run).to_be_enabled()
        started = time.monotonic()
        run.click()
        expect(page.locator(".whatif-progress")).to_be_visible()  # the progress line under the progress bar
        expect(page.locator(".whatif-progress-bar")).to_be_visible()
        answer = page.locator(".whatif-answer")
        expect(answer).to_be_visible(timeout=AB_TIMEOUT_MS)
        ab_seconds = time.monotonic() - started
        assert "Siloed scorecards, with your changes would" in answer.inner_text()
        assert "adjusted 95% CI" in answer.inner_text()
        diff, low, high = (
            _number(page.locator(f"[data-value='{k}-true_nps']").inner_text()) for k in ("diff", "low", "high")
        )
        assert low < diff < high and high - low > 0.05, (low, diff, high)  # a difference with a real band
        figure = page.locator(".whatif-figure img")
        expect(figure).to_be_visible()
        assert figure.evaluate("img => img.naturalWidth") > 800  # the difference over time, two panels
        page.screenshot(path=str(tmp_path / "ab.png"), full_page=True)
        page.get_by_role("button", name="Export as comparison").click()
        done = page.locator(".export-done")
        expect(done).to_be_visible(timeout=AB_TIMEOUT_MS)
        exported = Path(done.inner_text().split("Exported to", 1)[1].strip())
        expect(page.get_by_role("button", name="Slides (PowerPoint)")).to_be_visible()
        # Results: the export is listed first and opens with its answer, table, figures and downloads
        page.get_by_role("tab", name="Results").click()
        expect(page.locator(".comparison-title")).to_contain_text("What-if: Siloed scorecards, with your changes")
        expect(page.locator(".results-answer")).to_contain_text("would")
        expect(page.locator("main img, .v-main img").first).to_be_visible()
        figures = page.locator("img")
        expect(figures).to_have_count(6)
        for label in ("Report (PDF)", "Slides (PowerPoint)", "Workbook (Excel)", "Report (HTML)"):
            expect(page.get_by_role("button", name=label)).to_be_visible()
        with page.expect_download() as download:
            page.get_by_role("button", name="Workbook (Excel)").click()
        saved = tmp_path / "downloaded.xlsx"
        download.value.save_as(saved)
        page.screenshot(path=str(tmp_path / "results.png"), full_page=True)
        body = page.locator("body").inner_text()
    assert exported.parent == outputs / "comparisons" and (exported / "runs").is_dir()
    for name in ("report.html", "report.pptx", "summary.xlsx", "summary.csv", "scenarios"):
        assert (exported / name).exists(), name
    assert saved.read_bytes() == (exported / "summary.xlsx").read_bytes()
    assert "Traceback" not in body and not errors, errors
    _keep(tmp_path / "ab.png", "dashboard_ab.png")
    _keep(tmp_path / "results.png", "dashboard_results.png")
    print(f"\nA/B of 6 runs: {ab_seconds:.1f} s from Run to the answer")


def _run_small_ab(page: Any, customers: str = "300", weeks: str = "8", replications: str = "2") -> None:
    """Set a tiny A/B on the A/B page and run it to its answer."""
    from playwright.sync_api import expect

    page.get_by_label("Customers (initial)").fill(customers)
    page.get_by_label("Weeks (horizon)").fill(weeks)
    page.get_by_label("Replications (runs per arm)").fill(replications)
    run = page.get_by_role("button", name="Run A/B")
    expect(run).to_be_enabled()
    run.click()
    expect(page.locator(".whatif-answer")).to_be_visible(timeout=AB_TIMEOUT_MS)


def test_sigterm_stops_the_dashboard_its_workers_and_removes_its_staging_directories(
    chromium: str, tmp_path: Path
) -> None:
    """SIGTERM to the server alone (as a service manager sends it): the what-if's workers stop and its
    ``silosim-whatif-*`` staging directories are removed, as on Ctrl-C."""
    psutil = pytest.importorskip("psutil")
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    scratch = tmp_path / "tmp"  # the server's TMPDIR: where its staging directories go
    scratch.mkdir()
    with _serve(tmp_path / "outputs", tmp_path / "server.log", TMPDIR=str(scratch)) as (url, proc):
        with _browser(chromium, tmp_path / "profile", height=1600) as (page, errors):
            _open(page, url + "ab")
            _run_small_ab(page)
            assert not errors, errors
        staged = sorted(scratch.glob("silosim-whatif-*"))
        workers = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        assert staged and workers, (staged, workers)  # the what-if's staging directory and its warm workers
        os.kill(proc.pid, signal.SIGTERM)  # the server only, not its process group
        proc.wait(timeout=30)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(psutil.pid_exists(p) for p in workers):
            time.sleep(0.1)
    left = [p for p in workers if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE]
    assert not left, f"workers outlived the dashboard: {left}"
    assert not list(scratch.glob("silosim-whatif-*")), "staging directories were left behind"


def test_ab_loads_the_clients_calibration_and_scenario_folder_with_messages(
    chromium: str, server: str, tmp_path: Path
) -> None:
    """The A/B page's client inputs: a bad folder or calibration is a message under its input and Run waits; a
    scenario folder adds the client's plan to the lists, whose levers start at the plan's own settings."""
    from playwright.sync_api import expect

    expect.set_options(timeout=UI_TIMEOUT_MS)
    plans = tmp_path / "plans"
    plans.mkdir()
    (plans / "contoso_plan.yaml").write_text(
        "# @package _global_\ndefaults:\n  - closed_loop_followup\n  - _self_\nabout:\n  title: Contoso plan\n"
        "feedback:\n  inner_loop: {capacity: 12.0}\n"
    )
    (tmp_path / "fit").mkdir()
    (tmp_path / "fit" / "calibrated.yaml").write_text(
        f"# @package _global_\ncalibration_source: {tmp_path / 'fit' / 'calibrated.yaml'}\n"
        "customer:\n  rating_bias_mean: 0.9\n"
    )
    (tmp_path / "missed").mkdir()
    (tmp_path / "missed" / "closest_fit.yaml").write_text("calibration_source: x\n")
    with _browser(chromium, tmp_path / "profile", height=1600) as (page, errors):
        _open(page, server + "ab")
        run = page.get_by_role("button", name="Run A/B")
        expect(run).to_be_enabled()
        folder = page.get_by_label("Scenario folder (the client's *.yaml)")
        folder.fill(str(plans))  # straight into the empty input: the lists were not redrawn until another change
        page.locator(".v-select", has_text="Alternative").click()
        page.locator(".v-menu__content .v-list-item", has_text="Contoso plan").click()
        expect(page.locator(".v-input", has_text="Follow-up capacity: 12")).to_be_visible()  # the plan's own
        folder.fill(str(tmp_path / "nowhere"))
        expect(page.locator(".v-messages__message", has_text="not a readable directory")).to_be_visible()
        expect(run).to_be_disabled()
        folder.fill(str(plans))
        expect(page.locator(".v-messages__message")).to_have_count(0)
        calibration = page.get_by_label("Calibration (calibrated.yaml or its folder)")
        calibration.fill(str(tmp_path / "missed"))
        expect(page.locator(".v-messages__message", has_text="only closest_fit.yaml")).to_be_visible()
        expect(run).to_be_disabled()
        calibration.fill(str(tmp_path / "fit"))
        expect(page.locator(".v-messages__message")).to_have_count(0)
        expect(run).to_be_enabled()
        body = page.locator("body").inner_text()
    assert "Traceback" not in body and not errors, errors
