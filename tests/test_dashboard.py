"""The live dashboard, driven headless from Python: sliders reach the trainer at the next step
and are logged, pause/resume/stop work, errors surface, a second start is refused, compare mode
really uses the same prompts and seeds, and the mini-evaluation never perturbs training."""

import contextvars
import threading
import time
from dataclasses import replace

import pytest

from dsnb.dashboard import Dashboard, live
from dsnb.dashboard.history import Group
from dsnb.dashboard.plots import FigurePane, choose_plot_backend, training_figure
from dsnb.dashboard.run import LiveConfig, LiveRun, run_configs
from dsnb.dashboard.views import group_html, samples_html
from dsnb.dashboard.widget import gamma_range
from dsnb.rl.loss import LossConfig

QUIET = dict(eval_every=0, autostart=False, backend="static")
QUIET_NO_EVAL = dict(autostart=False, backend="static")  # for settings that choose the evaluation


def wait_until(cond, timeout=60.0):
    end = time.time() + timeout
    while not cond():
        assert time.time() < end, "timed out"
        time.sleep(0.02)


# ------------------------------------------------------------------ pure pieces (tier 1)
def test_group_html_counts_duplicates_escapes_tags_and_flags_groups_without_gradient():
    texts = ["<answer>3+4</answer>"] * 3 + ["<answer>4+3</answer>"]
    page = group_html("ds", Group(7, "3 4=7:", texts, [1.0] * 4, [True] * 4, ["3+4"] * 3 + ["4+3"]))
    assert "×3" in page and "×1" in page
    assert "<answer>" not in page and "&lt;answer&gt;" in page  # shown as text, never as HTML
    assert "<b>2</b> distinct correct solutions" in page
    assert "no gradient" in page  # all four rewards equal
    mixed = group_html("grpo", Group(7, "p", ["a", "b"], [1.0, 0.0], [True, False], ["a", None]))
    assert "no gradient" not in mixed and "1/2 correct" in mixed and "step 7" in page
    part = group_html("grpo", Group(7, "p", ["a", "b"], [1.0, 1.0], [True, True], [None, None], of=16))
    assert "2/2 correct among the 2 of 16" in part and "distinct" not in part  # keys were not logged


def test_group_html_shows_the_most_frequent_completions_and_counts_the_rest():
    texts = [f"answer {i}" for i in range(10)] + ["answer 0"] * 3 + ["x" * 500] * 2
    page = group_html("grpo", Group(1, "p", texts, [0.0] * 15, [False] * 15, [None] * 15))
    assert page.index("answer 0") < page.index("answer 1") and "×4" in page and "×2" in page
    assert "3 more distinct completions (3 samples, 0 correct)" in page
    assert "x" * 100 in page and "x" * 200 not in page  # long texts keep their end


def test_samples_html_says_what_to_wait_for_before_the_first_step():
    assert "after the first step" in samples_html({})


def test_backend_is_static_unless_figurewidget_is_asked_for():
    assert choose_plot_backend("auto") == choose_plot_backend("static") == "static"
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


# ------------------------------------------------------------------ growing figures, status (tier 1)
def rows_upto(n, switch=3):
    return [
        {
            "step": s,
            "reward/mean": 0.5,
            "correct/mean": 0.4,
            "ds/gamma_p": float(s > switch),
            "ds/gamma_n": 0.0,
        }
        for s in range(1, n + 1)
    ]


def step_labels(layout, axis="xaxis"):
    """The step labels an axis draws: tick0, tick0 + dtick, ... up to the end of its range."""
    ax = layout[axis]
    assert ax.dtick is not None and ax.range is not None, "the step axis must be set explicitly"
    return list(range(int(ax.tick0 or 0), int(ax.range[1]) + 1, int(ax.dtick)))


def test_a_live_figure_grown_from_5_to_200_steps_keeps_a_few_evenly_spaced_step_labels():
    pane = FigurePane(training_figure({"grpo": rows_upto(5), "ds": rows_upto(5)}), backend="figurewidget")
    assert step_labels(pane.widget.layout) == [0, 1, 2, 3, 4, 5]  # few steps: every one labelled
    seen = {}
    for n in (10, 20, 60, 120, 200):
        rows = rows_upto(n)
        pane.update(training_figure({"grpo": rows, "ds": rows}))
        for axis in ("xaxis", "xaxis3", "xaxis6"):  # first and last panel of each row
            labels = step_labels(pane.widget.layout, axis)
            assert 3 <= len(labels) <= 7 and labels[-1] <= n <= labels[-1] + pane.widget.layout[axis].dtick
        seen[n] = pane.widget.layout.xaxis.dtick
        assert max(pane.widget.data[-1].x) == n  # the data grew with the axis
    assert seen == {10: 2, 20: 5, 60: 10, 120: 20, 200: 50}


