"""The shipped data files and the code that writes and reads them.

``data/countdown/{train,eval}{3,4}.jsonl``: seeded Countdown splits (3 or 4 numbers), one JSON
object a line with ``nums``, ``target``, ``prompt`` (the "plain" TinyZero prompt) and
``solutions`` (the number of distinct solutions). They load with
``datasets.load_dataset("json", data_files=...)`` and feed TRL directly: the extra columns
arrive in the reward functions as ``nums=`` and ``target=``. ``write_shipped_countdown``
regenerates them bit for bit. ``data/gsm8k/test.jsonl``: the first 200 GSM8K test problems
(MIT licence, see data/gsm8k/LICENSE).
"""
from __future__ import annotations

import json
from pathlib import Path

from dsnb.tasks.countdown import Instance, generate, render_prompt
from dsnb.tasks.math import extract_gsm8k_reference
from dsnb.tasks.solver import solution_multiplicity

DATA_DIR = Path(__file__).resolve().parents[2] / "data"

SPLITS = {
    # name: generate() arguments; each eval split is written first and excluded from train
    "eval3": dict(n=200, num_count=3, seed=3_001),
    "train3": dict(n=400, num_count=3, seed=3_000),
    "eval4": dict(n=200, num_count=4, seed=4_001),
    "train4": dict(n=400, num_count=4, seed=4_000),
}
"""The shipped Countdown splits (defaults lo=2, hi=15, max_target=100, min_solutions=1)."""


def countdown_rows(instances, template: str = "plain", solutions: bool = True) -> list[dict]:
    """JSON-ready rows: nums, target, prompt and (optionally) the solution count."""
    rows = []
    for inst in instances:
        row = {**inst.to_dict(), "prompt": render_prompt(inst, template)}
        if solutions:
            row["solutions"] = solution_multiplicity(inst.nums, inst.target)
        rows.append(row)
    return rows


def write_jsonl(path, rows) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def read_jsonl(path) -> list[dict]:
    with Path(path).open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def write_countdown_jsonl(path, instances, template: str = "plain", solutions: bool = True) -> Path:
    """Write Countdown instances as JSONL (fields nums, target, prompt, solutions)."""
    return write_jsonl(path, countdown_rows(instances, template, solutions))


def countdown_path(name: str) -> Path:
    """Path of a shipped split, e.g. ``countdown_path("train3")``."""
    if name not in SPLITS:
        raise ValueError(f"unknown split {name!r}; shipped splits are {sorted(SPLITS)}")
    return DATA_DIR / "countdown" / f"{name}.jsonl"


def load_countdown(name_or_path, n: int | None = None) -> list[Instance]:
    """Instances from a shipped split name ("train3", "eval4", ...) or a JSONL path."""
    path = countdown_path(name_or_path) if name_or_path in SPLITS else Path(name_or_path)
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; the data/ folder ships with the git "
                                "repository (clone it, or regenerate with write_shipped_countdown)")
    rows = read_jsonl(path)[:n]
    return [Instance.from_dict(row) for row in rows]


def shipped_instances() -> dict[str, list[Instance]]:
    """Regenerate the shipped splits in memory (eval first, train excluding eval)."""
    out: dict[str, list[Instance]] = {}
    for name, kwargs in SPLITS.items():
        exclude = out.get("eval" + name[-1], []) if name.startswith("train") else []
        out[name] = generate(**kwargs, exclude=exclude)
    return out


def write_shipped_countdown(directory=None) -> list[Path]:
    """(Re)write ``data/countdown/*.jsonl`` from ``SPLITS``; deterministic."""
    directory = Path(directory) if directory else DATA_DIR / "countdown"
    return [write_countdown_jsonl(directory / f"{name}.jsonl", insts)
            for name, insts in shipped_instances().items()]


def load_gsm8k(path=None, n: int | None = None) -> list[dict]:
    """GSM8K problems as dicts with question, answer (full solution) and reference (``#### N``).

    Defaults to the shipped 200-problem slice of the test split.
    """
    path = Path(path) if path else DATA_DIR / "gsm8k" / "test.jsonl"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found; the data/ folder ships with the git repository")
    rows = read_jsonl(path)[:n]
    return [{"question": r["question"], "answer": r["answer"],
             "reference": extract_gsm8k_reference(r["answer"])} for r in rows]
