"""dsnb: see why RL fine-tuning sharpens a language model, and run differential smoothing.

Where things are (each subpackage's docstring maps its files):

- ``dsnb.theory``     closed-form toys and their plots/slider apps (numpy; notebooks 01-02)
- ``dsnb.tasks``      Countdown and GSM8K: prompts, safe graders, the exact solver, the task registry
- ``dsnb.nano``       the nano model: a tiny Llama dsnb pretrains itself, shipped in ``dsnb/data``
- ``dsnb.rl``         the one training loop (nano on a CPU, LoRA on a GPU) and evaluation;
                      **the DS change lives in** ``dsnb/rl/advantages.py: compute_advantages``,
                      called on the line marked ``# DS-GRPO`` in ``dsnb/rl/trainer.py: Trainer.train_step``
- ``dsnb.metrics``    pass@k and diversity metrics, every logged key defined once (numpy)
- ``dsnb.study``      the demo (``dsnb demo``) and the study: measured comparisons with intervals
- ``dsnb.dashboard``  the live dashboard of notebooks 03-04 (sliders steer a running trainer)
- ``dsnb.report``     the HTML page, shared figures and the palette every report uses
- ``dsnb.integrations``  DS-GRPO inside TRL's GRPOTrainer (optional extra ``dsnb[trl]``)
- ``dsnb.data``       the shipped files: nano models, problem files, GSM8K slice, recorded results

Importing ``dsnb`` is instant and pulls in no torch. The common entry points are also here,
loaded on first use: ``dsnb.Trainer``, ``dsnb.TrainConfig``, ``dsnb.LossConfig``,
``dsnb.PolicyConfig``, ``dsnb.evaluate``, ``dsnb.get_task``.
"""

import importlib

__version__ = "0.1.0"

_LAZY = {
    "Trainer": "dsnb.rl.trainer",
    "TrainConfig": "dsnb.rl.trainer",
    "LossConfig": "dsnb.rl.loss",
    "PolicyConfig": "dsnb.rl.policy",
    "evaluate": "dsnb.rl.evaluate",
    "get_task": "dsnb.tasks.registry",
}


def __getattr__(name):
    """The entry points above, imported the first time they are used (torch comes with them)."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'dsnb' has no attribute {name!r}")
