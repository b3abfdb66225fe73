"""The vocabularies the engine implements, and the units of time.

A user may add departments, levers, stages and touchpoints in YAML, choosing their behaviour
from these lists. Each name here has exactly one implementation in the engine: a touchpoint kind
in the weekly rhythm (:mod:`sim.engine.journey`), a lever mechanism in the organisation
(:mod:`sim.engine.organisation`), a KPI measure in the KPI registry (:mod:`sim.engine.kpis`).
A test checks that the two agree.
"""

from __future__ import annotations

__all__ = [
    "DESIGN_METHODS",
    "ESCALATION_KINDS",
    "KPI_MEASURES",
    "LEVER_MECHANISMS",
    "METRIC_TYPES",
    "OUTBOUND_KINDS",
    "PER_DEPARTMENT_MECHANISMS",
    "TOUCHPOINT_KINDS",
    "WEEKS_PER_QUARTER",
    "WEEKS_PER_YEAR",
]

WEEKS_PER_YEAR = 52  # one step is one week (MODEL.md); renewals are annual
WEEKS_PER_QUARTER = 13

TOUCHPOINT_KINDS = (
    "acquisition",  # the marketing contact that brings a prospect in (outbound)
    "purchase",  # the sale, in the customer's first week
    "onboarding",  # set-up touches during the first weeks
    "usage",  # using the product or service
    "offer",  # cross-sell offers (outbound)
    "support",  # contacts with an open problem or a question
    "billing",  # the periodic bill
    "notice",  # dunning notices to late payers (outbound)
    "cancellation",  # firm-initiated cancellation (non-renewal) notices: unpaid after dunning, risk review (outbound)
    "renewal",  # the annual renewal decision
)
OUTBOUND_KINDS = ("acquisition", "offer", "notice", "cancellation")  # the firm initiates them: no hand-off into them
# contacts that are themselves a sign something went wrong: the stage metric counts a bill that needed a dunning
# notice, or a cancellation notice, as a bill that did not go right ("bills paid without escalation")
ESCALATION_KINDS = ("notice", "cancellation")
LEVER_MECHANISMS = (
    "campaign_volume",
    "cross_sell",
    "over_promise",
    "throughput",
    "handle_time",
    "collections",
    "handoff_care",
)
# Mechanisms every department may have a lever of (each department's own); the rest are one lever in the firm.
PER_DEPARTMENT_MECHANISMS = ("handoff_care",)
KPI_MEASURES = ("leads", "new_sales", "cost_efficiency", "handle_time_efficiency", "collections_rate")
METRIC_TYPES = ("operational", "outcome")  # what shared stage metrics measure
DESIGN_METHODS = ("none", "lhs", "sobol", "morris")  # how an experiment design samples its rows
