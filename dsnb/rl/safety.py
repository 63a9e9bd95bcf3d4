"""What keeps a training run trustworthy: all-or-nothing steps, a clean Ctrl-C, halting on
non-finite values, and which settings a resumed run may change.

A step changes the trainer in two stages: first the prompt order and the random generators
(sampling), then the adapter and the optimizer (``opt.step()``). :class:`StepGuard` keeps a
step all or nothing: if it fails before the optimizer moves, the first stage is undone and the
trainer saves the last finished step, so a resumed run redoes exactly the failed step and
reproduces the uninterrupted run bit for bit. Ctrl-C in ``Trainer.train`` finishes the step in
progress (a second press abandons it; a third forces out). NaN rewards and a run of skipped
non-finite losses stop the run with :class:`~dsnb.rl.errors.TrainingHalted`, after a checkpoint.
Used by ``dsnb.rl.trainer``.
"""

from __future__ import annotations

import contextlib
import json
import math
import signal
import threading
import weakref

import torch

from dsnb.rl.errors import TrainingHalted
from dsnb.rl.rundir import say

MAX_NONFINITE_IN_A_ROW = 3
"""A run stops (with a checkpoint and an error) after this many skipped non-finite steps in a row."""

RESUME_CHANGEABLE = (
    "steps",
    "lr",
    "loss.gamma_p",
    "loss.gamma_n",
    "loss.entropy_coef",
    "checkpoint_every",
    "samples_per_step",
    "micro_batch",
    "policy.device",
    "policy.backend",
    "policy.gradient_checkpointing",
)
"""What a resumed run may change: its length, the live controls, and settings that change how
(not what) it computes. Everything else (task, template, model, seed, group size, LoRA shape,
the loss, sampling) defines the experiment: change it in a new run."""


def flat(d: dict, prefix: str = "") -> dict:
    """A config dict flattened one level.

    >>> flat({"steps": 3, "loss": {"gamma_p": 0.5}})
    {'steps': 3, 'loss.gamma_p': 0.5}
    """
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{k}."))
        else:
            out[prefix + k] = v
    return out


def resume_changes(stored: dict, asked: dict, run_dir) -> dict[str, tuple]:
    """{field: (old, new)} where the asked config differs from the run's stored one; ValueError
    (one message naming every field) when any of them changes the experiment."""
    have, want = flat(json.loads(json.dumps(stored))), flat(json.loads(json.dumps(asked)))
    changed = {k: (have.get(k), want.get(k)) for k in sorted(set(have) | set(want)) if k != "run_dir"}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    world = {k: v for k, v in changed.items() if k not in RESUME_CHANGEABLE}
    if world:
        listed = ", ".join(f"{k} ({old!r} -> {new!r})" for k, (old, new) in world.items())
        raise ValueError(
            f"cannot resume {run_dir} with other settings: {listed}. A resumed run continues the "
            f"same experiment; it may change only {', '.join(RESUME_CHANGEABLE)}. For the others "
            "start a new run in another run_dir (or overwrite=True to replace this one)."
        )
    return changed


def as_rng_state(state):
    """random.setstate wants nested tuples; a state that went through lists is converted back."""
    return tuple(as_rng_state(x) for x in state) if isinstance(state, (list, tuple)) else state


