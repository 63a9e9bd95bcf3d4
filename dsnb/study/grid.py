"""The study's declared grids: named settings (each a LossConfig / TrainConfig override) and the
budget every cell shares (:class:`StudyConfig`). Used by ``dsnb.study.run`` and ``dsnb study --list``.

Two grids: ``default`` (the first edition: single settings on countdown3 and countdown4) and
:func:`v2_grid` (the second: a sweep of each method's main knob, so that frontiers can be drawn,
plus the fixed DS variants and ablations), built for any world (task + model names).
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
    sweep: str = ""
    """The method sweep this setting is a point of (v2: "ds", "grpo_kl", ...); "" = a fixed setting."""

    def __post_init__(self):
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", self.name):
            raise ValueError(f"setting name {self.name!r}: use letters, digits, _ . - (it names a directory)")
        if "group_size" in self.loss:
            raise ValueError(
                "group_size is part of the study's budget (the same for every setting); "
                "set it on run_study, not in a setting"
            )
        # fails early, with LossConfig's message (the study's G is checked again by run_study)
        LossConfig(**{"group_size": max(2, int(self.loss.get("passk_k", 0)) + 1), **self.loss})
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


# ----------------------------------------------------------------------------- the second edition
SWEEPS = {
    "grpo_kl": ("beta", (0.005, 0.02, 0.05, 0.1)),
    "ds": ("gamma_p", (0.1, 0.3, 1.0, 3.0)),
    "entropy_bonus": ("entropy_coef", (0.01, 0.03, 0.1, 0.3)),
    "unlikeliness": ("unlikeliness_coef", (0.1, 0.25, 0.5, 1.0)),
    "passk": ("passk_k", (2, 4, 8)),
    "clipcov": ("clipcov_frac", (0.003, 0.01, 0.03)),
}
"""Each method's main knob and its values: knob = 0 is GRPO for every one of them. The DS sweep is
asymmetric DS on the summed log-prob (the nano preset, gamma_n = 0); nano answers are ~10 tokens
(summed log-prob −5..−15), so gamma_p 0.1..3 spans "barely" to "dominates the GRPO advantage".
The entropy values bracket the two that diverged in the first edition (0.3 on countdown3 in the
probe, 0.1 on countdown4): the stability pre-check says which ones diverge in a new world.
Clip-Cov's fraction saturates at its candidate pool (tokens with covariance in (1, 5)): on
countdown4m that pool is ~3% of the tokens (20-step pre-check: ``clipcov/frac`` 0.027-0.042), so
0.05 and 0.2 mute the same tokens (their pre-check runs were identical); 0.003-0.03 spans it."""
SWEEP_BASE = {
    "unlikeliness": {"ds_logp": "mean"},  # the authors rank by the mean token log-prob
}
"""Fixed LossConfig fields of a sweep, besides its knob."""
V2_BUDGET = dict(
    seeds=[0, 1, 2],
    steps=100,
    prompts_per_step=16,
    group_size=16,
    eval_problems=150,
    eval_n=64,
    val_problems=80,
)
"""The v2 study's budget: the first edition's (100 steps of 16 prompts x G = 16, 150 eval problems,
n = 64) plus 80 validation problems, the last eval rows (countdown4m has 231 eval rows: 150 + 80 fit).
Seeds 0-2 for every setting; :data:`EXTRA_SEEDS` for the best of each family."""
EXTRA_SEEDS = (3, 4)


def _knob_name(value) -> str:
    return f"{value:g}"


def v2_grid(task: str = "countdown3", model: str = "nano", prefix: str = "") -> list[Setting]:
    """The second edition's grid in one world: GRPO, each method's sweep (:data:`SWEEPS`), and the
    fixed settings (DS as published, mean log-prob, score level, DS + KL, entropy penalty, GRPO
    without std). ``prefix`` keeps names unique when several worlds share one results file.

    >>> g = v2_grid("countdown4m", "nano4m", "m_")
    >>> len(g), g[0].name, g[0].baseline, {s.task for s in g}
    (30, 'm_grpo', None, {'countdown4m'})
    >>> [s.name for s in g if s.sweep == "passk"]
    ['m_passk_2', 'm_passk_4', 'm_passk_8']
    """

    def make(name, note, sweep="", **loss):
        return Setting(
            prefix + name, loss, {}, task, model, None if name == "grpo" else prefix + "grpo", note, sweep
        )

    grid = [make("grpo", "the reference: plain GRPO")]
    for fam, (knob, values) in SWEEPS.items():
        for v in values:
            loss = {**SWEEP_BASE.get(fam, {}), knob: v}
            grid.append(make(f"{fam}_{_knob_name(v)}", f"{fam} sweep: {knob} = {v:g}", fam, **loss))
    grid += [
        make("grpo_nostd", "GRPO without std division: the control for score-level DS", normalize_std=False),
        make(
            "ds_sym_sum_1", "DS as published (gamma_n = gamma_p), summed log-prob", gamma_p=1.0, gamma_n=1.0
        ),
        make("ds_sym_mean_1", "DS as published, mean log-prob", gamma_p=1.0, gamma_n=1.0, ds_logp="mean"),
        make(
            "ds_asym_mean_1",
            "asymmetric DS with the mean log-prob: summed vs mean",
            gamma_p=1.0,
            ds_logp="mean",
        ),
        make(
            "ds_score",
            "asymmetric DS shaped at the score level (centre, no std)",
            gamma_p=1.0,
            ds_where="score",
            normalize_std=False,
        ),
        make("ds_asym_kl", "asymmetric DS plus a small KL to the base", gamma_p=1.0, beta=0.02),
        make("entropy_penalty_0.1", "entropy penalty", entropy_coef=-0.1),
    ]
    return grid


GRIDS = {"default": default_grid, "quick": quick_grid, "v2": v2_grid}
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
    val_problems: int = 0
    """Validation problems (the LAST eval rows, disjoint from the reported ones) every cell is also
    evaluated on, to choose settings without looking at the reported problems; 0 = none."""

    def __post_init__(self):
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ValueError("give one or more distinct seeds (3 or more for intervals that mean something)")
        for name in ("steps", "prompts_per_step", "eval_problems", "eval_n", "eval_max_new_tokens"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")
        if self.val_problems < 0:
            raise ValueError("val_problems must be >= 0 (0 = no validation split)")
        if self.group_size < 2:
            raise ValueError("group_size must be >= 2: a group of one has no baseline")
