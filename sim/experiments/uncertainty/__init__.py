"""Parameter uncertainty in a comparison: paired parameter draws, two intervals, and what the answer hinges on.

Today's intervals describe simulation noise only: they say how precisely the runs pin down an
effect *if every parameter is right*. Most parameters are assumptions, and the answer moves with
them. ``silosim-compare uncertainty=parameters draws=N`` therefore adds N runs per scenario, each
with one parameter set drawn from the distributions the schema declares
(:mod:`sim.config.distributions`), the same N sets for every scenario (paired, like the seeds):

* **Draws** (:func:`draw_parameter_sets`): a scrambled Latin hypercube (``scipy.stats.qmc``) of N points
  in the unit cube, one axis per varied parameter, mapped through each parameter's distribution. A
  Latin hypercube stratifies every parameter's marginal into N equally likely slices for any N (a
  Sobol' sequence balances only at powers of two) and pairs the axes at random, so the parameters are
  independent by design, which the importance measure below relies on. Parameters a scenario or the
  user sets (:func:`held_keys`) are held at their set values, never drawn.
* **Two intervals** (:func:`effect_summary`): the *noise-only* interval is today's paired interval from
  the replications at the declared values. The *parameters plus noise* interval is the spread of the
  effect across plausible worlds, combined with that noise: the draws' paired effects with the
  simulation noise of one run removed from their spread (their deviations shrunk by
  ``sqrt(1 - noise variance / spread variance)``, zero if noise explains all of the spread), their
  percentile range at the level (Weibull positions), each side widened in quadrature by the noise-only
  half-width (or, if wider, the half-width of the draws' own mean, which is estimated from N runs). It
  covers the true effect of a world drawn from the same distributions at close to its level (a test
  measures 96% for 95% with 20 replications and 64 draws; 91.5% with 10 replications). When no parameter
  moves the effect its centre and width approach the noise-only interval's as the draws and replications
  grow; with few of them it is wider, by the chance excess of the draws' spread over the noise.
* **Share of plausible worlds** in which an alternative beats the baseline, and the **probability each
  scenario is best**: from the same de-noised per-draw effects (the raw share, which also counts one
  run's noise, is kept beside it).
* **Importance** (:func:`importance`): for each parameter, its correlation with the effect across the
  draws, squared: the share of the effect's variance across worlds that the parameter explains alone
  and linearly. With independent draws this is the squared standardised regression coefficient, but
  it needs no more draws than parameters (a joint regression on the ~100 varied parameters would need
  more than 100 draws), its null distribution is exact, so a Fisher-z interval (Bonferroni-adjusted
  for the number of parameters) says whether a parameter is distinguishable from zero, and the slope
  gives the tornado in the effect's own units. SALib's moment-independent ``delta`` was the
  alternative; it is biased upward for parameters that do nothing at the sample sizes a comparison
  can afford, which is the wrong way for a board's "what does it hinge on".
* **Plausible worlds** (:func:`plausible_draws`): a draw whose baseline does not reproduce what the model
  was calibrated to (true NPS and annual retention within :data:`PLAUSIBLE` of the baseline at the
  declared values) is left out: a hundred parameters each drawn from a plausible range can combine into
  a company nobody would recognise (history matching). How many draws were kept is reported.
* **Switching values** (:func:`switching_value`): a one-way sweep of a parameter across its drawn span
  along the effect's regression line on it, and the value at which the effect changes sign or its
  noise-only interval first touches zero.

Everything below the drawing is a pure function of tables, with no runs.
"""
