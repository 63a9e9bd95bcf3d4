"""The policy: sampling, token log-probs, and the adapter-disabled reference."""

import pytest
import torch

from dsnb.rl.policy import Policy, PolicyConfig, completion_mask


@pytest.fixture(scope="module")
def policy(tiny_model_dir):
    return Policy(PolicyConfig(model=tiny_model_dir, lora_r=4, lora_alpha=8), seed=0)


def perturb_lora(policy, scale=0.5):
    torch.manual_seed(1)
    with torch.no_grad():
        for name, p in policy.model.named_parameters():
            if "lora_B" in name:
                p.add_(scale * torch.randn_like(p))


def test_forward_logprobs_match_the_logits_generate_sampled_from(policy):
    """The log-probs the trainer uses are those of the distribution that sampled (left padding,
    position ids and the off-by-one shift all agree with generate())."""
    prompts = ["3 7 12=33:", "12 2 5=34:"]
    ids, mask = policy.encode_prompts(prompts)
    torch.manual_seed(0)
    out = policy.model.generate(
        input_ids=ids,
        attention_mask=mask,
        do_sample=True,
        max_new_tokens=6,
        top_k=0,
        output_logits=True,
        return_dict_in_generate=True,
        pad_token_id=policy.tokenizer.pad_token_id,
        eos_token_id=policy.tokenizer.eos_token_id,
    )
    comp = out.sequences[:, ids.shape[1] :]
    cmask = completion_mask(comp, policy.tokenizer.eos_token_id)
    from dsnb.rl.policy import Rollout

    roll = Rollout(ids, mask, comp, cmask, [""] * 2)
    ours = policy.logits(roll)  # (N, T, V)
    theirs = torch.stack(out.logits, 1).float()  # (N, T, V)
    keep = cmask.bool()
    assert torch.allclose(ours[keep].log_softmax(-1), theirs[keep].log_softmax(-1), atol=1e-4)


def test_sample_returns_groups_with_masks_after_eos(policy):
    roll = policy.sample(["3 7 12=33:"] * 2, group_size=3, max_new_tokens=8)
    assert roll.completion_ids.shape[0] == 6 and len(roll.texts) == 6
    eos = policy.tokenizer.eos_token_id
    for row, m in zip(roll.completion_ids, roll.completion_mask):
        n = int(m.sum())
        assert (row[: n - 1] != eos).all()  # no eos before the last kept token
        assert (row[n:] == policy.tokenizer.pad_token_id).all()  # padding after it


def test_the_copies_of_a_prompt_share_one_prefill_and_sample_what_separate_prefills_would(
    policy, monkeypatch
):
    """sample() prefills each prompt once and repeats its cache G-fold: the model sees B prompt
    rows, not B·G, and the completions (same seed, prompts of different lengths, adapter on and
    off) are token for token those of prefilling every copy."""
    saved = {k: v.clone() for k, v in policy.model.state_dict().items() if "lora_" in k}
    perturb_lora(policy, 0.3)
    prompts = ["3 7 12=33:", "12 2 5 9=4:", "8 4=2:"]
    rows = []
    hook = policy.model.get_input_embeddings().register_forward_hook(
        lambda mod, inp, out: rows.append(inp[0].shape)
    )
    try:
        for adapter in (True, False):
            rows.clear()
            torch.manual_seed(3)
            shared = policy.sample(prompts, group_size=4, max_new_tokens=8, adapter=adapter)
            assert rows[0] == (3, shared.prompt_ids.shape[1] - 1)  # one prefill row per prompt
            assert all(r == (12, 1) for r in rows[1:])  # then one token per copy per step
            with monkeypatch.context() as m:
                m.setattr(policy, "shared_prompt_cache", lambda *a: None)
                torch.manual_seed(3)
                separate = policy.sample(prompts, group_size=4, max_new_tokens=8, adapter=adapter)
            assert torch.equal(shared.completion_ids, separate.completion_ids)
            assert shared.texts == separate.texts
    finally:
        hook.remove()
        policy.model.load_state_dict(saved, strict=False)  # the module's other tests need a fresh adapter
    assert policy.shared_prompt_cache(*policy.encode_prompts(prompts), 1) is None  # G = 1: nothing to share


def test_reference_is_the_base_model_with_the_adapter_disabled(policy, tiny_model_dir):
    roll = policy.sample(["3 7 12=33:", "5 9 4=41:"], group_size=2, max_new_tokens=8)
    before = policy.token_logp(roll)
    perturb_lora(policy)
    try:
        after = policy.token_logp(roll)
        ref = policy.token_logp(roll, adapter=False)
        assert not torch.allclose(before, after)  # the adapter matters
        assert torch.allclose(before, ref, atol=1e-5)  # with it off we are back at base
        from transformers import AutoModelForCausalLM

        base = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
        fresh = Policy.__new__(Policy)
        fresh.model, fresh.tokenizer = base, policy.tokenizer
        assert torch.allclose(fresh.token_logp(roll), ref, atol=1e-5)  # second method: a clean load
    finally:
        with torch.no_grad():
            for name, p in policy.model.named_parameters():
                if "lora_B" in name:
                    p.zero_()


def test_token_logp_at_temperature_is_log_softmax_of_scaled_logits(policy):
    roll = policy.sample(["3 7 12=33:"], group_size=2, max_new_tokens=5)
    lp2 = policy.token_logp(roll, temperature=2.0)
    logits = policy.logits(roll)  # temperature 1
    manual = (logits / 2.0).log_softmax(-1).gather(-1, roll.completion_ids.unsqueeze(-1)).squeeze(-1)
    assert torch.allclose(lp2, manual * roll.completion_mask, atol=1e-5)
    assert (lp2 <= 0).all()


def test_bad_policy_config_is_rejected_before_loading():
    with pytest.raises(ValueError, match="backend"):
        PolicyConfig(backend="vllm")
    with pytest.raises(ValueError, match="lora_r"):
        PolicyConfig(lora_r=0)


def test_device_and_dtype_detection_never_assume_cuda():
    from dsnb.rl.policy import detect_device, detect_dtype

    dev = detect_device("auto")
    assert dev in ("cpu", "cuda", "mps")
    assert detect_dtype("auto", "cpu") == torch.float32
    assert detect_dtype("float16", "cpu") == torch.float16


def test_chunked_scoring_equals_one_pass(policy):
    roll = policy.sample(["3 7 12=33:", "5 9 4=41:"], group_size=3, max_new_tokens=8)
    assert torch.allclose(policy.token_logp(roll, chunk=4), policy.token_logp(roll), atol=1e-6)
    assert torch.allclose(
        policy.token_logp(roll, adapter=False, chunk=1), policy.token_logp(roll, adapter=False), atol=1e-6
    )
