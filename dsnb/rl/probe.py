"""Measure one training step: seconds and peak memory, per phase of the algorithm.

``probe_step(trainer)`` runs ``trainer.train_step()`` once (a real step: it trains and logs like
any other) and reports how long each phase took and how much memory it needed above what was
allocated when the step began. The phases are those of :meth:`Trainer.train_step`:

    sample   Policy.sample                     generate G completions per prompt
    score    Policy.token_logp (no gradient)   log pi_old (and log pi_ref), micro-batch by micro-batch
    update   Trainer._update                   forward with gradient, backward, optimizer step

Memory is what tensors hold, the figure an analytic model can predict (``dsnb.rl.memory``): on
CUDA ``torch.cuda.max_memory_allocated``; on a CPU the allocator's events recorded by
``torch.profiler`` (``profile_memory=True``), summed in time order. Neither counts the caching
allocator's reserve or the process's other memory (Python, libraries), so it is below the
``nvidia-smi`` or RSS figure.

Used by notebook 04 (a measured time estimate before training starts),
``benchmarks/dry_run_real_size.py``, ``benchmarks/gpu_check.py`` and tests/test_dry_run.py.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field, replace

import torch

PHASES = ("sample", "score", "update")


@dataclass
class StepProbe:
    """What one probed step cost."""

    seconds: float
    """Wall-clock seconds of the whole step."""
    phase_seconds: dict[str, float]
    """Seconds per phase (sample, score, update)."""
    start_bytes: int
    """Bytes allocated when the step began: weights, LoRA, and from step 2 on its gradients and
    optimizer state."""
    phase_peak_bytes: dict[str, int] = field(default_factory=dict)
    """Per phase, the most bytes allocated at once above ``start_bytes`` (empty if not measured)."""
    completion_tokens: int = 0
    """Completion tokens sampled in the step (eos included)."""
    row: dict = field(default_factory=dict)
    """The step's metrics row."""
    how: str = ""
    """How memory was measured."""

    @property
    def peak_bytes(self) -> int:
        """The step's peak above ``start_bytes`` (the largest phase peak)."""
        return max(self.phase_peak_bytes.values(), default=0)

    @property
    def tokens_per_s(self) -> float:
        return self.completion_tokens / max(self.seconds, 1e-9)


def allocated_bytes(trainer) -> int:
    """Bytes of every tensor the trainer owns between steps: parameters, buffers, gradients and
    optimizer state (on CUDA this equals what the allocator reports, up to the tokenizer-free
    rest; on a CPU it is the only way to ask)."""
    seen, total = set(), 0

    def add(t):
        nonlocal total
        if isinstance(t, torch.Tensor) and t.untyped_storage().data_ptr() not in seen:
            seen.add(t.untyped_storage().data_ptr())
            total += t.untyped_storage().nbytes()

    for p in trainer.policy.model.parameters():
        add(p)
        add(p.grad)
    for b in trainer.policy.model.buffers():
        add(b)
    for state in trainer.opt.state.values():
        for v in state.values():
            add(v)
    return total


class _Marks:
    """Wraps the trainer's phase methods (on the instances only, restored afterwards) so that
    each call is timed and, with a profiler, marked as a named range."""

    def __init__(self, trainer, cuda: bool, start: int):
        self.trainer, self.cuda, self.start = trainer, cuda, start
        self.seconds = dict.fromkeys(PHASES, 0.0)
        self.cuda_peaks = dict.fromkeys(PHASES, 0)
        self.current = None

    @contextlib.contextmanager
    def phase(self, name):
        if self.current is not None:  # token_logp inside _update belongs to the update
            yield
            return
        self.current = name
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        t0 = time.perf_counter()
        try:
            with torch.profiler.record_function(f"dsnb::{name}"):
                yield
        finally:
            if self.cuda:
                torch.cuda.synchronize()
                peak = torch.cuda.max_memory_allocated() - self.start
                self.cuda_peaks[name] = max(self.cuda_peaks[name], peak)
            self.seconds[name] += time.perf_counter() - t0
            self.current = None

    def wrap(self, obj, attr, phase_of):
        real = getattr(obj, attr)

        def marked(*args, **kwargs):
            with self.phase(phase_of(kwargs)):
                return real(*args, **kwargs)

        setattr(obj, attr, marked)
        return lambda: delattr(obj, attr)  # back to the class's method

    @contextlib.contextmanager
    def installed(self):
        tr = self.trainer
        undo = [
            self.wrap(tr.policy, "sample", lambda kw: "sample"),
            self.wrap(tr.policy, "token_logp", lambda kw: "update" if kw.get("grad") else "score"),
            self.wrap(tr, "_update", lambda kw: "update"),
        ]
        try:
            yield
        finally:
            for u in undo:
                u()


