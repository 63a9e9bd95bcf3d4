"""Did a run diverge? The study's stability rule, and the short pre-check that applies it to every
setting of a grid before the long runs (``dsnb study --precheck``).

A diverged setting is *reported*, never dropped: the pre-check (``dsnb.study.run.run_precheck``)
writes OUT/precheck.json, every
results row carries its setting's pre-check status and its own ``diverged`` verdict from its full
training curve, and the frontier figure draws diverged points with a cross. Used by
``dsnb.study.run`` and ``dsnb.study.cell``; :func:`divergence` is pure (metric rows in, words out).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class StabilityRule:
    window: int = 5
    """Steps averaged at the start and at the end of the curve."""
    collapse: float = 0.25
    """Diverged when the end's correct rate is below this fraction of the start's ..."""
    entropy_blowup: float = 2.0
    """... or the end's token entropy above this multiple of the start's ..."""
    entropy_margin: float = 0.5
    """... and at least this many nats above it (a small entropy doubling is not a blow-up)."""


def _mean(rows, key):
    vals = [r[key] for r in rows if r.get(key) is not None]
    return sum(vals) / len(vals) if vals else None


def divergence(metrics: list[dict], rule: StabilityRule = StabilityRule()) -> str | None:
    """Why a training curve diverged, or None. Three signs, in this order: a non-finite loss or a
    skipped step (NaN); the correct rate collapsing (end < rule.collapse x start, with start > 0);
    the token entropy blowing up (end > rule.entropy_blowup x start and > start + margin nats).

    >>> ok = [{"loss/total": 0.1, "correct/mean": 0.2, "entropy/token_mean": 1.0}] * 10
    >>> divergence(ok) is None
    True
    >>> bad = ok[:5] + [{"loss/total": 0.1, "correct/mean": 0.0, "entropy/token_mean": 2.9}] * 5
    >>> divergence(bad)
    'correct rate collapsed: 0.200 -> 0.000 (mean of the first / last 5 steps)'
    """
    if not metrics:
        return None
    for r in metrics:
        loss = r.get("loss/total")
        if r.get("skipped") or (loss is not None and not math.isfinite(loss)):
            return f"non-finite loss at step {r.get('step', '?')}"
    w = max(1, min(rule.window, len(metrics) // 2))
    head, tail = metrics[:w], metrics[-w:]
    c0, c1 = _mean(head, "correct/mean"), _mean(tail, "correct/mean")
    if c0 and c1 is not None and c1 < rule.collapse * c0:
        return f"correct rate collapsed: {c0:.3f} -> {c1:.3f} (mean of the first / last {w} steps)"
    h0, h1 = _mean(head, "entropy/token_mean"), _mean(tail, "entropy/token_mean")
    if h0 is not None and h1 is not None and not math.isfinite(h1):
        return "token entropy is not finite"
    if h0 and h1 is not None and h1 > rule.entropy_blowup * h0 and h1 > h0 + rule.entropy_margin:
        return f"token entropy blew up: {h0:.2f} -> {h1:.2f} nats (first / last {w} steps)"
    return None


def row_divergence(row: dict) -> str | None:
    """A results row's verdict: its recorded ``diverged`` field, or (rows recorded before the field
    existed) :func:`divergence` of the training curve the row keeps.

    >>> row_divergence({"curve": {"step": [1, 2], "correct/mean": [0.4, 0.0]}})
    'correct rate collapsed: 0.400 -> 0.000 (mean of the first / last 1 steps)'
    """
    if "diverged" in row:
        return row["diverged"]
    curve = row.get("curve") or {}
    steps = len(next(iter(curve.values()), []))
    return divergence([{k: v[i] for k, v in curve.items()} for i in range(steps)])


def precheck_status(out) -> dict:
    """OUT/precheck.json as {setting: {"status": "ok" | "diverged", "why", ...}} ({} when none)."""
    path = Path(out) / "precheck.json"
    return json.loads(path.read_text()) if path.exists() else {}


def precheck_lines(status: dict) -> list[str]:
    """One line per setting: 'ok' or 'DIVERGED: why'.

    >>> precheck_lines({"a": {"status": "ok", "why": None}, "b": {"status": "diverged", "why": "x"}})
    ['a: ok', 'b: DIVERGED (x)']
    """
    return [f"{k}: ok" if v["status"] == "ok" else f"{k}: DIVERGED ({v['why']})" for k, v in status.items()]
