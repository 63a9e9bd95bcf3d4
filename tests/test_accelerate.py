"""The distributed path: `accelerate launch` with 2 CPU processes (gloo) runs DS-GRPO steps through
TRL, and both processes agree on one [DS3] advantage computed over groups that straddle them."""

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("trl")
pytest.importorskip("accelerate")

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "trl_ds_grpo.py"
G, PER_DEVICE, GAMMA_P, GAMMA_N = 4, 2, 1.0, 0.5  # 2 completions per process: a group spans both


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(model_dir, out, steps=2):
    # With no GPU, --multi_gpu makes accelerate start torchrun workers that pick MULTI_CPU + gloo;
    # `--cpu --num_processes 2` would start a single process unless MPI is installed.
    launcher = [
        sys.executable,
        "-m",
        "accelerate.commands.launch",
        "--multi_gpu",
        "--num_processes",
        "2",
        "--num_machines",
        "1",
        "--mixed_precision",
        "no",
        "--dynamo_backend",
        "no",
        "--main_process_port",
        str(free_port()),
    ]
    args = [
        "--model",
        model_dir,
        "--steps",
        str(steps),
        "--output-dir",
        str(out),
        "--num-generations",
        str(G),
        "--per-device-batch",
        str(PER_DEVICE),
        "--gamma-p",
        str(GAMMA_P),
        "--gamma-n",
        str(GAMMA_N),
        "--ds-logp",
        "sum",
        "--max-completion-length",
        "12",
        "--dump-batch",
    ]
    env = {
        **os.environ,
        "CUDA_VISIBLE_DEVICES": "",
        "HF_HUB_OFFLINE": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "OMP_NUM_THREADS": "1",
    }
    return subprocess.run(
        launcher + [str(SCRIPT)] + args, capture_output=True, text=True, env=env, cwd=ROOT, timeout=600
    )


def test_two_cpu_processes_run_ds_grpo_and_agree_on_the_advantage(tiny_model_dir, tmp_path):
    run = launch(tiny_model_dir, tmp_path)
    assert run.returncode == 0, run.stderr[-4000:]
    assert "on 2 process(es)" in run.stdout, run.stdout[-2000:]
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert len(rows) == 2
    for key in ("ds/seq_logp_mean", "div/group_distinct_correct", "div/group_pass@k/4", "correct/mean"):
        assert key in rows[0], key
    r0, r1 = (torch.load(tmp_path / f"ds_batch_rank{i}.pt") for i in (0, 1))
    for key in ("rewards", "correct", "seq_logp", "advantages"):  # the gathered batch is one batch
        assert torch.equal(r0[key], r1[key]), key
    n = PER_DEVICE
    assert (r0["slice"], r1["slice"]) == ((0, n), (n, 2 * n))  # the processes partition it
    assert r0["prompts"] == r1["prompts"]  # one group of G = 4, split 2 + 2 over the processes
    # [DS3] by hand on the gathered batch: GRPO advantage + DS shaping, group by group
    r, ok, lp = r0["rewards"], r0["correct"], r0["seq_logp"]
    grouped = r.view(-1, G)
    std = grouped.std(1, keepdim=True)
    a = torch.where(
        std > 0, (grouped - grouped.mean(1, keepdim=True)) / (std + 1e-4), torch.zeros_like(grouped)
    ).reshape(-1)
    torch.testing.assert_close(r0["advantages"], a + torch.where(ok, -GAMMA_P * lp, GAMMA_N * lp))
    assert lp.abs().min() > 0  # every completion got its own sampling log-prob


def load_script():
    import importlib.util

    spec = importlib.util.spec_from_file_location("trl_ds_grpo", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_shipped_configs_load_and_the_math_config_is_the_papers_setting():
    from accelerate.commands.config.config_args import load_config_from_file

    from dsnb.integrations.trl import DSConfig

    for name, kind in (("accelerate_multi_gpu.yaml", "MULTI_GPU"), ("deepspeed_zero2.yaml", "DEEPSPEED")):
        cfg = load_config_from_file(str(ROOT / "configs" / name))
        assert cfg.distributed_type == kind and cfg.num_processes == 8 and cfg.mixed_precision == "bf16"
    script = load_script()
    s = script.load_settings(
        script.parse_args(["--config", str(ROOT / "configs" / "math_qwen2.5_math_1.5b.yaml")])
    )
    g = s["grpo"]
    assert s["model"] == "Qwen/Qwen2.5-Math-1.5B" and s["lora_r"] == 0  # full fine-tuning
    assert (g["num_generations"], g["temperature"], g["learning_rate"]) == (8, 0.7, 1e-6)
    assert g["beta"] == 0.0 and g["entropy_coef"] == 0.0
    assert DSConfig(**s["ds"]) == DSConfig.paper_math()
    args = script.grpo_args(s)  # a valid GRPOConfig (on a CPU machine: use_cpu, no bf16)
    assert args.num_generations == 8 and args.scale_rewards == "group" and args.loss_type == "dapo"