class StepGuard:
    """The phase of the step in progress ("idle", "pre", "update", "post"), Ctrl-C presses, and
    what a failure does. Holds its trainer weakly (no reference cycle keeps a run locked)."""

    def __init__(self, trainer):
        self._trainer = weakref.ref(trainer)
        self.phase = "idle"
        self.interrupts = 0  # Ctrl-C presses during train()
        self.interrupt_saved = False  # an abandoned step already logged and saved the interrupt
        self.torn = False  # a forced exit cut opt.step(): this state must never be saved
        self.nonfinite = 0  # skipped non-finite steps in a row
        self._opt_at_start = 0.0

    # ---------------------------------------------------------------- state a step changes first
    def snapshot(self) -> tuple:
        """What a step changes before its update: the prompt order and the random generators."""
        tr = self._trainer()
        cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None
        return list(tr._order), tr._rng.getstate(), torch.get_rng_state(), cuda

    def restore(self, snap: tuple) -> None:
        tr = self._trainer()
        order, py_rng, torch_rng, cuda = snap
        tr._order = order
        tr._rng.setstate(py_rng)
        torch.set_rng_state(torch_rng)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)

    def optimizer_moved(self) -> bool:
        """True once opt.step() has begun in this step (AdamW's step counter of the first
        parameter moves first, before any weight does)."""
        return self._opt_counter() != self._opt_at_start

    def _opt_counter(self) -> float:
        opt = self._trainer().opt
        for group in opt.param_groups:
            for p in group["params"]:
                st = opt.state.get(p, {})
                return float(st["step"]) if "step" in st else 0.0
        return 0.0

    # ---------------------------------------------------------------- the step
    @contextlib.contextmanager
    def step(self):
        """Run one step; on any failure leave the trainer at a consistent finished step, saved.

        Before the optimizer moves, a failed step is undone; after the update it counts as done.
        Only a forced exit inside opt.step() itself leaves a state that is not saved (the newest
        checkpoint then stands, and resuming from it loses nothing but time)."""
        tr = self._trainer()
        tr._lock.check()
        tr._lock.busy += 1
        snap = self.snapshot()
        self._opt_at_start, self.phase = self._opt_counter(), "pre"
        try:
            yield
        except BaseException as err:
            if self.phase == "pre" or (self.phase == "update" and not self.optimizer_moved()):
                self.restore(snap)
            elif self.phase == "update":
                self.torn = True
                say(f"the step was cut inside opt.step(); the newest checkpoint in {tr.run.path} stands")
            if not self.torn:
                try:
                    if isinstance(err, KeyboardInterrupt):
                        tr.run.event(tr.step, "interrupted", abandoned_step=tr.step + 1)
                        self.interrupt_saved = True
                    else:
                        tr.run.event(tr.step, "step_failed", error=f"{type(err).__name__}: {err}"[:500])
                    tr.checkpoint()
                except Exception as save_err:  # never hide the original error behind this one
                    say(f"could not write a checkpoint after the failure: {save_err}")
            raise
        finally:
            self.phase = "idle"
            tr._lock.busy -= 1

    @contextlib.contextmanager
    def updating(self):
        """The optimizer update and the step count, together."""
        self.phase = "update"
        yield
        self.phase = "post"

    @contextlib.contextmanager
    def sigint(self):
        """Ctrl-C while training (main thread only): 1st finishes the step, 2nd abandons it (or,
        once the optimizer moved, stops right after it), 3rd forces out."""
        if threading.current_thread() is not threading.main_thread():
            yield
            return

        def on_sigint(signum, frame):
            self.interrupts += 1
            if self.phase == "idle":
                raise KeyboardInterrupt  # between steps: nothing to finish
            if self.interrupts == 1:
                step = self._trainer().step + 1
                say(f"Ctrl-C: finishing step {step}, then saving (press again to abandon the step)")
                return
            in_flight = self.phase == "post" or (self.phase == "update" and self.optimizer_moved())
            if self.interrupts == 2 and in_flight:
                say("the update is being applied: stopping right after it (press again to force out)")
                return
            raise KeyboardInterrupt

        old = signal.signal(signal.SIGINT, on_sigint)
        try:
            yield
        finally:
            signal.signal(signal.SIGINT, old)

    # ---------------------------------------------------------------- values that end a run
    def check_rewards(self, rewards, texts) -> None:
        """TrainingHalted on the first non-finite reward (before anything of the step is applied)."""
        tr = self._trainer()
        for r, text in zip(rewards, texts):
            if not math.isfinite(r):
                name = getattr(tr.task.reward_fn, "__name__", "the reward function")
                raise TrainingHalted(
                    f"{name} returned {r} for the completion {text[:200]!r}: a reward must be a "
                    f"finite number. Nothing of this step was applied; the run is saved at step "
                    f"{tr.step} in {tr.run.path}. Fix the reward function, then resume."
                )

    def count_nonfinite(self, stats: dict) -> None:
        """Count skipped steps in a row; TrainingHalted at MAX_NONFINITE_IN_A_ROW."""
        self.nonfinite = self.nonfinite + 1 if stats.get("skipped") else 0
        if self.nonfinite >= MAX_NONFINITE_IN_A_ROW:
            tr = self._trainer()
            tr.run.event(tr.step, "halted", reason="non-finite loss", steps_in_a_row=self.nonfinite)
            raise TrainingHalted(
                f"{self.nonfinite} steps in a row had a non-finite loss (nan or inf) and were skipped, "
                f"so the run stopped at step {tr.step} (saved in {tr.run.path}; the adapter is "
                "unchanged since the last finite step). Usual causes: a learning rate or a live "
                "control (gamma, entropy_coef) far too large, fp16 overflow. Fix it, then resume."
            )
