"""The validation suite: the stylized facts the model must reproduce, run and judged (``silosim-validate``).

Pattern-oriented modelling (Grimm et al. 2005, "Pattern-oriented modeling of agent-based complex
systems") validates a model by the several patterns it must reproduce at once, each from an
independent source. Here a *fact* (declared in ``conf/validate.yaml``: name, title, source) holds
when all its *checks* hold. A check is a statistic of the runs with a confidence interval and a
threshold the whole interval must clear:

* a per-run *measure* (:data:`MEASURES`, computed from one finished run by :func:`measure_run`),
* averaged over the seeds of one scenario (Student-t interval), or, with ``against``, paired by seed
  with another scenario (the same seeds in both: common random numbers; paired-t interval),
* ``holds``: ``{above: x}`` (lower bound above x), ``{below: x}`` (upper bound below x) or
  ``{within: [a, b]}``;
* optionally ``overrides``: model parameters applied to the check's own scenario only (not to ``against``),
  so a check can compare a scenario with a variant of itself (low against high executive engagement).

Every scenario x seed a fact needs is run once, whatever the number of facts reading it.
"""
