"""The live dashboard's widgets: tune the smoothing strength while the model trains (notebooks 03, 04).

    import dsnb.dashboard
    dash = dsnb.dashboard.live(cfg, compare=True)   # shows itself; training starts at once

Sliders for gamma_p and gamma_n (DS strengths [DS3]), the entropy coefficient and the learning
rate change the running trainer at its next step boundary (logged in RUN/events.jsonl and in
the metrics rows); Start / Pause / Resume / Stop; live plots of reward, correctness, distinct
correct solutions, token entropy and zero-variance groups with a marker wherever a control
changed; the latest group of completions; pass@k [PK1] on held-out problems as training goes,
with the base model's curve for reference.

Training runs in a background thread (``dsnb.dashboard.run``) so the kernel stays free to hear
the widgets. Re-running the cell does not start a second trainer: ``live`` shows the dashboard
that is already training that run directory. Errors in the thread appear in a red box.
"""

from __future__ import annotations

import threading
import time

import ipywidgets as widgets

from dsnb.dashboard.plots import FigurePane, control_changes, live_passk_figure, training_figure
from dsnb.dashboard.run import LiveConfig, LiveRun, active_run
from dsnb.dashboard.views import error_html, samples_html, status_html

LABELS = {
    "gamma_p": "γp (correct)",
    "gamma_n": "γn (wrong)",
    "entropy_coef": "entropy coef",
    "lr": "learning rate",
}
HELP = (
    "γp > 0 flattens the model's preference among its <b>correct</b> answers (more distinct "
    "solutions); γn > 0 sharpens it among <b>wrong</b> ones. A change applies at the next step "
    "and shows as a dotted line in the plots."
)


def live(cfg, compare: bool = False, **options) -> Dashboard:
    """The dashboard for `cfg`; if that run directory is already training in this kernel (the
    cell ran twice), the same dashboard again instead of a second trainer. Options: the fields
    of :class:`dsnb.dashboard.run.LiveConfig` (backend, eval_every, eval_n, refresh_s, ...)."""
    running = active_run(cfg.run_dir)
    if running is not None and running.dashboard is not None:
        print(f"{cfg.run_dir} is already training in this kernel: here is its dashboard again.")
        return running.dashboard
    return Dashboard(cfg, LiveConfig(compare=compare, **options))


def gamma_range(ds_logp: str, value: float) -> tuple[float, float]:
    """Slider (max, step) for a DS strength: summed log-probs are ~T times larger than means,
    so "sum" needs gamma ~ 1 and "mean" gamma ~ 0.01 (docs/method.md section 5).

    >>> gamma_range("sum", 1.0), gamma_range("mean", 0.01)
    ((2.0, 0.05), (0.05, 0.001))
    """
    top, step = (2.0, 0.05) if ds_logp == "sum" else (0.05, 0.001)
    return max(top, 2 * value), step


def make_sliders(values: dict, ds_logp: str) -> dict:
    """One widget per live control, starting at the run's current values."""
    kw = dict(
        continuous_update=False, style={"description_width": "initial"}, layout=widgets.Layout(width="330px")
    )
    out = {}
    for name in ("gamma_p", "gamma_n"):
        top, step = gamma_range(ds_logp, values[name])
        out[name] = widgets.FloatSlider(
            value=values[name],
            min=0.0,
            max=top,
            step=step,
            readout_format=".3f",
            description=LABELS[name],
            **kw,
        )
    out["entropy_coef"] = widgets.FloatSlider(
        value=values["entropy_coef"], min=-0.5, max=0.5, step=0.01, description=LABELS["entropy_coef"], **kw
    )
    out["lr"] = widgets.FloatLogSlider(
        value=values["lr"],
        base=10,
        min=-6,
        max=-1,
        step=0.1,
        readout_format=".1e",
        description=LABELS["lr"],
        **kw,
    )
    return out


