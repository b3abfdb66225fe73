"""Comparisons: scenarios x replications with common random numbers, aggregated into tables.

The runs are one Hydra multirun of the ``silosim`` app (``scenario=a,b,... seed=range(s,s+R)``)
through the one multirun launcher (:mod:`sim.experiments.launcher`), on any of Hydra's launchers
(joblib on this machine's cores, SLURM through submitit, Ray), so replication r of every
scenario uses seed s + r: the scenarios see the same random draws wherever their mechanisms
agree, and the differences against the baseline are paired.

A comparison resumes. Its directory is assembled under the hidden name ``.<out>.partial`` beside
``out``, which holds ``plan.json`` (the settings and their fingerprint) and the run directories;
each run is written all or nothing (:mod:`sim.experiments.runs.rundir`). Interrupted at any moment
(SIGKILL, Ctrl-C, a lost node, a wall-time limit), the same command run again finds the partial
directory, checks that the settings are the same (a changed setting is refused with the
differences named), reuses every complete run, runs the rest, and renames the directory into
place when the deliverables are written (a ``present`` hook, the report layer's figures and
report, writes them before the rename). Without ``out=`` the newest unfinished comparison of the
same settings under ``outputs/comparisons/`` is resumed. A lock file beside ``out``
(:func:`lock_path`, never inside the directory that is renamed) keeps two commands from working on
one comparison at once: the second waits, then finds the comparison finished (and reruns nothing),
or resumes it, or refuses; the sweep process started for the runs holds the lock too, and stops
itself if the command that started it dies.

The command is :mod:`sim.commands.compare`; from Python, :func:`sim.report.compare` runs a
comparison and writes its report.
"""
