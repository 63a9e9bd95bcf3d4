"""A run directory: everything a run produces is on disk as it goes, so nothing is lost.

    RUN/config.json          the full TrainConfig (written before any model loads)
    RUN/metrics.jsonl        one JSON row per step, append-only
    RUN/samples.jsonl        a few sampled completions per step (prompt, text, reward, correct)
    RUN/events.jsonl         control changes, skipped steps, stops, resumes (with their step)
    RUN/checkpoints/step_N/  the LoRA adapter (peft format) + trainer_state.pt (optimizer, RNG, step)

Resuming continues from the newest checkpoint. Rows that a crash left *after* that checkpoint
are moved to metrics.discarded.jsonl (nothing lost) so the resumed run does not log a step twice.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import torch


class RunDir:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.mkdir(parents=True, exist_ok=True)
        self.ckpt_root = self.path / "checkpoints"

    # -------------------------------------------------------------------- plain files
    def write_config(self, config: dict) -> None:
        (self.path / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True))

    def read_config(self) -> dict:
        return json.loads((self.path / "config.json").read_text())

    def append(self, name: str, row: dict) -> None:
        """Append one JSON row to RUN/<name>.jsonl and flush it (a crash loses nothing)."""
        with open(self.path / f"{name}.jsonl", "a") as f:
            f.write(json.dumps(row, default=float) + "\n")
            f.flush()

    def read(self, name: str) -> list[dict]:
        p = self.path / f"{name}.jsonl"
        return [json.loads(line) for line in p.read_text().splitlines() if line.strip()] if p.exists() else []

    def event(self, step: int, kind: str, **info) -> None:
        self.append("events", {"step": step, "event": kind, "time": time.time(), **info})

    # -------------------------------------------------------------------- checkpoints
    def checkpoints(self) -> list[Path]:
        """Completed checkpoints, oldest first (a checkpoint is complete once DONE exists)."""
        if not self.ckpt_root.exists():
            return []
        done = [p for p in self.ckpt_root.glob("step_*") if (p / "DONE").exists()]
        return sorted(done, key=lambda p: int(p.name.split("_")[1]))

    def latest_checkpoint(self) -> Path | None:
        ckpts = self.checkpoints()
        return ckpts[-1] if ckpts else None

    def save_checkpoint(self, step: int, policy, state: dict, keep: int = 3) -> Path:
        """Adapter + trainer state for `step` (the number of finished steps). Atomic via DONE."""
        path = self.ckpt_root / f"step_{step:06d}"
        if path.exists():
            shutil.rmtree(path)
        path.mkdir(parents=True)
        policy.save_adapter(path)
        torch.save(state, path / "trainer_state.pt")
        (path / "DONE").write_text(str(step))
        for old in self.checkpoints()[:-keep]:
            shutil.rmtree(old, ignore_errors=True)
        return path

    def trim_after(self, step: int) -> int:
        """Keep metrics/samples rows with step < `step`; move later ones aside. Returns rows moved."""
        moved = 0
        for name in ("metrics", "samples"):
            rows = self.read(name)
            keep = [r for r in rows if r["step"] < step]
            extra = [r for r in rows if r["step"] >= step]
            if extra:
                for r in extra:
                    self.append(f"{name}.discarded", r)
                (self.path / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in keep))
                moved += len(extra) if name == "metrics" else 0
        return moved