def profiler_peaks(prof) -> dict[str, int]:
    """Per ``dsnb::<phase>`` range, the highest running sum of CPU allocator events (bytes
    allocated minus freed), measured from where the ``dsnb::step`` range begins."""
    events = list(prof.profiler.kineto_results.events())
    ranges = [(e.name()[6:], e.start_ns(), e.end_ns()) for e in events if e.name().startswith("dsnb::")]
    step_start = min(a for name, a, _ in ranges if name == "step")
    mem = sorted((e.start_ns(), e.nbytes()) for e in events if e.name() == "[memory]")
    peaks = dict.fromkeys(PHASES, 0)
    running, baseline = 0, None
    for t, nbytes in mem:
        if baseline is None and t >= step_start:
            baseline = running
        running += nbytes
        for name, a, b in ranges:
            if name in peaks and a <= t <= b:
                peaks[name] = max(peaks[name], running - baseline)
    return peaks


def _rehome_gradients(trainer):
    """Replace each gradient by a copy made while the profiler watches. The profiler cannot see
    a block freed that was allocated before it started (the previous step's gradients, freed by
    zero_grad), which would count them twice."""
    with torch.no_grad():
        for p in trainer.policy.trainable_parameters():
            if p.grad is not None:
                p.grad = p.grad.clone()


def probe_step(trainer, memory: bool = True) -> StepProbe:
    """Run one real training step of `trainer` and measure it (see the module docstring).
    ``memory=False`` times it only (no profiler: the CPU profiler slows a step by a few %)."""
    cuda = torch.device(trainer.policy.device).type == "cuda"
    start = torch.cuda.memory_allocated() if cuda else allocated_bytes(trainer)
    marks = _Marks(trainer, cuda and memory, start)
    prof = (
        torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU], profile_memory=True)
        if memory and not cuda
        else contextlib.nullcontext()
    )
    with marks.installed(), prof:
        if memory and not cuda:
            _rehome_gradients(trainer)
        t0 = time.perf_counter()
        with torch.profiler.record_function("dsnb::step"):
            row = trainer.train_step()
        seconds = time.perf_counter() - t0
    peaks, how = {}, ""
    if memory:
        peaks = marks.cuda_peaks if cuda else profiler_peaks(prof)
        how = "torch.cuda.max_memory_allocated" if cuda else "torch.profiler CPU allocator events"
    tokens = int(trainer.last_batch.rollout.completion_mask.sum())
    return StepProbe(seconds, marks.seconds, start, peaks, tokens, row, how)


def compare(probe: StepProbe, pred) -> list[dict]:
    """Measured vs predicted (a ``dsnb.rl.memory.MemoryPrediction`` for the same step: the first
    step or a later one), row by row, in bytes: what
    was allocated when the step began, each phase's peak above that, and the step's total peak.
    ``ratio`` = predicted / measured."""
    start_pred = pred.persistent
    rows = [("allocated at step start", probe.start_bytes, start_pred)]
    rows += [(f"phase {n} (above start)", probe.phase_peak_bytes.get(n, 0), pred.phases[n]) for n in PHASES]
    rows.append(("step peak", probe.start_bytes + probe.peak_bytes, start_pred + max(pred.phases.values())))
    return [
        {"what": w, "measured": m, "predicted": p, "ratio": p / m if m else float("nan")} for w, m, p in rows
    ]


def comparison_table(rows: list[dict]) -> str:
    """``compare``'s rows as a markdown table in MiB."""
    lines = ["| | measured MiB | predicted MiB | predicted / measured |", "|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['what']} | {r['measured'] / 2**20:.1f} | {r['predicted'] / 2**20:.1f} | {r['ratio']:.2f} |"
        )
    return "\n".join(lines)


