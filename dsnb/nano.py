"""The nano world: a tiny Llama that dsnb pretrains itself on Countdown, so sharpening shows on a CPU.

``dsnb nano pretrain`` runs :func:`pretrain` and writes a standard Hugging Face model directory
(config.json, model.safetensors, tokenizer files) that ``from_pretrained`` loads, so the nano
model goes through exactly the code a real model goes through. The result ships inside the
package (``dsnb/data/nano``, see ``dsnb.data``) so the demo and notebooks 03-05 start instantly.

The recipe (why it looks like this): RL can only sharpen what the base model already spreads.
So the supervision mixes, per instance, *every* distinct correct solution with a skewed (Zipf)
weight that depends on the solution's shape (a consistent "style preference", like a real
model's), plus plausible wrong-operator mistakes. The result has moderate pass@1 and several
distinct correct solutions per instance when sampled: a base model worth sharpening.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import random
import time
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

from dsnb.tasks import countdown
from dsnb.tasks.arith import parse
from dsnb.tasks.data import countdown_rows, is_heldout

CHARS = list("0123456789+-*/() =:")
STATE_SEP = "|"
"""Separates scratchpad steps from the numbers left after them (only in scratchpad models)."""
SPECIALS = ["<pad>", "<s>", "</s>", "<unk>"]
TAGS = ["<answer>", "</answer>"]
OPS = "+-*/"


MULTI = dict(
    num_count=4, hi=10, world="countdown4m", scratchpad=False, mistake_frac=0.0, context=96, steps=800
)
"""The first countdown4m recipe (dsnb/data/nano4m; see :meth:`NanoConfig.multi`)."""
WIDE = dict(MULTI, pool_hi=13, pool_max_target=50, steps=3200, zipf_s=0.5)
"""The countdown4m recipe (dsnb/data/nano4w): MULTI pretrained on every identity-free instance of
4 numbers from 2..13 with targets <= 50, four times as long, with half the style skew (Zipf s = 0.5:
2.65 distinct correct on the 3+-solution problems against 2.39 at s = 1; docs/world_search.md)."""


@dataclass
class NanoConfig:
    num_count: int = 3
    """Numbers per Countdown instance (3: few solutions per instance; 4: many)."""
    lo: int = 2
    """Smallest number (1 is excluded: x1 and /1 would fake extra solutions)."""
    hi: int = 15
    """Largest number."""
    n_instances: int = 6000
    """Size of the pretraining pool of instances (held-out instances never enter it). With 3
    numbers from 2..15 and targets <= 100 only about 6,900 distinct instances exist: 6000 is
    most of them (more fails with a clear error)."""
    layers: int = 3
    """Transformer blocks."""
    width: int = 128
    """Hidden size."""
    heads: int = 4
    """Attention heads."""
    steps: int = 800
    """Optimizer steps."""
    batch_size: int = 256
    """Sequences per step."""
    lr: float = 3e-3
    """Peak AdamW learning rate (linear warm-up, cosine decay)."""
    zipf_s: float = 1.0
    """Skew over an instance's correct solutions: weight ∝ 1 / rank^s (0 = uniform)."""
    mistake_frac: float = 0.2
    """Fraction of examples that are a wrong-operator mistake instead of a solution."""
    world: str = ""
    """Pretrain on the train split of this Countdown world's problem file (e.g. "countdown4m"),
    instances drawn by their random-expression weight; "" = draw n_instances random instances
    from num_count, lo, hi (the 3- and 4-number models)."""
    pool_hi: int = 0
    """Widen the pretraining pool past the world's problem file: every instance of num_count
    distinct numbers lo..pool_hi with a target 1..pool_max_target (held-out ones never, by the
    same hash), drawn by its random-expression weight, identity variants never shown. 0 = the
    world's train split only. (Why: docs/world_search.md.)"""
    pool_max_target: int = 25
    """Largest target of the widened pool (with pool_hi)."""
    pool_identity_free: bool = True
    """With pool_hi: keep only the instances without identity variants (the world's own rule);
    False keeps every instance and shows its solutions that are not identity variants."""
    scratchpad: bool = False
    """Write the solution's steps before the answer, each a two-number operation followed by the
    numbers left (``9+7|2 5 16|16+5|2 21|21+2<answer>9+7+5+2</answer>``), so that every step is a
    small, explicit problem. It earns nothing by itself: only the answer block is graded."""
    context: int = 64
    """Positions the model can attend to (prompt + completion)."""
    seed: int = 0
    """Seeds the pool, the sampling of examples and the weights."""

    def __post_init__(self):
        if self.num_count not in (3, 4):
            raise ValueError("num_count must be 3 or 4 (Countdown uses 3-4 numbers)")
        if not 2 <= self.lo < self.hi:
            raise ValueError("need 2 <= lo < hi (1 would allow fake solutions via x1 and /1)")
        if not 0.0 <= self.mistake_frac < 1.0:
            raise ValueError("mistake_frac must be in [0, 1): some examples must be correct")
        if self.world:
            from dsnb.tasks.data import WORLDS

            if self.world not in WORLDS:
                raise ValueError(f"world={self.world!r}: choose one of {sorted(WORLDS)} or '' (random)")
        if self.pool_hi and (self.num_count != 4 or self.pool_hi < self.lo + 3 or self.pool_max_target < 1):
            raise ValueError(
                "pool_hi widens a 4-number pool: need pool_hi >= lo + 3 and pool_max_target >= 1"
            )
        if self.layers < 1 or self.width % self.heads or self.context < 16:
            raise ValueError("need layers >= 1, a width the heads divide and a context of >= 16 positions")

    @classmethod
    def smoke(cls, **kw):
        """A few seconds: for tests, not for a useful model."""
        return cls(**{**dict(n_instances=200, layers=1, width=32, heads=2, steps=20, batch_size=32), **kw})

    @classmethod
    def multi(cls, **kw):
        """The multiplicity world's first model (dsnb/data/nano4m, task countdown4m)."""
        return cls(**{**MULTI, **kw})

    @classmethod
    def wide(cls, **kw):
        """The flagship multiplicity world's model (dsnb/data/nano4w, task countdown4m)."""
        return cls(**{**WIDE, **kw})


