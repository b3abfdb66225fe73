"""The one-page data report of a client's records: what the data say, and how sure they are.

A page of six panels for an executive, each with a title that states what it shows, units and
labelled axes: the score distribution of the relationship survey with its intervals, NPS month by
month, the customers kept over the year (Kaplan-Meier with its band), contacts by month with
first-contact resolution, the targets with their 95% intervals, and the rows read and left out
per file. Written as ``data_report.pdf`` and ``data_report.png``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from sim.experiments.calibration.record_targets import RECORD_TARGETS, YEAR_DAYS, kaplan_meier, year_at_risk
from sim.experiments.runs.files import atomic_write
from sim.report.figures import OKABE_ITO, RC

if TYPE_CHECKING:
    from pathlib import Path

    from matplotlib.axes import Axes

    from sim.experiments.calibration.record_targets import RecordTargets
    from sim.experiments.calibration.records import ClientRecords

__all__ = ["write_data_report"]

DETRACTOR, PASSIVE, PROMOTER = OKABE_ITO[4], "#999999", OKABE_ITO[3]


def _empty(ax: Axes, title: str, why: str) -> None:
    ax.set_title(title, loc="left")
    ax.text(0.5, 0.5, why, ha="center", va="center", transform=ax.transAxes, wrap=True)
    ax.set_axis_off()


def _distribution(ax: Axes, result: RecordTargets) -> None:
    d = result.distribution
    if d.empty:
        _empty(ax, "Likelihood to recommend", "No relationship-survey responses in the year.")
        return
    colours = [DETRACTOR if s <= 6 else PASSIVE if s <= 8 else PROMOTER for s in d["score"]]
    share = 100 * d["share"].to_numpy(float)
    err = np.clip(100 * np.vstack([d["share"] - d["low"], d["high"] - d["share"]]).astype(float), 0, None)
    ax.bar(d["score"], share, color=colours, yerr=err, capsize=2, ecolor="#333333")
    n = int(d["responses"].sum())
    nps = result.targets.get("nps")
    ax.set_title(f"Scores 0-10 of {n:,} relationship responses: NPS {nps.value:+.0f}" if nps else "Scores", loc="left")
    ax.set_xlabel("Likelihood to recommend (0-10)")
    ax.set_ylabel("Share of responses (%)")
    ax.set_xticks(range(11))


def _monthly_nps(ax: Axes, records: ClientRecords) -> None:
    r = records.responses
    if r is None or (r["survey"] == "relationship").sum() == 0:
        _empty(ax, "NPS by month", "No relationship-survey responses.")
        return
    rel = r[r["survey"] == "relationship"]
    month = rel["date"].dt.to_period("M")
    groups = rel.groupby(month)["score"]
    stats = pd.DataFrame(
        {"n": groups.size(), "p": groups.apply(lambda s: (s >= 9).mean()), "d": groups.apply(lambda s: (s <= 6).mean())}
    )
    nps = 100 * (stats["p"] - stats["d"])
    se = 100 * np.sqrt(np.clip(stats["p"] + stats["d"] - (stats["p"] - stats["d"]) ** 2, 0, None) / stats["n"])
    x = stats.index.to_timestamp()
    ax.plot(x, nps, marker="o", color=OKABE_ITO[1])
    ax.fill_between(x, nps - 1.96 * se, nps + 1.96 * se, color=OKABE_ITO[1], alpha=0.2, label="95% interval")
    ax.axhline(0, color="#666666", lw=0.8)
    ax.set_title("NPS month by month (band: 95% sampling interval)", loc="left")
    ax.set_xlabel("Month")
    ax.set_ylabel("NPS (points, -100 to 100)")
    ax.tick_params(axis="x", labelrotation=30)


def _retention(ax: Axes, records: ClientRecords, result: RecordTargets) -> None:
    c = records.customers
    target = result.targets.get("annual_retention")
    if c is None or target is None:
        _empty(ax, "Customers kept over the year", "No customer file.")
        return
    entry, exit_, event = year_at_risk(c, result.start, result.as_of)
    km = kaplan_meier(exit_, event, entry)
    ax.step(km["time"], 100 * km["survival"], where="post", color=OKABE_ITO[1], label="Kaplan-Meier estimate")
    ax.fill_between(
        km["time"], 100 * km["low"], 100 * km["high"], step="post", color=OKABE_ITO[1], alpha=0.2, label="95% interval"
    )
    ax.legend(loc="lower left", fontsize=9)
    ax.set_xlim(0, YEAR_DAYS)
    ax.set_title(
        f"Customers kept over the year: {target.value:.1%} (95% {target.low:.1%} to {target.high:.1%})", loc="left"
    )
    ax.set_xlabel(f"Days since {result.start + pd.Timedelta(days=1):%d %b %Y}")
    ax.set_ylabel("Share still customers (%)")


def _contacts(ax: Axes, records: ClientRecords, result: RecordTargets) -> None:
    c = records.contacts
    if c is None or c.empty:
        _empty(ax, "Contacts by month", "No contacts file.")
        return
    month = c["date"].dt.to_period("M")
    reason = c["reason"].fillna("(none)").astype(str) if "reason" in c else pd.Series("contact", index=c.index)
    table = pd.crosstab(month, reason)
    x = table.index.to_timestamp()
    bottom = np.zeros(len(table))
    for i, col in enumerate(table.columns):
        ax.bar(x, table[col], width=20, bottom=bottom, label=str(col), color=OKABE_ITO[(i + 1) % len(OKABE_ITO)])
        bottom += table[col].to_numpy()
    fcr = result.targets.get("first_contact_resolution")
    title = "Contacts by month and reason"
    if fcr:
        title += f"; first-contact resolution {fcr.value:.0%} (95% {fcr.low:.0%} to {fcr.high:.0%})"
    ax.set_title(title, loc="left")
    ax.set_xlabel("Month")
    ax.set_ylabel("Contacts per month")
    ax.legend(loc="upper left", fontsize=9)
    ax.tick_params(axis="x", labelrotation=30)


def _targets(ax: Axes, result: RecordTargets) -> None:
    ax.set_axis_off()
    ax.set_title(
        f"Targets for calibration, {result.start + pd.Timedelta(days=1):%d %b %Y} to {result.as_of:%d %b %Y}",
        loc="left",
    )
    rows = []
    for name, t in result.targets.items():
        meaning, unit, _ = RECORD_TARGETS[name]
        fmt = "{:+.1f}" if name == "nps" else "{:.1%}" if unit == "share" else "{:.3f}"
        rows.append([meaning, fmt.format(t.value), f"{fmt.format(t.low)} to {fmt.format(t.high)}", f"{t.n:,}"])
    table = ax.table(
        cellText=rows,
        colLabels=["Figure", "Measured", "95% interval", "Sample"],
        loc="upper left",
        cellLoc="left",
        colWidths=[0.5, 0.14, 0.24, 0.12],
    )
    table.auto_set_font_size(False)
    table.set_fontsize(9)
    table.scale(1, 1.5)


def _quality(ax: Axes, records: ClientRecords) -> None:
    files = [records.files[k] for k in records.read_rows]
    read = np.array([records.read_rows[k] for k in records.read_rows])
    excluded = np.array([records.excluded(k) for k in records.read_rows])
    y = np.arange(len(files))
    ax.barh(y, read - excluded, color=OKABE_ITO[3], label="used")
    ax.barh(y, excluded, left=read - excluded, color=OKABE_ITO[4], label="left out (data_quality.csv)")
    ax.set_yticks(y, files)
    ax.invert_yaxis()
    total = int(excluded.sum())
    ax.set_title(f"Rows read per file: {total:,} left out with a problem", loc="left")
    ax.set_xlabel("Rows")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=2, fontsize=9)


def write_data_report(records: ClientRecords, result: RecordTargets, out_dir: Path) -> list[Path]:
    """Draw the one-page data report into ``out_dir`` (``data_report.pdf`` and ``.png``).

    Returns:
        The files written.
    """
    with mpl.rc_context(RC):
        fig = Figure(figsize=(16.5, 11.7), layout="constrained")  # A3 landscape, readable when printed on A4
        axes = fig.subplots(3, 2)
        _distribution(axes[0, 0], result)
        _monthly_nps(axes[0, 1], records)
        _retention(axes[1, 0], records, result)
        _contacts(axes[1, 1], records, result)
        _targets(axes[2, 0], result)
        _quality(axes[2, 1], records)
        fig.suptitle(
            f"The client's records ({records.folder.name}): what they say and how sure they are",
            fontweight="bold",
            x=0.01,
            ha="left",
        )
        pdf = atomic_write(out_dir / "data_report.pdf", lambda tmp: fig.savefig(tmp, format="pdf"))
        png = atomic_write(out_dir / "data_report.png", lambda tmp: fig.savefig(tmp, format="png", dpi=110))
    return [pdf, png]
