"""DS-GRPO inside TRL's GRPOTrainer: the same advantages and the same first update as dsnb's own
trainer on the same batch; the version guard; the pure helpers; unsloth in a subprocess."""

import importlib.util
import os
import subprocess
import sys
import textwrap

import pytest
import torch

pytest.importorskip("trl")

import dsnb.rl.trainer  # noqa: E402
from dsnb.integrations import trl as dtrl  # noqa: E402
from dsnb.integrations.trl import DSConfig, grpo_config_kwargs  # noqa: E402
from dsnb.rl.loss import LossConfig  # noqa: E402
from dsnb.rl.policy import Policy, PolicyConfig, Rollout  # noqa: E402
from dsnb.rl.trainer import TrainConfig, Trainer  # noqa: E402
from dsnb.tasks.registry import Problem, Task, countdown_problems  # noqa: E402

G, B = 4, 2


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models run 10-40x faster on one thread than on two contended OpenMP threads."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def parity_reward(prompts, completions, **kw):
    """1 for a completion with an even number of characters: a mixed signal from any model."""
    return [float(len(c) % 2 == 0) for c in completions]


def lora_params(model):
    return {n: p.detach().clone() for n, p in model.named_parameters() if "lora_" in n}


def lora_grads(model):
    return {
        n: p.grad.detach().clone() for n, p in model.named_parameters() if "lora_" in n and p.grad is not None
    }


def make_cfg(model_dir, tmp_path, loss):
    return TrainConfig.smoke(
        run_dir=str(tmp_path / "dsnb"),
        prompts_per_step=B,
        lr=1e-2,
        max_new_tokens=12,
        temperature=0.7,
        loss=loss,
        policy=PolicyConfig(model=model_dir, lora_r=4, lora_alpha=8),
    )


def run_trl(cfg, tmp_path, problems):
    """One TRL step with DSGRPOTrainer; returns its batch, LoRA before/after and clipped grads."""
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig

    policy = Policy(cfg.policy, seed=cfg.seed)
    grads = {}

    class GrabGrads(TrainerCallback):
        def on_pre_optimizer_step(self, args, state, control, **kw):  # after clipping
            grads.update(lora_grads(policy.model))

    kw = {**grpo_config_kwargs(cfg), "output_dir": str(tmp_path / "trl"), "max_steps": 1}
    data = Dataset.from_list([{"prompt": p.prompt, **p.columns} for p in problems])
    trainer = dtrl.DSGRPOTrainer(
        model=policy.model,
        processing_class=policy.tokenizer,
        reward_funcs=[parity_reward],
        args=GRPOConfig(**kw, use_cpu=True, disable_tqdm=True),
        train_dataset=data,
        ds=DSConfig.from_loss(cfg.loss),
        callbacks=[GrabGrads()],
    )
    before = lora_params(policy.model)
    trainer.train()
    return trainer.last_ds_batch, before, lora_params(policy.model), grads, policy.tokenizer


class Replay:
    """A dsnb policy whose sample() returns a fixed rollout (TRL's completions)."""

    def __init__(self, policy, rollout):
        self.policy, self.rollout = policy, rollout

    def sample(self, *args, **kwargs):
        return self.rollout

    def __getattr__(self, name):
        return getattr(self.policy, name)


def run_dsnb(cfg, batch, tokenizer, monkeypatch):
    """dsnb's own Trainer.train_step on TRL's batch; returns its advantages, LoRA, grads."""
    texts = tokenizer.batch_decode(batch["completion_ids"], skip_special_tokens=True)
    roll = Rollout(
        batch["prompt_ids"], batch["prompt_mask"], batch["completion_ids"], batch["completion_mask"], texts
    )
    policy = Policy(cfg.policy, seed=cfg.seed)
    trainer = Trainer(cfg, progress=False, policy=Replay(policy, roll))
    trainer.task = Task("parity", trainer.task.load, parity_reward, lambda c, cols: None, "nano")
    trainer.problems = [
        Problem(x["prompt"], {"nums": x["nums"], "target": x["target"]})
        for x in batch["inputs"][:: cfg.group_size]
    ]
    trainer._order = list(range(len(trainer.problems)))
    seen, real = [], dsnb.rl.trainer.compute_advantages
    monkeypatch.setattr(
        dsnb.rl.trainer, "compute_advantages", lambda *a, **k: seen.append(real(*a, **k)) or seen[-1]
    )
    before = lora_params(policy.model)
    trainer.train_step()
    return seen[0], before, lora_params(policy.model), lora_grads(policy.model)