def test_redrawing_a_pane_removes_markers_that_the_new_figure_does_not_have():
    pane = FigurePane(training_figure({"ds": rows_upto(5)}, changes=[(3.5, "γp 0 → 1")]), "figurewidget")
    assert len(pane.widget.layout.shapes) == 6  # one dotted line per panel
    pane.update(training_figure({"ds": rows_upto(6)}))
    assert len(pane.widget.layout.shapes) == 0


def test_the_passk_panel_has_a_k_axis_from_1_to_n_before_the_first_evaluation():
    from dsnb.dashboard.plots import live_passk_figure

    empty = live_passk_figure(None, {}, 20, names=["grpo", "ds"], n=16)
    assert list(empty.layout.xaxis.tickvals) == [1, 2, 4, 8, 16] and empty.layout.xaxis.type == "log"
    assert empty.layout.xaxis.range == pytest.approx((-0.05, 1.254), abs=1e-3)  # 1..16, not 1..1M
    assert any("first mini-evaluation" in a.text for a in empty.layout.annotations)
    full = live_passk_figure([0.2] * 16, {"grpo": (25, [0.3] * 16), "ds": (25, [0.4] * 16)}, 20, n=16)
    base, grpo, ds = full.data
    assert base.line.dash == "dash" and grpo.line.color != ds.line.color and len(ds.y) == 16
    assert not full.layout.annotations and "grpo at step 25" in full.layout.title.text


def test_status_shows_a_smoothed_speed_over_both_runs_and_the_time_left(smoke_cfg):
    run = LiveRun(replace(smoke_cfg, steps=100), LiveConfig(compare=True, eval_every=25, **QUIET_NO_EVAL))
    run.rows = {"grpo": [{"step": 1, "time/step_s": 1.0}], "ds": [{"step": 1, "time/step_s": 3.0}]}
    assert run.seconds_per_step() == 4.0  # before any round: both runs' logged steps, summed
    run._round_s.extend([3.0, 23.8, 3.2, 3.6, 3.4])  # one slow round among fast ones
    assert run.seconds_per_step() == pytest.approx(37.0 / 5)
    run._eval_s = 10.0
    assert run.eta_s() == pytest.approx(100 * 37.0 / 5 + 4 * 10.0)  # 100 rounds, evals at 25 .. 100
    from dsnb.dashboard.views import status_html

    line = status_html("running", {"grpo": 0, "ds": 0}, 100, run.seconds_per_step(), eta_s=run.eta_s())
    assert "7.40 s/step (both runs)" in line and "about 13 min 0 s left" in line


# ------------------------------------------------------------------ re-opening, stopping (tier 3)
def test_parameter_counts_come_from_the_constructor_not_from_a_model_mid_evaluation(smoke_cfg):
    live_cfg = LiveConfig(eval_every=1, eval_problems=2, eval_n=4, autostart=False, backend="static")
    dash = Dashboard(replace(smoke_cfg, steps=1), live_cfg)
    policy = dash.trainers["grpo"].policy
    counts = dash.parameters["grpo"]
    assert counts == policy.num_parameters() and counts[0] > 0
    during_base_eval = []

    def look(event):
        if event == "activity" and "mini-evaluation" in dash.run.activity and not during_base_eval:
            with policy.model.disable_adapter():  # what the base evaluation does to the model
                during_base_eval.append((policy.num_parameters()[0], dash.parameters["grpo"]))

    dash.run.listeners.append(look)
    dash.start()
    dash.wait(120)
    assert during_base_eval == [(0, counts)]  # the model said 0 then; the dashboard did not
    assert f"LoRA trains {counts[0]:,} of {counts[1]:,}" in dash.widget.children[0].value


