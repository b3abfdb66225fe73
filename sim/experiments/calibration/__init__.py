"""Calibration: fit the baseline's declared free parameters to a client's observed figures.

    silosim-calibrate target.nps=12 target.annual_retention=0.86
    silosim-calibrate target.nps=30 target.annual_churn=0.1 target.first_contact_resolution=0.75 trials=60

The command is configured by Hydra (``conf/calibrate.yaml`` and the ``calibrate`` group, which
declares the free parameters and their bounds). Each trial runs the baseline over the same seeds
(common random numbers; the replications in parallel, ``jobs``) and scores the squared misses of
the replication means in units of each target's tolerance. Every trial is kept in an Optuna study
whose journal is in ``out_dir`` (:mod:`sim.experiments.runs.studies`): the same command run again
resumes it (a least-squares fit replays its path through the trials it holds and goes on), and
several workers can share a TPE study. The best trial is then re-run on fresh seeds to report
target vs simulated mean with a 95% confidence interval.

Outputs (each written atomically into ``out_dir``, beside ``study.json`` and ``study.journal``):
``fit.csv``, ``fit.md``, ``fit.json`` (with the provenance), ``trials.csv``, ``config.yaml`` (the
resolved calibration settings) and, last, ``calibrated.yaml`` (``closest_fit.yaml`` when a target
could not be met). ``silosim calibration=PATH`` (and every other command that composes a model
configuration) applies the calibrated file.

Exit status: 0 all targets met; 2 bad input (nothing written); 3 a target could not be met (the
closest fit is written, labelled as such, and a paragraph names the target and the closest
achievable value).
"""
