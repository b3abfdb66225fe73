"""Make the pictures of the documentation site (docs/img/) from the current code: ``make docs-images``.

    .venv/bin/python docs/make_images.py                     # every picture into docs/img/ (5 min of CPU)
    .venv/bin/python docs/make_images.py dashboard acme      # only these groups
    .venv/bin/python docs/make_images.py --quick --out DIR   # tiny runs into DIR (tests/test_docs.py)

Each group runs the commands a reader of the site runs, in a scratch directory, and keeps the pictures:

- ``logo``: ``acme_logo.png``, the made-up client logo of the consultants' tutorial, drawn with matplotlib.
- ``headline``: ``headline_true_nps.png``, the true-NPS figure of the headline comparison (``silosim-compare`` at
  its defaults, what ``make demo`` runs: 80 runs), and ``headline_report.png``, the first page of its
  ``report.pdf`` (printed by headless Chromium, drawn by ``pdftoppm``, the blank paper below its text cut off).
- ``acme``: the consultants' tutorial on ``examples/acme``: ``acme_swimlane.png``, the swimlane of the imported
  journey map (``silosim-journey import``); ``acme_data_report.png``, the one-page report of the client's records
  (``silosim-records``); and a comparison on Acme's journey in Acme's colours, with logo (5 replications of
  5,000 customers, uncalibrated, so its numbers differ from the tutorial's calibrated ones), of which
  ``acme_report.png`` is the report's first page and ``acme_slide.png`` the deck's first figure slide
  (``report.pptx`` converted by LibreOffice, ``soffice``, then ``pdftoppm``, as the deck render test does).
- ``dashboard``: the dashboard's three tabs in Debian's Chromium driven by Playwright (as
  ``tests/test_app_browser.py`` drives it), served by Solara in the scratch directory (its ``outputs/``):
  ``dashboard.png`` (Live model: closed-loop follow-up with 1,000 customers, Reset, then 50 weeks),
  ``dashboard_ab.png`` (A/B what-if: the siloed baseline against closed-loop follow-up with more follow-up capacity
  and communication, 5,000 customers, 156 weeks, 5 replications, after export) and ``dashboard_results.png``
  (Results with that export open).
- ``morris``: ``tutorial_morris.png``, the researchers' tutorial's Morris screening
  (``silosim-sensitivity morris_example customers=2000 design.samples=4``: 36 runs).

``--quick`` shrinks every run (a few hundred customers, a few weeks, two replications) so the whole script runs in
a couple of minutes; its pictures show the machinery, not results, and go to ``--out`` (never into docs/img unless
asked). Not made here: ``validation.png`` is the figure ``silosim-validate`` writes (docs/validation.md says how to
refresh it with the table it belongs to).

Needs Chromium (``.ci/ensure_chromium``; or ``SILOSIM_CHROMIUM``) for the PDFs and the dashboard, and LibreOffice
(``soffice``) and poppler (``pdftoppm``) for the pages and the slide; a missing one is named, with how to install it.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from sim.dashboard.serving import serve
from sim.report.pdf import find_chromium

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
BIN = Path(sys.executable).parent
UI_TIMEOUT_MS = 60_000
AB_TIMEOUT_MS = 600_000  # the first A/B starts the worker processes; a shared machine is slow
CHROMIUM_ARGS = ["--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run"]
CHROMIUM_ARGS += ["--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"]
if hasattr(os, "geteuid") and os.geteuid() == 0:
    CHROMIUM_ARGS.insert(0, "--no-sandbox")  # Chromium refuses to sandbox as root (containers, CI)


@dataclass(frozen=True)
class Sizes:
    """The run sizes of one pass: the site's (default) or the quick check's."""

    headline: tuple[str, ...]
    acme: tuple[str, ...]
    morris: tuple[str, ...]
    ab_customers: int
    ab_weeks: int
    ab_replications: int
    live_steps: int


FULL = Sizes(
    headline=(),
    acme=("replications=5", "customers=5000"),
    morris=("customers=2000", "design.samples=4"),
    ab_customers=5000,
    ab_weeks=156,
    ab_replications=5,
    live_steps=10,
)
QUICK = Sizes(
    headline=("replications=2", "customers=300", "weeks=52"),
    acme=("replications=2", "customers=300", "weeks=52"),
    morris=("customers=300", "weeks=26", "design.samples=2"),
    ab_customers=300,
    ab_weeks=16,
    ab_replications=2,
    live_steps=1,
)


class MissingToolError(RuntimeError):
    """A program the pictures need is not installed."""


def run(command: list[str], cwd: Path, timeout: float = 3600) -> None:
    """Run a command; on failure raise with the tail of its output."""
    done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)  # noqa: S603
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {done.returncode}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
        )


def tool(name: str, package: str) -> str:
    """The path of a program on PATH, or MissingToolError naming the Debian package that has it."""
    found = shutil.which(name)
    if found is None:
        raise MissingToolError(f"`{name}` is not installed (apt-get install {package})")
    return found


def pdf_page_png(pdf: Path, page: int, png: Path, width: int = 1000) -> None:
    """One page of a PDF as a PNG ``width`` pixels wide (poppler's pdftoppm)."""
    pdftoppm = tool("pdftoppm", "poppler-utils")
    stem = png.with_suffix("")
    command = [pdftoppm, "-f", str(page), "-l", str(page), "-png", "-singlefile", "-scale-to-x", str(width)]
    run([*command, "-scale-to-y", "-1", str(pdf), str(stem)], cwd=pdf.parent)


def trim_bottom(png: Path, margin: int = 40) -> None:
    """Cut the blank paper below the last mark of a page (a report's first page ends where its figure would not fit)."""
    from PIL import Image, ImageOps

    with Image.open(png) as page:
        image = page.convert("RGB")
    box = ImageOps.invert(image).getbbox()  # the box of everything that is not white
    if box is not None and box[3] + margin < image.height:
        image.crop((0, 0, image.width, box[3] + margin)).save(png)


def slide_png(pptx: Path, slide: int, png: Path, scratch: Path) -> None:
    """One slide of a deck as a PNG: LibreOffice prints the deck to PDF (one page per slide), pdftoppm draws it."""
    soffice = tool("soffice", "libreoffice-impress")
    profile = f"-env:UserInstallation=file://{scratch / 'lo-profile'}"
    run(
        [soffice, profile, "--headless", "--convert-to", "pdf", "--outdir", str(scratch), str(pptx)],
        cwd=scratch,
        timeout=600,
    )
    pdf_page_png(scratch / f"{pptx.stem}.pdf", slide, png, width=1200)


def first_figure_slide(pptx: Path) -> int:
    """The 1-based number of the deck's first figure slide (the first slide after the title slide with a picture)."""
    from pptx import Presentation
    from pptx.enum.shapes import MSO_SHAPE_TYPE

    slides = list(Presentation(str(pptx)).slides)
    for number, slide in enumerate(slides[1:], start=2):
        if any(shape.shape_type == MSO_SHAPE_TYPE.PICTURE for shape in slide.shapes):
            return number
    raise RuntimeError(f"{pptx} has no figure slide")


def logo(out: Path, sizes: Sizes, scratch: Path) -> list[Path]:
    """The made-up client logo of the consultants' tutorial: a rounded box and a name, 400 x 120 pixels."""
    path = out / "acme_logo.png"
    fig = plt.figure(figsize=(4, 1.2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 1.2)
    ax.add_patch(FancyBboxPatch((0.12, 0.2), 0.8, 0.8, boxstyle="round,pad=0.02,rounding_size=0.15", color="#AA3377"))
    ax.text(0.52, 0.6, "A", color="white", fontsize=34, fontweight="bold", ha="center", va="center")
    ax.text(1.1, 0.72, "ACME", color="#1A1A1A", fontsize=26, fontweight="bold", va="center")
    ax.text(1.12, 0.32, "Telecom", color="#AA3377", fontsize=15, va="center")
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return [path]


def headline(out: Path, sizes: Sizes, scratch: Path) -> list[Path]:
    """The headline comparison's true-NPS figure and its report's first page, from a fresh run of ``make demo``'s."""
    comparison = scratch / "headline"
    run([str(BIN / "silosim-compare"), f"out={comparison}", *sizes.headline], cwd=ROOT)
    figure, report = out / "headline_true_nps.png", out / "headline_report.png"
    shutil.copyfile(comparison / "figures" / "true_nps.png", figure)
    pdf_page_png(comparison / "report.pdf", 1, report)
    trim_bottom(report)
    return [figure, report]


def acme(out: Path, sizes: Sizes, scratch: Path) -> list[Path]:
    """The consultants' tutorial on examples/acme: the swimlane, the records' report, the report and a slide."""
    journey = scratch / "acme" / "acme_journey.yaml"
    run([str(BIN / "silosim-journey"), "import", "examples/acme/journey_map.csv", f"out={journey}"], cwd=ROOT)
    swimlane = out / "acme_swimlane.png"
    shutil.copyfile(journey.with_suffix(".png"), swimlane)
    data = scratch / "acme" / "data"
    run([str(BIN / "silosim-records"), "examples/acme/records", "--out", str(data)], cwd=ROOT)
    records = out / "acme_data_report.png"
    shutil.copyfile(data / "data_report.png", records)
    brand = out / "acme_logo.png"
    if not brand.exists():
        logo(out, sizes, scratch)
    comparison = scratch / "acme" / "comparison"
    command = [str(BIN / "silosim-compare"), f"journey={journey}", "scenarios=[siloed_scorecards,closed_loop_followup]"]
    command += [*sizes.acme, f"out={comparison}", "report.client=Acme Telecom", f"report.logo={brand}"]
    run([*command, "report.theme.primary=#AA3377"], cwd=ROOT)
    report, slide = out / "acme_report.png", out / "acme_slide.png"
    pdf_page_png(comparison / "report.pdf", 1, report)
    trim_bottom(report)
    deck = comparison / "report.pptx"
    slide_png(deck, first_figure_slide(deck), slide, scratch / "acme")
    return [swimlane, records, report, slide]


def morris(out: Path, sizes: Sizes, scratch: Path) -> list[Path]:
    """The Morris screening of the researchers' tutorial, run in a scratch directory."""
    run([str(BIN / "silosim-sensitivity"), "morris_example", *sizes.morris], cwd=scratch)
    target = out / "tutorial_morris.png"
    shutil.copyfile(scratch / "outputs" / "sensitivity" / "morris_example" / "sensitivity.png", target)
    return [target]


@contextmanager
def dashboard_server(cwd: Path, log_path: Path) -> Iterator[str]:
    """The dashboard (as ``make dashboard``) on a free local port; its URL, stopped afterwards.

    It runs in ``cwd``, so it exports to and lists ``cwd/outputs`` (shown as ``outputs/...``, as in a checkout).
    """
    env = {k: v for k, v in os.environ.items() if k != "SILOSIM_OUTPUTS"}
    with serve(cwd, log_path, env) as (url, _):
        yield url


def _live(page, url: str, sizes: Sizes, png: Path) -> None:
    """Live model: closed-loop follow-up, the smallest book (1,000), Reset, then a few render intervals."""
    from playwright.sync_api import expect

    page.goto(url, wait_until="domcontentloaded")
    week = page.locator('[data-value="week"]')
    expect(week).to_have_text("0")
    page.locator(".v-select", has_text="Scenario").click()
    page.locator(".v-menu__content .v-list-item", has_text="Closed-loop follow-up").click()
    customers = page.locator(".v-input", has_text="Customers (initial)").get_by_role("slider")
    customers.focus()
    customers.press("Home")
    page.get_by_role("button", name="Reset").click()
    expect(page.locator(".vue-grid-item").first).to_contain_text("Closed-loop follow-up, 1,000 customers")
    for n in range(1, sizes.live_steps + 1):
        page.get_by_role("button", name="Step").click()
        expect(week).to_have_text(str(5 * n))
    page.wait_for_timeout(1500)  # the last redraw of the figures
    page.screenshot(path=str(png), full_page=True)


def _ab_and_results(page, url: str, sizes: Sizes, ab_png: Path, results_png: Path) -> None:
    """A/B what-if: siloed against closed-loop follow-up with two levers pushed up, run, export; then Results."""
    from playwright.sync_api import expect

    page.goto(url + "ab", wait_until="domcontentloaded")
    run_button = page.get_by_role("button", name="Run A/B")
    expect(run_button).to_be_visible()
    page.locator(".v-select", has_text="Alternative").click()
    page.locator(".v-menu__content .v-list-item", has_text="Closed-loop follow-up").click()
    for lever, presses in (("Follow-up capacity", 2), ("Communication", 1)):
        slider = page.locator(".v-input", has_text=lever).get_by_role("slider")
        slider.focus()
        for _ in range(presses):
            slider.press("PageUp")
    page.get_by_label("Customers (initial)").fill(str(sizes.ab_customers))
    page.get_by_label("Weeks (horizon)").fill(str(sizes.ab_weeks))
    page.get_by_label("Replications (runs per arm)").fill(str(sizes.ab_replications))
    expect(run_button).to_be_enabled()
    started = time.monotonic()
    run_button.click()
    expect(page.locator(".whatif-answer")).to_be_visible(timeout=AB_TIMEOUT_MS)
    answered = time.monotonic()
    page.get_by_role("button", name="Export as comparison").click()
    expect(page.locator(".export-done")).to_be_visible(timeout=AB_TIMEOUT_MS)
    runs = 2 * sizes.ab_replications
    print(
        f"dashboard: A/B of {runs} runs ({sizes.ab_customers:,} customers, {sizes.ab_weeks} weeks): "
        f"{answered - started:.0f} s from Run A/B to the answer; export {time.monotonic() - answered:.0f} s",
        flush=True,
    )
    page.wait_for_timeout(1000)
    page.screenshot(path=str(ab_png), full_page=True)
    page.get_by_role("tab", name="Results").click()
    expect(page.locator(".comparison-title")).to_contain_text("What-if")
    expect(page.locator("img")).to_have_count(6)
    page.wait_for_timeout(1500)  # the figures load
    page.screenshot(path=str(results_png), full_page=True)


def dashboard(out: Path, sizes: Sizes, scratch: Path) -> list[Path]:
    """The dashboard's three tabs, as a reader of the strategists' tutorial sees them."""
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=UI_TIMEOUT_MS)  # redraws take seconds on a busy machine
    browser = find_chromium()
    if browser is None:
        raise MissingToolError(
            "no Chromium or Chrome found (.ci/ensure_chromium installs Debian's; or SILOSIM_CHROMIUM)"
        )
    live, ab, results = out / "dashboard.png", out / "dashboard_ab.png", out / "dashboard_results.png"
    with dashboard_server(scratch, scratch / "solara.log") as url, sync_playwright() as pw:
        for height, shoot in ((1900, lambda page: _live(page, url, sizes, live)),
                              (1500, lambda page: _ab_and_results(page, url, sizes, ab, results))):  # fmt: skip
            context = pw.chromium.launch_persistent_context(
                str(scratch / f"profile-{height}"),
                executable_path=browser,
                headless=True,
                args=CHROMIUM_ARGS,
                viewport={"width": 1600, "height": height},
            )
            try:
                page = context.new_page()
                page.set_default_timeout(UI_TIMEOUT_MS)
                shoot(page)
            finally:
                context.close()
    return [live, ab, results]


PICTURES: dict[str, Callable[[Path, Sizes, Path], list[Path]]] = {
    "logo": logo,
    "headline": headline,
    "acme": acme,
    "dashboard": dashboard,
    "morris": morris,
}
# The files each group writes (tests/test_docs.py checks that the pages show only pictures made here or declared).
FILES = {
    "logo": ["acme_logo.png"],
    "headline": ["headline_true_nps.png", "headline_report.png"],
    "acme": ["acme_swimlane.png", "acme_data_report.png", "acme_report.png", "acme_slide.png"],
    "dashboard": ["dashboard.png", "dashboard_ab.png", "dashboard_results.png"],
    "morris": ["tutorial_morris.png"],
}
NOT_MADE_HERE = {"validation.png": "silosim-validate writes it with the table of docs/validation.md"}


def main(argv: list[str] | None = None) -> int:
    """Make the pictures named on the command line (default: all of them); print each with the seconds it took."""
    parser = argparse.ArgumentParser(prog="make_images.py", description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*", help=f"picture groups (default: all): {', '.join(PICTURES)}")
    parser.add_argument("--quick", action="store_true", help="tiny runs: check the script, not pictures for the site")
    parser.add_argument("--out", type=Path, default=IMG, help="where to write the pictures (default: docs/img)")
    args = parser.parse_args(argv)
    names = args.names or list(PICTURES)
    unknown = [n for n in names if n not in PICTURES]
    if unknown:
        parser.error(f"unknown picture group(s) {', '.join(unknown)}; known: {', '.join(PICTURES)}")
    out: Path = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else FULL
    for name in names:
        started = time.monotonic()
        with tempfile.TemporaryDirectory(prefix=f"silosim_img_{name}_") as tmp:
            try:
                made = PICTURES[name](out, sizes, Path(tmp))
            except MissingToolError as e:
                print(f"make_images.py: error: {name}: {e}", file=sys.stderr)
                return 2
        shown = ", ".join(str(p.relative_to(ROOT)) if p.is_relative_to(ROOT) else str(p) for p in made)
        print(f"{name} ({time.monotonic() - started:.0f} s): {shown}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