class Dashboard:
    """Widgets around a :class:`LiveRun`. Display it (or ``dash.widget``) in a notebook cell."""

    def __init__(self, cfg, live: LiveConfig | None = None):
        self.run = LiveRun(cfg, live)
        self.run.dashboard = self
        self.live = self.run.live
        self._lock = threading.RLock()
        self._last_draw, self._draw_cost, self.note = 0.0, 0.0, self._resume_note()
        steered = self.run.trainers[self.run.steered[0]]
        self.sliders = make_sliders(steered.controls.values, steered.cfg.loss.ds_logp)
        linked = self.live.link_gammas
        if linked is None:
            linked = self.sliders["gamma_p"].value == self.sliders["gamma_n"].value
        self.link = widgets.Checkbox(value=linked, description="link γn = γp", indent=False)
        icons = {"start": "play", "pause": "pause", "resume": "forward", "stop": "stop"}
        self.buttons = {
            k: widgets.Button(description=k.capitalize(), icon=icon, layout=widgets.Layout(width="90px"))
            for k, icon in icons.items()
        }
        self.status, self.errors, self.samples = widgets.HTML(), widgets.HTML(), widgets.HTML()
        self.curves = FigurePane(self._training_fig(), self.live.backend)
        self.passk = FigurePane(self._passk_fig(), self.live.backend)
        self.widget = self._layout()
        self._wire()
        self.run.listeners.append(self._on_event)
        self.refresh()
        if self.live.autostart and not self.run.done:
            self.start()

    # ---------------------------------------------------------------- layout and wiring
    def _layout(self):
        who = (
            "Sliders steer <b>DS-GRPO</b>; <b>GRPO</b> is the fixed reference (same prompts, same seeds)."
            if self.live.compare
            else ""
        )
        head = widgets.HTML(f"<div style='font-size:13px'>{HELP} {who} {self._lora_line()}</div>")
        s = self.sliders
        controls = widgets.HBox(
            [
                widgets.VBox([s["gamma_p"], s["gamma_n"], self.link]),
                widgets.VBox([s["entropy_coef"], s["lr"]]),
            ]
        )
        passk = widgets.Box(
            [self.passk.widget],
            layout=widgets.Layout(width="45%", display=None if self.live.eval_every else "none"),
        )
        self.samples.layout.width = "55%"
        bottom = widgets.HBox([passk, self.samples], layout=widgets.Layout(align_items="flex-start"))
        return widgets.VBox(
            [
                head,
                controls,
                widgets.HBox(list(self.buttons.values())),
                self.status,
                self.errors,
                self.curves.widget,
                bottom,
            ]
        )

    def _wire(self):
        for name, slider in self.sliders.items():
            slider.observe(lambda ch, k=name: self._on_slider(k, ch["new"]), names="value")
        actions = {"start": self.start, "pause": self.pause, "resume": self.resume, "stop": self.stop}
        for name, button in self.buttons.items():
            button.on_click(lambda _b, f=actions[name]: f())

    def _on_slider(self, name: str, value: float):
        self.run.set(**{name: value})
        self.note = f"{LABELS[name]} → {value:.3g} from step {self.run.step + 1}"
        other = {"gamma_p": "gamma_n", "gamma_n": "gamma_p"}.get(name)
        if other and self.link.value and self.sliders[other].value != value:
            self.sliders[other].value = value  # its own observer sends it to the trainer
        self._draw_status()

    # ---------------------------------------------------------------- commands
    def start(self):
        self.run.start()

    def pause(self):
        self.run.pause()

    def resume(self):
        self.run.resume()

    def stop(self):
        self.run.stop()
        self._draw_status()  # "stopping" at once, whatever the thread is doing

    def at(self, step: int, **values: float):
        """Move sliders automatically once `step` steps are done, e.g. ``dash.at(40, gamma_p=1.0)``."""
        self.run.at(step, **values)

    def hold(self, timeout: float = 600.0):
        """``with dash.hold(): ...`` keeps training at a step boundary while the block runs."""
        return self.run.hold(timeout)

    def wait(self, timeout: float | None = None):
        """Block until training ends (headless runs only: a blocked kernel cannot hear sliders)."""
        self.run.wait(timeout)
        self.refresh()

    @property
    def trainers(self) -> dict:
        return self.run.trainers

    @property
    def parameters(self) -> dict[str, tuple[int, int]]:
        """{run: (trainable, total)} parameter counts, taken when the dashboard opened."""
        return dict(self.run.parameters)

    # ---------------------------------------------------------------- drawing
    def _on_event(self, event: str):
        """Called by the training thread (or a button). Steps redraw at most every refresh_s
        seconds, and never so often that drawing takes more than ~10% of the time."""
        if event == "activity":
            return self._draw_status()
        if event == "scheduled":
            for name, value in self.run.applied[-1][1].items():
                self.sliders[name].value = value  # the sliders show what the run uses
        interval = max(self.live.refresh_s, 9 * self._draw_cost)
        if event != "step" or time.time() - self._last_draw >= interval:
            self.refresh()
        else:
            self._draw_status()

    def refresh(self):
        """Redraw everything now (plots, samples, status, error box)."""
        with self._lock:
            t0 = time.time()
            self.errors.value = error_html(self.run.error)
            self._draw_status()
            self.samples.value = samples_html(self.run.latest_groups())
            self.curves.update(self._training_fig())
            self.passk.update(self._passk_fig())
            self._last_draw, self._draw_cost = time.time(), time.time() - t0

    def _draw_status(self):
        run, state = self.run, self.run.state
        steps = {n: tr.step for n, tr in run.trainers.items()}
        doing = {
            "running": run.activity,
            "stopping": "finishing the step in progress",
            "stopped": "run this cell again to continue from here",
        }.get(state, "")
        note = " · ".join(x for x in (doing, self.note) if x)
        self.status.value = status_html(
            state, steps, run.cfg.steps, run.seconds_per_step(), note, run.eta_s()
        )
        allowed = {"ready": {"start", "stop"}, "running": {"pause", "stop"}, "paused": {"resume", "stop"}}
        for name, button in self.buttons.items():
            button.disabled = name not in allowed.get(state, set())

    def _training_fig(self):
        changes = [c for name in self.run.steered for c in control_changes(self.run.rows[name])]
        show_kl = any(tr.cfg.loss.beta > 0 for tr in self.run.trainers.values())
        return training_figure(self.run.rows, changes, show_kl)

    def _passk_fig(self):
        live = self.live
        return live_passk_figure(
            self.run.base_curve,
            self.run.evals,
            live.eval_problems,
            names=list(self.run.trainers),
            n=live.eval_n,
        )

    def _lora_line(self) -> str:
        """What LoRA trains, counted once when the run was opened (never mid-evaluation)."""
        trainable, total = next(iter(self.run.parameters.values()))
        each = " in each run" if len(self.run.parameters) > 1 else ""
        return f"LoRA trains {trainable:,} of {total:,} parameters ({100 * trainable / total:.2f}%){each}."

    def _resume_note(self) -> str:
        if not self.run.resumed_from:
            return ""
        step, run = max(self.run.resumed_from.values()), self.run.cfg.run_dir
        if self.run.done:
            return f"{run} is complete at step {step} (raise cfg.steps, or use a new run_dir, to train more)"
        return (
            f"continuing {run} from step {step} with its saved settings (use a new run_dir for a fresh run)"
        )

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)
