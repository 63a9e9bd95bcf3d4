"""The engine under the live dashboard: one or two trainers stepping in a background thread.

Why a thread: a notebook kernel handles widget messages (a slider moved) only between cells, so
a training loop that blocks a cell never hears the slider. Here the loop runs in a thread, the
kernel stays free, and every change goes through the trainers' thread-safe ``Controls``
(applied at the next step boundary and logged in RUN/events.jsonl).

``compare=True`` runs plain GRPO (the fixed reference) and DS-GRPO (the run you steer) in the
same thread, one step each per *round*, on the same prompts with the same sampling seed per step
(common random numbers: while gamma = 0 both curves coincide exactly). Pause and Stop act
between rounds only, so both runs always stop at the same step. A mini-evaluation (pass@k [PK1]
on a small held-out set) runs every ``eval_every`` steps, in chunks, and is abandoned between
chunks when Stop is pressed. Its results and the first group of every step are kept in the run
directory (``dsnb.dashboard.history``), so a dashboard re-opened on a run redraws all of it.
No widgets here: usable, and tested, without a notebook. Used by ``dsnb.dashboard.widget``.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import time
import traceback
from collections import deque
from dataclasses import dataclass, replace
from pathlib import Path
from statistics import mean

import torch

from dsnb.dashboard.history import EVALS, GROUPS, eval_row, group_of, read_evals, read_group
from dsnb.dashboard.minieval import MiniEval, evals_left
from dsnb.dashboard.plots import BACKENDS
from dsnb.dashboard.stopping import StepInterrupted, interruptible, prompt_state, restore_prompt_state
from dsnb.rl.trainer import Trainer

_ACTIVE: dict[str, LiveRun] = {}  # run_dir -> the live run training it in this kernel


@dataclass
class LiveConfig:
    compare: bool = False
    """Train GRPO (gamma = 0, the reference) and DS-GRPO (steered) side by side, same prompts and seeds."""
    eval_every: int = 25
    """Mini-evaluation every k steps (pass@k on held-out problems); 0 = off."""
    eval_problems: int = 20
    """Held-out problems in the mini-evaluation (fixed for the whole run)."""
    eval_n: int = 16
    """Samples per held-out problem: the curve shows pass@k for k = 1..eval_n."""
    eval_chunk: int = 128
    """Completions per generate call in the mini-evaluation; Stop is heard between chunks."""
    backend: str = "auto"
    """Plots: "static" (whole figure per redraw, renders everywhere; "auto" = this) or "figurewidget"."""
    refresh_s: float = 0.5
    """Redraw the plots at most this often (seconds): drawing must not slow training down."""
    autostart: bool = True
    """Start training as soon as the dashboard appears (False: press Start)."""
    link_gammas: bool | None = None
    """γn slider follows γp (the paper's symmetric setting); None = linked if they start equal."""

    def __post_init__(self):
        if self.backend not in BACKENDS:
            raise ValueError(f"backend={self.backend!r}: choose one of {BACKENDS}")
        if self.refresh_s < 0:
            raise ValueError("refresh_s must be >= 0 seconds")
        if self.eval_every < 0:
            raise ValueError("eval_every must be >= 0 (0 switches the mini-evaluation off)")
        if self.eval_problems < 1 or self.eval_n < 1:
            raise ValueError(
                "the mini-evaluation needs eval_problems >= 1 and eval_n >= 1 "
                "(pass@k is only defined for k <= n samples)"
            )
        if self.eval_chunk < 1:
            raise ValueError("eval_chunk must be >= 1 completion per generate call")


def method_name(loss) -> str:
    """The colour/legend name of a loss setting: "ds" if any DS strength is on, else "grpo".

    >>> from dsnb.rl.loss import LossConfig
    >>> method_name(LossConfig(gamma_p=1.0)), method_name(LossConfig())
    ('ds', 'grpo')
    """
    return "ds" if (loss.gamma_p > 0 or loss.gamma_n > 0) else "grpo"


def run_configs(cfg, compare: bool) -> dict:
    """{name: TrainConfig}: the run itself, or GRPO + DS in RUN/grpo and RUN/ds (same seed)."""
    if not compare:
        return {method_name(cfg.loss): cfg}
    root = Path(cfg.run_dir)
    grpo_loss = replace(cfg.loss, gamma_p=0.0, gamma_n=0.0)
    return {
        "grpo": replace(cfg, run_dir=str(root / "grpo"), loss=grpo_loss),
        "ds": replace(cfg, run_dir=str(root / "ds"), loss=replace(cfg.loss)),
    }


def step_seed(seed: int, step: int) -> int:
    """The sampling seed of a step: both runs of a comparison draw the same random numbers.

    >>> step_seed(0, 3) == step_seed(0, 3) != step_seed(0, 4)
    True
    """
    return seed * 1_000_003 + step


def make_trainer(cfg):
    """A fresh trainer, or the continuation of the run in cfg.run_dir (refused, with one message,
    if cfg changes more than the step count and the live controls)."""
    return Trainer(cfg, progress=False, resume=True)


class LiveRun:
    """One or two trainers, a background thread that steps them, and what the views need."""

    def __init__(self, cfg, live: LiveConfig | None = None):
        self.key = str(Path(cfg.run_dir).resolve())
        if self.key in _ACTIVE and _ACTIVE[self.key].alive:
            raise RuntimeError(
                f"{cfg.run_dir} is already training in this kernel. Use "
                "dsnb.dashboard.live(cfg) to show that dashboard again, or stop it "
                "first (dash.stop()); two trainers must never write one run."
            )
        self.cfg, self.live = cfg, live or LiveConfig()
        self.trainers = {name: make_trainer(c) for name, c in run_configs(cfg, self.live.compare).items()}
        self.lock = threading.RLock()  # held by the thread while a model works (a step, an eval chunk)
        with self.lock:  # before any thread exists and with the adapter on: counts that never change
            self.parameters = {n: tr.policy.num_parameters() for n, tr in self.trainers.items()}
        self.resumed_from = {n: tr.step for n, tr in self.trainers.items() if tr.step > 0}
        self.rows = {
            n: [r for r in tr.run.read("metrics") if r["step"] <= tr.step] for n, tr in self.trainers.items()
        }
        self.evals: dict[str, tuple[int, list[float]]] = {}  # name -> (step, pass@k curve)
        self.base_curve: list[float] | None = None
        self.groups: dict[str, dict[int, object]] = {}  # name -> {step: Group}, the last two
        self._read_history()
        self.error: str | None = None
        self.dashboard = None  # the Dashboard showing this run
        self.listeners: list = []  # fn(event: str), called in the thread
        self.schedule: list[tuple[int, dict]] = []  # (after step, values) not applied yet
        self.applied: list[tuple[int, dict]] = []  # scheduled changes already applied
        self._thread: threading.Thread | None = None
        self._ended = False  # the thread has finished its work
        self._idle = threading.Event()  # set while the thread holds no model
        self._idle.set()
        self.activity = ""  # what the thread is doing right now
        self.stop_requested: float | None = None  # time.time() of the Stop
        self._round_s: deque[float] = deque(maxlen=10)  # seconds of the last rounds
        self._eval_s: float | None = None  # seconds of the last mini-evaluation
        first = next(iter(self.trainers.values()))
        self.mini = MiniEval(first, self.live.eval_problems, self.live.eval_n, self.live.eval_chunk)
        _ACTIVE[self.key] = self

    def _read_history(self):
        """Redraw a run that already has steps: its last mini-evaluation, base curve, samples."""
        live = self.live
        for name, tr in self.trainers.items():
            last, base = read_evals(tr.run, tr.step, live.eval_n, live.eval_problems)
            if last is not None:
                self.evals[name] = last
            self.base_curve = self.base_curve or base
        common = min(tr.step for tr in self.trainers.values())  # the step every run has
        for name, tr in self.trainers.items():
            group = read_group(tr.run, common, tr.cfg.group_size) if common else None
            if group is not None:
                self.groups[name] = {group.step: group}

    # ---------------------------------------------------------------- state
    @property
    def steered(self) -> list[str]:
        """The runs the sliders change: DS in compare mode (GRPO stays the reference), else all."""
        return ["ds"] if self.live.compare else list(self.trainers)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        return any(tr.controls.stopped for tr in self.trainers.values())

    @property
    def paused(self) -> bool:
        return next(iter(self.trainers.values())).controls.paused

    @property
    def state(self) -> str:
        if self.error:
            return "error"
        if self._thread is None:
            return "finished" if self.done else "ready"
        if not self._ended:
            return "stopping" if self.stopping else ("paused" if self.paused else "running")
        return "stopped" if self.stopping else "finished"

    @property
    def done(self) -> bool:
        return self.stopping or all(tr.step >= tr.cfg.steps for tr in self.trainers.values())

    @property
    def step(self) -> int:
        return max(tr.step for tr in self.trainers.values())

    def seconds_per_step(self) -> float | None:
        """Seconds per step of *every* run (one round), the mean of the last 10 rounds; before
        any round ran, the sum over runs of their last logged steps' time/step_s."""
        if self._round_s:
            return mean(self._round_s)
        per_run = [mean(r.get("time/step_s", 0.0) for r in rows[-10:]) for rows in self.rows.values() if rows]
        return sum(per_run) if per_run else None

    def eta_s(self) -> float | None:
        """Seconds until the last step (and its mini-evaluations) is done, or None if unknown."""
        per_step = self.seconds_per_step()
        if per_step is None or self.done:
            return None if per_step is None else 0.0
        left = max(tr.cfg.steps - tr.step for tr in self.trainers.values())
        evals = evals_left(self.step, self.cfg.steps, self.live.eval_every)
        return left * per_step + evals * (self._eval_s or 0.0)

    def latest_groups(self) -> dict:
        """{name: Group} of the newest step that every run has finished: the same prompt for all."""
        if len(self.groups) < len(self.trainers):
            return {}
        common = set.intersection(*(set(g) for g in self.groups.values()))
        return {n: self.groups[n][max(common)] for n in self.trainers} if common else {}

    # ---------------------------------------------------------------- commands (any thread)
    def set(self, **values: float) -> None:
        """Change live controls (gamma_p, gamma_n, entropy_coef, lr) of the steered run(s)."""
        for name in self.steered:
            self.trainers[name].controls.set(**values)

    def at(self, step: int, **values: float) -> bool:
        """Schedule a control change once `step` steps are done (a reproducible "slider move").
        A step the run has already passed (a re-opened run) is skipped, with a note."""
        if step < self.step:
            print(
                f"dsnb: {self.cfg.run_dir} is at step {self.step}, past step {step}: {values} not scheduled"
            )
            return False
        self.schedule.append((step, values))
        return True

    @contextlib.contextmanager
    def hold(self, timeout: float = 600.0):
        """``with run.hold(): ...`` waits for the current step to finish and keeps training at
        that boundary while the block runs (e.g. to save or score the adapter safely)."""
        was_paused = self.paused
        self.pause()
        if not self._idle.wait(timeout):
            raise TimeoutError(f"training did not reach a step boundary within {timeout} s")
        try:
            yield
        finally:
            if not was_paused:
                self.resume()

    def pause(self):
        for tr in self.trainers.values():
            tr.controls.pause()
        self._emit("state")

    def resume(self):
        if self.alive:
            self._idle.clear()  # busy again from now on (hold() must wait)
        for tr in self.trainers.values():
            tr.controls.resume()
        self._emit("state")

    def stop(self):
        """Stop after the round in progress (a mini-evaluation is abandoned at its next chunk)."""
        self.stop_requested = self.stop_requested or time.time()
        for tr in self.trainers.values():
            tr.controls.stop()
        self._emit("state")

    def start(self) -> None:
        """Start the training thread (once). Its prints go to the cell that called start()."""
        if self._thread is not None:
            return
        if _ACTIVE.get(self.key) is not self:
            raise RuntimeError(f"a newer dashboard owns {self.cfg.run_dir}; use that one")
        self._idle.clear()
        ctx = contextvars.copy_context()  # ipykernel 7 routes a thread's output by this context
        self._thread = threading.Thread(
            target=ctx.run, args=(self._main,), daemon=True, name=f"dsnb-train-{Path(self.key).name}"
        )
        self._thread.start()
        self._emit("state")

    def wait(self, timeout: float | None = None) -> None:
        """Block until training ends (headless runs, tests). In a live notebook do NOT call this:
        a blocked kernel cannot hear the sliders. Raises if training failed."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error:
            raise RuntimeError(f"training failed in the background thread:\n{self.error}")

    # ---------------------------------------------------------------- the thread
    def _main(self):
        try:
            self._set_activity("training")
            if self.live.eval_every:
                self._evaluate()
            while not self.done and self._round():
                if self.live.eval_every and self._eval_due():
                    self._evaluate()
                self._checkpoint_due()  # after the evaluation, so its row belongs to the checkpoint
            self._finish()
        except Exception:
            self.error = traceback.format_exc()
            self._save_after_error()
            print(self.error, file=sys.stderr)
            for tr in self.trainers.values():  # a failed step saved itself; this covers the rest
                with contextlib.suppress(Exception):
                    tr.checkpoint()
        finally:
            self._ended, self.activity = True, ""
            self._idle.set()
            self._emit("state")

    def _round(self) -> bool:
        """One step of every run that is behind the front (normally all), the same sampling
        seed for each (common random numbers). Returns False if stopped before it began."""
        self._apply_schedule()
        if self.paused:
            self._idle.set()
            self._emit("state")
            next(iter(self.trainers.values())).controls.wait_if_paused()
            self._idle.clear()
        if self.stopping:
            return False
        t0 = time.time()
        front = min(tr.step for tr in self.trainers.values()) + 1
        first = True
        for name, tr in self.trainers.items():
            if tr.step >= min(front, tr.cfg.steps):
                continue
            if not self._train_step(name, tr, interruptible_now=first):
                return False  # stopped before any run of this round updated
            first = False
            self._keep_group(name, tr)
        self._round_s.append(time.time() - t0)
        self._emit("step")
        return True

    def _checkpoint_due(self) -> None:
        """Checkpoint every run at a multiple of its checkpoint_every, once the round's logs
        (metrics, groups, the mini-evaluation) are written: a resumed run finds all of them."""
        for tr in self.trainers.values():
            if tr.step % tr.cfg.checkpoint_every == 0:  # a no-op when nothing changed since
                tr.checkpoint()

    def _train_step(self, name: str, tr, interruptible_now: bool) -> bool:
        """One step of one run; False if Stop abandoned it. Only the first step of a round may
        be abandoned: once one run has updated, the others finish theirs (same step for all)."""
        torch.manual_seed(step_seed(tr.cfg.seed, tr.step))
        stopped = (lambda: self.stopping) if interruptible_now else (lambda: False)
        saved = prompt_state(tr)
        try:
            with self.lock, interruptible(tr.policy, stopped):
                self.rows[name].append(tr.train_step())
        except StepInterrupted:
            restore_prompt_state(tr, saved)
            return False
        return True

    def _keep_group(self, name: str, tr):
        """Log the step's first group (groups.jsonl) and keep the last two in memory."""
        group = group_of(tr.last_batch, tr.cfg.group_size, tr.step)
        tr.run.append(GROUPS, group.to_row())
        kept = {s: g for s, g in self.groups.get(name, {}).items() if s == group.step - 1}
        self.groups[name] = {**kept, group.step: group}

    def _apply_schedule(self):
        for item in [x for x in self.schedule if x[0] <= self.step]:
            self.schedule.remove(item)
            self.set(**item[1])
            self.applied.append((self.step, item[1]))
            self._emit("scheduled")

    def _finish(self):
        for tr in self.trainers.values():
            if tr.controls.stopped:
                tr.run.event(tr.step, "stopped")
            tr.checkpoint()
        how = "stopped" if self.stopping else "finished"
        print(f"dsnb: training {how} at step {self.step}; everything is in {self.cfg.run_dir}")

    def _save_after_error(self):
        """Checkpoint every run after a failure, so that no finished step is lost."""
        for tr in self.trainers.values():
            try:
                tr.run.event(tr.step, "error", message=self.error.strip().splitlines()[-1])
                tr.checkpoint()
            except Exception:
                self.error += f"\nSaving a checkpoint after it failed too:\n{traceback.format_exc()}"
                return
        steps = ", ".join(f"{n} at step {tr.step}" for n, tr in self.trainers.items())
        self.error += f"\nCheckpoints saved ({steps}): run the cell again to continue from there."

    def _eval_due(self) -> bool:
        return self.step % self.live.eval_every == 0 or self.done

    def _evaluate(self):
        """[PK1] pass@k of each run (and once of the base model) on the fixed held-out set,
        with the training RNG set aside so that evaluating never changes the training run.
        Each result goes to its run's evaluations.jsonl; a Stop abandons the rest."""
        self._set_activity(f"mini-evaluation: pass@k at step {self.step}")
        t0, live = time.time(), self.live
        try:
            with torch.random.fork_rng():
                if self.base_curve is None:
                    first = next(iter(self.trainers.values()))
                    curve = self._pass_at_k(first.policy, adapter=False)
                    if curve is None:
                        return
                    self.base_curve = curve
                    for tr in self.trainers.values():
                        tr.run.append(EVALS, eval_row(0, curve, live.eval_n, live.eval_problems, "base"))
                for name, tr in self.trainers.items():
                    if name in self.evals and self.evals[name][0] == tr.step:
                        continue
                    # LoRA starts at B = 0: at step 0 the policy IS the base model
                    curve = self.base_curve if tr.step == 0 else self._pass_at_k(tr.policy)
                    if curve is None:
                        return
                    self.evals[name] = (tr.step, curve)
                    tr.run.append(EVALS, eval_row(tr.step, curve, live.eval_n, live.eval_problems))
                    self._emit("eval")
            self._eval_s = time.time() - t0
        finally:
            self._set_activity("training")

    def _pass_at_k(self, policy, adapter: bool = True) -> list[float] | None:
        return self.mini.curve(policy, adapter, stopped=lambda: self.stopping, lock=self.lock)

    def _set_activity(self, text: str):
        self.activity = text
        self._emit("activity")

    def _emit(self, event: str):
        """Tell the views. A failing view prints its traceback but never stops training."""
        for fn in list(self.listeners):
            try:
                fn(event)
            except Exception:
                print(
                    f"dsnb: the dashboard failed to draw ({event}):\n{traceback.format_exc()}",
                    file=sys.stderr,
                )


def active_run(run_dir) -> LiveRun | None:
    """The live run training `run_dir` in this kernel, if its thread is still alive."""
    run = _ACTIVE.get(str(Path(run_dir).resolve()))
    return run if run is not None and run.alive else None
