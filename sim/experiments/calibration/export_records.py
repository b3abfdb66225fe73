"""A run's customers, survey responses and contacts, written as a client's records.

``silosim-export-records`` runs one configuration (the same model every command runs, with its
seed) and writes the three files a client hands over, in exactly the documented format of
:mod:`sim.experiments.calibration.records`: ``customers`` (id, start and end date, annual value),
``responses`` (respondent, date, score, survey kind) and ``contacts`` (customer, date, reason,
resolved at first contact). A client sees what data the model needs; a synthetic client made from
known parameters is what a calibration can be tested against.

Week ``w`` of the recorded run (0 is the first week after the warm-up) is the seven days from
``start + 7 w``; each customer's events fall on the same weekday of their week (row modulo 7), so the
files look like daily exports while every event stays inside the week it happened in. Customers of
the initial book joined before ``start`` (their tenure). The files cover every customer on the
book at some time in the recorded run, and every response and support contact of the recorded run.

A support contact is about a problem (``reason: complaint``) or a question (``reason: question``);
``resolved_first_contact`` is yes when the contact resolved the problem (a question: answered,
unless the desk was overloaded), so the share of yes among complaint contacts is the model's
first-contact resolution.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sim.config.vocabularies import WEEKS_PER_YEAR
from sim.engine.model import SiloModel
from sim.experiments.analysis.outcomes import compute

if TYPE_CHECKING:
    from sim.config.schema import SiloConfig

__all__ = ["MEASURED", "ExportedRun", "export_run", "write_records"]

# the run's own figures that the exported records measure (record target -> outcome of the registry)
MEASURED = {
    "nps": "measured_nps_last_year",
    "annual_retention": "annual_retention",
    "first_contact_resolution": "first_contact_resolution_last_year",
    "survey_responses_per_customer_year": "survey_responses_per_customer_year",
    "complaint_contacts_per_customer_year": "complaint_contacts_per_customer_year",
}
DEFAULT_START = date(2024, 1, 1)
DAYS_PER_WEEK = 7


class ExportedRun:
    """The three tables of one run and the run's own measured figures."""

    def __init__(self, tables: dict[str, pd.DataFrame], measured: dict[str, float]) -> None:
        """Keep the tables (customers, responses, contacts) and the run's measured figures."""
        self.tables = tables
        self.measured = measured


def _day(start: date, week: np.ndarray, rows: np.ndarray) -> pd.Series:
    days = DAYS_PER_WEEK * week.astype(np.int64) + rows.astype(np.int64) % DAYS_PER_WEEK
    return pd.Series(pd.Timestamp(start) + pd.to_timedelta(days, unit="D")).dt.strftime("%Y-%m-%d")


def _ids(rows: np.ndarray) -> pd.Series:
    return pd.Series([f"C{r:07d}" for r in rows.astype(np.int64)], dtype=object)


def export_run(cfg: SiloConfig, start: date = DEFAULT_START) -> ExportedRun:
    """Run ``cfg`` and collect its customers, survey responses and support contacts as a client's records.

    Args:
        cfg: A validated configuration (its seed, customers, weeks and scenario).
        start: The date of the first recorded week.

    Returns:
        The three tables and the run's own figures (:data:`MEASURED`) over its last year.
    """
    model = SiloModel(cfg, collect=False)
    responses: list[pd.DataFrame] = []
    contacts: list[pd.DataFrame] = []
    for _ in range(cfg.weeks):
        model.step()
        week = model.week - 1
        survey, journey = model.survey, model.journey
        rows = survey.respondents
        if rows.size:
            responses.append(
                pd.DataFrame(
                    {
                        "respondent_id": _ids(rows),
                        "date": _day(start, np.full(rows.size, week), rows),
                        "score": survey.respondent_scores.astype(int),
                        "survey": np.where(survey.respondent_relationship, "relationship", "transactional"),
                    }
                )
            )
        rows = journey.support_rows
        if rows.size:
            contacts.append(
                pd.DataFrame(
                    {
                        "customer_id": _ids(rows),
                        "date": _day(start, np.full(rows.size, week), rows),
                        "reason": np.where(journey.support_problem, "complaint", "question"),
                        "resolved_first_contact": np.where(journey.support_resolved, "yes", "no"),
                    }
                )
            )
    store = model.store
    rows = np.flatnonzero(store.active[: store.n] | (store.left_step[: store.n] >= 0))
    left = store.left_step[rows]
    ended = _day(start, left, rows).where(left >= 0, "")
    customers = pd.DataFrame(
        {
            "customer_id": _ids(rows),
            "start_date": _day(start, store.joined_step[rows], rows),
            "end_date": ended.to_numpy(),
            "annual_value": np.round(WEEKS_PER_YEAR * store.value[rows].astype(float), 2),
        }
    )
    tables = {
        "customers": customers,
        "responses": pd.concat(responses, ignore_index=True) if responses else _empty("responses"),
        "contacts": pd.concat(contacts, ignore_index=True) if contacts else _empty("contacts"),
    }
    metrics = model.metrics_frame()
    measured = compute(MEASURED.values(), metrics)
    return ExportedRun(tables, {name: measured[outcome] for name, outcome in MEASURED.items()})


def _empty(kind: str) -> pd.DataFrame:
    from sim.experiments.calibration.tables import COLUMNS

    return pd.DataFrame(columns=[c.name for c in COLUMNS[kind] if c.required or kind != "responses"])


def write_records(run: ExportedRun, folder: Path, fmt: str = "csv") -> list[Path]:
    """Write the three tables into ``folder`` as ``<kind>.csv`` or ``<kind>.xlsx``.

    Returns:
        The files written.
    """
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind, frame in run.tables.items():
        path = folder / f"{kind}.{fmt}"
        if fmt == "xlsx":
            frame.to_excel(path, index=False)
        else:
            frame.to_csv(path, index=False)
        written.append(path)
    return written