def test_a_reopened_finished_run_redraws_metrics_evaluation_samples_and_markers(smoke_cfg):
    live_cfg = dict(compare=True, eval_every=2, eval_problems=2, eval_n=4, backend="figurewidget")
    cfg = replace(smoke_cfg, steps=4)
    first = Dashboard(cfg, LiveConfig(autostart=False, link_gammas=False, **live_cfg))
    first.at(2, gamma_p=0.5)
    first.start()
    first.wait(180)
    again = Dashboard(cfg, LiveConfig(**live_cfg))  # what re-running the cell does
    assert again.run.state == "finished" and not again.run.alive  # nothing left to train
    assert "complete at step 4" in again.status.value
    fig = again.curves.widget
    for i in range(1, 7):  # every panel has each run's smoothed line, with all 4 steps
        ax = "x" if i == 1 else f"x{i}"
        lines = [t for t in fig.data if t.xaxis == ax and t.showlegend is not None and t.opacity is None]
        assert {t.name for t in lines} >= {"grpo", "ds"} and all(list(t.x) == [1, 2, 3, 4] for t in lines)
    assert {s.x0 for s in fig.layout.shapes} == {2.5}  # the control marker: gamma_p 0 -> 0.5
    assert again.run.evals == first.run.evals and again.run.base_curve == first.run.base_curve
    assert {t.name: len(t.y) for t in again.passk.widget.data} == {"base": 4, "grpo": 4, "ds": 4}
    assert "at step 4" in again.passk.widget.layout.title.text
    groups = again.run.latest_groups()
    assert {g.step for g in groups.values()} == {4} and len({g.prompt for g in groups.values()}) == 1
    assert len(groups["ds"].texts) == cfg.group_size and "after the first step" not in again.samples.value
    assert groups["ds"].texts == first.run.latest_groups()["ds"].texts


def test_a_run_without_groups_log_shows_the_completions_samples_jsonl_kept(smoke_cfg):
    first = Dashboard(replace(smoke_cfg, steps=2, samples_per_step=3), LiveConfig(**QUIET))
    first.start()
    first.wait(120)
    (first.trainers["grpo"].run.path / "groups.jsonl").unlink()  # e.g. a run made by `dsnb demo`
    again = Dashboard(replace(smoke_cfg, steps=2), LiveConfig(**QUIET))
    group = again.run.latest_groups()["grpo"]
    assert group.step == 2 and group.of == 4 and len(group.texts) == 3
    assert "among the 3 of 4 completions the run logged" in again.samples.value


def test_a_crashed_run_reopens_at_its_checkpoint_without_later_evaluations_or_samples(smoke_cfg):
    cfg = replace(smoke_cfg, steps=4, checkpoint_every=2)
    live_cfg = LiveConfig(eval_every=1, eval_problems=2, eval_n=4, autostart=False, backend="static")
    first = Dashboard(cfg, live_cfg)
    first.start()
    first.wait(180)
    run = first.trainers["grpo"].run
    import shutil

    shutil.rmtree(run.latest_checkpoint())  # as if the process died between steps 2 and 4
    again = Dashboard(cfg, live_cfg)
    assert again.trainers["grpo"].step == 2
    assert [r["step"] for r in again.run.rows["grpo"]] == [1, 2]
    assert again.run.evals["grpo"][0] == 2 and again.run.latest_groups()["grpo"].step == 2
    again.start()
    again.wait(180)
    assert [r["step"] for r in run.read("metrics")] == [1, 2, 3, 4]
    assert again.run.latest_groups()["grpo"].step == 4 and again.run.evals["grpo"][0] == 4


def test_stop_during_the_mini_evaluation_abandons_it_after_the_chunk_in_progress(smoke_cfg, monkeypatch):
    import dsnb.dashboard.minieval as minieval

    live_cfg = LiveConfig(eval_every=1, eval_problems=4, eval_n=4, eval_chunk=4, **QUIET_NO_EVAL)
    dash = Dashboard(replace(smoke_cfg, steps=50), live_cfg)  # 4 chunks of one problem each
    calls, real = [], minieval.sample_and_grade

    def counting(*args, **kw):
        calls.append(dash.run.step)
        if dash.run.step == 1 and calls.count(1) == 2:
            dash.stop()  # Stop pressed while the 2nd of 4 chunks is sampled
        return real(*args, **kw)

    monkeypatch.setattr(minieval, "sample_and_grade", counting)
    dash.start()
    dash.wait(120)
    assert dash.run.state == "stopped" and dash.trainers["grpo"].step == 1
    assert calls.count(1) == 2  # the two chunks left were never sampled
    rows = dash.trainers["grpo"].run.read("evaluations")
    assert [r["step"] for r in rows] == [0, 0] and dash.run.evals["grpo"][0] == 0  # base + step 0 only
    assert "stopped" in dash.status.value and all(b.disabled for b in dash.buttons.values())


