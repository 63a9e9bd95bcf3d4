"""The engine under the live dashboard: one or two trainers stepping in a background thread.

Why a thread: a notebook kernel handles widget messages (a slider moved) only between cells, so
a training loop that blocks a cell never hears the slider. Here the loop runs in a thread, the
kernel stays free, and every change goes through the trainers' thread-safe ``Controls``
(applied at the next step boundary and logged in RUN/events.jsonl).

``compare=True`` runs plain GRPO (the fixed reference) and DS-GRPO (the run you steer) in the
same thread, one step each in turn, on the same prompts with the same sampling seed per step
(common random numbers: while gamma = 0 both curves coincide exactly). A mini-evaluation
(pass@k [PK1] on a small held-out set) runs every ``eval_every`` steps. No widgets here: this
module is usable, and tested, without a notebook. Used by ``dsnb.dashboard.widget`` (notebooks 03-04).
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import threading
import traceback
from dataclasses import dataclass, replace
from pathlib import Path

import torch

from dsnb.dashboard.plots import BACKENDS
from dsnb.rl.evaluate import sample_and_grade
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
    backend: str = "auto"
    """Plots: "figurewidget" (JupyterLab), "static" (works everywhere), "auto" (static in Colab/VS Code)."""
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
        self.rows = {name: tr.run.read("metrics") for name, tr in self.trainers.items()}
        self.resumed_from = {n: tr.step for n, tr in self.trainers.items() if tr.step > 0}
        self.evals: dict[str, tuple[int, list[float]]] = {}  # name -> (step, pass@k curve)
        self.base_curve: list[float] | None = None
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
        self._eval_problems = None
        _ACTIVE[self.key] = self

    # ---------------------------------------------------------------- state
    @property
    def steered(self) -> list[str]:
        """The runs the sliders change: DS in compare mode (GRPO stays the reference), else all."""
        return ["ds"] if self.live.compare else list(self.trainers)

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def state(self) -> str:
        first = next(iter(self.trainers.values())).controls
        if self.error:
            return "error"
        if self._thread is None:
            return "finished" if self.done else "ready"
        if not self._ended:
            return "paused" if first.paused else ("stopping" if first.stopped else "running")
        return "stopped" if first.stopped else "finished"

    @property
    def done(self) -> bool:
        return all(tr.step >= tr.cfg.steps or tr.controls.stopped for tr in self.trainers.values())

    # ---------------------------------------------------------------- commands (any thread)
    def set(self, **values: float) -> None:
        """Change live controls (gamma_p, gamma_n, entropy_coef, lr) of the steered run(s)."""
        for name in self.steered:
            self.trainers[name].controls.set(**values)

    def at(self, step: int, **values: float) -> None:
        """Schedule a control change once `step` steps are done (a reproducible "slider move")."""
        self.schedule.append((step, values))

    @contextlib.contextmanager
    def hold(self, timeout: float = 600.0):
        """``with run.hold(): ...`` waits for the current step to finish and keeps training at
        that boundary while the block runs (e.g. to save or score the adapter safely)."""
        first = next(iter(self.trainers.values())).controls
        was_paused = first.paused
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
                self._evaluate(base=self.base_curve is None)
            while not self.done:
                self._step_all()
                if self.live.eval_every and self._eval_due():
                    self._evaluate()
            self._finish()
        except Exception:
            self.error = traceback.format_exc()
            print(self.error, file=sys.stderr)
            for tr in self.trainers.values():  # a failed step saved itself; this covers the rest
                with contextlib.suppress(Exception):
                    tr.checkpoint()
        finally:
            self._ended, self.activity = True, ""
            self._idle.set()
            self._emit("state")

    def _step_all(self):
        """One step of every unfinished run, same sampling seed for each (common random numbers)."""
        self._apply_schedule()
        for name, tr in self.trainers.items():
            if tr.controls.paused:
                self._idle.set()
                tr.controls.wait_if_paused()
                self._idle.clear()
            if tr.controls.stopped or tr.step >= tr.cfg.steps:
                continue
            torch.manual_seed(step_seed(tr.cfg.seed, tr.step))
            self.rows[name].append(tr.train_step())
            if tr.step % tr.cfg.checkpoint_every == 0:
                tr.checkpoint()
        self._emit("step")

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
        how = "stopped" if any(tr.controls.stopped for tr in self.trainers.values()) else "finished"
        print(f"dsnb: training {how} at step {self.step}; everything is in {self.cfg.run_dir}")

    @property
    def step(self) -> int:
        return max(tr.step for tr in self.trainers.values())

    def _eval_due(self) -> bool:
        return self.step % self.live.eval_every == 0 or self.done

    def _evaluate(self, base: bool = False):
        """[PK1] pass@k of each run (and once of the base model) on the fixed held-out set,
        with the training RNG set aside so that evaluating never changes the training run."""
        self._set_activity(f"mini-evaluation: pass@k at step {self.step}")
        first = next(iter(self.trainers.values()))
        if self._eval_problems is None:
            template = first.cfg.template or first.task.default_template
            self._eval_problems = first.task.load("eval", self.live.eval_problems, 0, template)
        c = first.cfg
        args = (first.task, self._eval_problems, self.live.eval_n, c.temperature, c.max_new_tokens, 1234)
        with torch.random.fork_rng():
            if base:
                self.base_curve = sample_and_grade(first.policy, *args, adapter=False).summary()["pass@k"]
            for name, tr in self.trainers.items():
                if tr.step == 0 and self.base_curve is not None:
                    curve = self.base_curve  # LoRA starts at B = 0: the policy IS the base
                elif name not in self.evals or self.evals[name][0] != tr.step:
                    curve = sample_and_grade(tr.policy, *args).summary()["pass@k"]
                else:
                    continue
                self.evals[name] = (tr.step, curve)
        self._set_activity("training")
        self._emit("eval")

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
