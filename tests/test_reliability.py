"""Run directories you can trust: every probe of issue 12, re-run. Each fault ends in one clear
message, loses no row and duplicates none; interrupted runs resume to the uninterrupted result.

Tiers: (1) small direct cases (validation, graders, locks); (2) the same run two ways
(interrupted + resumed vs uninterrupted: metrics rows and LoRA weights must be equal); (3)
real processes (two trainers on one directory, SIGINT and SIGKILL from outside, the CLI).
Runs use the tiny model fixture and 2-8 steps.
"""

import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from dsnb.rl.errors import (
    CheckpointError,
    NoRunError,
    RunDirError,
    RunExistsError,
    RunLockedError,
    TrainingHalted,
)
from dsnb.rl.loss import LossConfig
from dsnb.rl.policy import PolicyConfig
from dsnb.rl.rundir import RunDir
from dsnb.rl.trainer import TrainConfig, Trainer
from dsnb.tasks import countdown
from dsnb.tasks.registry import Problem, get_task, grade
from dsnb.tasks.rewards import gsm8k_correct

ROOT = Path(__file__).resolve().parents[1]
ENV = {
    **os.environ,
    "PYTHONPATH": str(ROOT),
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "TOKENIZERS_PARALLELISM": "false",
}


def rows_without_time(run_dir, name="metrics"):
    return [
        {k: v for k, v in r.items() if k != "time/step_s"} for r in RunDir(run_dir, create=False).read(name)
    ]


def final_adapter(run_dir):
    from safetensors.torch import load_file

    ckpt = RunDir(run_dir, create=False).latest_checkpoint()
    return load_file(str(ckpt / "adapter_model.safetensors"))


def same_weights(a, b):
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def stop_after(step):
    def cb(row, trainer):
        if row["step"] == step:
            trainer.controls.stop()

    return cb


# ================================================================== 1. graders never crash a run
def test_gsm8k_grading_of_division_by_zero_and_malformed_messages_is_a_wrong_answer():
    task = get_task("gsm8k")
    problems = [Problem("q", {"answer": "5"})]
    texts = ["5/0", "\\frac{1}{0}", "0/0", "\\boxed{3/0}"]
    assert grade(task, problems, texts, group_size=4).rewards == [0.0] * 4
    messages = [[{"role": "assistant", "content": None}], [{"role": "assistant", "content": [{"text": 5}]}]]
    assert gsm8k_correct(["q"] * 2, messages, answer=["5", "5"]) == [0.0, 0.0]


def test_countdown_decimal_hack_scores_only_under_the_tinyzero_switch(smoke_cfg, tmp_path):
    assert countdown.score("<answer>5*8.6</answer>", [6, 5, 8], 43) == 0.1
    assert countdown.score("<answer>5*8.6</answer>", [6, 5, 8], 43, tinyzero_compat=True) == 1.0
    cols = {"nums": [6, 5, 8], "target": 43}
    for compat, want in ((False, 0.1), (True, 1.0)):
        task = get_task("countdown3", tinyzero_compat=compat)
        assert grade(task, [Problem("p", cols)], ["<answer>5*8.6</answer>"], 1).rewards == [want]
    with pytest.raises(ValueError, match="Countdown switch"):
        TrainConfig(task="gsm8k", tinyzero_compat=True)
    cfg = replace(smoke_cfg, run_dir=str(tmp_path / "tz"), tinyzero_compat=True)
    with Trainer(cfg, progress=False) as tr:
        assert tr.task.reward_fn.__name__ == "countdown_reward_tinyzero"


