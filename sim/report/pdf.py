"""``report.pdf``: the HTML report printed by headless Chromium, on A4 or Letter.

The same Chromium the browser tests use (Debian's ``/usr/bin/chromium``, or whichever Chrome or
Chromium is on ``PATH``, or the one ``SILOSIM_CHROMIUM`` names). The page's print styles and its
``@page`` size (``report.paper``) lay it out; nothing is fetched (the report is self-contained).
Without a browser, :func:`print_pdf` says in one line how to get one; the other deliverables do not
depend on it.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from sim.experiments.runs.files import atomic_write

__all__ = ["BROWSERS", "NO_BROWSER", "find_chromium", "pdf_pages", "print_pdf"]

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable", "chrome")
ENV = "SILOSIM_CHROMIUM"
PRINT_TIMEOUT_S = 180
NO_BROWSER = (
    "report.pdf not written: no Chromium or Chrome found (Debian/Ubuntu: sudo apt-get install chromium; or set "
    "SILOSIM_CHROMIUM=/path/to/chrome); then `silosim-compare from=DIR` prints it without re-running"
)
_PAGE = re.compile(rb"/Type\s*/Page(?![s\w])")


def find_chromium() -> str | None:
    """The browser that prints the PDF: ``$SILOSIM_CHROMIUM``, or the first of :data:`BROWSERS` on ``PATH``."""
    named = os.environ.get(ENV)
    if named:
        return named if os.access(named, os.X_OK) else None
    for name in BROWSERS:
        found = shutil.which(name)
        if found:
            return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def print_pdf(html: Path, pdf: Path, browser: str) -> Path:
    """Print an HTML file to PDF with headless Chromium (atomically).

    Args:
        html: The self-contained report.
        pdf: Where to write the PDF.
        browser: The Chromium or Chrome executable.

    Returns:
        The PDF written.

    Raises:
        RuntimeError: If the browser fails or writes no PDF.
    """
    with tempfile.TemporaryDirectory(prefix="silosim-chromium-") as profile:

        def run(target: Path) -> None:
            command = [
                browser,
                "--headless",
                "--disable-gpu",
                "--no-pdf-header-footer",
                "--disable-background-networking",
                "--disable-component-update",
                "--no-first-run",
                "--disable-dev-shm-usage",
                f"--user-data-dir={profile}",
                f"--print-to-pdf={target}",
                html.resolve().as_uri(),
            ]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                command.insert(1, "--no-sandbox")  # Chromium refuses to sandbox as root (containers, CI)
            done = subprocess.run(  # noqa: S603 - a browser we located ourselves, our own file
                command, capture_output=True, text=True, timeout=PRINT_TIMEOUT_S, check=False
            )
            if not target.exists() or target.stat().st_size == 0:
                tail = " ".join((done.stderr or "").strip().splitlines()[-2:])[:300]
                raise RuntimeError(f"{browser} wrote no PDF (exit status {done.returncode}): {tail}")

        return atomic_write(pdf, run)


def pdf_pages(path: Path) -> int:
    """How many pages a PDF has (its page objects)."""
    return len(_PAGE.findall(Path(path).read_bytes()))
