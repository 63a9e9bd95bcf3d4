"""The study's declared grid: named settings (each a LossConfig / TrainConfig override) and the
budget every cell shares (:class:`StudyConfig`). Used by ``dsnb.study.run`` and ``dsnb study --list``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields

from dsnb.rl.loss import LossConfig
from dsnb.rl.trainer import TrainConfig


@dataclass(frozen=True)
class Setting:
    name: str
    """Unique name; also the run directory's prefix (OUT/runs/<name>_s<seed>)."""
    loss: dict = field(default_factory=dict)
    """LossConfig overrides (group_size is the study's budget, not the setting's)."""
    train: dict = field(default_factory=dict)
    """TrainConfig overrides (lr, temperature, ...), never the budget, the task or the seed."""
    task: str = "countdown3"
    """The world: "countdown3" (few solutions per instance) or "countdown4" (many)."""
    model: str = "nano"
    """"nano" (data/nano), "nano4" (data/nano4, 4-number Countdown) or a local model directory."""
    baseline: str | None = "grpo"
    """The setting this one is compared against (same world); None marks the reference itself."""
    note: str = ""
    """One line for the report: what this setting tests."""

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", self.name):
            raise ValueError(f"setting name {self.name!r}: use letters, digits, _ . - (it names a directory)")
        if "group_size" in self.loss:
            raise ValueError(
                "group_size is part of the study's budget (the same for every setting); "
                "set it on run_study, not in a setting"
            )
        LossConfig(**{"group_size": 2, **self.loss})  # fails early, with LossConfig's message
        allowed = {f.name for f in fields(TrainConfig)} - {
            "run_dir",
            "task",
            "seed",
            "steps",
            "prompts_per_step",
            "loss",
            "policy",
        }
        bad = set(self.train) - allowed
        if bad:
            raise ValueError(
                f"setting {self.name}: train overrides {sorted(bad)} are not allowed; the "
                f"budget, task and seed are the study's. Allowed: {sorted(allowed)}"
            )


def _cd3(name, note, baseline="grpo", train=None, **loss):
    return Setting(name, loss, train or {}, "countdown3", "nano", baseline, note)


def _cd4(name, note, baseline="cd4_grpo", **loss):
    return Setting(name, loss, {}, "countdown4", "nano4", baseline, note)


