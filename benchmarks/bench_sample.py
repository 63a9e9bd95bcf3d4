"""How much does sharing a prompt's prefill across its G copies save? (Policy.sample)

Times ``Policy.sample`` at the demo's two shapes, a training step (16 prompts x G = 16) and an
evaluation chunk (32 prompts x 64 samples), with the shared prefill and with every copy
prefilled by generate() itself, alternating the two so that a busy machine slows both alike.
Both give the same completions token for token (tests/test_policy.py); this prints the ratio.
No assertions: numbers.

    python benchmarks/bench_sample.py                       # the flagship nano model, 1 thread
    python benchmarks/bench_sample.py --model dsnb/data/nano --task countdown3
"""

import argparse
import time

import torch


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default="nano4w")
    ap.add_argument("--task", default="countdown4m")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    from dsnb.rl.policy import Policy, PolicyConfig
    from dsnb.tasks.registry import get_task

    policy = Policy(PolicyConfig(model=a.model))
    task = get_task(a.task)
    shared_cache = policy.shared_prompt_cache
    for name, prompts, group, tokens in (
        ("training step (16 prompts x G = 16)", 16, 16, 24),
        ("evaluation chunk (32 prompts x 64)", 32, 64, 64),
    ):
        texts = [p.prompt for p in task.load("eval", prompts)]
        times = {"shared": [], "separate": []}
        for r in range(a.rounds + 1):  # round 0 warms up and is not counted
            for how in ("shared", "separate"):
                policy.shared_prompt_cache = shared_cache if how == "shared" else (lambda *x: None)
                torch.manual_seed(r)
                t0 = time.perf_counter()
                policy.sample(texts, group, tokens)
                if r:
                    times[how].append(time.perf_counter() - t0)
        policy.shared_prompt_cache = shared_cache
        sh, sep = (sum(times[k]) / len(times[k]) for k in ("shared", "separate"))
        print(f"{name}: shared prefill {sh:.3f} s, a prefill per copy {sep:.3f} s: {sep / sh:.2f}x as fast")


if __name__ == "__main__":
    main()
