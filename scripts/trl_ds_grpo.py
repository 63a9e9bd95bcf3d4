"""DS-GRPO with TRL's GRPOTrainer: one CPU, several CPU processes, or many GPUs (accelerate / DeepSpeed).

    # CPU smoke run, one process (nano model, 3-number Countdown)
    python scripts/trl_ds_grpo.py --steps 3
    # two CPU processes (gloo). With no GPU, --multi_gpu makes accelerate start MULTI_CPU;
    # `--cpu --num_processes 2` starts ONE process unless MPI (mpirun) is installed.
    accelerate launch --multi_gpu --num_processes 2 scripts/trl_ds_grpo.py --steps 3
    # 8 GPUs (DDP), the paper's math setting
    accelerate launch --config_file configs/accelerate_multi_gpu.yaml \\
        scripts/trl_ds_grpo.py --config configs/math_qwen2.5_math_1.5b.yaml
    # 8 GPUs with DeepSpeed ZeRO-2 (pip install deepspeed)
    accelerate launch --config_file configs/deepspeed_zero2.yaml \\
        scripts/trl_ds_grpo.py --config configs/math_qwen2.5_math_1.5b.yaml

Settings are merged: DEFAULTS (a seconds-long nano run) <- the --config YAML <- command-line flags.
The YAML has top-level keys model, task, n_prompts, seed, lora_r, lora_alpha, and two sections:
``ds`` (dsnb.integrations.trl.DSConfig fields) and ``grpo`` (trl.GRPOConfig fields). The main
process writes ``metrics.jsonl`` (TRL's log history, dsnb's metrics included) to the output dir.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

DEFAULTS = {
    "model": "nano",
    "task": "countdown3",
    "n_prompts": 64,
    "seed": 0,
    "lora_r": 8,
    "lora_alpha": 16,
    "ds": {"gamma_p": 1.0, "gamma_n": 0.0, "ds_logp": "sum"},  # nano: ~10-token completions
    "grpo": {
        "output_dir": "runs/trl_ds",
        "max_steps": 3,
        "num_generations": 4,
        "per_device_train_batch_size": 4,
        "max_completion_length": 24,
        "temperature": 1.0,
        "top_k": 0,
        "learning_rate": 1e-3,
        "lr_scheduler_type": "constant",
        "beta": 0.0,
        "bf16": False,
        "gradient_checkpointing": False,
        "logging_steps": 1,
        "report_to": "none",
        "save_strategy": "no",
        "disable_tqdm": True,
    },
}
REWARDS = {"countdown3": "countdown_reward", "countdown4": "countdown_reward", "gsm8k": "gsm8k_correct"}
FLAGS = {  # flag -> (section, key, type)
    "model": (None, "model", str),
    "task": (None, "task", str),
    "lora_r": (None, "lora_r", int),
    "gamma_p": ("ds", "gamma_p", float),
    "gamma_n": ("ds", "gamma_n", float),
    "ds_logp": ("ds", "ds_logp", str),
    "ds_where": ("ds", "ds_where", str),
    "steps": ("grpo", "max_steps", int),
    "output_dir": ("grpo", "output_dir", str),
    "num_generations": ("grpo", "num_generations", int),
    "per_device_batch": ("grpo", "per_device_train_batch_size", int),
    "max_completion_length": ("grpo", "max_completion_length", int),
    "lr": ("grpo", "learning_rate", float),
    "temperature": ("grpo", "temperature", float),
}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", help="YAML file (see configs/math_qwen2.5_math_1.5b.yaml)")
    for flag, (_, _, kind) in FLAGS.items():
        p.add_argument("--" + flag.replace("_", "-"), dest=flag, type=kind)
    p.add_argument(
        "--dump-batch",
        action="store_true",
        help="each process saves its last DS batch to OUTPUT_DIR/ds_batch_rank<i>.pt",
    )
    return p.parse_args(argv)


def load_settings(args) -> dict:
    """DEFAULTS <- YAML <- flags (section by section)."""
    s = copy.deepcopy(DEFAULTS)
    if args.config:
        import yaml

        user = yaml.safe_load(Path(args.config).read_text()) or {}
        for key, value in user.items():
            s[key] = {**s[key], **value} if isinstance(s.get(key), dict) else value
    for flag, (section, key, _) in FLAGS.items():
        value = getattr(args, flag)
        if value is not None:
            (s[section] if section else s)[key] = value
    return s


def build_dataset(task_name: str, n: int, seed: int):
    """dsnb's training problems as a TRL dataset: a "prompt" column plus the grader's columns."""
    from datasets import Dataset

    from dsnb.tasks.registry import get_task

    task = get_task(task_name)
    problems = task.load("train", n, seed, task.default_template)
    return Dataset.from_list([{"prompt": p.prompt, **p.columns} for p in problems]), task


def grpo_args(settings: dict):
    """GRPOConfig from the settings; CPU-only machines get use_cpu and no bf16."""
    import torch
    from trl import GRPOConfig

    kw = {"seed": settings["seed"], **settings["grpo"]}
    if not torch.cuda.is_available():
        kw.update(use_cpu=True, bf16=False)
    return GRPOConfig(**kw)


def main(argv=None) -> int:
    args = parse_args(argv)
    s = load_settings(args)
    from dsnb.integrations.trl import DSConfig, DSGRPOTrainer
    from dsnb.rl.policy import LORA_ALL, resolve_model_path
    from dsnb.tasks import rewards

    data, task = build_dataset(s["task"], s["n_prompts"], s["seed"])
    peft = None
    if s["lora_r"]:
        from peft import LoraConfig

        peft = LoraConfig(
            r=s["lora_r"],
            lora_alpha=s["lora_alpha"],
            target_modules=LORA_ALL,
            lora_dropout=0.0,
            bias="none",
            task_type="CAUSAL_LM",
        )
    trainer = DSGRPOTrainer(
        model=resolve_model_path(s["model"]),
        reward_funcs=[getattr(rewards, REWARDS[s["task"]])],
        args=grpo_args(s),
        train_dataset=data,
        peft_config=peft,
        ds=DSConfig(**s["ds"]),
        solution_key=task.key_fn,
    )
    trainer.train()
    out = Path(trainer.args.output_dir)
    if args.dump_batch:
        dump_batch(trainer, out)
    if trainer.accelerator.is_main_process:
        rows = [r for r in trainer.state.log_history if "reward" in r]
        (out / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
        print(
            f"{len(rows)} steps on {trainer.accelerator.num_processes} process(es); "
            f"metrics: {out / 'metrics.jsonl'}"
        )
    shutdown(trainer)
    return 0


def shutdown(trainer):
    """Leave the process group cleanly: exiting with live gloo threads can abort a rank
    ("terminate called without an active exception") after the work is done."""
    import torch.distributed as dist

    trainer.accelerator.wait_for_everyone()
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def dump_batch(trainer, out: Path):
    """This process's view of the last DS batch (for tests of the distributed path)."""
    import torch

    b = trainer.last_ds_batch
    out.mkdir(parents=True, exist_ok=True)
    torch.save(
        {
            "rank": trainer.accelerator.process_index,
            "slice": (b["slice"].start, b["slice"].stop),
            "prompts": [x["prompt"] for x in b["inputs"]],
            **{
                k: None if b[k] is None else b[k].cpu()
                for k in ("rewards", "correct", "seq_logp", "advantages")
            },
            "ds": vars(trainer.ds),
        },
        out / f"ds_batch_rank{trainer.accelerator.process_index}.pt",
    )


if __name__ == "__main__":
    sys.exit(main())