def build_tokenizer(scratchpad: bool = False):
    """Character-level tokenizer; <answer> and </answer> are single tokens. (No downloads.)"""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIALS + TAGS + CHARS + ([STATE_SEP] if scratchpad else []))}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens([AddedToken(t, special=True) for t in SPECIALS])
    tok.add_tokens([AddedToken(t, special=False, normalized=False) for t in TAGS])
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, pad_token="<pad>", bos_token="<s>", eos_token="</s>", unk_token="<unk>"
    )
    fast.padding_side = "left"
    return fast


def build_model(cfg: NanoConfig, vocab_size: int):
    """A tiny LlamaForCausalLM: the same architecture family as real chat models."""
    from transformers import LlamaConfig, LlamaForCausalLM

    conf = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=cfg.width,
        intermediate_size=cfg.width * 11 // 4,
        num_hidden_layers=cfg.layers,
        num_attention_heads=cfg.heads,
        num_key_value_heads=cfg.heads,
        max_position_embeddings=cfg.context,
        tie_word_embeddings=True,
        pad_token_id=0,
        bos_token_id=1,
        eos_token_id=2,
    )
    return LlamaForCausalLM(conf)


def shape_rank(expr: str) -> str:
    """The "style" of a solution: its operators and parentheses with numbers blanked out.
    The nano model prefers some styles over others, consistently across instances.

    >>> shape_rank("(3+7)*12")
    '(#+#)*#'
    """
    out, prev_digit = [], False
    for ch in expr:
        is_digit = ch.isdigit()
        if not (is_digit and prev_digit):
            out.append("#" if is_digit else ch)
        prev_digit = is_digit
    return "".join(out)


def style_preference(shape: str) -> float:
    """A fixed pseudo-random preference score per style (lower = preferred)."""
    return int(hashlib.md5(shape.encode()).hexdigest(), 16) / 16**32


