"""The trainer on a tiny real model: something real happens, nothing is lost, controls work."""

import json
import threading
from dataclasses import replace

import pytest
import torch

from dsnb.rl.advantages import compute_advantages, sequence_logp
from dsnb.rl.loss import LossConfig
from dsnb.rl.trainer import TrainConfig, Trainer
from dsnb.tasks.registry import Problem, Task, grade


def lora_and_base(trainer):
    lora = {n: p.detach().clone() for n, p in trainer.policy.model.named_parameters() if "lora_" in n}
    base = {n: p.detach().clone() for n, p in trainer.policy.model.named_parameters() if "lora_" not in n}
    return lora, base


def test_training_changes_lora_weights_and_never_the_base(smoke_cfg):
    cfg = replace(smoke_cfg, loss=LossConfig(group_size=4, gamma_p=1.0))
    trainer = Trainer(cfg, progress=False)
    lora0, base0 = lora_and_base(trainer)
    rows = trainer.train()
    lora1, base1 = lora_and_base(trainer)
    assert len(rows) == cfg.steps
    assert any(not torch.equal(lora0[n], lora1[n]) for n in lora0)
    assert all(torch.equal(base0[n], base1[n]) for n in base0)


def test_run_directory_has_config_metrics_samples_and_peft_checkpoints(smoke_cfg):
    trainer = Trainer(smoke_cfg, progress=False)
    trainer.train()
    run = trainer.run.path
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["steps"] == smoke_cfg.steps and cfg["loss"]["group_size"] == 4
    rows = [json.loads(x) for x in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == list(range(1, smoke_cfg.steps + 1))
    for key in (
        "reward/mean",
        "correct/mean",
        "reward/frac_zero_std",
        "div/distinct_correct",
        "entropy/token_mean",
        "clip/frac",
        "completion/len_mean",
        "ds/gamma_p",
        "time/step_s",
    ):
        assert key in rows[0], key
    from dsnb.rl.trainer import glossary

    assert set(rows[0]) <= set(glossary()), set(rows[0]) - set(glossary())  # every key defined once
    ckpt = trainer.run.latest_checkpoint()
    assert (ckpt / "adapter_config.json").exists() and (ckpt / "adapter_model.safetensors").exists()
    assert (run / "samples.jsonl").read_text().count("\n") >= smoke_cfg.steps


def test_interrupted_run_resumes_to_the_same_result_as_an_uninterrupted_one(smoke_cfg, tmp_path):
    full = Trainer(replace(smoke_cfg, run_dir=str(tmp_path / "full")), progress=False)
    full.train()
    cut = Trainer(replace(smoke_cfg, run_dir=str(tmp_path / "cut"), checkpoint_every=2), progress=False)

    def stop_after_two(row, trainer):
        if row["step"] == 2:
            trainer.controls.stop()

    cut.callbacks.append(stop_after_two)
    cut.train()
    assert cut.step == 2
    # a crash after step 3 leaves a metrics row the checkpoint does not cover
    cut.run.append("metrics", {"step": 3, "reward/mean": -1.0})
    resumed = Trainer.resume(cut.run.path, progress=False)
    assert resumed.step == 2
    resumed.train()
    rows = resumed.run.read("metrics")
    assert [r["step"] for r in rows] == list(range(1, smoke_cfg.steps + 1))  # nothing duplicated
    assert resumed.run.read("metrics.discarded")[0]["reward/mean"] == -1.0  # nothing lost
    ref = full.run.read("metrics")
    assert [r["reward/mean"] for r in rows] == [r["reward/mean"] for r in ref]  # same trajectory
    l_full, _ = lora_and_base(full)
    l_res, _ = lora_and_base(resumed)
    assert all(torch.allclose(l_full[n], l_res[n], atol=1e-6) for n in l_full)


def test_a_control_changed_from_another_thread_applies_at_the_next_step(smoke_cfg):
    trainer = Trainer(replace(smoke_cfg, steps=4), progress=False)
    changed = threading.Event()

    def from_other_thread(row, tr):
        if row["step"] == 2:
            t = threading.Thread(target=lambda: (tr.controls.set(gamma_p=0.7, lr=2e-3), changed.set()))
            t.start()
            t.join()

    trainer.callbacks.append(from_other_thread)
    rows = trainer.train()
    assert changed.is_set()
    assert [r["ds/gamma_p"] for r in rows] == [0.0, 0.0, 0.7, 0.7]
    assert rows[2]["lr"] == pytest.approx(2e-3)
    events = [e for e in trainer.run.read("events") if e["event"] == "control"]
    assert {(e["field"], e["step"], e["new"]) for e in events} == {("gamma_p", 2, 0.7), ("lr", 2, 2e-3)}


def test_pause_blocks_the_loop_until_resume(smoke_cfg):
    trainer = Trainer(replace(smoke_cfg, steps=3), progress=False)
    trainer.controls.pause()
    th = threading.Thread(target=trainer.train)
    th.start()
    th.join(timeout=1.0)
    assert th.is_alive() and trainer.step == 0  # paused before the first step
    trainer.controls.resume()
    th.join(timeout=120)
    assert not th.is_alive() and trainer.step == 3


def test_a_nonfinite_loss_skips_the_step_and_logs_it(smoke_cfg):
    trainer = Trainer(smoke_cfg, progress=False)
    lora0, _ = lora_and_base(trainer)
    real = trainer.policy.token_logp

    def nan_when_training(*a, **kw):
        out = real(*a, **kw)
        if kw.get("grad"):
            return out[0] * float("nan"), out[1]
        return out

    trainer.policy.token_logp = nan_when_training
    row = trainer.train_step()
    assert row.get("skipped") == 1.0
    assert any(e["event"] == "skipped_nonfinite_loss" for e in trainer.run.read("events"))
    lora1, _ = lora_and_base(trainer)
    assert all(torch.equal(lora0[n], lora1[n]) for n in lora0)


def test_a_failing_reward_function_names_the_offending_completion():
    def reward(prompts, completions, **kw):
        return [1.0 / (len(c) - 3) for c in completions]  # divides by zero on "abc"

    task = Task("t", lambda *a, **k: [], reward, lambda c, cols: None, "nano")
    problems = [Problem("p", {"x": 1})]
    with pytest.raises(RuntimeError, match="'abc'"):
        grade(task, problems, ["hello", "abc"], group_size=2)


def test_bad_config_is_rejected_before_any_model_loads(tmp_path):
    with pytest.raises(ValueError, match="temperature"):
        TrainConfig(run_dir=str(tmp_path), temperature=0.0)
    with pytest.raises(ValueError, match="task"):
        TrainConfig(run_dir=str(tmp_path), task="chess")
    with pytest.raises(ValueError, match="group"):
        TrainConfig(run_dir=str(tmp_path), loss=LossConfig(group_size=1))
    assert not (tmp_path / "config.json").exists()


def test_micro_batches_accumulate_to_the_full_batch_gradient(smoke_cfg):
    """Gradient accumulation with the global normaliser equals one big batch, and the fused
    single pass (log pi_old taken from the training forward) equals a separate no-grad pass."""
    grads = []
    for mb in (0, 3):
        tr = Trainer(
            replace(
                smoke_cfg,
                micro_batch=mb,
                run_dir=smoke_cfg.run_dir + f"_{mb}",
                loss=LossConfig(group_size=4, gamma_p=0.5, gamma_n=0.2),
            ),
            progress=False,
        )
        torch.manual_seed(5)
        roll = tr.policy.sample(["3 7 12=33:", "5 9 4=41:"], 4, 8)
        with torch.no_grad():
            for n, p in tr.policy.model.named_parameters():
                if "lora_B" in n:
                    p.fill_(0.01)
        fused = tr.policy.token_logp(roll, grad=True, with_logits=True) if mb == 0 else None
        logp_old = fused[0].detach() if mb == 0 else tr.policy.token_logp(roll)
        rewards = torch.tensor([1.0, 0.0, 0.1, 1.0, 0.0, 0.0, 1.0, 1.0])
        adv = compute_advantages(rewards, sequence_logp(logp_old, roll.completion_mask, "sum"), tr.cfg.loss)
        tr.opt.step = lambda: None  # keep the gradient, skip the update
        tr._update(roll, logp_old, None, adv, fused)
        grads.append(torch.cat([p.grad.flatten() for p in tr.policy.trainable_parameters()]))
    assert grads[0].abs().sum() > 0
    assert torch.allclose(grads[0], grads[1], atol=1e-6)