CASES = {
    "grpo": LossConfig(group_size=G),
    "ds_sum_seq_mean": LossConfig.ds_nano(gamma_p=0.1, gamma_n=0.05, group_size=G, loss_agg="seq-mean"),
    "ds_score_mean": LossConfig.ds_score(gamma_p=0.5, gamma_n=0.5, group_size=G),
}


@pytest.fixture(scope="module")
def trl_run(tiny_model_dir, tmp_path_factory):
    """One TRL step per case, cached for the module: case -> (cfg, TRL's batch, LoRA, grads)."""
    cache = {}

    def get(case):
        if case not in cache:
            tmp = tmp_path_factory.mktemp(case)
            cfg = make_cfg(tiny_model_dir, tmp, CASES[case])
            cache[case] = (cfg, *run_trl(cfg, tmp, countdown_problems("train", 4, seed=0, template="nano")))
        return cache[case]

    return get


@pytest.mark.parametrize("case", list(CASES))
def test_trl_with_dsnb_matches_dsnb_trainer_on_the_same_batch(case, trl_run, monkeypatch):
    cfg, batch, t_before, t_after, t_grads, tok = trl_run(case)
    adv, d_before, d_after, d_grads = run_dsnb(cfg, batch, tok, monkeypatch)
    assert all(torch.equal(t_before[n], d_before[n]) for n in t_before)  # same LoRA init
    assert 0 < batch["correct"].sum() < len(batch["correct"])  # a mixed batch: a real test
    torch.testing.assert_close(batch["advantages"], adv, rtol=1e-4, atol=1e-4)
    assert adv.abs().sum() > 0
    assert t_grads.keys() == d_grads.keys() and any(g.abs().sum() > 0 for g in d_grads.values())
    for n in d_grads:
        torch.testing.assert_close(t_grads[n], d_grads[n], rtol=1e-3, atol=1e-6)
        torch.testing.assert_close(t_after[n] - t_before[n], d_after[n] - d_before[n], rtol=1e-3, atol=1e-6)
    if case == "grpo":  # dsnb's [GRPO1] is TRL's own advantage (unbiased std, eps 1e-4)
        torch.testing.assert_close(batch["trl_advantages"], adv[batch["slice"]], rtol=1e-5, atol=1e-5)
    else:  # DS really changed what TRL would have used
        assert not torch.allclose(batch["trl_advantages"], adv[batch["slice"]], atol=1e-3)


def test_ds_advantage_is_grpo_plus_the_hand_computed_shaping(trl_run):
    """[DS3] by hand from the batch's own rewards and log-probs: A + (−gamma_p or +gamma_n)·log pi."""
    cfg, batch = trl_run("ds_sum_seq_mean")[:2]
    gp, gn = cfg.loss.gamma_p, cfg.loss.gamma_n
    r, ok, lp = batch["rewards"], batch["correct"], batch["seq_logp"]
    grouped = r.view(-1, G)
    centred = grouped - grouped.mean(1, keepdim=True)
    std = grouped.std(1, keepdim=True)  # unbiased, as TRL
    a = torch.where(std > 0, centred / (std + 1e-4), torch.zeros_like(centred)).reshape(-1)
    expected = a + torch.where(ok, -gp * lp, gn * lp)
    torch.testing.assert_close(batch["advantages"], expected, rtol=1e-5, atol=1e-5)
    # the log-probs DS used are the sampling policy's: recompute them with dsnb's policy
    policy = Policy(cfg.policy, seed=cfg.seed)
    roll = Rollout(
        batch["prompt_ids"],
        batch["prompt_mask"],
        batch["completion_ids"],
        batch["completion_mask"],
        [""] * len(r),
    )
    mine = policy.token_logp(roll, temperature=cfg.temperature).sum(1)
    torch.testing.assert_close(lp, mine, rtol=1e-4, atol=1e-4)


