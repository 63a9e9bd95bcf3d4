"""How long does `dsnb demo` take on this machine? (Goals, on 2 idle CPU cores: the demo under 6
minutes end to end, one training step of its shape under 1.0 s; shipped model + problems <= 20 MB.)

Runs the default demo (or --steps N for a shorter, extrapolated run) into a temporary directory
and prints the wall time per phase and the ratios to the goals. No assertions: numbers.

    python benchmarks/bench_demo.py            # the real thing (the default demo)
    python benchmarks/bench_demo.py --steps 20 # extrapolates training time to the default steps
"""

import argparse
import json
import tempfile
import time
from pathlib import Path

GOAL_S = 360.0
STEP_GOAL_S = 1.0
SIZE_GOAL_MB = 20.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, help="RL steps per run (default: the demo's)")
    ap.add_argument("--out", help="keep the demo's output here (default: a temporary directory)")
    a = ap.parse_args()
    import torch

    from dsnb.study.demo import DemoConfig, run_demo

    default = DemoConfig()
    steps = a.steps or default.steps
    out = Path(a.out) if a.out else Path(tempfile.mkdtemp()) / "demo"
    t0 = time.time()
    summary = run_demo(DemoConfig(out=str(out), steps=steps))
    wall = time.time() - t0
    times = [
        json.loads(x)["time/step_s"]
        for m in summary["methods"]
        for s in summary["seeds"]
        for x in (out / "runs" / f"{m}_s{s}" / "metrics.jsonl").read_text().splitlines()
    ]
    train_s = sum(times)
    per_step = train_s / len(times)
    full = wall - train_s + per_step * default.steps * len(times) / steps
    print(
        f"\ntorch threads: {torch.get_num_threads()}  mean step: {per_step:.2f} s  "
        f"training: {train_s:.0f} s  evaluation + loading: {wall - train_s:.0f} s"
    )
    print(
        f"runs: {len(summary['methods'])} methods x seeds {summary['seeds']}, {steps} steps x "
        f"{default.prompts_per_step} prompts x G = {default.group_size}"
    )
    print(
        f"demo wall time{f' (extrapolated to {default.steps} steps)' if steps != default.steps else ''}: "
        f"{full:.0f} s "
        f"= {full / GOAL_S:.2f} x the 6-minute goal"
    )
    print(f"mean step {per_step:.2f} s = {per_step / STEP_GOAL_S:.2f} x the 1-second goal")
    from dsnb import data
    from dsnb.tasks.data import problems_path

    files = [*data.model_dir(default.model).iterdir(), problems_path(default.task)]
    mb = sum(f.stat().st_size for f in files if f.is_file()) / 2**20
    print(f"shipped {default.model} + {default.task} problems: {mb:.1f} MB = {mb / SIZE_GOAL_MB:.2f} x 20 MB")


if __name__ == "__main__":
    main()
