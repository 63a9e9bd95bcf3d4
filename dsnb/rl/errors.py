"""The errors a run can end with, each with a message that says what happened and what to do.

No torch here, so the command line (``dsnb.cli``) can turn them into one-line messages without
loading the training stack. Raised by ``dsnb.rl.rundir`` and ``dsnb.rl.trainer``.
"""

from __future__ import annotations


class RunDirError(RuntimeError):
    """A run directory cannot be used as asked; the message says why and what to do."""


class RunLockedError(RunDirError):
    """Another trainer (another process, or another Trainer in this one) is writing the run."""


class RunExistsError(RunDirError):
    """The directory already holds a run, and neither resume nor overwrite was asked for."""


class NoRunError(RunDirError):
    """There is no run to resume in the directory."""


class CheckpointError(RunDirError):
    """No checkpoint of the run can be used (each one is listed with the reason)."""


class TrainingHalted(RuntimeError):
    """The run stopped itself because going on would only produce garbage (a NaN reward, a run of
    non-finite losses). A checkpoint was written first: fix the cause, then resume."""
