"""Targets from a client's records, each with its sampling uncertainty.

Every figure is measured over the *calibration year*: the 52 weeks (364 days) up to the last date in
the records (``as_of``), the year a calibration fits (the model's last simulated year). Each comes with a
95% interval that says how much the figure would move with another sample of the same size:

* **NPS** of the relationship survey: promoters minus detractors over the respondents, with the
  multinomial standard error ``100 * sqrt((p + d - (p - d)^2) / n)`` (respondents are a sample of
  the book; repeat answers by one customer are counted as answers, as the client's NPS counts them);
* the **score distribution** 0-10 of the same responses, each share with its Wilson interval;
* **annual retention** by Kaplan-Meier in calendar time over the year: every customer on the book
  enters the risk set on the first day of the year or the day they joined (delayed entry, so new
  customers count from their start, as the model's week-by-week retention does), leaves it by
  churning (an event) or at the end of the year while still a customer (censored); retention is the
  survival at one year, with Greenwood's interval (statsmodels);
* **first-contact resolution**: the share of complaint contacts resolved at that contact (Wilson
  interval). Contacts count as complaints when their reason is one of ``complaint_reasons``
  (``columns.yaml``; default ``complaint``), every contact when the file has no reason column;
* **survey responses per customer-year** and **complaint contacts per customer-year**: counts over
  the customers' exposure in the year (Poisson intervals).

The model measures the same figures (the outcome registry: ``measured_nps_last_year``,
``annual_retention``, ``first_contact_resolution_last_year``, ``survey_responses_per_customer_year``,
``complaint_contacts_per_customer_year``), so each target can be fitted.
"""

from __future__ import annotations

import dataclasses
import math
from datetime import datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from sim.config import ConfigError
from sim.config.vocabularies import WEEKS_PER_YEAR

if TYPE_CHECKING:
    from pathlib import Path

    from sim.experiments.calibration.records import ClientRecords

__all__ = [
    "RECORD_TARGETS",
    "RecordTargets",
    "Target",
    "measure_targets",
    "targets_yaml",
]

Z95 = 1.959963984540054
YEAR_DAYS = 7 * WEEKS_PER_YEAR  # the model's year: 52 weeks, 364 days
PROMOTER_MIN, DETRACTOR_MAX = 9, 6

# The targets a client's records give: (what it is, unit, the file(s) it needs).
RECORD_TARGETS: dict[str, tuple[str, str, str]] = {
    "nps": ("Net Promoter Score of the relationship survey", "NPS points", "responses"),
    "annual_retention": ("Annual retention (Kaplan-Meier, calendar year)", "share", "customers"),
    "first_contact_resolution": ("First-contact resolution of complaint contacts", "share", "contacts"),
    "survey_responses_per_customer_year": ("Survey responses per customer-year", "responses", "responses+customers"),
    "complaint_contacts_per_customer_year": ("Complaint contacts per customer-year", "contacts", "contacts+customers"),
}


@dataclasses.dataclass(frozen=True)
class Target:
    """A measured figure with its 95% sampling interval."""

    value: float
    low: float
    high: float
    n: int
    method: str

    @property
    def half_width(self) -> float:
        """Half the 95% interval (its widest side)."""
        return max(self.value - self.low, self.high - self.value)

    def as_dict(self) -> dict[str, Any]:
        """Plain numbers for YAML and JSON."""
        return {
            "value": round(float(self.value), 6),
            "low": round(float(self.low), 6),
            "high": round(float(self.high), 6),
            "n": self.n,
            "method": self.method,
        }


@dataclasses.dataclass
class RecordTargets:
    """The targets of a client's records over the calibration year."""

    as_of: pd.Timestamp
    start: pd.Timestamp
    targets: dict[str, Target]
    distribution: pd.DataFrame  # score, responses, share, low, high
    customer_years: float | None
    notes: list[str]