# ================================================================== 2. the directory is the run
def test_a_moved_run_resumes_where_it_is_now_and_never_recreates_the_old_path(smoke_cfg, tmp_path):
    a, b = tmp_path / "A", tmp_path / "B"
    cfg = replace(smoke_cfg, run_dir=str(a), steps=4, checkpoint_every=2)
    tr = Trainer(cfg, callbacks=[stop_after(2)], progress=False)
    tr.train()
    tr.close()
    assert "run_dir" not in json.loads((a / "config.json").read_text())  # nothing path-like stored
    shutil.move(a, b)
    res = Trainer.resume(b, progress=False)
    assert res.step == 2
    res.train()
    assert not a.exists()
    assert [r["step"] for r in RunDir(b).read("metrics")] == [1, 2, 3, 4]
    res.close()
    c = tmp_path / "C"
    shutil.copytree(b, c)
    with Trainer.resume(c, progress=False, steps=5) as again:
        again.train()
    assert [r["step"] for r in RunDir(c).read("metrics")] == [1, 2, 3, 4, 5]
    assert [r["step"] for r in RunDir(b).read("metrics")] == [1, 2, 3, 4]  # the original is untouched


def test_training_into_a_run_refuses_unless_resume_or_overwrite(smoke_cfg):
    cfg = replace(smoke_cfg, steps=2)
    with Trainer(cfg, progress=False) as tr:
        tr.train()
    with pytest.raises(RunExistsError, match="resume=True"):
        Trainer(cfg, progress=False)
    with Trainer(replace(cfg, steps=3), progress=False, resume=True) as tr:
        assert tr.step == 2
        tr.train()
    assert [r["step"] for r in RunDir(cfg.run_dir).read("metrics")] == [1, 2, 3]
    with Trainer(cfg, progress=False, overwrite=True) as tr:
        tr.train()
    assert [r["step"] for r in RunDir(cfg.run_dir).read("metrics")] == [1, 2]  # once, from a clean start
    with pytest.raises(ValueError, match="choose one"):
        Trainer(cfg, progress=False, resume=True, overwrite=True)


def test_one_trainer_per_directory_in_one_process_the_newer_takes_over_an_idle_one(smoke_cfg):
    old = Trainer(replace(smoke_cfg, steps=3), progress=False)
    old.train_step()
    new = Trainer(replace(smoke_cfg, steps=3), progress=False, resume=True)  # e.g. a cell run twice
    with pytest.raises(RunLockedError, match="newer Trainer"):
        old.train_step()
    new.train()
    assert [r["step"] for r in new.run.read("metrics")] == [1, 2, 3]
    new.close()
    with pytest.raises(RunLockedError):
        new.train_step()  # a closed trainer writes nothing


