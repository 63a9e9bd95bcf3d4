"""``dsnb demo``: GRPO vs DS-GRPO vs an entropy bonus on the nano world, honestly compared.

Same seeds, same budget, same held-out problems and sampling seed for every method; the base
model (adapter disabled) is evaluated on the same problems. Writes OUT/summary.json,
OUT/report.html (self-contained) and prints a table. Each training run is resumable: rerunning
the demo skips finished runs and resumes interrupted ones.
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

from dsnb.grpo import LossConfig

# The demo's DS setting is the study's best DS setting by point estimate in the demo's 3-number
# world (README, Results): summed log-prob, gamma_p = 1, gamma_n = 0 — though there no DS setting
# beat GRPO outside the noise of 3 seeds, and it was chosen on the study's evaluation problems.
# The published symmetric settings are in the study. The entropy bonus is the token-entropy term (loss -= coef * mean
# entropy): 0.3 diverged to garbage near step 45 in the probe, 0.1 stayed stable on 3 numbers.
DEMO_METHODS = {
    "grpo": dict(),
    "ds": dict(gamma_p=1.0, gamma_n=0.0, ds_logp="sum"),
    "entropy_bonus": dict(entropy_coef=0.1),
}


@dataclass
class DemoConfig:
    out: str = "runs/demo"
    """Output directory (runs, summary.json, report.html)."""
    methods: list[str] = field(default_factory=lambda: list(DEMO_METHODS))
    """Which methods to train (keys of DEMO_METHODS)."""
    seeds: list[int] = field(default_factory=lambda: [0, 1])
    """Training seeds (LoRA init, prompt order, sampling): more seeds = honest error bars."""
    steps: int = 100
    """RL steps per run (the default budget is the study's: ``dsnb study`` runs the same cells
    with 3 seeds, so the demo's numbers can be checked against data/results/study)."""
    prompts_per_step: int = 16
    """Prompts per step."""
    group_size: int = 16
    """G completions per prompt."""
    eval_problems: int = 150
    """Held-out problems for the final evaluation."""
    eval_n: int = 64
    """Samples per held-out problem (pass@k for k = 1..eval_n)."""
    task: str = "countdown3"
    """The nano world's task."""

    def __post_init__(self):
        unknown = set(self.methods) - set(DEMO_METHODS)
        if unknown:
            raise ValueError(f"unknown demo methods {sorted(unknown)}; choose from {list(DEMO_METHODS)}")
        if not self.seeds:
            raise ValueError("give at least one seed")
        if self.eval_n < 1 or self.eval_problems < 1:
            raise ValueError("eval_n and eval_problems must be >= 1")

    @classmethod
    def quick(cls, **kw) -> "DemoConfig":
        """Seconds: exercises every code path (for tests), says nothing about the methods."""
        return cls(**{**dict(steps=3, prompts_per_step=4, group_size=4, eval_problems=6, eval_n=8), **kw})


def train_config(cfg: DemoConfig, method: str, seed: int):
    from dsnb.trainer import TrainConfig
    loss = LossConfig(group_size=cfg.group_size, **DEMO_METHODS[method])
    base = TrainConfig.nano(run_dir=str(Path(cfg.out) / "runs" / f"{method}_s{seed}"), task=cfg.task,
                            seed=seed, steps=cfg.steps, prompts_per_step=cfg.prompts_per_step,
                            loss=loss, checkpoint_every=max(1, cfg.steps // 3),
                            n_train_problems=min(2000, cfg.steps * cfg.prompts_per_step))
    if cfg.steps < 10:
        base = replace(base, n_train_problems=64)
    return base


def run_one(cfg: DemoConfig, method: str, seed: int, problems, task, base_needed: bool):
    """Train (or resume, or reuse) one run, then evaluate it (and the base model once)."""
    from dsnb.evaluate import evaluate
    from dsnb.trainer import Trainer
    tcfg = train_config(cfg, method, seed)
    run = Path(tcfg.run_dir)
    trainer = Trainer.resume(run) if (run / "config.json").exists() else Trainer(tcfg)
    if trainer.step < tcfg.steps:
        trainer.train()
    res = evaluate(trainer.policy, problems, task, n=cfg.eval_n, max_new_tokens=tcfg.max_new_tokens,
                   temperature=tcfg.temperature, base=base_needed)
    return res


def run_demo(cfg: DemoConfig) -> dict:
    """Train every method x seed, evaluate, write summary.json and report.html. Returns the summary."""
    from dsnb.trainer import load_metrics
    from dsnb.world import get_task
    t0 = time.time()
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    task = get_task(cfg.task)
    problems = task.load("eval", cfg.eval_problems, seed=0)
    per_run, base = {}, None
    for seed in cfg.seeds:
        for method in cfg.methods:
            res = run_one(cfg, method, seed, problems, task, base_needed=base is None)
            if base is None:
                base = res["base"], res["raw"]["base"].c
            per_run[(method, seed)] = res["policy"], res["raw"]["policy"].c
    summary = summarize(cfg, per_run, base)
    from dsnb.study_cell import model_fingerprint
    summary["model_sha"] = model_fingerprint("nano")     # which nano model made these numbers
    summary["seconds"] = time.time() - t0
    curves = {m: [load_metrics(Path(cfg.out) / "runs" / f"{m}_s{s}") for s in cfg.seeds] for m in cfg.methods}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    from dsnb.report import write_demo_report
    write_demo_report(out / "report.html", summary, curves)
    print(table(summary))
    return summary


def summarize(cfg: DemoConfig, per_run: dict, base) -> dict:
    """Mean and 95% interval over seeds per method; the base model; the eval-set noise."""
    from dsnb.run_plots import bootstrap_passk, mean_ci
    keys = ("pass@1", "pass@8", f"pass@{cfg.eval_n}", "distinct_correct", "coverage")
    base_summary, base_c = base
    base_summary = {**base_summary, "pass@8": base_summary["pass@k"][min(7, cfg.eval_n - 1)]}
    methods = {}
    for m in cfg.methods:
        runs = [per_run[(m, s)][0] for s in cfg.seeds]
        for r in runs:
            r["pass@8"] = r["pass@k"][min(7, cfg.eval_n - 1)]
        stats = {k: mean_ci([r[k] for r in runs]) for k in keys}
        methods[m] = {**{k: v[0] for k, v in stats.items()}, "ci95": {k: v[1] for k, v in stats.items()},
                      "pass@k": [sum(col) / len(col) for col in zip(*[r["pass@k"] for r in runs])],
                      "per_seed": runs, "settings": DEMO_METHODS[m]}
    return {"config": {k: getattr(cfg, k) for k in cfg.__dataclass_fields__},
            "seeds": cfg.seeds, "base": base_summary, "methods": methods,
            "eval_noise_95": {str(k): v for k, v in bootstrap_passk(cfg.eval_n, base_c, (1, 8, cfg.eval_n)).items()}}


def table(summary: dict) -> str:
    """A plain-text table of the summary (what the terminal shows)."""
    n = summary["config"]["eval_n"]
    from dsnb.report import spread
    cols = ("pass@1", "pass@8", f"pass@{n}", "distinct_correct", "coverage")
    width = 26 if len(summary["seeds"]) == 2 else 18
    lines = [f"{'method':<15}" + "".join(f"{c:>{width}}" for c in cols),
             f"{'base':<15}" + "".join(f"{summary['base'][c]:>{width}.3f}" for c in cols)]
    for m, s in summary["methods"].items():
        lines.append(f"{m:<15}" + "".join(f"{spread(summary, s, c):>{width}}" for c in cols))
    lines.append(f"seeds: {summary['seeds']} (1 seed: the value; 2: mean (each seed); 3+: mean ± 95% interval). "
                 f"Eval-set noise on base pass@1 (95% bootstrap over problems): "
                 f"{'[{:.3f}, {:.3f}]'.format(*summary['eval_noise_95']['1']) if summary['eval_noise_95'].get('1') else 'n/a'}")
    return "\n".join(lines)