def wilson(successes: int, n: int) -> tuple[float, float]:
    """Wilson's 95% interval of a proportion.

    >>> [round(x, 3) for x in wilson(70, 100)]
    [0.604, 0.781]
    """
    if n == 0:
        return math.nan, math.nan
    p = successes / n
    centre = (p + Z95**2 / (2 * n)) / (1 + Z95**2 / n)
    half = Z95 * math.sqrt(p * (1 - p) / n + Z95**2 / (4 * n * n)) / (1 + Z95**2 / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def nps_target(scores: np.ndarray) -> Target:
    """NPS of a list of 0-10 scores with its multinomial 95% interval.

    >>> t = nps_target(np.array([10] * 50 + [8] * 30 + [3] * 20))
    >>> round(t.value, 1), round(t.low, 1), round(t.high, 1)
    (30.0, 14.7, 45.3)
    """
    n = int(scores.size)
    p = float(np.mean(scores >= PROMOTER_MIN))
    d = float(np.mean(scores <= DETRACTOR_MAX))
    value = 100.0 * (p - d)
    se = 100.0 * math.sqrt(max(p + d - (p - d) ** 2, 0.0) / n)
    return Target(value, max(-100.0, value - Z95 * se), min(100.0, value + Z95 * se), n, "multinomial normal")


def poisson_rate(count: int, exposure: float) -> Target:
    """A count per unit of exposure with its 95% interval (exact Poisson, chi-square form)."""
    from scipy.stats import chi2

    low = float(chi2.ppf(0.025, 2 * count)) / 2 if count > 0 else 0.0
    high = float(chi2.ppf(0.975, 2 * (count + 1))) / 2
    return Target(count / exposure, low / exposure, high / exposure, count, "Poisson (exact)")


def kaplan_meier(exit_: np.ndarray, event: np.ndarray, entry: np.ndarray) -> pd.DataFrame:
    """Kaplan-Meier survival with delayed entry, and its pointwise 95% interval.

    statsmodels' ``SurvfuncRight`` (a dependency already; lifelines would pin pandas below 3) gives the
    product-limit estimate and Greenwood's standard error; the interval is on the log-log scale (it stays
    inside 0-1), as lifelines and R's survival package report it.

    Args:
        exit_: Time each subject leaves the risk set (an event or censoring).
        event: Whether the exit is an event.
        entry: Time each subject enters the risk set (0 without delay).

    Returns:
        Columns time, survival, low, high; the first row is time 0, survival 1.

    >>> km = kaplan_meier(np.array([5.0, 10, 10, 20, 30]), np.array([1, 0, 1, 1, 0]), np.zeros(5))
    >>> [round(x, 2) for x in km["survival"]]
    [1.0, 0.8, 0.6, 0.3]
    """
    from statsmodels.duration.survfunc import SurvfuncRight

    if not event.any():  # nobody left: the estimate stays at 1
        ones = np.ones(2)
        return pd.DataFrame({"time": [0.0, float(exit_.max())], "survival": ones, "low": ones, "high": ones})
    sf = SurvfuncRight(exit_, event.astype(int), entry=entry)
    surv, se = np.asarray(sf.surv_prob, float), np.asarray(sf.surv_prob_se, float)
    with np.errstate(divide="ignore", invalid="ignore"):
        spread = Z95 * se / (surv * np.log(surv))
        low, high = surv ** np.exp(-spread), surv ** np.exp(spread)
    low = np.where(np.isfinite(low), low, np.where(surv >= 1, 1.0, 0.0))
    high = np.where(np.isfinite(high), high, np.where(surv >= 1, 1.0, 0.0))
    return pd.DataFrame(
        {
            "time": np.concatenate([[0.0], np.asarray(sf.surv_times, float)]),
            "survival": np.concatenate([[1.0], surv]),
            "low": np.concatenate([[1.0], np.minimum(low, high)]),
            "high": np.concatenate([[1.0], np.maximum(low, high)]),
        }
    )


def year_at_risk(
    customers: pd.DataFrame, start: pd.Timestamp, as_of: pd.Timestamp
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Entry, exit (days after ``start``) and churn of every customer on the book at some time in (start, as_of]."""
    begin, end = customers["start_date"], customers["end_date"]
    frame = customers.loc[(begin <= as_of) & (end.isna() | (end > start))]
    entry = (frame["start_date"].clip(lower=start) - start).dt.days.to_numpy(float)
    left = (frame["end_date"].notna() & (frame["end_date"] <= as_of)).to_numpy()
    stop = frame["end_date"].where(left, as_of)
    exit_ = (pd.to_datetime(stop) - start).dt.days.to_numpy(float)
    keep = exit_ > entry  # a customer who joined and left on the same day was never on the book at a day's end
    return entry[keep], exit_[keep], left[keep]


def km_retention(customers: pd.DataFrame, start: pd.Timestamp, as_of: pd.Timestamp) -> Target:
    """Annual retention over (start, as_of] by Kaplan-Meier with delayed entry, and its 95% interval."""
    entry, exit_, event = year_at_risk(customers, start, as_of)
    if entry.size == 0:
        return Target(math.nan, math.nan, math.nan, 0, "Kaplan-Meier")
    if not event.any():  # nobody left: retention 1, and the interval of a proportion with no event
        return Target(1.0, wilson(entry.size, entry.size)[0], 1.0, int(entry.size), "Kaplan-Meier (no churn)")
    km = kaplan_meier(exit_, event, entry)
    horizon = float((as_of - start).days)
    row = km.loc[km["time"] <= horizon].iloc[-1]
    return Target(
        float(row["survival"]), float(row["low"]), float(row["high"]), int(entry.size), "Kaplan-Meier, Greenwood"
    )


def _exposure(customers: pd.DataFrame, start: pd.Timestamp, as_of: pd.Timestamp) -> float:
    """Customer-years on the book within [start, as_of]."""
    first = customers["start_date"].clip(lower=start)
    last = customers["end_date"].fillna(as_of).clip(upper=as_of)
    days = (last - first).dt.days.clip(lower=0)
    return float(days.sum()) / YEAR_DAYS


def _last_date(records: ClientRecords) -> pd.Timestamp:
    dates = []
    for frame in records.tables.values():
        for col in ("date", "start_date", "end_date"):
            if col in frame and frame[col].notna().any():
                dates.append(frame[col].max())
    if not dates:
        raise ConfigError(f"The client's records in {records.folder} hold no valid dates, so no year can be measured.")
    return pd.Timestamp(max(dates)).normalize()


def _response_targets(
    records: ClientRecords,
    start: pd.Timestamp,
    end: pd.Timestamp,
    exposure: float | None,
    targets: dict[str, Target],
    notes: list[str],
) -> pd.DataFrame:
    """NPS and the response volume into ``targets``; returns the score distribution (empty without responses)."""
    distribution = pd.DataFrame(columns=["score", "responses", "share", "low", "high"])
    responses = records.responses
    if responses is None:
        return distribution
    year = responses[(responses["date"] > start) & (responses["date"] <= end)]
    scores = year.loc[year["survey"] == "relationship", "score"].to_numpy(int)
    if scores.size:
        targets["nps"] = nps_target(scores)
        rows = []
        for score, k in enumerate(np.bincount(scores, minlength=11)):
            lo, hi = wilson(int(k), int(scores.size))
            rows.append({"score": score, "responses": int(k), "share": k / scores.size, "low": lo, "high": hi})
        distribution = pd.DataFrame(rows)
    else:
        notes.append("No relationship-survey response in the year: NPS and the score distribution are not measured.")
    if exposure:
        targets["survey_responses_per_customer_year"] = poisson_rate(len(year), exposure)
    return distribution


def _contact_targets(
    records: ClientRecords,
    start: pd.Timestamp,
    end: pd.Timestamp,
    exposure: float | None,
    targets: dict[str, Target],
    notes: list[str],
) -> None:
    """First-contact resolution and complaint contacts per customer-year into ``targets``."""
    contacts = records.contacts
    if contacts is None:
        return
    year = contacts[(contacts["date"] > start) & (contacts["date"] <= end)]
    if "reason" in year and year["reason"].notna().any():
        reasons = year["reason"].fillna("").astype(str).str.strip().str.casefold()
        complaints = year[reasons.isin(records.complaint_reasons)]
        notes.append(
            f"Complaint contacts: reason in {list(records.complaint_reasons)} ({len(complaints):,} of "
            f"{len(year):,} contacts in the year)."
        )
    else:
        complaints = year
        notes.append("The contacts file has no reasons: every contact counts as a complaint contact.")
    if len(complaints):
        resolved = int(complaints["resolved_first_contact"].sum())
        lo, hi = wilson(resolved, len(complaints))
        targets["first_contact_resolution"] = Target(resolved / len(complaints), lo, hi, len(complaints), "Wilson")
    if exposure:
        targets["complaint_contacts_per_customer_year"] = poisson_rate(len(complaints), exposure)


def measure_targets(records: ClientRecords, as_of: str | None = None) -> RecordTargets:
    """The targets of a client's records over the year up to ``as_of`` (default: the last date in the records).

    Args:
        records: The validated records.
        as_of: Last day of the calibration year (YYYY-MM-DD), or None.

    Returns:
        Every target the files allow, with its 95% interval, and the score distribution.

    Raises:
        ConfigError: If ``as_of`` is not a date, or no target can be measured.
    """
    if as_of is None:
        end = _last_date(records)
    else:
        try:
            end = pd.Timestamp(datetime.strptime(str(as_of), "%Y-%m-%d"))
        except ValueError:
            raise ConfigError(f"`data_as_of` is {as_of!r}, but it must be a date YYYY-MM-DD.") from None
    start = end - pd.Timedelta(days=YEAR_DAYS)
    notes: list[str] = []
    targets: dict[str, Target] = {}
    customers = records.customers
    exposure = _exposure(customers, start, end) if customers is not None else None
    distribution = _response_targets(records, start, end, exposure, targets, notes)
    if customers is not None:
        retention = km_retention(customers, start, end)
        if retention.n:
            targets["annual_retention"] = retention
    _contact_targets(records, start, end, exposure, targets, notes)
    if not targets:
        raise ConfigError(
            f"The client's records in {records.folder} give no target for the year {start:%Y-%m-%d} to "
            f"{end:%Y-%m-%d}: no relationship-survey response, no customer on the book and no contact in it."
        )
    return RecordTargets(end, start, targets, distribution, exposure, notes)


def targets_yaml(result: RecordTargets, records: ClientRecords, path: Path | None = None) -> str:
    """``targets.yaml``: each target's value and 95% interval, the score distribution, and where they came from."""
    import yaml

    files = {records.files[k]: {"rows": n, "excluded": records.excluded(k)} for k, n in records.read_rows.items()}
    payload = {
        "source": str(records.folder),
        "files": files,
        "year": {"start": f"{result.start + pd.Timedelta(days=1):%Y-%m-%d}", "end": f"{result.as_of:%Y-%m-%d}"},
        "customer_years": None if result.customer_years is None else round(result.customer_years, 3),
        "targets": {
            name: {**t.as_dict(), "meaning": RECORD_TARGETS[name][0], "unit": RECORD_TARGETS[name][1]}
            for name, t in result.targets.items()
        },
        "score_distribution": {
            int(r.score): {"responses": int(r.responses), "share": round(float(r.share), 6),
                           "low": round(float(r.low), 6), "high": round(float(r.high), 6)}
            for r in result.distribution.itertuples(index=False)
        },
        "notes": records.notes + result.notes,
    }  # fmt: skip
    header = (
        "# Targets measured from a client's records by silosim (sim/experiments/calibration/record_targets.py):\n"
        "# each value with its 95% sampling interval (low, high) over the year.\n"
        "# Used by silosim-calibrate data=<folder>.\n"
    )
    if path is not None:
        header += f"# Written to {path}.\n"
    return header + yaml.safe_dump(payload, sort_keys=False, allow_unicode=True)