def default_grid() -> list[Setting]:
    """The declared grid. Nano completions are ~10 tokens: summed log-prob ~ −5..−15, mean
    ~ −0.5..−1.5, so "sum" gammas of 0.1..1 and "mean" gammas of 0.5..1 shape comparably."""
    return [
        _cd3("grpo", "the reference: plain GRPO", baseline=None),
        _cd3("grpo_nostd", "GRPO without std division: the control for score-level DS", normalize_std=False),
        _cd3(
            "ds_asym", "DS, gamma_n = 0 (the nano probe's best; the demo's preset)", gamma_p=1.0, gamma_n=0.0
        ),
        _cd3(
            "ds_sym_sum_0.1", "DS as published (gamma_p = gamma_n), summed log-prob", gamma_p=0.1, gamma_n=0.1
        ),
        _cd3(
            "ds_sym_sum_1",
            "as published at ds_asym's scale: gamma_n = gamma_p vs 0",
            gamma_p=1.0,
            gamma_n=1.0,
        ),
        _cd3("ds_sym_mean_1", "as published, mean log-prob", gamma_p=1.0, gamma_n=1.0, ds_logp="mean"),
        _cd3("ds_asym_mean_1", "ds_asym with the mean log-prob: summed vs mean", gamma_p=1.0, ds_logp="mean"),
        _cd3(
            "ds_score",
            "ds_asym shaped at the score level (centre, no std)",
            gamma_p=1.0,
            ds_where="score",
            normalize_std=False,
        ),
        _cd3("ds_asym_kl", "ds_asym plus a small KL to the base", gamma_p=1.0, beta=0.02),
        _cd3("grpo_kl", "GRPO plus the same KL: the control for ds_asym_kl", beta=0.02),
        _cd3(
            "entropy_bonus_0.1",
            "entropy bonus (the demo's: the largest tried that stayed stable)",
            entropy_coef=0.1,
        ),
        _cd3(
            "entropy_bonus_0.03",
            "a smaller entropy bonus (tuning: 0.3 diverged to garbage in the probe)",
            entropy_coef=0.03,
        ),
        _cd3("entropy_penalty_0.1", "entropy penalty", entropy_coef=-0.1),
        # 4-number Countdown: the high-multiplicity regime (needs data/nano4, skipped otherwise)
        _cd4("cd4_grpo", "the reference on countdown4", baseline=None),
        _cd4("cd4_ds_asym", "DS, gamma_n = 0", gamma_p=1.0),
        _cd4("cd4_ds_sym_mean_1", "DS as published, mean log-prob", gamma_p=1.0, gamma_n=1.0, ds_logp="mean"),
        _cd4(
            "cd4_ds_asym_mean_1",
            "cd4_ds_asym with the mean log-prob: summed vs mean",
            gamma_p=1.0,
            ds_logp="mean",
        ),
        _cd4(
            "cd4_ds_score",
            "cd4_ds_asym shaped at the score level (centre, no std)",
            gamma_p=1.0,
            ds_where="score",
            normalize_std=False,
        ),
        _cd4("cd4_ds_asym_kl", "cd4_ds_asym plus a small KL to the base", gamma_p=1.0, beta=0.02),
        _cd4("cd4_grpo_kl", "GRPO plus the same KL: the control for cd4_ds_asym_kl", beta=0.02),
        _cd4("cd4_entropy_bonus_0.1", "entropy bonus (predicted to help here)", entropy_coef=0.1),
        _cd4("cd4_entropy_bonus_0.03", "a smaller entropy bonus (0.1 diverged here)", entropy_coef=0.03),
        _cd4("cd4_entropy_penalty_0.1", "entropy penalty (predicted to hurt here)", entropy_coef=-0.1),
    ]


def quick_grid() -> list[Setting]:
    """Seconds per cell with QUICK: exercises every code path (tests), says nothing about methods."""
    return [
        _cd3("grpo", "the reference", baseline=None),
        _cd3("ds_asym", "DS, gamma_n = 0", gamma_p=1.0),
        _cd3("entropy_bonus_0.3", "entropy bonus, lower lr", train={"lr": 5e-4}, entropy_coef=0.3),
        _cd4("cd4_grpo", "needs data/nano4", baseline=None),
    ]


GRIDS = {"default": default_grid, "quick": quick_grid}
QUICK = dict(steps=3, prompts_per_step=4, group_size=4, eval_problems=6, eval_n=8)


@dataclass
class StudyConfig:
    seeds: list[int] = field(default_factory=lambda: [0, 1, 2])
    """Training seeds (LoRA init, prompt order, sampling): intervals need at least 3."""
    steps: int = 150
    """RL steps per cell (the same for every setting)."""
    prompts_per_step: int = 32
    """Prompts per step."""
    group_size: int = 16
    """G completions per prompt."""
    eval_problems: int = 150
    """Held-out problems (the first ones of the eval split, the same for every cell)."""
    eval_n: int = 64
    """Samples per problem: pass@k for k = 1..eval_n."""
    eval_seed: int = 1234
    """Sampling seed of the evaluation, the same for every cell and the base model."""
    eval_temperature: float = 1.0
    """Evaluation temperature (not a setting's training temperature)."""
    eval_max_new_tokens: int = 24
    """Evaluation completion cap."""

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("give one or more distinct seeds (3 or more for intervals that mean something)")
        for name in ("steps", "prompts_per_step", "eval_problems", "eval_n", "eval_max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: a group of one has no baseline")
