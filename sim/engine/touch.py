"""The touch kernel: one pass over the customers a touchpoint touches this week, compiled with numba.

:meth:`sim.engine.journey.Journey.touch` prepares the arrays and calls :func:`touch_rows`; the support
contacts of the week are drawn by :func:`support_contacts`. Both read their random numbers from the
counter-based streams (:mod:`sim.engine.streams`), one stream per draw (``TOUCH_STREAMS``).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from numba import njit

from sim.engine.streams import compact_flagged, draw_bits, draw_normal, draw_uniform

TOUCH_STREAMS = ("handoff", "failure", "noise", "problem", "severity", "voice")  # stream of each draw in a touch


class TouchParams(NamedTuple):
    """The touch kernel's parameters, by name (numba reads a named tuple of floats as fast as an array).

    The first three are this week's conditions of the touchpoint, set per touch; the rest are the customer's.
    """

    p_handoff_fails: float  # probability a hand-off into the touchpoint fails (shared view and fixes applied)
    p_touch_fails: float  # probability the touch itself fails
    quality: float  # the touchpoint's quality this week (its base plus the programme's uplift)
    noise_sd: float  # sd of the recorded score's noise
    gap_weight: float  # weight of the expectation gap in the recorded score
    failure_penalty: float  # experience lost to a failed touch
    handoff_penalty: float  # ... to a failed hand-off
    conflict_penalty: float  # ... to a conflicting contact
    repeat_penalty: float  # ... per earlier contact about the same problem
    rate_up: float  # learning rate of satisfaction after a better-than-felt touch
    rate_down: float  # ... after a worse one
    adaptation: float  # how far expectation moves toward the experience
    p_opens_problem: float  # probability a failed hand-off opens a problem
    p_major: float  # share of problems that are major
    p_complain_minor: float  # probability the customer will complain about a minor problem
    p_complain_major: float  # ... about a major one
    cancel_penalty: float  # the extra penalty of a conflict with a cancellation notice


NO_BOOL = np.zeros(0, dtype=np.bool_)
NO_FLOAT = np.zeros(0, dtype=np.float32)


@njit(cache=True)
def touch_rows(  # noqa: C901 - one pass per row, in the order the rules read; split, it would cost a call per row
    rows,
    touchpoint,
    stage,
    owner,
    inbound,
    params,
    bases,
    failed_extra,
    conflict,
    cancel_conflict,
    repeats,
    last_owner,
    last_stage,
    current_stage,
    expectation,
    satisfaction,
    touch_score_sum,
    touch_count,
    touched,
    fit,
    last_failure_tp,
    problem_cause,
    problem_age,
    problem_contacts,
    problem_major,
    problem_complains,
    problems,
    handoff_factor,
    escalation,
    week_touches,
    week_failures,
    week_recorded,
    week_problems,
    stage_attempts,
    stage_successes,
    failed,
    counts,
):
    """One touchpoint applied to each of ``rows`` in turn (the rules of :meth:`Journey.touch`, row by row).

    ``params``: a :class:`TouchParams`.
    ``bases``: the streams of the hand-off, failure, noise, problem, severity and voice draws.
    ``handoff_factor``: per department, what its hand-off care leaves of the failure of hand-offs out of it.
    ``escalation``: the touchpoint is an escalation (its touches do not count as the stage's successes).
    Writes ``failed`` (the touch's own failure, or ``failed_extra``) and ``counts`` (hand-offs, failed
    hand-offs, problems opened), and adds the week's counts: the touchpoint's touches, failed touches, recorded
    scores and problems opened (``week_*``, by touchpoint), and the attempts and successes of its stage and, for
    a hand-off, of the stage the hand-off leaves (``stage_attempts``, ``stage_successes``).
    """
    p_handoff_fails, p_touch_fails, quality, noise_sd = (
        params.p_handoff_fails,
        params.p_touch_fails,
        params.quality,
        params.noise_sd,
    )
    gap_weight, failure_penalty, handoff_penalty = params.gap_weight, params.failure_penalty, params.handoff_penalty
    conflict_penalty, repeat_penalty = params.conflict_penalty, params.repeat_penalty
    rate_up, rate_down, adaptation = params.rate_up, params.rate_down, params.adaptation
    p_opens_problem, p_major = params.p_opens_problem, params.p_major
    p_complain_minor, p_complain_major = params.p_complain_minor, params.p_complain_major
    cancel_penalty = params.cancel_penalty
    handoff_stream, failure_stream, noise_stream, problem_stream, severity_stream, voice_stream = (
        bases[0],
        bases[1],
        bases[2],
        bases[3],
        bases[4],
        bases[5],
    )
    has_extra, has_conflict, has_repeats = failed_extra.size > 0, conflict.size > 0, repeats.size > 0
    has_cancel = cancel_conflict.size > 0
    recorded_sum = 0.0
    touches_failed = unsuccessful = 0
    for i in range(rows.size):
        row = rows[i]
        # hand-off: the previous journey touch was owned by another department, in another stage
        handoff_failed = False
        if inbound and last_owner[row] >= 0 and last_owner[row] != owner and last_stage[row] != stage:
            counts[0] += 1
            stage_attempts[last_stage[row]] += 1  # a hand-off belongs to the stage it leaves too
            if draw_uniform(handoff_stream, row) < p_handoff_fails * handoff_factor[last_owner[row]]:
                handoff_failed = True
                counts[1] += 1
            else:
                stage_successes[last_stage[row]] += 1
        # the touch's own failure
        touch_failed = p_touch_fails > 0.0 and draw_uniform(failure_stream, row) < p_touch_fails
        if has_extra and failed_extra[i]:
            touch_failed = True
        failed[i] = touch_failed
        # recorded touchpoint score (what the department sees) and experience (what the customer lives)
        expected = np.float64(expectation[row])
        delivered = quality + fit[row]  # this customer's fit with what the touchpoint delivers
        recorded = delivered + noise_sd * draw_normal(noise_stream, row) - gap_weight * max(expected - delivered, 0.0)
        if touch_failed:
            recorded -= failure_penalty
        experience = recorded
        if handoff_failed:
            experience -= handoff_penalty
        in_conflict = has_conflict and conflict[i]
        if in_conflict:
            experience -= conflict_penalty
        if has_cancel and cancel_conflict[i]:
            experience -= cancel_penalty
        if has_repeats:
            experience -= repeat_penalty * repeats[i]
        recorded = min(max(recorded, 0.0), 10.0)
        experience = min(max(experience, 0.0), 10.0)
        # journey-level satisfaction: bad touches weigh more than good ones
        satisfied = np.float64(satisfaction[row])
        surprise = experience - satisfied
        satisfied += (rate_up if surprise >= 0.0 else rate_down) * surprise
        satisfaction[row] = min(max(satisfied, 0.0), 10.0)
        expectation[row] = expected + adaptation * (experience - expected)
        # problems: a failed touch, or a failed hand-off some of the time, opens one
        caused = touch_failed or (handoff_failed and draw_uniform(problem_stream, row) < p_opens_problem)
        if caused or handoff_failed:
            last_failure_tp[row] = touchpoint
        if caused and problem_cause[row] < 0:
            problem_cause[row] = touchpoint
            problem_age[row] = 0
            problem_contacts[row] = 0
            major = draw_uniform(severity_stream, row) < p_major
            problem_major[row] = major
            # will the customer ever contact the firm about it? (TARP: most never do, fewer still for minor ones)
            problem_complains[row] = draw_uniform(voice_stream, row) < (p_complain_major if major else p_complain_minor)
            problems[row] += 1
            counts[2] += 1
        # bookkeeping
        recorded32 = np.float32(recorded)
        recorded_sum += recorded32
        touched[row] = True
        touch_score_sum[row] += recorded32
        touch_count[row] += 1
        current_stage[row] = stage
        if inbound:
            last_owner[row] = owner
            last_stage[row] = stage
        if touch_failed:
            touches_failed += 1
        if touch_failed or handoff_failed or in_conflict:
            unsuccessful += 1
    week_touches[touchpoint] += rows.size
    week_failures[touchpoint] += touches_failed
    week_recorded[touchpoint] += recorded_sum
    week_problems[touchpoint] += counts[2]
    stage_attempts[stage] += rows.size
    if not escalation:
        stage_successes[stage] += rows.size - unsuccessful


@njit(cache=True)
def support_contacts(contact_stream, contact_prob, question_stream, question_prob, active, problem_cause, complains,
                      mask, rows, problem):  # fmt: skip
    """This week's support contacts (the rule of :meth:`Journey.support_touches`); returns how many.

    An active customer with an open problem they complain about calls with ``contact_prob``; any other active
    customer asks a question with ``question_prob``. Writes the rows and whether each is about a problem.
    Branch-free, so the first loop vectorises (:func:`sim.engine.streams.compact`).
    """
    question_threshold = question_prob * 4294967296.0
    for i in range(active.size):
        holding = active[i] & (problem_cause[i] >= 0) & complains[i]
        calls = holding & (draw_uniform(contact_stream, i) < contact_prob)
        asks = active[i] & ~holding & (np.float64(draw_bits(question_stream, i)) < question_threshold)
        mask[i] = calls | asks
        problem[i] = holding
    return compact_flagged(mask, rows, problem)
