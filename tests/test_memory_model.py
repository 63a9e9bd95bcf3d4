"""The analytic memory model (dsnb.rl.memory): exact parameter counts, hand-computed terms, and
predicted peaks against the peaks the CPU allocator records (dsnb.rl.probe) on tiny models
built in-process, in float32 and bfloat16, with and without micro-batches and checkpointing."""

from dataclasses import replace

import pytest
import torch

from dsnb.rl.loss import LossConfig
from dsnb.rl.memory import QWEN25_05B, Arch, predict_memory
from dsnb.rl.offline import random_model
from dsnb.rl.policy import LORA_ALL, PolicyConfig
from dsnb.rl.probe import dry_run
from dsnb.rl.trainer import TrainConfig

TINY_QWEN = Arch(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=256, vocab=1000, model_type="qwen2")
TINY_LLAMA = replace(TINY_QWEN, model_type="llama", tied=False)


@pytest.mark.parametrize("arch", [TINY_QWEN, TINY_LLAMA], ids=["qwen2-tied", "llama-untied"])
def test_arch_counts_exactly_the_parameters_transformers_builds(arch):
    from peft import LoraConfig, get_peft_model
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.for_model(**arch.hf_config())
    model = AutoModelForCausalLM.from_config(config)
    assert sum(p.numel() for p in model.parameters()) == arch.params()  # parameters() dedupes ties
    assert Arch.from_hf(config) == arch
    lora = get_peft_model(model, LoraConfig(r=4, target_modules=LORA_ALL, task_type="CAUSAL_LM"))
    assert sum(p.numel() for p in lora.parameters() if p.requires_grad) == arch.lora_params(4)


def test_the_real_preset_terms_by_hand():
    cfg = TrainConfig.colab_t4()  # N = 32, micro-batch 8, T = 256, fp16, checkpointing on
    pred = predict_memory(QWEN25_05B, cfg, prompt_len=100, dtype="float16")
    mtv = 8 * 256 * 151_936 * 4  # one fp32 (m, T, V) logits tensor: 1.16 GiB
    assert pred.terms["update: logits backward"] == 4 * mtv
    assert pred.weights == 494_032_768 * 2
    assert pred.lora_state == 4 * 8_798_208 * 4  # weights, gradients, two AdamW moments, fp32
    halved = predict_memory(QWEN25_05B, replace(cfg, micro_batch=4), prompt_len=100, dtype="float16")
    assert halved.terms["update: logits backward"] == 2 * mtv  # the memory knob
    no_ckpt = replace(cfg, policy=replace(cfg.policy, gradient_checkpointing=False))
    assert predict_memory(QWEN25_05B, no_ckpt, 100, "float16").phases["update"] > pred.phases["update"]
    assert pred.peak_phase == "update" and pred.peak == pred.persistent + pred.phases["update"]


def test_the_prediction_refuses_an_unknown_dtype_or_prompt():
    with pytest.raises(ValueError, match="float16"):
        predict_memory(QWEN25_05B, TrainConfig.colab_t4(), prompt_len=100)  # dtype "auto"
    with pytest.raises(ValueError, match="prompt_len"):
        predict_memory(QWEN25_05B, TrainConfig.colab_t4(), prompt_len=0, dtype="float16")


@pytest.fixture(scope="module")
def wide_vocab(tmp_path_factory):
    """Logits-dominated: vocab 8192 over hidden 64 (like Qwen's 152k over 896)."""
    from dsnb import data

    arch = Arch(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=256, vocab=8192, model_type="llama")
    return arch, random_model(arch, tmp_path_factory.mktemp("wide"), data.model_dir("nano"))


@pytest.fixture(scope="module")
def wide_mlp(tmp_path_factory):
    """Activation-dominated: hidden 256, MLP 1024, vocab 128."""
    from dsnb import data

    arch = Arch(hidden=256, layers=2, heads=4, kv_heads=2, intermediate=1024, vocab=128, model_type="llama")
    return arch, random_model(arch, tmp_path_factory.mktemp("mlp"), data.model_dir("nano"))


CASES = {  # name: (model fixture, dtype, micro_batch, gradient checkpointing, warm-up steps)
    "logits-fp32-microbatch-ckpt": ("wide_vocab", "float32", 2, True, 1),
    "logits-bf16-fused-first-step": ("wide_vocab", "bfloat16", 0, False, 0),
    "activations-fp32-fused-no-ckpt": ("wide_mlp", "float32", 0, False, 1),
    "activations-bf16-microbatch-ckpt-first-step": ("wide_mlp", "bfloat16", 2, True, 0),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_predicted_peaks_are_within_25_percent_of_the_measured_ones(case, request, tmp_path):
    fixture, dtype, mb, ckpt, warmup = CASES[case]
    arch, model = request.getfixturevalue(fixture)
    torch.manual_seed(0)
    cfg = TrainConfig(
        run_dir=str(tmp_path / "run"),
        template="nano",
        prompts_per_step=2,
        max_new_tokens=16,
        micro_batch=mb,
        n_train_problems=8,
        loss=LossConfig(group_size=4),
        policy=PolicyConfig(
            model=model, lora_r=4, lora_alpha=8, device="cpu", dtype=dtype, gradient_checkpointing=ckpt
        ),
    )
    probe, pred, rows = dry_run(cfg, arch, warmup=warmup)
    assert probe.row["step"] == warmup + 1 and probe.phase_peak_bytes["update"] > 0
    for r in rows:
        if r["measured"] or r["predicted"]:
            assert abs(r["predicted"] - r["measured"]) <= 0.25 * r["predicted"], (case, r)