def dry_run(cfg, arch, warmup: int = 0):
    """One probed step of `cfg` (its model directory holding `arch`'s shapes, e.g. a
    ``dsnb.rl.offline.random_model``), after `warmup` unprobed steps, and the memory model's
    prediction for the same shapes: returns (StepProbe, MemoryPrediction, compare rows). P and T
    are read off the real rollout (prompts are padded to the batch's longest; a completion may
    stop early at eos). On a CPU it runs without oneDNN (``torch.backends.mkldnn``): on CPUs with
    native bf16 (avx512_bf16, AMX) oneDNN caches reordered copies of the weights on their first
    use, ~9x the predicted sampling peak of a small bf16 model's step 1, memory no GPU step holds
    and the model does not predict."""
    from dsnb.rl.memory import predict_memory
    from dsnb.rl.policy import detect_device
    from dsnb.rl.trainer import Trainer

    on_cpu = detect_device(cfg.policy.device) == "cpu"
    with torch.backends.mkldnn.flags(enabled=not on_cpu):
        trainer = Trainer(cfg, progress=False)
        for _ in range(warmup):
            trainer.train_step()
        probe = probe_step(trainer)
    roll = trainer.last_batch.rollout
    P, T = roll.prompt_ids.shape[1], roll.completion_ids.shape[1]
    dtype = str(trainer.policy.dtype).removeprefix("torch.")
    first = probe.row["step"] == 1
    pred = predict_memory(arch, replace(cfg, max_new_tokens=T), P, dtype, first_step=first)
    return probe, pred, compare(probe, pred)


def first_step(cfg):
    """Train step 1 of `cfg` in its run directory, measured (time; on CUDA memory too), and
    checkpoint it, so that ``Trainer.resume`` or the dashboard continue from step 2: the
    estimate costs no extra step. Returns (StepProbe, MemoryPrediction for the run's shapes).
    A run directory that already has a checkpoint is not trained again (its step-1 row is read)."""
    from dsnb.rl.memory import Arch, predict_memory
    from dsnb.rl.rundir import RunDir
    from dsnb.rl.trainer import Trainer

    run = RunDir(cfg.run_dir)
    if run.latest_checkpoint() is not None:
        row = next((r for r in run.read("metrics") if r["step"] == 1), {"time/step_s": float("nan")})
        return StepProbe(row["time/step_s"], {}, 0, row=row, how="recorded"), None
    trainer = Trainer(cfg, progress=False)
    probe = probe_step(trainer, memory=torch.device(trainer.policy.device).type == "cuda")
    trainer.checkpoint()
    roll = trainer.last_batch.rollout
    arch = Arch.from_hf(trainer.policy.model.get_base_model().config)
    dtype = str(trainer.policy.dtype).removeprefix("torch.")
    shapes = replace(cfg, max_new_tokens=roll.completion_ids.shape[1])
    pred = predict_memory(arch, shapes, roll.prompt_ids.shape[1], dtype, first_step=True)
    return probe, pred


def estimate(probe: StepProbe, pred, steps: int) -> str:
    """What `first_step` measured, in words, with the time the whole run will take."""
    total = probe.seconds * max(steps - 1, 0)
    lines = [
        f"step 1 took {probe.seconds:.1f} s"
        + (
            " (" + ", ".join(f"{k} {v:.1f} s" for k, v in probe.phase_seconds.items()) + ")"
            if probe.phase_seconds
            else ""
        )
        + f"; the other {steps - 1} steps: about {total / 60:.1f} min, plus the mini-evaluations"
        " (a measured estimate: steps vary with completion length, and step 1 includes warm-up)"
    ]
    if probe.phase_peak_bytes:
        lines.append(
            f"peak memory measured: {(probe.start_bytes + probe.peak_bytes) / 2**30:.2f} GiB of tensors"
        )
    if pred is not None:
        lines.append(
            f"memory model (a prediction, dsnb.rl.memory): {pred.peak / 2**30:.2f} GiB of tensors at the peak"
            f" ({pred.peak_phase} phase); {pred.setting}"
        )
    return "\n".join(lines)