def test_compare_mode_stops_both_runs_at_the_same_step_and_shows_one_prompt(smoke_cfg):
    dash = Dashboard(replace(smoke_cfg, steps=50), LiveConfig(compare=True, **QUIET))

    def stop_after_grpos_second_step(row, tr):
        if row["step"] == 2:
            dash.stop()  # between GRPO's step 2 and DS's step 2

    dash.trainers["grpo"].callbacks.append(stop_after_grpos_second_step)
    dash.start()
    dash.wait(120)
    assert {n: tr.step for n, tr in dash.trainers.items()} == {"grpo": 2, "ds": 2}
    groups = dash.run.latest_groups()
    assert {g.step for g in groups.values()} == {2} and groups["grpo"].prompt == groups["ds"].prompt
    assert "grpo step 2/50 · ds step 2/50" in dash.status.value


def test_a_crash_checkpoints_every_run_and_the_continued_comparison_is_unchanged(smoke_cfg):
    cfg = replace(smoke_cfg, steps=4, checkpoint_every=100)
    dash = Dashboard(cfg, LiveConfig(compare=True, **QUIET))
    ds = dash.trainers["ds"]
    real_step = ds.train_step

    def fails_at_step_3():
        if ds.step == 2:
            raise RuntimeError("CUDA out of memory (simulated)")
        return real_step()

    ds.train_step = fails_at_step_3
    dash.start()
    with pytest.raises(RuntimeError, match="out of memory"):
        dash.wait(120)
    assert "Checkpoints saved (grpo at step 3, ds at step 2)" in dash.errors.value
    assert [tr.run.latest_checkpoint().name for tr in dash.trainers.values()] == [
        "step_000003",
        "step_000002",
    ]
    again = Dashboard(cfg, LiveConfig(compare=True, **QUIET))  # re-run the cell: catches DS up first
    again.start()
    again.wait(120)
    grpo, ds_rows = (again.trainers[n].run.read("metrics") for n in ("grpo", "ds"))
    assert [r["step"] for r in grpo] == [r["step"] for r in ds_rows] == [1, 2, 3, 4]
    drop = {"time/step_s"}
    assert [{k: v for k, v in r.items() if k not in drop} for r in grpo] == [
        {k: v for k, v in r.items() if k not in drop} for r in ds_rows
    ]  # gamma = 0: still identical runs, crash and resume included


def test_a_scheduled_change_for_a_step_already_passed_is_skipped(smoke_cfg, capsys):
    dash = Dashboard(replace(smoke_cfg, steps=2), LiveConfig(**QUIET))
    dash.start()
    dash.wait(120)
    again = Dashboard(replace(smoke_cfg, steps=4), LiveConfig(**QUIET))
    again.at(1, gamma_p=1.0)  # the notebook cell re-run: step 1 is long done
    assert "past step 1" in capsys.readouterr().out and again.run.schedule == []


def test_stop_in_the_middle_of_a_step_abandons_it_and_the_continued_run_is_unchanged(smoke_cfg, tmp_path):
    """Stop lands while step 3 samples (just after the prompt queue was reshuffled): the step
    is dropped at its next forward pass, and continuing gives exactly the uninterrupted run."""
    cfg = replace(smoke_cfg, steps=4, n_train_problems=8)  # 2 steps per epoch: step 3 reshuffles
    plain = Dashboard(replace(cfg, run_dir=str(tmp_path / "plain")), LiveConfig(**QUIET))
    plain.start()
    plain.wait(120)
    dash = Dashboard(cfg, LiveConfig(**QUIET))
    tr = dash.trainers["grpo"]
    real_sample = tr.policy.sample

    def sample_then_stop(*args, **kw):
        if tr.step == 2:
            dash.stop()  # pressed while step 3 is about to generate
        return real_sample(*args, **kw)

    tr.policy.sample = sample_then_stop
    dash.start()
    dash.wait(120)
    assert dash.run.state == "stopped" and tr.step == 2 and len(tr.run.read("metrics")) == 2
    again = Dashboard(cfg, LiveConfig(**QUIET))
    again.start()
    again.wait(120)
    drop = {"time/step_s"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in drop} for r in rows]  # noqa: E731
    assert strip(again.trainers["grpo"].run.read("metrics")) == strip(
        plain.trainers["grpo"].run.read("metrics")
    )


def test_stop_during_the_first_run_of_a_compare_round_stops_both_before_it(smoke_cfg):
    dash = Dashboard(replace(smoke_cfg, steps=50), LiveConfig(compare=True, **QUIET))
    grpo = dash.trainers["grpo"]
    real_sample = grpo.policy.sample

    def stop_in_grpos_third_step(*args, **kw):
        if grpo.step == 2:
            dash.stop()
        return real_sample(*args, **kw)

    grpo.policy.sample = stop_in_grpos_third_step
    dash.start()
    dash.wait(120)
    assert {n: tr.step for n, tr in dash.trainers.items()} == {"grpo": 2, "ds": 2}
