"""Precision: which dtype a GPU gets, and mixed-precision training (fp32 LoRA master weights over
16-bit base weights, autocast, fp16 loss scaling) run for real on the CPU's fp16/bf16 kernels."""

from dataclasses import replace

import pytest
import torch

from dsnb.rl.advantages import compute_advantages, sequence_logp
from dsnb.rl.loss import LossConfig
from dsnb.rl.policy import detect_dtype
from dsnb.rl.trainer import Trainer

GPUS = {  # name: (compute capability, what torch.cuda.is_bf16_supported() answers there)
    "T4": ((7, 5), True),  # True by emulation: the bug this guards against
    "V100": ((7, 0), True),
    "A100": ((8, 0), True),
    "L4": ((8, 9), True),
    "H100": ((9, 0), True),
}


@pytest.mark.parametrize("gpu", sorted(GPUS))
def test_auto_dtype_is_bf16_only_from_compute_capability_8(monkeypatch, gpu):
    capability, bf16_claim = GPUS[gpu]
    asked = []
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: asked.append(d) or capability)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda including_emulation=True: bf16_claim)
    want = torch.bfloat16 if capability[0] >= 8 else torch.float16
    assert detect_dtype("auto", "cuda") == want
    assert detect_dtype("auto", "cuda:1") == want and asked[-1] == "cuda:1"  # that device, not device 0


def test_an_explicit_dtype_wins_and_a_cpu_gets_float32(monkeypatch):
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda d=None: (7, 5))
    assert detect_dtype("bfloat16", "cuda") == torch.bfloat16  # emulated bf16 on a T4, if you insist
    assert detect_dtype("float32", "cuda") == torch.float32
    assert detect_dtype("auto", "cpu") == torch.float32
    assert detect_dtype("auto", "mps") == torch.float32


def make_trainer(smoke_cfg, dtype, name, **kw):
    cfg = replace(
        smoke_cfg,
        run_dir=smoke_cfg.run_dir + "_" + name,
        loss=LossConfig(group_size=4, gamma_p=0.5, gamma_n=0.2),
        policy=replace(smoke_cfg.policy, dtype=dtype),
        **kw,
    )
    return Trainer(cfg, progress=False)


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_16bit_base_weights_train_fp32_lora_weights(smoke_cfg, dtype):
    tr = make_trainer(smoke_cfg, dtype, "masters")
    named = list(tr.policy.model.named_parameters())
    assert {p.dtype for n, p in named if p.requires_grad} == {torch.float32}
    assert {p.dtype for n, p in named if not p.requires_grad} == {getattr(torch, dtype)}
    assert all("lora_" in n for n, p in named if p.requires_grad)
    assert tr.scaler.is_enabled() == (dtype == "float16")  # bf16 has fp32's exponent range: no scaler
    lora0 = {n: p.detach().clone() for n, p in named if "lora_" in n}
    base0 = {n: p.detach().clone() for n, p in named if "lora_" not in n}
    rows = [tr.train_step() for _ in range(2)]
    assert all(torch.isfinite(torch.tensor(r["loss/total"])) for r in rows)
    assert not any(r.get("skipped") for r in rows)  # fp16 starts at a scale that does not overflow
    now = dict(tr.policy.model.named_parameters())
    assert any(not torch.equal(lora0[n], now[n]) for n in lora0)  # the adapter learned
    assert all(torch.equal(base0[n], now[n]) for n in base0)  # the base never moved
    assert ("amp/loss_scale" in rows[0]) == (dtype == "float16")


def update_gradient(tr, roll):
    """The LoRA gradient of one `_update` on a fixed rollout, with the same nonzero adapter and
    advantages in every dtype (the optimizer step is skipped: we compare what it would apply)."""
    with torch.no_grad():
        for n, p in tr.policy.model.named_parameters():
            if "lora_B" in n:
                p.fill_(0.01)
    logp_old = tr.policy.token_logp(roll)
    rewards = torch.tensor([1.0, 0.0, 0.1, 1.0, 0.0, 0.0, 1.0, 1.0])
    adv = compute_advantages(rewards, sequence_logp(logp_old, roll.completion_mask, "sum"), tr.cfg.loss)
    tr.opt.step = lambda: None
    stats = tr._update(roll, logp_old, None, adv)
    grads = torch.cat([p.grad.flatten() for p in tr.policy.trainable_parameters()])
    return grads, stats


# Relative error ||g16 - g32|| / ||g32|| measured on the tiny model: 0.0013 (fp16, 10 mantissa
# bits) and 0.0097 (bf16, 7 bits); the tolerances leave about 8x room for other seeds and kernels.
TOLERANCE = {"float16": 0.01, "bfloat16": 0.08}


@pytest.mark.parametrize("dtype", ["float16", "bfloat16"])
def test_one_mixed_precision_update_agrees_with_the_fp32_update(smoke_cfg, dtype):
    ref = make_trainer(smoke_cfg, "float32", "fp32")
    torch.manual_seed(5)
    roll = ref.policy.sample(["3 7 12=33:", "5 9 4=41:"], 4, 8)
    g32, _ = update_gradient(ref, roll)
    g16, stats = update_gradient(make_trainer(smoke_cfg, dtype, dtype), roll)
    assert torch.isfinite(g16).all() and torch.isfinite(torch.tensor(stats["loss/total"]))
    assert g32.norm() > 0
    rel = ((g16 - g32).norm() / g32.norm()).item()
    assert rel < TOLERANCE[dtype], rel
    assert torch.nn.functional.cosine_similarity(g16, g32, dim=0) > 0.99


def test_an_fp16_overflow_skips_the_step_logs_it_and_the_scale_survives_resume(smoke_cfg):
    tr = make_trainer(smoke_cfg, "float16", "overflow", checkpoint_every=1, steps=1)
    tr.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**40)  # fp16 tops out at 65504 ~ 2^16
    lora0 = {n: p.detach().clone() for n, p in tr.policy.model.named_parameters() if "lora_" in n}
    tr.train()
    row = tr.run.read("metrics")[-1]
    assert row["skipped"] == 1.0 and row["amp/loss_scale"] == 2.0**40
    events = [e for e in tr.run.read("events") if e["event"] == "skipped_fp16_overflow"]
    assert events and events[0]["new_scale"] == 2.0**39  # the scaler backs off by half
    now = dict(tr.policy.model.named_parameters())
    assert all(torch.equal(lora0[n], now[n]) for n in lora0)  # no update from inf gradients
    resumed = Trainer.resume(tr.cfg.run_dir, progress=False)
    assert resumed.scaler.get_scale() == 2.0**39
