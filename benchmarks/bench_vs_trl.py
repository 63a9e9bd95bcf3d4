"""Steps per second and peak memory: dsnb's Trainer against TRL's GRPOTrainer, same nano model.

    python benchmarks/bench_vs_trl.py                    # GRPO, 10 timed steps each
    python benchmarks/bench_vs_trl.py --ds --threads 1   # DS-GRPO (TRL side: DSGRPOTrainer)
    python benchmarks/bench_vs_trl.py --profile          # where each trainer spends its time

What is the same on both sides: the model directory (the world's shipped nano model, --world
countdown4m by default, else a random-init nano-sized Llama written to a temp dir), the LoRA
adapter (both built by dsnb's Policy loader, same seed), G, prompts per step, the prompt pool
(dsnb's Countdown training problems), the
completion cap, temperature, top_k = 0, top_p = 1, AdamW with a constant lr and no weight decay,
fp32, no gradient checkpointing, grad clip 1.0, one generation and one update per step
(``dsnb.integrations.trl.grpo_config_kwargs`` maps the settings). One command, one printed
ratio; by default each trainer runs in its own fresh child process with the same torch thread
count (``--same-process`` runs both here, one after the other: then the second inherits the
first's lazy imports and allocator pool, and the memory ratio flips with ``--order``). One
warm-up step each is not timed; steps/s = timed steps / their summed wall time, and the median
step time and the CPU time per step (process_time: robust to other jobs on a shared machine,
unlike wall time) are printed too.

Memory. A background thread reads the process's resident set size (/proc/self/statm, else
psutil) every 2 ms. "step peak" = the highest RSS seen during the timed steps minus the RSS just
before them (a step's transient working memory); "total" = that peak minus the RSS before the
trainer was built, imports done (adds the model, adapter, optimizer state and the trainer's own
setup). "ru_maxrss" = the child's lifetime peak RSS (includes each side's imports: TRL pulls in
more libraries). tracemalloc is not used: it does not see torch tensors (allocated in C++,
outside Python's allocator).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import pstats
import resource
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        import psutil

        return psutil.Process().memory_info().rss


class PeakRSS:
    """Samples RSS in a thread between start() and stop(); peak is the highest value seen."""

    def __init__(self, every: float = 0.002):
        self.every, self.peak, self._stop = every, 0, threading.Event()

    def _run(self):
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.every)

    def start(self):
        self.before = rss_bytes()
        self.peak = self.before
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())


def model_dir(arg: str | None, world: str) -> str:
    """The world's shipped nano model (dsnb.data), else a random-init nano-sized model (same
    architecture)."""
    if arg:
        return arg
    from dsnb.data import WORLD_MODELS
    from dsnb.data import model_dir as shipped

    try:
        return str(shipped(WORLD_MODELS[world]))
    except FileNotFoundError:
        pass
    import torch

    from dsnb.nano import NanoConfig, build_model, build_tokenizer

    torch.manual_seed(0)
    out = Path(tempfile.mkdtemp(prefix="bench_nano_"))
    tok = build_tokenizer()
    build_model(NanoConfig(), len(tok)).save_pretrained(out)
    tok.save_pretrained(out)
    return str(out)


def train_config(a, path: str):
    from dsnb.rl.loss import LossConfig
    from dsnb.rl.policy import PolicyConfig
    from dsnb.rl.trainer import TrainConfig

    loss = LossConfig.ds_nano(group_size=a.group_size) if a.ds else LossConfig(group_size=a.group_size)
    return TrainConfig(
        run_dir=tempfile.mkdtemp(prefix="bench_dsnb_"),
        task=a.world,
        steps=a.steps + 1,
        prompts_per_step=a.prompts,
        lr=1e-3,
        max_new_tokens=a.max_new_tokens,
        temperature=1.0,
        seed=0,
        n_train_problems=256,
        checkpoint_every=10**6,
        samples_per_step=0,
        loss=loss,
        policy=PolicyConfig(
            model=path, lora_r=a.lora_r, lora_alpha=2 * a.lora_r, device="cpu" if a.cpu else "auto"
        ),
    )


def preimport():
    """Libraries both trainers load lazily: imported before the "total" baseline on both sides."""
    import peft  # noqa: F401
    import transformers  # noqa: F401

    import dsnb.metrics  # noqa: F401
    import dsnb.rl.rundir  # noqa: F401
    import dsnb.tasks.registry  # noqa: F401
    import dsnb.tasks.solver  # noqa: F401


def bench_dsnb(cfg, steps: int, profile: bool) -> dict:
    from dsnb.rl.policy import Policy
    from dsnb.rl.trainer import Trainer

    preimport()
    start = rss_bytes()
    trainer = Trainer(cfg, progress=False, policy=Policy(cfg.policy, seed=cfg.seed))
    trainer.train_step()  # warm-up
    mem, prof, times, cpu, rows = PeakRSS(), cProfile.Profile() if profile else None, [], [], []
    mem.start()
    prof and prof.enable()
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        rows.append(trainer.train_step())
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    prof and prof.disable()
    mem.stop()
    lens = [r["completion/len_mean"] for r in rows]
    return _result("dsnb Trainer", times, cpu, mem, start, sum(lens) / len(lens), prof)


def bench_trl(cfg, steps: int, profile: bool, cpu: bool) -> dict:
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    from dsnb.integrations.trl import DSConfig, grpo_config_kwargs
    from dsnb.rl.policy import Policy
    from dsnb.tasks.registry import get_task
    from dsnb.tasks.rewards import countdown_reward

    preimport()
    start = rss_bytes()
    policy = Policy(cfg.policy, seed=cfg.seed)
    problems = get_task(cfg.task).load("train", cfg.n_train_problems, cfg.seed, "nano")
    data = Dataset.from_list([{"prompt": p.prompt, **p.columns} for p in problems])
    mem, prof, times, cpu = PeakRSS(), cProfile.Profile() if profile else None, [], []

    class Clock(TrainerCallback):  # the step boundaries: generation happens inside the step
        def on_step_begin(self, args, state, control, **kw):
            if state.global_step == 1:  # step 0 is the warm-up
                mem.start()
                prof and prof.enable()
            self.t0, self.c0 = time.perf_counter(), time.process_time()

        def on_step_end(self, args, state, control, **kw):
            if state.global_step >= 2:  # global_step was already incremented
                times.append(time.perf_counter() - self.t0)
                cpu.append(time.process_time() - self.c0)
            if state.global_step == steps + 1:
                prof and prof.disable()
                mem.stop()

    kw = {
        **grpo_config_kwargs(cfg),
        "output_dir": cfg.run_dir + "/trl",
        "max_steps": steps + 1,
        "disable_tqdm": True,
        "use_cpu": cpu or not _cuda(),
    }
    common = dict(
        model=policy.model,
        processing_class=policy.tokenizer,
        args=GRPOConfig(**kw),
        reward_funcs=[countdown_reward],
        train_dataset=data,
        callbacks=[Clock()],
    )
    if cfg.loss.uses_ds:
        from dsnb.integrations.trl import DSGRPOTrainer

        trainer, name = DSGRPOTrainer(**common, ds=DSConfig.from_loss(cfg.loss)), "TRL + dsnb DS"
    else:
        trainer, name = GRPOTrainer(**common), "TRL GRPOTrainer"
    trainer.train()
    lens = [
        r["completions/mean_length"] for r in trainer.state.log_history[1:] if "completions/mean_length" in r
    ]
    return _result(name, times, cpu, mem, start, sum(lens) / max(len(lens), 1), prof)


def _cuda() -> bool:
    import torch

    return torch.cuda.is_available()


def _result(name, times, cpu, mem, start, length, prof) -> dict:
    median = sorted(times)[len(times) // 2]
    out = {
        "name": name,
        "steps_per_s": len(times) / sum(times),
        "s_per_step": sum(times) / len(times),
        "median_s": median,
        "cpu_s": sum(cpu) / len(cpu),
        "step_peak_mib": (mem.peak - mem.before) / 2**20,
        "total_mib": (mem.peak - start) / 2**20,
        "ru_maxrss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "completion_len": length,
    }
    if prof is not None:
        buf = io.StringIO()
        pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
        out["profile"] = buf.getvalue()
    return out


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", help="model dir (default: the world's shipped nano model)")
    p.add_argument("--world", default="countdown4m", help="countdown4m (default) or countdown3")
    p.add_argument("--steps", type=int, default=10, help="timed steps per trainer")
    p.add_argument("--prompts", type=int, default=8, help="B, prompts per step")
    p.add_argument("--group-size", type=int, default=8, help="G")
    p.add_argument("--max-new-tokens", type=int, default=24)
    p.add_argument("--lora-r", type=int, default=16)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0 = torch's default)")
    p.add_argument("--ds", action="store_true", help="DS-GRPO on both sides (default: plain GRPO)")
    p.add_argument("--order", default="dsnb,trl", help="which trainer runs first")
    p.add_argument(
        "--same-process",
        action="store_true",
        help="run both trainers in this process (default: one fresh child process "
        "each, so neither inherits the other's imports and allocator state)",
    )
    p.add_argument(
        "--rounds",
        type=int,
        default=1,
        help="repeat the pair, alternating the order; report per-side medians",
    )
    p.add_argument("--cpu", action="store_true", help="force the CPU even if a GPU is present")
    p.add_argument("--profile", action="store_true", help="print cProfile's top functions")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def run_side(side: str, a, path: str) -> dict:
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    cfg = train_config(a, path)
    result = (
        bench_dsnb(cfg, a.steps, a.profile) if side == "dsnb" else bench_trl(cfg, a.steps, a.profile, a.cpu)
    )
    result["threads"] = torch.get_num_threads()
    return result


def run_child(side: str, argv: list[str], path: str) -> dict:
    """The same benchmark for one side in a fresh interpreter; its result comes back as JSON."""
    with tempfile.NamedTemporaryFile(suffix=".json") as f:
        cmd = [sys.executable, __file__, *argv, "--model", path, "--child", f"{side}:{f.name}"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        return json.loads(Path(f.name).read_text())


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    a = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    path = model_dir(a.model, a.world)
    if a.child:
        side, out = a.child.split(":", 1)
        Path(out).write_text(json.dumps(run_side(side, a, path)))
        return 0
    rounds = {"dsnb": [], "trl": []}
    order = a.order.split(",")
    for r in range(a.rounds):
        for side in order if r % 2 == 0 else order[::-1]:
            rounds[side].append(run_side(side, a, path) if a.same_process else run_child(side, argv, path))
            gc.collect()
    report(a, path, {side: median_result(rs) for side, rs in rounds.items()})
    return 0


def median_result(results: list[dict]) -> dict:
    """Per-field median over rounds (the first round's profile, if any)."""
    out = dict(results[0])
    for key, value in results[0].items():
        if isinstance(value, float):
            out[key] = sorted(r[key] for r in results)[len(results) // 2]
    return out


def report(a, path, runs):
    d, t = runs["dsnb"], runs["trl"]
    print(
        f"model {path} | B={a.prompts} G={a.group_size} T<={a.max_new_tokens} LoRA r={a.lora_r} "
        f"| {'DS-GRPO' if a.ds else 'GRPO'} | torch threads {d['threads']} | {a.steps} timed steps "
        f"each | {'one process' if a.same_process else 'one child process each'} | {a.rounds} round(s), "
        f"medians"
    )
    print(
        f"{'trainer':18s} {'steps/s':>8s} {'median s':>9s} {'CPU s/step':>10s} {'step peak MiB':>14s} "
        f"{'total MiB':>10s} {'ru_maxrss MiB':>14s} {'compl. len':>10s}"
    )
    for r in runs.values():
        print(
            f"{r['name']:18s} {r['steps_per_s']:8.3f} {r['median_s']:9.3f} {r['cpu_s']:10.3f} "
            f"{r['step_peak_mib']:14.1f} {r['total_mib']:10.1f} {r['ru_maxrss_mib']:14.1f} "
            f"{r['completion_len']:10.1f}"
        )
    print(
        f"ratio dsnb/TRL: speed {d['steps_per_s'] / t['steps_per_s']:.2f}x (median step "
        f"{t['median_s'] / d['median_s']:.2f}x, CPU time per step {t['cpu_s'] / d['cpu_s']:.2f}x; "
        f"> 1 = dsnb faster), step peak memory "
        f"{d['step_peak_mib'] / max(t['step_peak_mib'], 1e-9):.2f}x, total memory "
        f"{d['total_mib'] / max(t['total_mib'], 1e-9):.2f}x, ru_maxrss "
        f"{d['ru_maxrss_mib'] / t['ru_maxrss_mib']:.2f}x (< 1 = dsnb smaller)"
    )
    for r in runs.values():
        if "profile" in r:
            print(f"\n===== profile: {r['name']} =====\n{r['profile']}")


if __name__ == "__main__":
    sys.exit(main())
