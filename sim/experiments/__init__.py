"""Experiments: running many models and judging them, by concern.

``runs`` (run directories, atomic files, provenance, resources, orphaned workers, resumable studies)
and the launcher; ``analysis`` (the one outcome registry, statistics, run sets read back as tables);
and the studies: ``compare``, ``calibration``, ``facts`` (the stylized facts of ``silosim-validate``),
``policy``, ``sweeps``, ``uncertainty``, ``journeymap`` and ``replications``.
"""
