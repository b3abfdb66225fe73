"""The comparison report in a real browser: opens from a file in headless Chromium, no console errors,
every image loaded; a screenshot is saved."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import CHROMIUM_ARGS, run_command

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("report")
    out = run_command(
        "silosim-compare",
        "scenarios=[siloed_scorecards,full_transformation]",
        "replications=2",
        "customers=500",
        "weeks=16",
        "launcher=basic",
        "out=cmp",
        cwd=tmp,
    )
    assert out.returncode == 0, out.stderr
    return tmp / "cmp" / "report.html"


def test_report_opens_cleanly_in_chromium(chromium: str, report: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    requests: list[str] = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(
            str(tmp_path / "profile"),
            executable_path=chromium,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1280, "height": 900},
        )
        try:
            page = context.new_page()
            page.on(
                "console",
                lambda m: problems.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.on("request", lambda r: requests.append(r.url))
            page.goto(report.as_uri(), wait_until="load")
            images = page.eval_on_selector_all(
                "img", "els => els.map(e => ({complete: e.complete, w: e.naturalWidth, h: e.naturalHeight}))"
            )
            assert len(images) == 6
            assert all(i["complete"] and i["w"] > 400 and i["h"] > 200 for i in images), images
            headings = page.locator("h2").all_inner_texts()
            assert headings == ["The answer", "Figures", "Summary table", "Key assumptions", "Method", "Reproduce"]
            assert "Full transformation" in page.locator("#answer").inner_text()
            shot = tmp_path / "report.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 50_000
        finally:
            context.close()
    assert not problems, problems
    assert all(u.startswith(("file:", "data:")) for u in requests), requests  # self-contained: nothing fetched


# Printable width of the page box in CSS pixels (96 per inch) once report.css's 12 mm side margins are taken off.
PRINTABLE = {"A4": round((210 - 24) / 25.4 * 96), "Letter": round((8.5 * 25.4 - 24) / 25.4 * 96)}


def test_report_prints_cleanly_on_a4_and_letter(chromium: str, report: Path, tmp_path: Path) -> None:
    """Print media at each paper's printable width: nothing sticks out sideways; the PDFs have pages of that size."""
    import re

    from playwright.sync_api import sync_playwright

    from sim.report.pdf import pdf_pages

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        try:
            for paper, width in PRINTABLE.items():
                page = browser.new_page(viewport={"width": width, "height": 1000})
                page.goto(report.as_uri(), wait_until="load")
                page.emulate_media(media="print")
                overflowing = page.evaluate(
                    """() => { const w = document.documentElement.clientWidth;
                    return [...document.querySelectorAll('body *')]
                      .filter(e => e.getBoundingClientRect().right > w + 0.5)
                      .map(e => e.tagName + '.' + e.className); }"""
                )
                assert overflowing == [], (paper, overflowing)
                assert page.evaluate("getComputedStyle(document.querySelector('figure')).breakInside") == "avoid"
                pdf = tmp_path / f"{paper}.pdf"
                page.pdf(
                    path=str(pdf),
                    format=paper,
                    margin={"top": "14mm", "bottom": "16mm", "left": "12mm", "right": "12mm"},
                )
                assert pdf_pages(pdf) >= 4, paper
                boxes = {
                    tuple(round(float(x)) for x in m.split())
                    for m in re.findall(rb"/MediaBox\s*\[([^\]]*)\]", pdf.read_bytes())
                }
                expected = (595, 842) if paper == "A4" else (612, 792)  # points
                assert len(boxes) == 1 and all(
                    abs(a - b) <= 2 for a, b in zip(next(iter(boxes))[2:], expected, strict=True)
                ), boxes
                page.close()
        finally:
            browser.close()