def mistake(expr: str, rng: random.Random) -> str:
    """A plausible error: one operator swapped for another (same numbers, usually wrong value)."""
    spots = [i for i, ch in enumerate(expr) if ch in OPS and i > 0 and expr[i - 1] not in "(" + OPS]
    if not spots:
        return expr
    i = rng.choice(spots)
    return expr[:i] + rng.choice([o for o in OPS if o != expr[i]]) + expr[i + 1 :]


def scratchpad(expr: str, nums) -> str | None:
    """The steps of ``expr`` in the order they are computed, each a two-number operation and the
    numbers left after it (the numbers not used yet in prompt order, then the results so far);
    None when a step is not a non-negative integer (it has no short text) or needs a unary minus.

    >>> scratchpad("9+7+5+2", [2, 5, 7, 9])
    '9+7|2 5 16|16+5|2 21|21+2'
    >>> scratchpad("(7-2)*(5-3)", [2, 3, 5, 7]), scratchpad("6/(4-3/2)", [2, 3, 4, 6])
    ('7-2|3 5 5|5-3|5 2|5*2', None)
    """
    left, made, parts = [Fraction(n) for n in nums], [], []

    def walk(t):
        if t[0] == "num":
            return ("leaf", t[1])
        if t[0] not in OPS:
            raise ArithmeticError("unary minus")
        a, b = walk(t[1]), walk(t[2])
        x, y = a[1], b[1]
        if t[0] == "/" and y == 0:
            raise ArithmeticError("division by zero")
        v = {"+": x + y, "-": x - y, "*": x * y, "/": x / y if y else x}[t[0]]
        if v < 0 or v.denominator != 1:
            raise ArithmeticError("no short text for this step")
        for kind, val in (a, b):
            (left if kind == "leaf" else made).remove(val)
        made.append(v)
        parts.append(f"{x}{t[0]}{y}")
        parts.append(" ".join(str(n) for n in left + made))
        return ("made", v)

    try:
        walk(parse(expr))
    except (ArithmeticError, ValueError):
        return None
    return STATE_SEP.join(parts[:-1])  # no state after the last step: it is the target


def wide_pool(cfg: NanoConfig) -> list[tuple[countdown.Instance, float, list[str]]]:
    """(instance, draw weight, solutions) of the widened pool (``cfg.pool_hi``), in enumeration
    order, the numbers of each in a seeded random order."""
    from dsnb.tasks.arith import render
    from dsnb.tasks.data import enumerate_instances, expression_weight
    from dsnb.tasks.solver import has_identity

    rng, pool = random.Random(cfg.seed), []
    rows = enumerate_instances(4, cfg.lo, cfg.pool_hi, cfg.pool_max_target, 1, cfg.pool_identity_free)
    for ms, t, exprs in rows:
        sols = sorted({text for text in (render(e.form) for e in exprs) if not has_identity(text)})
        if sols and not is_heldout(ms, t):
            nums = list(ms)
            rng.shuffle(nums)
            pool.append((countdown.Instance(tuple(nums), t), expression_weight(ms, t), sols))
    return pool


def pool_instances(cfg: NanoConfig) -> list[tuple[countdown.Instance, float, list[str] | None]]:
    """(instance, draw weight, solutions) for pretraining; held-out instances never enter.
    Solutions None: the solver's (the widened pool brings its own, identity variants left out)."""
    if cfg.pool_hi:
        return wide_pool(cfg)
    if cfg.world:
        rows = countdown_rows("train", None, cfg.world)
        return [(countdown.Instance(tuple(r["nums"]), r["target"]), r.get("weight", 1.0), None) for r in rows]
    insts = countdown.generate(
        cfg.n_instances * 10 // 9 + 50, num_count=cfg.num_count, lo=cfg.lo, hi=cfg.hi, seed=cfg.seed
    )
    return [(inst, 1.0, None) for inst in insts if not is_heldout(inst.nums, inst.target)][: cfg.n_instances]


def cumulative_weights(pool) -> list[float]:
    """The pool's cumulative draw weights (what ``random.choices`` computes from the weights)."""
    return list(itertools.accumulate(w for _, _, w in pool))


