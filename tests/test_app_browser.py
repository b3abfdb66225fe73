"""The dashboard in a real browser: Solara serves sim/app.py, headless Chromium drives the page.

The test is self-contained, so it runs from a clean clone: it makes sure Debian's chromium is
installed (``.ci/ensure_chromium``, which apt-installs it when run as root), starts the Solara
server on a free port on 127.0.0.1, and stops it afterwards, also on failure. Playwright drives
the Debian browser (``executable_path``); Playwright's own browser download is not needed.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS

REPO = Path(__file__).resolve().parent.parent
SOLARA = str(Path(sys.executable).parent / "solara")
SERVER_START_TIMEOUT_S = 60
UI_TIMEOUT_MS = 30_000
SCREENSHOT_COPY = os.environ.get("SILOSIM_DASHBOARD_SCREENSHOT")  # optional extra copy, e.g. docs/img/dashboard.png

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``solara run sim.dashboard.page`` on a free port of 127.0.0.1; yields its URL and stops it afterwards."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    log_path = tmp_path_factory.mktemp("solara") / "server.log"
    env = {**os.environ, "SOLARA_TELEMETRY_MIXPANEL_ENABLE": "False"}
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [
                SOLARA,
                "run",
                "sim.dashboard.page",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--no-open",
                "--production",
                "--no-check-version",
            ],
            cwd=REPO,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"solara exited with {proc.returncode}:\n{log_path.read_text()[-3000:]}")
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"solara did not answer on {url} within {SERVER_START_TIMEOUT_S} s:\n{log_path.read_text()[-3000:]}"
                )
            time.sleep(0.3)
        yield url
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own process group (start_new_session)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _number(text: str) -> float:
    """A figure as the dashboard prints it (``+12.3``, ``20,113``, ``88.7%``) as a float."""
    return float(re.sub(r"[,%+]", "", text))


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
            page.goto(server, wait_until="domcontentloaded")

            def value(name: str) -> str:
                return page.locator(f'[data-value="{name}"]').inner_text()

            def week_becomes(n: int) -> None:
                expect(page.locator('[data-value="week"]')).to_have_text(str(n))

            def figures() -> list[str]:
                imgs = page.locator(".vue-grid-item img")
                return [imgs.nth(i).get_attribute("src") or "" for i in range(imgs.count())]

            # the page loads with the default model (20,000 customers, siloed baseline), week 0
            week_becomes(0)
            assert "siloed_scorecards, 20,000 customers" in page.locator(".vue-grid-item").first.inner_text()
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
            page.locator(".v-menu__content .v-list-item", has_text="closed_loop_followup").click()
            customers = page.locator(".v-input", has_text="Customers (initial)").get_by_role("slider")
            customers.focus()
            customers.press("Home")
            expect(customers).to_have_attribute("aria-valuenow", "1000")
            week_becomes(5)  # a control alone does not touch the running model, as in every Mesa app

            # Reset rebuilds the model with the new parameters
            reset.click()
            week_becomes(0)
            expect(page.locator(".vue-grid-item").first).to_contain_text("closed_loop_followup, 1,000 customers")
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
    print(f"\nbrowser test: {time.monotonic() - started:.1f} s in the browser; screenshot {tmp_path / 'dashboard.png'}")
