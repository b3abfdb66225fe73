"""The comparisons a strategist can open in the dashboard's Results page: found, described and read back.

A comparison directory is one that holds ``comparison.json`` and ``runs/`` (written by
``silosim-compare`` or exported from the A/B page). Listing reads only each ``comparison.json``;
opening one reads its ``summary.csv`` and figures, so a large comparison opens in a moment. A comparison
run with ``uncertainty=parameters`` also opens with how sure each effect is: a sentence per alternative,
the table of both intervals, the share of plausible worlds and the probability of being the best, and
the tornado of what the answer hinges on (:mod:`sim.report.uncertainty`, as in the report).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config.run import scenario_title
from sim.report.content import Answer, Table, answers, client_suffix, report_currency, report_title, summary_text_table
from sim.report.figures import FIGURE_NAMES
from sim.report.uncertainty import how_sure_sentences, method_paragraph, uncertainty_text_table

__all__ = ["DOWNLOADS", "Entry", "View", "list_comparisons", "open_comparison"]

MAX_DEPTH = 4  # outputs/<kind>/<stamp>/ and one level more
# What a comparison offers for download: file, label, MIME type.
DOWNLOADS = (
    ("report.pdf", "Report (PDF)", "application/pdf"),
    ("report.pptx", "Slides (PowerPoint)", "application/vnd.openxmlformats-officedocument.presentationml.presentation"),
    ("summary.xlsx", "Workbook (Excel)", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    ("report.html", "Report (HTML)", "text/html"),
    ("summary.csv", "Summary table (CSV)", "text/csv"),
)


@dataclass(frozen=True)
class Entry:
    """A comparison found under the outputs directory."""

    path: Path
    name: str
    title: str
    client: str
    created: datetime
    scenarios: tuple[str, ...]
    replications: int

    @property
    def label(self) -> str:
        """How the list shows it: when, what, for whom, how big, and its directory."""
        client = client_suffix(self.title, self.client, " · ")
        return (
            f"{self.created:%Y-%m-%d %H:%M} · {self.title}{client} · {len(self.scenarios)} scenarios x "
            f"{self.replications} ({self.path.name})"
        )


def _entry(path: Path) -> Entry | None:
    try:
        meta = json.loads((path / "comparison.json").read_text(encoding="utf-8"))
        report = meta.get("report") or {}
        titles = meta.get("titles") or {}
        return Entry(
            path=path,
            name=str(meta["name"]),
            title=report_title(meta),
            client=str(report.get("client") or ""),
            created=datetime.fromtimestamp((path / "comparison.json").stat().st_mtime),
            scenarios=tuple(titles.get(s) or scenario_title(s) for s in meta["scenarios"]),
            replications=int(meta["replications"]),
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def list_comparisons(root: Path) -> list[Entry]:
    """Every comparison directory under ``root`` (up to four levels down), newest first.

    Args:
        root: The outputs directory.

    Returns:
        The comparisons found (unreadable ones are skipped).
    """
    found = []
    root = Path(root)
    if not root.is_dir():
        return []
    base = len(root.parts)
    for current, dirs, files in os.walk(root):
        here = Path(current)
        if "comparison.json" in files and "runs" in dirs:
            entry = _entry(here)
            if entry is not None:
                found.append(entry)
            dirs[:] = []  # nothing inside a comparison is another comparison
            continue
        dirs[:] = [d for d in dirs if not d.startswith(".") and len(here.parts) - base < MAX_DEPTH]
    return sorted(found, key=lambda e: e.created, reverse=True)


@dataclass
class View:
    """A comparison as the Results page shows it."""

    entry: Entry
    meta: dict[str, Any]
    answers: list[Answer]
    table: Table
    figures: list[Path]
    downloads: list[tuple[Path, str, str]]
    how_sure: list[str]  # uncertainty=parameters: one sentence per alternative (else empty)
    uncertainty: Table | None  # uncertainty=parameters: both intervals, share of worlds, probability best
    uncertainty_method: str  # the two kinds of uncertainty in plain words (else empty)


def open_comparison(path: Path) -> View:
    """Read a comparison's settings, summary table and figures for the Results page.

    Args:
        path: A comparison directory.

    Returns:
        What the page shows.

    Raises:
        ValueError: If it is not a readable comparison directory.
    """
    entry = _entry(Path(path))
    if entry is None or not (Path(path) / "summary.csv").exists():
        raise ValueError(f"'{path}' is not a readable comparison directory (no comparison.json or summary.csv)")
    meta = json.loads((entry.path / "comparison.json").read_text(encoding="utf-8"))
    summary = pd.read_csv(entry.path / "summary.csv")
    titles = {s: (meta.get("titles") or {}).get(s) or scenario_title(s) for s in summary["scenario"]}
    level, baseline = float(meta["confidence"]), str(meta["baseline"])
    figures = [entry.path / "figures" / f"{name}.png" for name in (*FIGURE_NAMES, "tornado")]
    uncertain = bool((meta.get("uncertainty") or {}).get("summary"))
    return View(
        entry=entry,
        meta=meta,
        answers=answers(summary, baseline, int(meta["weeks"]), level, titles),
        table=summary_text_table(summary, baseline, level, titles, report_currency(meta)),
        figures=[f for f in figures if f.exists()],
        downloads=[(entry.path / f, label, mime) for f, label, mime in DOWNLOADS if (entry.path / f).exists()],
        how_sure=how_sure_sentences(meta, baseline, titles),  # "not measured" when too few worlds were plausible
        uncertainty=uncertainty_text_table(meta, baseline, titles, report_currency(meta)) if uncertain else None,
        uncertainty_method=method_paragraph(meta) if uncertain else "",
    )
