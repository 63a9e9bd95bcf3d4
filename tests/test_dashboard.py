"""The live dashboard, driven headless from Python: sliders reach the trainer at the next step
and are logged, pause/resume/stop work, errors surface, a second start is refused, compare mode
really uses the same prompts and seeds, and the mini-evaluation never perturbs training."""

import contextvars
import sys
import threading
import time
from dataclasses import replace

import pytest

from dsnb.dashboard import Dashboard, live
from dsnb.dashboard.plots import FigurePane, choose_plot_backend, training_figure
from dsnb.dashboard.run import LiveConfig, LiveRun, run_configs
from dsnb.dashboard.views import group_html, samples_html
from dsnb.dashboard.widget import gamma_range
from dsnb.rl.loss import LossConfig

QUIET = dict(eval_every=0, autostart=False, backend="static")


def wait_until(cond, timeout=60.0):
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "timed out"
        time.sleep(0.02)


# ------------------------------------------------------------------ pure pieces (tier 1)
def test_group_html_counts_duplicates_escapes_tags_and_flags_groups_without_gradient():
    texts = ["<answer>3+4</answer>"] * 3 + ["<answer>4+3</answer>"]
    page = group_html("ds", "3 4=7:", texts, [1.0] * 4, [True] * 4, ["3+4"] * 3 + ["4+3"])
    assert "×3" in page and "×1" in page
    assert "<answer>" not in page and "&lt;answer&gt;" in page  # shown as text, never as HTML
    assert "<b>2</b> distinct correct solutions" in page
    assert "no gradient" in page  # all four rewards equal
    mixed = group_html("grpo", "p", ["a", "b"], [1.0, 0.0], [True, False], ["a", None])
    assert "no gradient" not in mixed and "1/2 correct" in mixed


def test_group_html_shows_the_most_frequent_completions_and_counts_the_rest():
    texts = [f"answer {i}" for i in range(10)] + ["answer 0"] * 3 + ["x" * 500] * 2
    page = group_html("grpo", "p", texts, [0.0] * 15, [False] * 15, [None] * 15)
    assert page.index("answer 0") < page.index("answer 1") and "×4" in page and "×2" in page
    assert "3 more distinct completions (3 samples, 0 correct)" in page
    assert "x" * 100 in page and "x" * 200 not in page  # long texts keep their end


def test_samples_html_says_what_to_wait_for_before_the_first_step():
    assert "after the first step" in samples_html({})


