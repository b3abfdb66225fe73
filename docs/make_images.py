"""Regenerate the pictures of the documentation site (docs/img/) from the current code.

    .venv/bin/python docs/make_images.py              # every picture (a few minutes: 116 runs)
    .venv/bin/python docs/make_images.py logo headline

What each picture is and how it is made:

- ``logo``: ``docs/img/acme_logo.png``, the made-up client logo of the consultants' tutorial
  (``report.logo=docs/img/acme_logo.png``), drawn with matplotlib.
- ``headline``: ``docs/img/headline_true_nps.png``, the true-NPS figure of the headline comparison,
  copied from the ``figures/`` of a fresh ``silosim-compare`` (what ``make demo`` runs: 80 runs), and
  ``docs/img/headline_report.png``, the first screen of its ``report.html`` in headless Chromium.
- ``morris``: ``docs/img/tutorial_morris.png``, the figure of the researchers' tutorial's Morris screening
  (``silosim-sensitivity morris_example customers=2000 design.samples=4``: 36 runs).

Not made here: ``docs/img/validation.png`` is the figure ``silosim-validate`` writes (docs/validation.md
says how to refresh it with the table it belongs to), and the dashboard's screenshots (``dashboard*.png``)
show settings larger than the browser tests use (``tests/test_app_browser.py`` copies its own screenshots
there with ``SILOSIM_SCREENSHOTS=docs/img``, at the tests' tiny populations).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
from matplotlib.patches import FancyBboxPatch

from sim.report.pdf import find_chromium

ROOT = Path(__file__).resolve().parents[1]
IMG = ROOT / "docs" / "img"
BIN = Path(sys.executable).parent


def logo() -> list[Path]:
    """The made-up client logo of the consultants' tutorial: a rounded box and a name, 400 x 120 pixels."""
    path = IMG / "acme_logo.png"
    fig = plt.figure(figsize=(4, 1.2), dpi=100)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_axis_off()
    ax.set_xlim(0, 4)
    ax.set_ylim(0, 1.2)
    ax.add_patch(FancyBboxPatch((0.12, 0.2), 0.8, 0.8, boxstyle="round,pad=0.02,rounding_size=0.15", color="#AA3377"))
    ax.text(0.52, 0.6, "A", color="white", fontsize=34, fontweight="bold", ha="center", va="center")
    ax.text(1.1, 0.72, "ACME", color="#1A1A1A", fontsize=26, fontweight="bold", va="center")
    ax.text(1.12, 0.32, "Insurance", color="#AA3377", fontsize=15, va="center")
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return [path]


def headline() -> list[Path]:
    """The headline comparison's true-NPS figure and its report's first screen, from a fresh run of ``make demo``'s."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "headline"
        subprocess.run([str(BIN / "silosim-compare"), f"out={out}", "report.pdf=false"], check=True, cwd=ROOT)  # noqa: S603
        figure = IMG / "headline_true_nps.png"
        shutil.copyfile(out / "figures" / "true_nps.png", figure)
        report = IMG / "headline_report.png"
        screenshot(out / "report.html", report, Path(tmp) / "profile")
    return [figure, report]


def screenshot(html: Path, png: Path, profile: Path, width: int = 1000, height: int = 1300) -> None:
    """The first ``width`` x ``height`` pixels of a page, as headless Chromium draws it (the browser of report.pdf)."""
    browser = find_chromium()
    if browser is None:
        raise RuntimeError("no Chromium or Chrome found (.ci/ensure_chromium installs Debian's; or SILOSIM_CHROMIUM)")
    command = [browser, "--headless", "--disable-gpu", "--hide-scrollbars", "--no-first-run"]
    command += ["--disable-background-networking", "--disable-component-update", "--disable-dev-shm-usage"]
    command += [f"--user-data-dir={profile}", f"--window-size={width},{height}", f"--screenshot={png}"]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root (containers, CI)
    subprocess.run([*command, html.resolve().as_uri()], check=True, capture_output=True, timeout=180)  # noqa: S603


def morris() -> list[Path]:
    """The Morris screening of the researchers' tutorial, run in a scratch directory."""
    with tempfile.TemporaryDirectory() as tmp:
        command = [str(BIN / "silosim-sensitivity"), "morris_example", "customers=2000", "design.samples=4"]
        subprocess.run(command, check=True, cwd=tmp)  # noqa: S603
        target = IMG / "tutorial_morris.png"
        shutil.copyfile(Path(tmp) / "outputs" / "sensitivity" / "morris_example" / "sensitivity.png", target)
    return [target]


PICTURES: dict[str, Callable[[], list[Path]]] = {
    "logo": logo,
    "headline": headline,
    "morris": morris,
}


def main(argv: list[str] | None = None) -> None:
    """Make the pictures named on the command line (default: all of them)."""
    names = list(sys.argv[1:] if argv is None else argv) or list(PICTURES)
    unknown = [n for n in names if n not in PICTURES]
    if unknown:
        print(f"make_images.py: error: unknown picture(s) {', '.join(unknown)}; known: {', '.join(PICTURES)}.")
        sys.exit(2)
    for name in names:
        for path in PICTURES[name]():
            print(f"{name}: {path.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