# ----------------------------------------------------------------------------- helpers, guard
def test_rewards_and_correct_uses_the_named_binary_function_or_the_sum():
    per_func = torch.tensor([[0.1, 1.0], [1.0, 0.0], [0.0, 0.0]])
    r, ok = dtrl.rewards_and_correct(per_func, torch.ones(2), ["fmt", "acc"], "acc")
    assert r.tolist() == pytest.approx([1.1, 1.0, 0.0]) and ok.tolist() == [True, False, False]
    r, ok = dtrl.rewards_and_correct(per_func, torch.ones(2), ["fmt", "acc"], None)
    assert ok.tolist() == [False, True, False]  # 1.1 is not a correct (binary) reward
    with pytest.raises(ValueError, match="no reward"):
        dtrl.rewards_and_correct(torch.full((1, 2), float("nan")), torch.ones(2), ["a", "b"])


def test_group_pass_at_k_matches_brute_force_over_subsets():
    from itertools import combinations

    correct = [True, False, False, True, False, False, False, False]  # two groups of 4
    got = dtrl.group_diversity(None, correct, 4, ks=(1, 2, 3))
    for k in (1, 2, 3):
        per_group = [
            sum(any(g[i] for i in s) for s in combinations(range(4), k))
            / len(list(combinations(range(4), k)))
            for g in (correct[:4], correct[4:])
        ]
        assert got[f"div/group_pass@k/{k}"] == pytest.approx(sum(per_group) / 2)


def test_version_guard_names_the_tested_range_and_has_an_escape_hatch(monkeypatch):
    import trl

    monkeypatch.delenv(dtrl.UNTESTED_OK, raising=False)
    dtrl.check_trl(trl.__version__, trl.GRPOTrainer)  # the installed one passes
    with pytest.raises(RuntimeError, match=r"trl 9\.0\.0 is outside the tested range >=1\.16"):
        dtrl.check_trl("9.0.0", trl.GRPOTrainer)
    monkeypatch.setenv(dtrl.UNTESTED_OK, "1")
    with pytest.warns(UserWarning, match="running anyway"):
        dtrl.check_trl("9.0.0", trl.GRPOTrainer)

    class Moved:  # a GRPOTrainer whose internals moved: the escape hatch does not help
        def _generate_and_score_completions(self, inputs): ...
        def _calculate_rewards(self, inputs, prompts, completions): ...

    with pytest.raises(RuntimeError, match="_calculate_rewards.*_get_per_token_logps"):
        dtrl.check_trl("1.16.0", Moved)


def test_settings_without_a_group_advantage_are_refused(tiny_model_dir, tmp_path):
    cfg = make_cfg(tiny_model_dir, tmp_path, LossConfig(group_size=G))
    base = {**grpo_config_kwargs(cfg), "output_dir": str(tmp_path / "trl")}
    with pytest.raises(ValueError, match="scale_rewards='none'"):
        make_trainer(cfg, base, DSConfig(gamma_p=0.1, ds_where="score"))
    with pytest.raises(ValueError, match="group"):
        make_trainer(cfg, {**base, "scale_rewards": "batch"}, DSConfig())
    with pytest.raises(ValueError, match="parity_reward"):
        make_trainer(cfg, base, DSConfig(correct_reward="accuracy"))
    with pytest.raises(ValueError, match="gamma_p and gamma_n must be >= 0"):
        DSConfig(gamma_p=-0.1)


def make_trainer(cfg, kw, ds):
    from datasets import Dataset
    from trl import GRPOConfig

    policy = Policy(cfg.policy, seed=0)
    data = Dataset.from_list([{"prompt": "2 3=5:"}] * 4)
    return dtrl.DSGRPOTrainer(
        model=policy.model,
        processing_class=policy.tokenizer,
        reward_funcs=[parity_reward],
        args=GRPOConfig(**kw, use_cpu=True),
        train_dataset=data,
        ds=ds,
    )


