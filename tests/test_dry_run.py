"""The real-size dry run: notebook 04's model architecture (Qwen2.5-0.5B-Instruct: hidden 896,
24 layers, vocabulary 151,936, tied embeddings) with random weights and SmolLM2's real chat
tokenizer, one DS-GRPO step on the CPU, its measured peak memory per phase within 25% of the
analytic memory model (dsnb.rl.memory). The colab_t4 preset's shapes are scaled down to fit 2
cores (B = 1, G = 2, 16 tokens, a short prompt); the vocabulary and the layers stay real, so the
(N, T, V) logits that dominate the real preset are real-size. LoRA rank 4 keeps the optimizer's
first-step state (3 fp32 copies of the adapter) below the logits, so the check is about them.

Slow: minutes on 2 busy cores, mostly the 16 decoding steps (each reads the 2 GB of fp32
weights). ``benchmarks/dry_run_real_size.py`` runs the same at any size and prints the table.
"""

from dataclasses import replace

import pytest

from dsnb.rl.memory import QWEN25_05B
from dsnb.rl.offline import random_model, smollm2, smollm2_missing
from dsnb.rl.probe import comparison_table, dry_run
from dsnb.rl.trainer import TrainConfig

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def real_size_model(tmp_path_factory):
    why = smollm2_missing()
    if why:
        pytest.skip(why)
    return random_model(QWEN25_05B, tmp_path_factory.mktemp("qwen-0.5b-random"), smollm2())


def test_a_real_size_step_peaks_where_the_memory_model_says(real_size_model, tmp_path):
    import torch

    torch.set_num_threads(2)
    base = TrainConfig.colab_t4(model=real_size_model)
    cfg = replace(
        base,
        run_dir=str(tmp_path / "run"),
        template="nano",
        prompts_per_step=1,
        max_new_tokens=16,
        micro_batch=2,
        n_train_problems=4,
        loss=replace(base.loss, group_size=2),
        policy=replace(base.policy, device="cpu", lora_r=4, lora_alpha=8),
    )
    assert cfg.policy.gradient_checkpointing and cfg.loss.ds_logp == "mean"  # the preset's own
    probe, pred, rows = dry_run(cfg, QWEN25_05B)
    print(pred.setting, comparison_table(rows), f"step {probe.seconds:.0f} s", sep="\n")
    assert probe.row["step"] == 1 and probe.completion_tokens > 0
    start, *phases, peak = rows
    assert abs(start["ratio"] - 1) < 0.01  # 494M weights + the adapter, counted exactly
    logits = pred.terms["update: logits backward"]
    assert (
        pred.phases["update"] > pred.terms["update: optimizer step (step 1)"]
        and logits > 0.8 * pred.phases["update"]
    )
    for r in [*phases, peak]:
        assert abs(r["predicted"] - r["measured"]) <= 0.25 * r["predicted"], r
