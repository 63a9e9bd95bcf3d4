"""How much memory a DS-GRPO step needs, from the shapes alone: an analytic model.

``predict_memory(arch, cfg, prompt_len)`` counts the bytes of the tensors the code of
``dsnb.rl.policy`` and ``dsnb.rl.trainer`` holds at once, phase by phase, and returns a
:class:`MemoryPrediction` (a breakdown and the peak). Notebook 04 and the README use it for the
``colab_t4`` preset on a T4, ``benchmarks/dry_run_real_size.py`` and tests/test_dry_run.py check
it against measured peaks (``dsnb.rl.probe``). No torch here: it is arithmetic on shapes.

Notation: N = B·G completions, m = micro-batch (N if 0), P prompt tokens, T = max_new_tokens,
L = P + T, V vocabulary, H hidden, I MLP width, b = 2 bytes (fp16/bf16) or 4 (fp32). The terms:

- weights: every base parameter, b bytes each (tied embeddings once).
- LoRA state: the fp32 adapter, its gradient and AdamW's two moments (4 x 4 bytes a parameter).
- sample: the wider of the prefill (the widest layer, the MLP: 4 (B, P-1, I): the G copies of a
  prompt share it) and the last decoding step (the KV cache for (N, L) tokens, one layer's keys
  and values again in fp32 while it attends, the step's (N, V) scores).
- score (no gradient, m completions at a time): the lm_head's (m, T+1, V) output in b bytes,
  its fp32 copy (16-bit runs) and the temperature-scaled fp32 logits; then logsumexp's temporary.
- update (gradient, per micro-batch): the logits' backward holds four fp32 (m, T, V) tensors at
  once (the saved logits, and logsumexp-backward's x - lse, its exp and grad·exp), on top of the
  activations: with gradient checkpointing one (m, L, H) tensor per layer plus one layer
  recomputed; without it every layer's saved activations (4 I + 9 H per token, LoRA on all
  projections).

What a learner gets wrong: at a 152k vocabulary the (N, T, V) logits, not the 0.5B weights,
set the peak (one fp32 (8, 256, V) tensor is 1.2 GB), so ``micro_batch`` is the memory knob.
"""

from __future__ import annotations

from dataclasses import dataclass, field

