"""Measured comparisons: the demo (the main job) and the study (a grid of settings x seeds).

- ``grid``: ``Setting`` (a named LossConfig/TrainConfig override), the declared grids, ``StudyConfig``
- ``cell``: one setting x one seed: train (or resume), evaluate, the tidy results row
- ``run``: ``run_study`` (resumable) and ``merge_studies``
- ``stats``: intervals over seeds, paired comparisons on the same problems, verdicts
- ``report``: the study's HTML page, drawn from results.jsonl alone
- ``demo``: ``dsnb demo``: GRPO vs DS-GRPO vs an entropy bonus, its summary and page

Nothing is imported here; ``stats`` and ``report`` import no torch (notebook 05 redraws from
shipped results without the training stack).
"""