def test_import_dsnb_does_not_import_trl():
    code = "import sys, dsnb, dsnb.integrations.trl; print('trl' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_dsnb_reward_and_solution_key_plug_in_and_metrics_are_logged(tiny_model_dir, tmp_path):
    from datasets import Dataset
    from trl import GRPOConfig

    from dsnb.tasks.registry import get_task
    from dsnb.tasks.rewards import countdown_correct, countdown_reward

    cfg = make_cfg(tiny_model_dir, tmp_path, LossConfig.ds(group_size=G))
    probs = countdown_problems("train", 4, seed=0, template="nano")
    kw = {**grpo_config_kwargs(cfg), "output_dir": str(tmp_path / "trl"), "max_steps": 1}
    policy = Policy(cfg.policy, seed=0)
    trainer = dtrl.DSGRPOTrainer(
        model=policy.model,
        processing_class=policy.tokenizer,
        reward_funcs=[countdown_reward, countdown_correct],
        args=GRPOConfig(**kw, use_cpu=True, disable_tqdm=True),
        train_dataset=Dataset.from_list([{"prompt": p.prompt, **p.columns} for p in probs]),
        ds=DSConfig.paper_math(correct_reward="countdown_correct"),
        solution_key=get_task("countdown3").key_fn,
    )
    trainer.train()
    logged = trainer.state.log_history[0]
    for key in (
        "correct/mean",
        "div/group_distinct_correct",
        "div/group_pass@k/1",
        "div/group_pass@k/4",
        "ds/seq_logp_mean",
        "adv/mean_abs",
        "rewards/countdown_reward/mean",
    ):
        assert key in logged, key
    assert logged["div/group_pass@k/1"] == pytest.approx(logged["correct/mean"])  # pass@1 = mean


# ----------------------------------------------------------------------------- unsloth
UNSLOTH_SCRIPT = textwrap.dedent("""
    import os, sys
    import unsloth  # patches transformers and TRL for this process only
    import torch, trl
    from datasets import Dataset
    from dsnb.integrations.trl import DSConfig, DSGRPOTrainer
    from dsnb.rl.policy import Policy, PolicyConfig
    policy = Policy(PolicyConfig(model=sys.argv[1], lora_r=4, lora_alpha=8), seed=0)
    def parity_reward(prompts, completions, **kw):
        return [float(len(c) % 2 == 0) for c in completions]
    args = trl.GRPOConfig(output_dir=sys.argv[2], per_device_train_batch_size=8, num_generations=4,
        max_completion_length=12, max_steps=1, learning_rate=1e-2, bf16=False, fp16=False,
        gradient_checkpointing=False, report_to="none", save_strategy="no", use_cpu=True)
    tr = DSGRPOTrainer(model=policy.model, processing_class=policy.tokenizer,
        reward_funcs=[parity_reward], args=args, ds=DSConfig(gamma_p=0.5, gamma_n=0.5, ds_logp="sum"),
        train_dataset=Dataset.from_list([{"prompt": "2 3=5:"}, {"prompt": "4 7=28:"}] * 2))
    tr.train()
    b = tr.last_ds_batch
    print("BASE", type(tr).__mro__[1].__module__, type(tr).__mro__[1].__name__)
    applied = b is not None and not torch.allclose(b["advantages"][b["slice"]], b["trl_advantages"])
    print("DS_APPLIED", bool(applied))
    print("KEYS", sorted(tr.state.log_history[0]))
""")


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("unsloth") is None,
    reason="unsloth not installed (pip install --no-deps unsloth==2026.10.9 "
    "unsloth_zoo==2026.10.9); it is tested only where installed",
)
def test_ds_hook_still_applies_under_unsloth(tiny_model_dir, tmp_path):
    """unsloth patches TRL process-wide on import, so this runs in a subprocess (CPU fallback)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "UNSLOTH_DISABLE_STATISTICS": "1"}
    out = subprocess.run(
        [sys.executable, "-c", UNSLOTH_SCRIPT, tiny_model_dir, str(tmp_path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    assert "DS_APPLIED True" in out.stdout, out.stdout
