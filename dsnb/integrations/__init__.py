"""Bridges from dsnb to other training engines, so DS-GRPO runs where large runs already run.

- ``dsnb.integrations.trl``: differential smoothing inside TRL's ``GRPOTrainer`` (multi-GPU via
  accelerate / DeepSpeed). Needs the optional extra: ``pip install "dsnb[trl]"``.

Nothing is imported here: ``import dsnb.integrations`` never loads torch or TRL.
"""
