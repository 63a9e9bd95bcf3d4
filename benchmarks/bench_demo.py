"""How long does `dsnb demo` take on this machine? (Goals, on 2 idle CPU cores: the demo under 6
minutes end to end, one training step of its shape under 1.0 s; shipped model + problems <= 20 MB.)

Runs the default demo (or --steps N for a shorter, extrapolated run) into a temporary directory
and prints the wall time per phase and the ratios to the goals. No assertions: numbers.

    python benchmarks/bench_demo.py            # the real thing (the default demo)
    python benchmarks/bench_demo.py --steps 20 # extrapolates training time to the default steps
    python benchmarks/bench_demo.py --steps 10 --compare  # also one process (all threads): the ratio

The demo trains its runs in parallel processes, one torch thread each (``DemoConfig.jobs``; default
one per core); ``--jobs 1`` measures the single-process demo.
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
    ap.add_argument("--jobs", type=int, help="runs at once (default: the demo's, one per core)")
    ap.add_argument(
        "--compare", action="store_true", help="then the same with --jobs 1 (one process, all threads)"
    )
    a = ap.parse_args()
    full = measure(a.steps, a.out, a.jobs)
    if a.compare:
        one = measure(a.steps, None, 1)
        print(f"\nparallel demo vs one process: {one / full:.2f}x as fast")


def measure(steps_arg, out_arg, jobs) -> float:
    import torch

    from dsnb.study.demo import DemoConfig, run_demo

    default = DemoConfig()
    steps = steps_arg or default.steps
    out = Path(out_arg) if out_arg else Path(tempfile.mkdtemp()) / "demo"
    cfg = DemoConfig(out=str(out), steps=steps, jobs=jobs)
    t0 = time.time()
    summary = run_demo(cfg)
    wall = time.time() - t0
    times = [
        json.loads(x)["time/step_s"]
        for m in summary["methods"]
        for s in summary["seeds"]
        for x in (out / "runs" / f"{m}_s{s}" / "metrics.jsonl").read_text().splitlines()
    ]
    workers = cfg.workers()
    train_s = sum(times) / workers  # wall time of training: the runs share the workers
    per_step = sum(times) / len(times)
    full = wall - train_s + train_s * default.steps / steps
    threads = "1 per worker" if workers > 1 else torch.get_num_threads()
    print(
        f"\nworkers: {workers}  torch threads: {threads}  mean step (one run): {per_step:.2f} s  "
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
    return full


if __name__ == "__main__":
    main()
