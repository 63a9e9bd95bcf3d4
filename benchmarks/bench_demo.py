"""How long does `dsnb demo` take on this machine? (Goal: under 10 minutes on 2 CPU cores.)

Runs the default demo (or --steps N for a shorter, extrapolated run) into a temporary directory
and prints the wall time per phase and the ratio to the 10-minute goal. No assertions: numbers.

    python benchmarks/bench_demo.py            # the real thing (~10 min)
    python benchmarks/bench_demo.py --steps 20 # extrapolates training time to 150 steps
"""
import argparse
import json
import tempfile
import time
from pathlib import Path

GOAL_S = 600.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=150)
    a = ap.parse_args()
    import torch
    from dsnb.demo import DemoConfig, run_demo
    out = Path(tempfile.mkdtemp()) / "demo"
    t0 = time.time()
    summary = run_demo(DemoConfig(out=str(out), steps=a.steps))
    wall = time.time() - t0
    steps = [json.loads(x)["time/step_s"] for m in summary["methods"]
             for x in (out / "runs" / f"{m}_s0" / "metrics.jsonl").read_text().splitlines()]
    train_s = sum(steps)
    per_step = train_s / len(steps)
    full = wall - train_s + per_step * 150 * len(summary["methods"])
    print(f"\ntorch threads: {torch.get_num_threads()}  mean step: {per_step:.2f} s  "
          f"training: {train_s:.0f} s  evaluation + loading: {wall - train_s:.0f} s")
    print(f"demo wall time{' (extrapolated to 150 steps)' if a.steps != 150 else ''}: {full:.0f} s "
          f"= {full / GOAL_S:.2f} x the 10-minute goal")


if __name__ == "__main__":
    main()