def test_backend_is_static_in_colab_and_vscode_and_figurewidget_elsewhere(monkeypatch):
    for var in ("VSCODE_PID", "VSCODE_CWD", "VSCODE_IPC_HOOK_CLI"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    assert choose_plot_backend("auto") == "figurewidget"
    monkeypatch.setitem(sys.modules, "google.colab", object())
    assert choose_plot_backend("auto") == "static"
    monkeypatch.delitem(sys.modules, "google.colab")
    monkeypatch.setenv("VSCODE_PID", "1")
    assert choose_plot_backend("auto") == "static"
    assert choose_plot_backend("figurewidget") == "figurewidget"
    with pytest.raises(ValueError, match="backend"):
        choose_plot_backend("matplotlib")


def test_static_pane_replaces_its_single_output_on_every_redraw():
    rows = [{"step": s, "reward/mean": 0.1 * s} for s in (1, 2)]
    pane = FigurePane(training_figure({"grpo": rows}), backend="static")
    pane.update(training_figure({"grpo": rows + [{"step": 3, "reward/mean": 0.3}]}))
    assert len(pane.widget.outputs) == 1
    data = pane.widget.outputs[0]["data"]
    assert "application/vnd.plotly.v1+json" in data or "text/html" in data


def test_figurewidget_pane_draws_a_marker_where_a_control_changed():
    rows = [{"step": 1, "ds/gamma_p": 0.0}, {"step": 2, "ds/gamma_p": 1.0}]
    pane = FigurePane(training_figure({"ds": rows[:1]}), backend="figurewidget")
    pane.update(training_figure({"ds": rows}, changes=[(1.5, "γp 0 → 1")]))
    assert {s.x0 for s in pane.widget.layout.shapes} == {1.5}
    assert list(pane.widget.data[-1].x) == [1, 2]


def test_the_kl_panel_replaces_the_loss_panel_only_when_kl_is_on():
    rows = [{"step": 1, "kl": 0.01, "loss/total": 0.0}]
    titles = lambda fig: {a.text for a in fig.layout.annotations}  # noqa: E731
    assert any("KL" in t for t in titles(training_figure({"ds": rows}, show_kl=True)))
    assert not any("KL" in t for t in titles(training_figure({"ds": rows})))


def test_compare_mode_makes_a_grpo_reference_and_a_ds_run_with_one_seed(smoke_cfg):
    cfg = replace(smoke_cfg, loss=LossConfig(group_size=4, gamma_p=1.0))
    runs = run_configs(cfg, compare=True)
    assert (runs["grpo"].loss.gamma_p, runs["ds"].loss.gamma_p) == (0.0, 1.0)
    assert runs["grpo"].seed == runs["ds"].seed and runs["grpo"].run_dir != runs["ds"].run_dir
    assert gamma_range("sum", 3.0) == (6.0, 0.05)  # the slider reaches the config's value


def test_live_config_rejects_settings_that_cannot_work():
    with pytest.raises(ValueError, match="pass@k"):
        LiveConfig(eval_n=0)
    with pytest.raises(ValueError, match="backend"):
        LiveConfig(backend="bokeh")


# ------------------------------------------------------------------ driving it (tier 3)
def test_a_slider_moved_from_another_thread_applies_at_the_next_step_and_is_logged(smoke_cfg):
    dash = Dashboard(replace(smoke_cfg, steps=4), LiveConfig(**QUIET))
    trainer = dash.trainers["grpo"]

    def move_slider_at_step_2(row, tr):
        if row["step"] == 2:
            t = threading.Thread(target=lambda: setattr(dash.sliders["gamma_p"], "value", 0.7))
            t.start()
            t.join()

    trainer.callbacks.append(move_slider_at_step_2)
    dash.start()
    dash.wait(120)
    rows = trainer.run.read("metrics")
    assert [r["ds/gamma_p"] for r in rows] == [0.0, 0.0, 0.7, 0.7]
    assert [r["ds/gamma_n"] for r in rows] == [0.0, 0.0, 0.7, 0.7]  # linked by default
    events = [e for e in trainer.run.read("events") if e["event"] == "control"]
    assert {(e["field"], e["step"], e["new"]) for e in events} == {("gamma_p", 2, 0.7), ("gamma_n", 2, 0.7)}
    assert "0.7" in dash.status.value and dash.run.state == "finished"


def test_linked_sliders_move_gamma_n_with_gamma_p(smoke_cfg):
    dash = Dashboard(smoke_cfg, LiveConfig(**QUIET))
    assert dash.link.value  # gamma_p == gamma_n at the start
    dash.sliders["gamma_p"].value = 0.4
    assert dash.sliders["gamma_n"].value == 0.4
    assert dash.trainers["grpo"].controls.get("gamma_n") == 0.4
    dash.link.value = False
    dash.sliders["gamma_p"].value = 0.9
    assert dash.trainers["grpo"].controls.get("gamma_n") == 0.4


def test_pause_holds_the_thread_resume_continues_and_stop_ends_with_a_checkpoint(smoke_cfg):
    dash = Dashboard(replace(smoke_cfg, steps=200), LiveConfig(**QUIET))
    trainer = dash.trainers["grpo"]
    dash.pause()
    dash.start()
    time.sleep(0.5)
    assert dash.run.alive and trainer.step == 0 and dash.run.state == "paused"
    assert dash.buttons["resume"].disabled is False and dash.buttons["pause"].disabled is True
    dash.resume()
    wait_until(lambda: trainer.step >= 1)
    dash.stop()
    dash.wait(60)
    assert dash.run.state == "stopped" and 1 <= trainer.step < 200
    assert any(e["event"] == "stopped" for e in trainer.run.read("events"))
    assert trainer.run.latest_checkpoint().name == f"step_{trainer.step:06d}"
    assert all(b.disabled for b in dash.buttons.values())


def test_a_scheduled_change_moves_the_slider_and_applies_after_that_step(smoke_cfg):
    dash = Dashboard(replace(smoke_cfg, steps=3), LiveConfig(link_gammas=False, **QUIET))
    dash.at(1, gamma_p=1.0)
    dash.start()
    dash.wait(120)
    assert [r["ds/gamma_p"] for r in dash.trainers["grpo"].run.read("metrics")] == [0.0, 1.0, 1.0]
    assert dash.sliders["gamma_p"].value == 1.0 and dash.sliders["gamma_n"].value == 0.0


def test_hold_keeps_training_at_a_step_boundary_while_the_block_runs(smoke_cfg):
    dash = Dashboard(replace(smoke_cfg, steps=200), LiveConfig(**QUIET))
    trainer = dash.trainers["grpo"]
    dash.start()
    wait_until(lambda: trainer.step >= 1)
    with dash.hold():
        held = trainer.step
        weights = [p.detach().clone() for p in trainer.policy.trainable_parameters()]
        time.sleep(0.5)
        assert trainer.step == held
        assert all((p == w).all() for p, w in zip(trainer.policy.trainable_parameters(), weights))
    wait_until(lambda: trainer.step > held)
    dash.stop()
    dash.wait(60)


def test_an_exception_in_the_training_thread_shows_in_the_error_box(smoke_cfg):
    dash = Dashboard(smoke_cfg, LiveConfig(**QUIET))

    def broken_step():
        raise ValueError("reward server unreachable")

    dash.trainers["grpo"].train_step = broken_step
    dash.start()
    with pytest.raises(RuntimeError, match="reward server unreachable"):
        dash.wait(60)
    assert dash.run.state == "error"
    assert "Traceback" in dash.errors.value and "reward server unreachable" in dash.errors.value


def test_a_failing_view_is_reported_but_never_stops_training(smoke_cfg, capsys):
    run = LiveRun(replace(smoke_cfg, steps=2), LiveConfig(**QUIET))

    def broken_view(event):
        raise KeyError("plot trace")

    run.listeners.append(broken_view)
    run.start()
    run.wait(60)
    assert run.state == "finished" and run.trainers["grpo"].step == 2
    assert "failed to draw" in capsys.readouterr().err


def test_running_the_cell_again_attaches_instead_of_starting_a_second_trainer(smoke_cfg):
    first = live(smoke_cfg, **QUIET)
    first.pause()
    first.start()
    try:
        assert live(smoke_cfg, **QUIET) is first
        with pytest.raises(RuntimeError, match="already training"):
            Dashboard(smoke_cfg, LiveConfig(**QUIET))
    finally:
        first.stop()
        first.wait(60)
    again = live(smoke_cfg, **QUIET)  # finished: a re-run continues the run
    assert again is not first and again.trainers["grpo"].step == first.trainers["grpo"].step


def test_the_training_thread_runs_in_the_context_of_the_cell_that_started_it(smoke_cfg):
    """ipykernel 7 sends a thread's prints to the cell whose context the thread runs in."""
    cell = contextvars.ContextVar("cell")
    cell.set("cell 3")
    run = LiveRun(smoke_cfg, LiveConfig(**QUIET))
    seen = []
    run.listeners.append(lambda event: seen.append(cell.get(None)))
    run.start()
    run.wait(60)
    assert seen and set(seen) == {"cell 3"}


def test_compare_runs_coincide_exactly_while_gamma_is_zero(smoke_cfg):
    """Same prompts, same LoRA init and the same sampling seed per step: identical runs."""
    dash = Dashboard(replace(smoke_cfg, steps=2), LiveConfig(compare=True, **QUIET))
    dash.start()
    dash.wait(120)
    grpo, ds = (dash.trainers[n].run.read("metrics") for n in ("grpo", "ds"))
    drop = {"time/step_s"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in grpo] == [
        {k: v for k, v in r.items() if k not in drop} for r in ds
    ]
    assert "grpo" in dash.samples.value and "ds" in dash.samples.value


def test_the_mini_evaluation_draws_pass_at_k_and_never_changes_the_training_run(smoke_cfg, tmp_path):
    runs = {}
    for every in (0, 1):
        cfg = replace(smoke_cfg, steps=2, run_dir=str(tmp_path / f"eval{every}"))
        dash = Dashboard(
            cfg, LiveConfig(eval_every=every, eval_problems=2, eval_n=4, autostart=False, backend="static")
        )
        dash.start()
        dash.wait(120)
        runs[every] = dash
    rows = [[r["reward/mean"] for r in d.trainers["grpo"].run.read("metrics")] for d in runs.values()]
    assert rows[0] == rows[1]  # evaluating set its RNG aside
    curve = runs[1].run.evals["grpo"]
    assert curve[0] == 2 and len(curve[1]) == 4 and len(runs[1].run.base_curve) == 4
    assert all(0 <= a <= b <= 1 for a, b in zip(curve[1], curve[1][1:]))  # pass@k rises with k
