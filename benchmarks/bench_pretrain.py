"""How long does `dsnb nano pretrain --preset wide` (the flagship model, dsnb/data/nano4w) take here?
(Goal, on 2 idle CPU cores: <= 30 minutes from scratch.)

Times the first --steps optimizer steps of a preset's recipe (building the pool included) at the
given torch threads and extrapolates to the recipe's steps. No assertions: numbers.

    python benchmarks/bench_pretrain.py                 # wide, 100 steps, 2 threads
    python benchmarks/bench_pretrain.py --threads 1 --preset multi
"""

import argparse
import tempfile
import time
from dataclasses import replace

GOAL_S = 1800.0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", default="wide", choices=["wide", "multi"])
    ap.add_argument("--steps", type=int, default=100, help="steps to time (default: 100)")
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    import torch

    from dsnb.nano import NanoConfig, example_pool, pretrain

    torch.set_num_threads(a.threads)
    full = getattr(NanoConfig, a.preset)()
    t0 = time.time()
    pool = example_pool(full)
    pool_s = time.time() - t0  # cold: the solver's caches are empty, as in a fresh `dsnb nano pretrain`
    t0 = time.time()
    example_pool(full)
    warm_s = time.time() - t0  # what pretrain's own pool build costs now that the caches are filled
    short = replace(full, steps=a.steps)
    t0 = time.time()
    pretrain(short, tempfile.mkdtemp(), progress=False)
    run_s = time.time() - t0 - warm_s
    per_step = run_s / a.steps
    total = pool_s + per_step * full.steps
    print(f"preset {a.preset}: pool of {len(pool)} instances built in {pool_s:.0f} s; {a.threads} thread(s)")
    print(f"{per_step:.3f} s per step of {full.batch_size} sequences over {a.steps} steps")
    print(f"extrapolated to {full.steps} steps: {total:.0f} s = {total / GOAL_S:.2f} x the 30-minute goal")


if __name__ == "__main__":
    main()