def test_a_stale_lock_of_a_dead_process_is_taken_over_with_a_message(smoke_cfg, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    run = Path(smoke_cfg.run_dir)
    run.mkdir(parents=True)
    lock = {"pid": dead.pid, "host": socket.gethostname(), "started": time.time() - 60, "token": "x"}
    (run / "LOCK").write_text(json.dumps(lock))
    with Trainer(smoke_cfg, progress=False):
        assert json.loads((run / "LOCK").read_text())["pid"] == os.getpid()
    assert "taking over the lock" in capsys.readouterr().err
    assert not (run / "LOCK").exists()  # released on close


def test_a_lock_held_by_a_live_process_refuses_with_its_pid(smoke_cfg):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        run = Path(smoke_cfg.run_dir)
        run.mkdir(parents=True)
        lock = {"pid": sleeper.pid, "host": socket.gethostname(), "started": time.time(), "token": "x"}
        (run / "LOCK").write_text(json.dumps(lock))
        with pytest.raises(RunLockedError, match=f"pid {sleeper.pid}"):
            Trainer(smoke_cfg, progress=False)
        assert not (run / "config.json").exists()
    finally:
        sleeper.kill()
        sleeper.wait()


CHILD = textwrap.dedent(
    """
    import json, os, signal, sys
    import torch
    torch.set_num_threads(1)
    from dsnb.rl.policy import PolicyConfig
    from dsnb.rl.trainer import TrainConfig, Trainer

    mode, run_dir, model = sys.argv[1], sys.argv[2], sys.argv[3]
    cfg = TrainConfig.smoke(run_dir=run_dir, steps=STEPS, checkpoint_every=3,
                            policy=PolicyConfig(model=model, lora_r=4, lora_alpha=8))
    if mode == "resume":
        tr = Trainer.resume(run_dir, progress=False)
    else:
        tr = Trainer(cfg, progress=False)
    if mode.startswith("selfint"):  # N Ctrl-C presses in the middle of step K (while sampling)
        k, n = map(int, mode.split(":")[1:])
        real, calls = tr.policy.sample, [0]
        def sample(*a, **kw):
            calls[0] += 1
            if calls[0] == k:
                for _ in range(n):
                    os.kill(os.getpid(), signal.SIGINT)
            return real(*a, **kw)
        tr.policy.sample = sample
    if mode == "slow":  # the parent sends a signal at a random moment
        real_sample = tr.policy.sample
        def sample(*a, **kw):
            import time; time.sleep(0.05)
            return real_sample(*a, **kw)
        tr.policy.sample = sample
    try:
        tr.train()
    except KeyboardInterrupt:
        print("INTERRUPTED", tr.step, flush=True)
        if mode.startswith("selfint"):
            tr.close()
            tr = Trainer.resume(run_dir, progress=False)  # continue in this process
            tr.train()
        else:
            sys.exit(130)
    print("DONE", tr.step, flush=True)
    """
).replace("STEPS", "8")


def child(mode, run_dir, model, **kw):
    return subprocess.Popen(
        [sys.executable, "-c", CHILD, mode, str(run_dir), model],
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


@pytest.fixture(scope="module")
def reference_run(tiny_model_dir, tmp_path_factory):
    """The uninterrupted 8-step run, in its own process (one torch thread: bit-exact)."""
    run = tmp_path_factory.mktemp("ref") / "run"
    p = child("full", run, tiny_model_dir)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    return run


def test_two_processes_on_one_directory_one_trains_the_other_is_refused(
    tiny_model_dir, tmp_path, reference_run
):
    run = tmp_path / "run"
    first = child("slow", run, tiny_model_dir)
    deadline = time.time() + 120
    while not (run / "config.json").exists():
        assert time.time() < deadline and first.poll() is None
        time.sleep(0.05)
    second = child("full", run, tiny_model_dir)
    out2, err2 = second.communicate(timeout=600)
    out1, err1 = first.communicate(timeout=600)
    assert first.returncode == 0, err1
    assert second.returncode != 0 and ("RunLockedError" in err2 or "RunExistsError" in err2), err2
    assert [r["step"] for r in RunDir(run).read("metrics")] == list(range(1, 9))  # each step once
    assert rows_without_time(run) == rows_without_time(reference_run)


# ================================================================== 3. resume and SIGINT
def test_resume_refuses_a_changed_world_with_one_message(smoke_cfg):
    cfg = replace(smoke_cfg, steps=2)
    with Trainer(cfg, progress=False) as tr:
        tr.train()
    for over, name in (
        ({"task": "countdown4"}, "task"),
        ({"seed": 1}, "seed"),
        ({"template": "plain"}, "template"),
        ({"loss": {"group_size": 8}}, "loss.group_size"),
        ({"policy": {"lora_r": 8}}, "policy.lora_r"),
        ({"policy": {"model": "nano"}}, "policy.model"),
    ):
        with pytest.raises(ValueError, match=f"cannot resume .*{name.replace('.', '[.]')}"):
            Trainer.resume(cfg.run_dir, progress=False, **over)
    assert json.loads((Path(cfg.run_dir) / "config.json").read_text())["seed"] == cfg.seed  # unchanged
    with pytest.raises(ValueError, match="cannot resume"):
        Trainer(replace(cfg, seed=3), progress=False, resume=True)


def test_allowed_resume_overrides_reach_config_json_the_event_log_and_the_run(smoke_cfg):
    cfg = replace(smoke_cfg, steps=2)
    with Trainer(cfg, progress=False) as tr:
        tr.train()
    with Trainer.resume(cfg.run_dir, progress=False, steps=4, gamma_p=0.5, lr=2e-3) as tr:
        rows = tr.train()
    stored = json.loads((Path(cfg.run_dir) / "config.json").read_text())
    assert stored["steps"] == 4 and stored["loss"]["gamma_p"] == 0.5 and stored["lr"] == 2e-3
    assert [r["ds/gamma_p"] for r in rows] == [0.5, 0.5] and rows[0]["lr"] == pytest.approx(2e-3)
    events = RunDir(cfg.run_dir).read("events")
    over = [e for e in events if e["event"] == "resume_overrides"]
    assert over and over[0]["changes"]["loss.gamma_p"] == [0.0, 0.5]
    assert {("gamma_p", 2, 0.5), ("lr", 2, 2e-3)} <= {
        (e["field"], e["step"], e["new"]) for e in events if e["event"] == "control"
    }


def test_a_failed_start_leaves_nothing_that_blocks_a_corrected_retry(smoke_cfg, tmp_path):
    broken = tmp_path / "broken_model"
    broken.mkdir()
    (broken / "config.json").write_text("{not json")  # passes the path check, fails to load
    bad = replace(smoke_cfg, policy=PolicyConfig(model=str(broken), lora_r=4, lora_alpha=8))
    with pytest.raises(Exception):  # noqa: B017 (whatever transformers raises)
        Trainer(bad, progress=False)
    run = Path(smoke_cfg.run_dir)
    assert not (run / "config.json").exists() and not (run / "LOCK").exists()
    with pytest.raises(NoRunError):
        Trainer.resume(run, progress=False)  # nothing to resume: says so
    with Trainer(smoke_cfg, progress=False) as tr:  # the corrected retry just works
        tr.train()
    assert json.loads((run / "config.json").read_text())["policy"]["model"] == smoke_cfg.policy.model


@pytest.mark.parametrize("mode", ["selfint:3:1", "selfint:3:2"], ids=["finish_step", "abandon_step"])
def test_sigint_mid_step_then_resume_reproduces_the_uninterrupted_run(
    mode, tiny_model_dir, tmp_path, reference_run
):
    """One Ctrl-C during step 3 finishes step 3; two abandon it (back to step 2). Either way the
    resumed run's metrics rows and LoRA weights equal the uninterrupted run's exactly."""
    run = tmp_path / "run"
    p = child(mode, run, tiny_model_dir)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    stopped_at = int(out.split("INTERRUPTED")[1].split()[0])
    assert stopped_at == (3 if mode.endswith(":1") else 2)
    assert "DONE 8" in out
    assert rows_without_time(run) == rows_without_time(reference_run)
    assert same_weights(final_adapter(run), final_adapter(reference_run))
    assert rows_without_time(run, "samples") == rows_without_time(reference_run, "samples")


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGKILL], ids=["sigint", "sigkill"])
def test_a_signal_at_a_random_moment_then_resume_reproduces_the_uninterrupted_run(
    sig, tiny_model_dir, tmp_path, reference_run
):
    run = tmp_path / "run"
    p = child("slow", run, tiny_model_dir)
    deadline = time.time() + 300
    while len(RunDir(run, create=False).read("metrics")) < 1 if (run / "metrics.jsonl").exists() else True:
        assert time.time() < deadline and p.poll() is None
        time.sleep(0.02)
    time.sleep(random.Random(int(sig)).uniform(0.0, 0.4))
    p.send_signal(sig)
    out, err = p.communicate(timeout=600)
    assert p.returncode in ((130,) if sig == signal.SIGINT else (-9,)), (p.returncode, err[-2000:])
    r = child("resume", run, tiny_model_dir)
    out, err = r.communicate(timeout=600)
    assert r.returncode == 0, err
    assert [x["step"] for x in RunDir(run).read("metrics")] == list(range(1, 9))
    assert rows_without_time(run) == rows_without_time(reference_run)
    assert same_weights(final_adapter(run), final_adapter(reference_run))