GiB = 2**30
BYTES = {"float32": 4, "float16": 2, "bfloat16": 2}
LORA_SHAPES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class Arch:
    """The shapes of a Llama/Qwen2-style decoder (what the memory model and random_model need)."""

    hidden: int
    """H, the residual stream width."""
    layers: int
    """Decoder layers."""
    heads: int
    """Query heads (head_dim = hidden / heads)."""
    kv_heads: int
    """Key/value heads (grouped-query attention when < heads)."""
    intermediate: int
    """I, the MLP width."""
    vocab: int
    """V, rows of the embedding and of the lm_head."""
    tied: bool = True
    """lm_head shares the embedding matrix (counted once)."""
    model_type: str = "qwen2"
    """transformers model_type ("qwen2": biases on q, k, v; "llama": none)."""

    def __post_init__(self):
        if self.hidden % self.heads or self.heads % self.kv_heads:
            raise ValueError("hidden must be a multiple of heads, and heads a multiple of kv_heads")

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def linear_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each projection of one layer."""
        H, K, F = self.hidden, self.kv_dim, self.intermediate  # F: the MLP width (I in the docs)
        return dict(
            q_proj=(H, H),
            k_proj=(H, K),
            v_proj=(H, K),
            o_proj=(H, H),
            gate_proj=(H, F),
            up_proj=(H, F),
            down_proj=(F, H),
        )

    def params(self) -> int:
        """Base parameter count.

        >>> QWEN25_05B.params()  # Qwen2.5-0.5B-Instruct's published 494M
        494032768
        """
        per_layer = sum(i * o for i, o in self.linear_shapes().values()) + 2 * self.hidden  # + 2 norms
        if self.model_type == "qwen2":
            per_layer += self.hidden + 2 * self.kv_dim  # q, k, v biases
        embed = self.vocab * self.hidden * (1 if self.tied else 2)
        return self.layers * per_layer + embed + self.hidden  # + final norm

    def lora_params(self, r: int, targets=LORA_SHAPES) -> int:
        """LoRA parameters: r·(in + out) per targeted projection per layer.

        >>> QWEN25_05B.lora_params(16)
        8798208
        """
        return self.layers * r * sum(i + o for n, (i, o) in self.linear_shapes().items() if n in targets)

    def hf_config(self) -> dict:
        """Keyword arguments of ``transformers.AutoConfig.for_model``."""
        return dict(
            model_type=self.model_type,
            hidden_size=self.hidden,
            num_hidden_layers=self.layers,
            num_attention_heads=self.heads,
            num_key_value_heads=self.kv_heads,
            intermediate_size=self.intermediate,
            vocab_size=self.vocab,
            tie_word_embeddings=self.tied,
            max_position_embeddings=32768,
            rope_theta=1_000_000.0,
            rms_norm_eps=1e-6,
            hidden_act="silu",
        )

    @classmethod
    def from_hf(cls, config) -> Arch:
        """The shapes of a transformers config (object or dict)."""
        get = config.get if isinstance(config, dict) else lambda k, d=None: getattr(config, k, d)
        heads = get("num_attention_heads")
        return cls(
            hidden=get("hidden_size"),
            layers=get("num_hidden_layers"),
            heads=heads,
            kv_heads=get("num_key_value_heads") or heads,
            intermediate=get("intermediate_size"),
            vocab=get("vocab_size"),
            tied=bool(get("tie_word_embeddings", True)),
            model_type=get("model_type", "llama"),
        )


QWEN25_05B = Arch(hidden=896, layers=24, heads=14, kv_heads=2, intermediate=4864, vocab=151_936)
"""Qwen2.5-0.5B-Instruct (the colab_t4 preset's model), from its config.json."""


@dataclass
class MemoryPrediction:
    """Predicted bytes, by term; ``peak`` = weights + LoRA state + the largest phase."""

    weights: int
    """Base weights."""
    lora_state: int
    """LoRA weights, gradients and AdamW moments (fp32) at the step's start (the weights alone
    before the first step)."""
    phases: dict[str, int]
    """Per phase (sample, score, update), the bytes it needs above weights + LoRA state."""
    terms: dict[str, int] = field(default_factory=dict)
    """The named pieces the phases add up from (for the breakdown table)."""
    setting: str = ""
    """The shapes this prediction is for, in words."""

    @property
    def persistent(self) -> int:
        return self.weights + self.lora_state

    @property
    def peak_phase(self) -> str:
        return max(self.phases, key=self.phases.get)

    @property
    def peak(self) -> int:
        return self.persistent + max(self.phases.values())

    def table(self) -> str:
        """A markdown table of the breakdown, in GiB."""
        rows = [("weights", self.weights), ("LoRA + gradients + AdamW (fp32)", self.lora_state)]
        rows += [(f"phase: {name}", v) for name, v in self.phases.items()]
        rows += [(f"  {name}", v) for name, v in self.terms.items()]
        rows.append((f"**peak** (weights + LoRA state + {self.peak_phase})", self.peak))
        lines = ["| predicted term | GiB |", "|---|---|"]
        return "\n".join(lines + [f"| {name} | {v / GiB:.2f} |" for name, v in rows])


def _widest_layer(arch: Arch, rows: int, b: int) -> int:
    """Widest moment of a no-gradient layer over `rows` tokens: silu(gate) alive while up_proj +
    its LoRA add (three (rows, I) tensors) runs, 4 (rows, I) in all (5 in 16-bit runs: peft's
    fp32 copy of down_proj's input, the LoRA weights being fp32), next to ~4 (rows, H) of the
    residual stream and the normed input."""
    return ((4 if b == 4 else 5) * arch.intermediate + 4 * arch.hidden) * rows * b


def _saved_per_token_layer(arch: Arch, b: int) -> int:
    """Activations one layer keeps for backward per token (frozen base, LoRA on every projection).
    fp32: the normed inputs of the two LoRA groups, q, k, v (repeated to all heads), attention
    output, o_proj's input, the residual after attention (9 H), and gate, silu(gate), up and
    their product (4 I). 16-bit: each LoRA input is saved as its own 16-bit copy (peft casts it
    to the fp32 LoRA dtype, autocast back: q, k, v and gate, up keep 5 copies where fp32 keeps
    2), and each RMSNorm keeps its fp32 input (2 x 2 H in 16-bit units): 16 H + 4 I."""
    if b == 4:
        return (9 * arch.hidden + 4 * arch.intermediate) * b
    return (16 * arch.hidden + 4 * arch.intermediate) * b


def _sample_bytes(arch: Arch, N: int, P: int, T: int, b: int, prefill_rows: int) -> tuple[int, dict]:
    """The wider of the two moments of generate(): the prefill (its widest layer over
    `prefill_rows` tokens, next to their KV cache) and the last decoding step: the KV cache of
    (N, P + T) tokens, one layer's keys and values once more in fp32 while it attends (the
    cache's grown copy; 16-bit attention on a CPU works in fp32) and the step's (N, V) tensors
    (the lm_head row, its fp32 copy, the scaled scores, the probs)."""
    kv_token = 2 * arch.layers * arch.kv_dim * b
    prefill = _widest_layer(arch, prefill_rows, b) + kv_token * prefill_rows
    kv = kv_token * N * (P + T)
    attending = 2 * N * (P + T) * arch.kv_dim * 4
    step = N * arch.vocab * (b + 3 * 4)
    if prefill > kv + attending + step:
        return prefill, {"prefill layer + its KV cache": prefill}
    return kv + attending + step, {
        "KV cache": kv,
        "attending layer's keys and values": attending,
        "decoding step": step,
    }


def prefill_rows(cfg, P: int) -> int:
    """Tokens the sampling prefill puts through the model: each prompt but its last token once
    (``Policy.shared_prompt_cache``: the G copies share it), or every copy's whole prompt where
    that does not apply (G = 1, one-token prompts, ``backend="unsloth"``; "auto" is taken as the
    transformers backend, the one a CPU gets)."""
    B, G = cfg.prompts_per_step, cfg.group_size
    shared = G >= 2 and P >= 2 and cfg.policy.backend != "unsloth"
    return B * (P - 1) if shared else B * G * P


def _score_bytes(arch: Arch, m: int, P: int, T: int, b: int) -> tuple[int, dict]:
    """No-gradient log-probs of m completions: the forward's widest layer, or the logits: the
    lm_head's (m, T+1, V) output, its fp32 copy (16-bit runs; in fp32 it is a view) and the
    temperature-scaled fp32 logits; logsumexp adds one fp32 temporary."""
    logits32 = m * T * arch.vocab * 4
    head = m * (T + 1) * arch.vocab * b
    logits = max(head + (logits32 if b == 2 else 0) + logits32, 2 * logits32)
    layer = _widest_layer(arch, m * (P + T), b)
    return max(layer, logits), {"logits (m, T, V) and lm_head output": logits, "widest layer": layer}


def _update_bytes(arch: Arch, m: int, P: int, T: int, b: int, cfg, first_step: bool) -> tuple[int, dict]:
    """Gradient pass of one micro-batch. The backward meets the logits first: four fp32 (m, T, V)
    at once (the saved scaled logits, logsumexp-backward's x - lse, its exp, and grad·exp); an
    entropy bonus/penalty keeps ~4 more. With gradient checkpointing only each layer's (m, L, H)
    input is kept, and after the logits are freed one layer at a time is recomputed (its saved
    tensors and the MLP backward's two fp32 (m, L, I) gradients); without it every layer's saved
    tensors are there from the forward on, next to the logits or those gradients. Step 1 ends with
    3 new fp32 copies of the adapter (gradient, two AdamW moments); later steps start with them."""
    L = P + T
    logits = 4 * m * T * arch.vocab * 4 * (2 if cfg.loss.entropy_coef != 0 else 1)
    saved = m * L * _saved_per_token_layer(arch, b)
    optim = 3 * arch.lora_params(cfg.policy.lora_r, cfg.policy.target_modules) * 4 if first_step else 0
    if cfg.policy.gradient_checkpointing:
        stream = (arch.layers + 1) * m * L * arch.hidden * b
        layer = saved + 2 * m * L * arch.intermediate * 4
        terms = {
            "checkpointed layer inputs": stream,
            "logits backward": logits,
            "one recomputed layer": layer,
        }
        total = stream + max(logits, layer)
    else:  # the last layer's backward: its MLP gradients next to everything saved
        mlp_grads = 2 * m * L * arch.intermediate * 4
        terms = {"every layer's saved activations": arch.layers * saved, "logits backward": logits}
        terms["MLP backward gradients"] = mlp_grads
        total = arch.layers * saved + max(logits, mlp_grads)
    if first_step:
        terms["optimizer step (step 1)"] = optim
    return max(total, optim), terms


def predict_memory(
    arch: Arch, cfg, prompt_len: int, dtype: str | None = None, first_step: bool = False
) -> MemoryPrediction:
    """[MEM] Predicted peak bytes of one DS-GRPO step of `cfg` (a TrainConfig) on `arch`:
    weights + LoRA state + max(sample, score, update).

    ``prompt_len`` is P in tokens (after the chat template, padded to the batch's longest);
    ``dtype`` overrides ``cfg.policy.dtype`` and must be explicit when that is "auto"
    ("float16" for a T4, "bfloat16" for an A100, "float32" on a CPU). Steady state: from step 2
    on, the LoRA gradients and AdamW moments exist for the whole step (AdamW's own temporaries,
    at most one LoRA-sized tensor, are left out: 34 MB at r = 16 on Qwen2.5-0.5B);
    ``first_step=True`` is step 1, which starts with the weights and the adapter only. Counts
    tensors only: the CUDA context and the caching allocator's reserve come on top.

    >>> from dsnb.rl.trainer import TrainConfig
    >>> pred = predict_memory(QWEN25_05B, TrainConfig.colab_t4(), prompt_len=130, dtype="float16")
    >>> round(pred.weights / GiB, 2), pred.peak_phase
    (0.92, 'update')
    """
    dtype = dtype or cfg.policy.dtype
    if dtype not in BYTES:
        raise ValueError(
            f"dtype={dtype!r}: the prediction needs the real dtype; pass dtype='float16' (T4), "
            "'bfloat16' (A100 and newer) or 'float32' (CPU)"
        )
    if prompt_len < 1:
        raise ValueError("prompt_len must be >= 1 token")
    b, P, T = BYTES[dtype], prompt_len, cfg.max_new_tokens
    N = cfg.prompts_per_step * cfg.group_size
    m = min(cfg.micro_batch or N, N)
    phases = {
        "sample": _sample_bytes(arch, N, P, T, b, prefill_rows(cfg, P)),
        # without micro-batches pi_old comes from the update's own forward: no separate pass
        "score": _score_bytes(arch, m, P, T, b) if (cfg.micro_batch or cfg.loss.needs_ref) else (0, {}),
        "update": _update_bytes(arch, m, P, T, b, cfg, first_step),
    }
    lora = arch.lora_params(cfg.policy.lora_r, cfg.policy.target_modules)
    setting = (
        f"N = {N} completions ({cfg.prompts_per_step} prompts x G = {cfg.group_size}), micro-batch {m}, "
        f"P = {P} prompt + T = {T} completion tokens, V = {arch.vocab:,}, {dtype}, "
        f"gradient checkpointing {'on' if cfg.policy.gradient_checkpointing else 'off'}"
    )
    return MemoryPrediction(
        weights=arch.params() * b,
        lora_state=(1 if first_step else 4) * lora * 4,
        phases={name: total for name, (total, _) in phases.items()},
        terms={f"{name}: {k}": v for name, (_, terms) in phases.items() for k, v in terms.items()},
        setting=setting,
    )
