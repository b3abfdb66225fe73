"""Research at scale: experiment designs, collecting sweeps into tables, and sensitivity analysis.

Runs are done by the ``silosim`` Hydra app and its launchers; this sub-package only designs
experiments (``design``), turns multirun directories into tidy tables (``collect``, also run by
the Hydra callback in ``callbacks``) and analyses them (``sensitivity``).
"""