# ================================================================== 4. checkpoints
def _run_with_checkpoints(cfg):
    """4 steps, checkpoints at 2 and 4; returns (run dir, metrics rows of the full run)."""
    with Trainer(replace(cfg, steps=4, checkpoint_every=2), progress=False) as tr:
        tr.train()
        return Path(cfg.run_dir), rows_without_time(cfg.run_dir)


def _truncate(f):
    f.write_bytes(f.read_bytes()[: f.stat().st_size // 2])


def _garbage(f):
    data = bytearray(f.read_bytes())
    data[-4096:] = os.urandom(min(4096, len(data)))
    f.write_bytes(bytes(data))


CORRUPTIONS = {
    "truncated_adapter": lambda c: _truncate(c / "adapter_model.safetensors"),
    "empty_adapter": lambda c: (c / "adapter_model.safetensors").write_bytes(b""),
    "missing_adapter": lambda c: (c / "adapter_model.safetensors").unlink(),
    "half_state": lambda c: _truncate(c / "trainer_state.pt"),
    "garbage_in_adapter": lambda c: _garbage(c / "adapter_model.safetensors"),
}


@pytest.mark.parametrize("how", list(CORRUPTIONS))
def test_a_bad_newest_checkpoint_is_reported_and_the_newest_good_one_used(how, smoke_cfg, capsys):
    run, full_rows = _run_with_checkpoints(smoke_cfg)
    newest = RunDir(run).checkpoints()[-1]
    CORRUPTIONS[how](newest)
    with Trainer.resume(run, progress=False) as tr:
        err = capsys.readouterr().err
        assert newest.name in err and "unusable" in err  # which one, and why
        assert tr.step == 2
        tr.train()
    assert rows_without_time(run) == full_rows  # steps 3-4 redone identically, none doubled
    events = RunDir(run).read("events")
    assert any(e["event"] == "checkpoint_rejected" and e["checkpoint"] == newest.name for e in events)
    assert (run / "checkpoints" / "rejected").exists()


def test_no_usable_checkpoint_is_one_error_naming_each_and_why(smoke_cfg):
    run, _ = _run_with_checkpoints(smoke_cfg)
    for ckpt in RunDir(run).checkpoints():
        (ckpt / "trainer_state.pt").write_bytes(b"")
    with pytest.raises(CheckpointError, match="step_000002: trainer_state.pt is empty.*overwrite=True"):
        Trainer.resume(run, progress=False)
    assert len(RunDir(run).checkpoints()) == 2  # nothing moved or lost by the failed attempt


def test_a_checkpoint_that_would_run_code_on_load_is_refused(smoke_cfg, tmp_path):
    run, _ = _run_with_checkpoints(smoke_cfg)
    marker = tmp_path / "pwned"

    class Exploit:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    newest = RunDir(run).checkpoints()[-1]
    state = torch.load(newest / "trainer_state.pt", weights_only=True)
    state["extra"] = Exploit()
    torch.save(state, newest / "trainer_state.pt")
    done = json.loads((newest / "DONE").read_text())  # a forger would fix the checksum too
    from dsnb.rl.rundir import sha256

    done["files"]["trainer_state.pt"] = sha256(newest / "trainer_state.pt")
    (newest / "DONE").write_text(json.dumps(done))
    with Trainer.resume(run, progress=False) as tr:
        assert tr.step == 2  # the forged checkpoint was rejected, the older one used
    assert not marker.exists()


def test_resuming_trims_every_log_and_moves_a_torn_line_aside_naming_the_file(smoke_cfg, capsys):
    cfg = replace(smoke_cfg, steps=4, checkpoint_every=2)
    with Trainer(cfg, progress=False, callbacks=[stop_after(3)]) as tr:
        tr.train()  # stops after step 3: its checkpoint covers 3
    full = rows_without_time(cfg.run_dir)
    run = RunDir(cfg.run_dir)
    run.append("evaluations", {"step": 3, "pass@1": 0.5})  # a log written after the checkpoint
    with open(run.path / "metrics.jsonl", "a") as f:
        f.write('{"step": 4, "reward/mean": 0.2')  # torn: the writer died mid-line
    with open(run.path / "samples.jsonl", "a") as f:
        f.write('{"step": 4, "prompt": "3 4')
    with Trainer.resume(cfg.run_dir, progress=False) as tr:
        err = capsys.readouterr().err
        assert "metrics.jsonl had" in err and "torn last line" in err and "metrics.discarded.jsonl" in err
        assert tr.step == 3
        tr.train()
    assert [r["step"] for r in run.read("metrics")] == [1, 2, 3, 4]
    assert rows_without_time(cfg.run_dir)[:3] == full
    assert run.read("metrics.discarded") == [{"torn_line": '{"step": 4, "reward/mean": 0.2'}]
    assert run.read("evaluations") == [] and run.read("evaluations.discarded")[0]["pass@1"] == 0.5
    assert all(json.loads(line) for line in (run.path / "samples.jsonl").read_text().splitlines())


# ================================================================== 5. validation and halting
@pytest.mark.parametrize(
    "kw, field",
    [
        (dict(steps="30"), "steps must be an integer"),
        (dict(steps=float("nan")), "steps must be an integer"),
        (dict(steps=True), "steps must be an integer"),
        (dict(lr=float("nan")), "lr must be a finite number"),
        (dict(lr="1e-3"), "lr must be a number"),
        (dict(temperature=float("nan")), "temperature must be a finite"),
        (dict(grad_clip=-1.0), "grad_clip must be >= 0"),
        (dict(top_p=0.0), "top_p must be in"),
        (dict(seed=-1), "seed must be in"),
        (dict(template="bogus"), "template='bogus' is not one of"),
        (
            dict(loss=LossConfig(group_size=4, gamma_p=0.0)) | dict(loss={"gamma_p": float("nan")}),
            "gamma_p must",
        ),
        (dict(loss={"gamma_p": float("inf")}), "gamma_p must be a finite"),
        (dict(loss={"entropy_coef": float("nan")}), "entropy_coef must be a finite"),
        (dict(loss={"bogus": 1}), "unknown LossConfig fields"),
        (dict(policy={"lora_alpha": 0}), "lora_alpha must be > 0"),
        (dict(policy={"lora_r": "4"}), "lora_r must be an integer"),
        (dict(policy={"device": "gpu"}), "not a device torch knows"),
        (dict(tinyzero_compat="yes"), "tinyzero_compat must be True or False"),
    ],
)
def test_bad_values_are_rejected_by_the_config_naming_the_field(kw, field, tmp_path):
    with pytest.raises(ValueError, match=field):
        TrainConfig(run_dir=str(tmp_path / "r"), **kw)
    assert not (tmp_path / "r").exists()


def test_a_missing_model_or_device_fails_before_any_model_loads(smoke_cfg, tmp_path):
    for policy, msg in (
        (PolicyConfig(model=str(tmp_path / "nowhere")), "no such model directory"),
        (PolicyConfig(model=str(tmp_path)), "holds no config.json"),
        (PolicyConfig(model="runs_that_exist/x"), None),  # a hub id: allowed
    ):
        cfg = replace(smoke_cfg, policy=policy)
        if msg is None:
            from dsnb.rl.policy import check_model

            check_model(policy.model)
            continue
        with pytest.raises(ValueError, match=msg):
            Trainer(cfg, progress=False)
        assert not Path(cfg.run_dir).exists()  # refused before the run directory was touched
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="no CUDA GPU"):
            Trainer(replace(smoke_cfg, policy=replace(smoke_cfg.policy, device="cuda")), progress=False)


def test_nan_rewards_stop_the_run_with_an_error_after_a_checkpoint(smoke_cfg):
    tr = Trainer(replace(smoke_cfg, steps=4), progress=False)
    tr.train_step()
    real = tr.task.reward_fn
    tr.task.reward_fn = lambda prompts, completions, **kw: (
        [float("nan")] + real(prompts, completions, **kw)[1:]
    )
    with pytest.raises(TrainingHalted, match="returned nan"):
        tr.train()
    assert tr.step == 1 and RunDir(tr.run.path).latest_checkpoint().name == "step_000001"
    tr.close()
    with Trainer.resume(tr.run.path, progress=False) as again:  # fixed reward: continues cleanly
        again.train()
    assert [r["step"] for r in RunDir(tr.run.path).read("metrics")] == [1, 2, 3, 4]


def test_three_non_finite_steps_in_a_row_stop_the_run_with_an_error_after_a_checkpoint(smoke_cfg):
    tr = Trainer(replace(smoke_cfg, steps=8), progress=False)
    real = tr.policy.token_logp

    def nan_when_training(*a, **kw):
        out = real(*a, **kw)
        return (out[0] * float("nan"), out[1]) if kw.get("grad") else out

    tr.policy.token_logp = nan_when_training
    with pytest.raises(TrainingHalted, match="3 steps in a row"):
        tr.train()
    assert tr.step == 3 and RunDir(tr.run.path).latest_checkpoint().name == "step_000003"
    assert [e["event"] for e in tr.run.read("events")].count("skipped_nonfinite_loss") == 3
    tr.close()


def test_the_dashboard_saves_a_checkpoint_when_its_training_thread_fails(smoke_cfg):
    from dsnb.dashboard.run import LiveConfig, LiveRun

    run = LiveRun(
        replace(smoke_cfg, steps=4, checkpoint_every=10), LiveConfig(eval_every=0, backend="static")
    )
    tr = run.trainers["grpo"]
    real = tr.task.reward_fn

    def flaky(prompts, completions, **kw):
        if tr.step == 2:
            raise ConnectionError("reward server unreachable")
        return real(prompts, completions, **kw)

    tr.task.reward_fn = flaky
    run.start()
    with pytest.raises(RuntimeError, match="reward server unreachable"):
        run.wait(120)
    assert RunDir(tr.run.path).latest_checkpoint().name == "step_000002"  # the 2 steps are kept
    tr.close()


# ================================================================== 6. the CLI: one line, no traceback
def dsnb(*args, cwd):
    return subprocess.run(
        [sys.executable, "-m", "dsnb", *args], cwd=cwd, env=ENV, capture_output=True, text=True, timeout=600
    )


def _one_line_error(p, pattern):
    assert p.returncode == 2, (p.returncode, p.stderr[-3000:])
    assert "Traceback" not in p.stderr and p.stderr.strip().startswith("dsnb: error:"), p.stderr
    assert pattern in p.stderr, p.stderr


def test_cli_bad_values_missing_runs_and_impossible_directories_end_in_one_line(tmp_path):
    _one_line_error(
        dsnb("train", "--gamma-p", "nan", "--run-dir", "r", cwd=tmp_path), "gamma_p must be a finite"
    )
    assert not (tmp_path / "r").exists()
    _one_line_error(dsnb("resume", "nowhere", cwd=tmp_path), "nowhere does not exist")
    _one_line_error(
        dsnb("train", "--preset", "smoke", "--run-dir", "/proc/dsnb/r", cwd=tmp_path), "/proc/dsnb/r"
    )


def test_cli_train_twice_refuses_then_resumes_or_overwrites(tmp_path):
    args = ("train", "--preset", "smoke", "--steps", "2", "--run-dir", "r")
    assert dsnb(*args, cwd=tmp_path).returncode == 0
    _one_line_error(dsnb(*args, cwd=tmp_path), "already holds a run")
    p = dsnb("train", "--resume", "--steps", "3", "--run-dir", "r", cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    assert [r["step"] for r in RunDir(tmp_path / "r").read("metrics")] == [1, 2, 3]
    _one_line_error(dsnb("train", "--resume", "--seed", "5", "--run-dir", "r", cwd=tmp_path), "cannot resume")
    assert dsnb(*args, "--overwrite", cwd=tmp_path).returncode == 0
    assert [r["step"] for r in RunDir(tmp_path / "r").read("metrics")] == [1, 2]


def _unwritable(path: Path) -> bool:
    try:
        (path / ".probe").write_text("")
    except OSError:
        return True
    (path / ".probe").unlink()
    return False


@pytest.mark.skipif(
    not Path("/sys/fs").is_dir() or not _unwritable(Path("/sys/fs")), reason="needs Linux sysfs"
)
def test_cli_read_only_run_directory_is_one_clear_line(tmp_path):
    """/sys/fs: a directory no one may write, root included (chmod does not stop root)."""
    p = dsnb("train", "--preset", "smoke", "--run-dir", "/sys/fs", cwd=tmp_path)
    _one_line_error(p, "cannot write in the run directory /sys/fs")


@pytest.mark.skipif(not hasattr(os, "getuid") or os.getuid() == 0, reason="root ignores file permissions")
def test_resuming_a_read_only_copy_of_a_run_is_one_clear_error(smoke_cfg):
    with Trainer(replace(smoke_cfg, steps=2), progress=False) as tr:
        tr.train()
    run = Path(smoke_cfg.run_dir)
    run.chmod(0o555)
    try:
        with pytest.raises(RunDirError, match="cannot write in the run directory"):
            Trainer.resume(run, progress=False, steps=3)
    finally:
        run.chmod(0o755)


def test_a_run_of_older_dsnb_still_resumes_and_a_killed_save_leaves_no_junk(smoke_cfg):
    """Older run directories: run_dir inside config.json, DONE holding just the step, no log sizes.
    They resume (trimmed by step), and leftovers of a save killed halfway are removed."""
    cfg = replace(smoke_cfg, steps=4, checkpoint_every=2)
    with Trainer(cfg, progress=False, callbacks=[stop_after(2)]) as tr:
        tr.train()
    run = RunDir(cfg.run_dir)
    stored = json.loads((run.path / "config.json").read_text())
    (run.path / "config.json").write_text(json.dumps({**stored, "run_dir": "/somewhere/else"}))
    ckpt = run.checkpoints()[-1]
    (ckpt / "DONE").write_text("2")  # the old marker
    run.append("metrics", {"step": 3, "reward/mean": -1.0})  # a crash after step 3
    (run.ckpt_root / ".step_000004.deadbeef.tmp").mkdir()  # a save killed halfway
    with Trainer.resume(cfg.run_dir, progress=False) as tr:
        assert tr.step == 2
        tr.train()
    assert [r["step"] for r in run.read("metrics")] == [1, 2, 3, 4]
    assert run.read("metrics.discarded")[0]["reward/mean"] == -1.0
    assert not list(run.ckpt_root.glob(".step_*")) and not Path("/somewhere/else").exists()


def test_an_unreadable_old_lock_file_is_taken_over(smoke_cfg, capsys):
    run = Path(smoke_cfg.run_dir)
    run.mkdir(parents=True)
    (run / "LOCK").write_text("")
    old = time.time() - 60
    os.utime(run / "LOCK", (old, old))
    with Trainer(smoke_cfg, progress=False):
        pass
    assert "lock file is unreadable" in capsys.readouterr().err