def example_pool(cfg: NanoConfig):
    """[(prompt, [(completion, weight), ...], draw weight)] for the pretraining instances; with
    a scratchpad only the solutions whose steps all have short text are shown."""
    pool = []
    for inst, weight, sols in pool_instances(cfg):
        sols = sorted(
            sols or countdown.solve(inst.nums, inst.target), key=lambda s: style_preference(shape_rank(s))
        )
        if cfg.scratchpad:
            sols = [s for s in sols if scratchpad(s, inst.nums) is not None]
        weights = [1.0 / (r + 1) ** cfg.zipf_s for r in range(len(sols))]
        if sols:
            pool.append((countdown.render_prompt(inst, "nano"), list(zip(sols, weights)), weight))
    return pool


def render_completion(expr: str, nums, cfg: NanoConfig) -> str:
    """What the model is trained to write for the solution `expr`."""
    steps = scratchpad(expr, nums) if cfg.scratchpad else None
    return f"{steps}<answer>{expr}</answer>" if steps else f"<answer>{expr}</answer>"


def draw_example(pool, cfg: NanoConfig, rng: random.Random, cum_weights=None) -> tuple[str, str]:
    """One (prompt, completion) pair: a skew-weighted solution or a mistake made from one.
    ``cum_weights``: the pool's cumulative draw weights, computed once by the caller (the same
    draws as without them; summing 16k weights per draw was most of a pretraining step)."""
    cum_weights = cum_weights or cumulative_weights(pool)
    prompt, sols, _ = rng.choices(pool, cum_weights=cum_weights)[0]
    expr = rng.choices([s for s, _ in sols], weights=[w for _, w in sols])[0]
    nums = [int(x) for x in prompt.split("=")[0].split()]
    if rng.random() < cfg.mistake_frac:
        expr = mistake(expr, rng)
        return prompt, f"<answer>{expr}</answer>"  # a mistake has no scratchpad: its value is wrong
    return prompt, render_completion(expr, nums, cfg)


def encode_batch(tok, pairs):
    """Token ids and a loss mask that covers the completion (and its eos) only. (B, L) each."""
    import torch

    rows, masks = [], []
    for prompt, completion in pairs:
        p = tok(prompt, add_special_tokens=False)["input_ids"]
        c = tok(completion, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
        rows.append(p + c)
        masks.append([0] * len(p) + [1] * len(c))
    L = max(map(len, rows))
    ids = torch.full((len(rows), L), tok.pad_token_id)
    mask = torch.zeros((len(rows), L))
    for i, (r, m) in enumerate(zip(rows, masks)):
        ids[i, : len(r)], mask[i, : len(m)] = torch.tensor(r), torch.tensor(m, dtype=torch.float)
    return ids, mask


def pretrain(cfg: NanoConfig, out: str | Path, progress: bool = True) -> Path:
    """Supervise a fresh nano model on the skewed solution mix and save it to `out`."""
    import torch
    from tqdm.auto import tqdm

    torch.manual_seed(cfg.seed)
    rng = random.Random(cfg.seed)
    tok = build_tokenizer(cfg.scratchpad)
    model = build_model(cfg, len(tok))
    pool = example_pool(cfg)
    cum = cumulative_weights(pool)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    warm = max(1, cfg.steps // 16)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / cfg.steps)))
    )
    model.train()
    start, bar = time.time(), tqdm(range(cfg.steps), desc="nano pretrain", disable=not progress)
    for _ in bar:
        ids, mask = encode_batch(tok, [draw_example(pool, cfg, rng, cum) for _ in range(cfg.batch_size)])
        logits = model(input_ids=ids, attention_mask=(ids != tok.pad_token_id).long()).logits[:, :-1]
        nll = torch.nn.functional.cross_entropy(logits.transpose(1, 2), ids[:, 1:], reduction="none")
        loss = (nll * mask[:, 1:]).sum() / mask[:, 1:].sum()
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out)
    tok.save_pretrained(out)
    meta = {
        "recipe": asdict(cfg),
        "final_loss": loss.item(),
        "seconds": time.time() - start,
        "parameters": sum(p.numel() for p in model.parameters()),
        "pool_size": len(pool),
    }
    (out / "dsnb_nano.json").write_text(json.dumps(meta, indent=2))
    return out
