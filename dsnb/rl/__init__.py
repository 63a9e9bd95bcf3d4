"""The training core: one DS-GRPO loop for the nano model (CPU) and real models (LoRA on a GPU).

- ``advantages``: GRPO's group advantage and **the DS shaping** (``compute_advantages``) [DS3] [DS4]
- ``loss``: ``LossConfig`` (every variant is a field) and the clipped surrogate, KL, entropy
- ``policy``: a causal LM + LoRA adapter; sampling and the three log-prob views
- ``trainer``: ``TrainConfig`` (presets) and ``Trainer``: sample, grade, advantages, update, log
- ``controls``: live knobs another thread (a dashboard slider) changes between steps
- ``rundir``: everything a run writes, append-only, locked, with verified checkpoints
- ``safety``: all-or-nothing steps, Ctrl-C, halting on NaN; what a resume may change
- ``checks``, ``errors``: config field checks; the errors a run ends with (no torch)
- ``evaluate``: pass@k for k = 1..n and distinct correct solutions, against the base model

Nothing is imported here: ``import dsnb.rl`` stays light; each module imports torch itself.
This layer imports no widget or plotting code.
"""
