"""Measured comparisons: the demo (the main job) and the study (a grid of settings x seeds).

- ``grid``: ``Setting`` (a named LossConfig/TrainConfig override), the declared grids, ``StudyConfig``
- ``cell``: one setting x one seed: train (or resume), evaluate, the tidy results row
- ``run``: ``run_study`` (resumable), ``merge_studies``, and ``run_study_v2`` (the second edition:
  pre-check, sweeps, validation choice of the best per family, extra seeds)
- ``stability``: when a run counts as diverged (flagged, never dropped)
- ``select``: the best setting of each family, chosen on the validation split
- ``plan``: ``dsnb study --plan``: the grid's time from a short probe
- ``stats``: intervals over seeds, paired comparisons on the same problems, verdicts
- ``frontier``: each method's sweep as a line (pass@1 vs pass@64 / distinct), per multiplicity
  bucket, and the verdicts on which line lies above which ([FR1], [FR2])
- ``report``: the study's HTML page, drawn from results.jsonl alone
- ``demo``: ``dsnb demo``: GRPO vs DS-GRPO vs an entropy bonus, its summary and page

Nothing is imported here; ``stats``, ``stability``, ``frontier`` and ``report`` import no torch
(notebook 05 redraws from shipped results without the training stack).
"""
