"""Choosing each family's "best" setting on the validation split, never on the reported problems.

The second-edition study (``dsnb study --grid v2``) runs every setting at 3 seeds, then gives 2
more seeds to the best setting of GRPO + KL, DS and the entropy bonus, and to the best rival
(GRPO itself always gets 5). "Best" is read here from the ``val`` block of the rows (the last eval
rows of the problem file: disjoint from the reported ones), by :func:`val_score`; diverged
settings are never chosen. The choice is written once to OUT/selection.json and then fixed: rows
added later do not move it. Pure functions of results rows (no torch); used by ``dsnb.study.run``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from dsnb.metrics import pass_at_k
from dsnb.study.stability import row_divergence

FIVE_SEED_FAMILIES = ("grpo", "grpo_kl", "ds", "entropy_bonus")
"""Families whose best setting (chosen on the validation split) gets the extra seeds (grid.EXTRA_SEEDS),
plus the best of the rivals (:data:`RIVALS`)."""
RIVALS = ("unlikeliness", "passk", "clipcov")
"""The rivals' families (their settings' ``sweep``): the best of their bests gets the extra seeds."""
SCORES = ("pass@k-logmean", "pass@1", "pass@n", "distinct_correct")


def log_ks(n: int) -> list[int]:
    """k = 1, 2, 4, ..., and n: where the selection score reads the pass@k curve.

    >>> log_ks(64), log_ks(12)
    ([1, 2, 4, 8, 16, 32, 64], [1, 2, 4, 8, 12])
    """
    ks, k = [], 1
    while k < n:
        ks.append(k)
        k *= 2
    return ks + [n]


def val_score(row: dict, score: str = "pass@k-logmean") -> float:
    """A row's validation score. The default, the mean of pass@k at k = 1, 2, 4, ..., n, weighs
    correctness (k = 1) and coverage (k = n) alike: a setting that buys pass@64 with pass@1 (or the
    reverse) does not win by that alone.

    >>> row = {"eval_n": 4, "val": {"c": [4, 0], "distinct": [1, 0]}}
    >>> val_score(row), val_score(row, "pass@1"), val_score(row, "distinct_correct")
    (0.5, 0.5, 0.5)
    """
    if "val" not in row:
        raise ValueError(
            f"{row.get('setting')} seed {row.get('seed')} has no validation results: run the study "
            "with val_problems > 0 (the v2 grid does)"
        )
    n, val = row["eval_n"], row["val"]
    c = np.asarray(val["c"])
    if score == "distinct_correct":
        return float(np.mean(val["distinct"]))
    ks = {"pass@k-logmean": log_ks(n), "pass@1": [1], "pass@n": [n]}.get(score)
    if ks is None:
        raise ValueError(f"score={score!r}: use one of {SCORES}")
    return float(np.mean([np.mean(pass_at_k(n, c, k)) for k in ks]))


def is_diverged(rows: list[dict]) -> str | None:
    """Why a setting counts as diverged (a seed's curve or its pre-check), or None."""
    for r in rows:
        if why := row_divergence(r):
            return f"seed {r['seed']}: {why}"
        pre = r.get("precheck") or {}
        if pre.get("status") == "diverged":
            return f"pre-check: {pre.get('why')}"
    return None


def _family(rows: list[dict]) -> str | None:
    r = rows[0]
    if r.get("sweep"):
        return r["sweep"]
    return "grpo" if r.get("baseline") is None else None


def select_best(rows: list[dict], score: str = "pass@k-logmean", seeds=(0, 1, 2)) -> dict:
    """{"task/model": {"score", "split": "val", "seeds", "families": {family: {"setting", "value",
    "candidates", "diverged"}}, "best_rival", "five_seeds": [setting, ...]}} for every world whose
    rows carry validation results. Candidates are a family's sweep settings (and the reference for
    "grpo"), scored by the mean over `seeds` of :func:`val_score`."""
    by_world: dict = {}
    for r in rows:
        if r["kind"] == "run" and r.get("seed") in seeds and "val" in r:
            by_world.setdefault(f"{r['task']}/{r['model']}", {}).setdefault(r["setting"], []).append(r)
    out = {}
    for world, settings in by_world.items():
        fams: dict = {}
        for name, rs in settings.items():
            fam = _family(rs)
            if fam is None:
                continue
            entry = fams.setdefault(fam, {"candidates": {}, "diverged": {}})
            why = is_diverged(rs)
            if why:
                entry["diverged"][name] = why
                continue
            entry["candidates"][name] = float(np.mean([val_score(r, score) for r in rs]))
        for entry in fams.values():
            c = entry["candidates"]
            entry["setting"] = max(c, key=c.get) if c else None  # ties: the first declared
            entry["value"] = c[entry["setting"]] if c else math.nan
        rivals = [f for f in RIVALS if fams.get(f, {}).get("setting")]
        best_rival = max(rivals, key=lambda f: fams[f]["value"]) if rivals else None
        chosen = [f for f in FIVE_SEED_FAMILIES if fams.get(f, {}).get("setting")]
        five = [fams[f]["setting"] for f in chosen + ([best_rival] if best_rival else [])]
        out[world] = {
            "score": score,
            "split": "val",
            "seeds": list(seeds),
            "families": fams,
            "best_rival": best_rival,
            "five_seeds": five,
        }
    return out


def fix_selection(out, rows: list[dict], score: str = "pass@k-logmean", seeds=(0, 1, 2)) -> dict:
    """The selection recorded in OUT/selection.json; worlds not yet in it are chosen now (from
    `rows`) and added. A world already chosen stays as it was (the "best" is fixed once)."""
    path = Path(out) / "selection.json"
    have = json.loads(path.read_text()) if path.exists() else {}
    new = {w: v for w, v in select_best(rows, score, seeds).items() if w not in have}
    if new:
        have.update(new)
        path.write_text(json.dumps(have, indent=2))
    return have


def selection_lines(selection: dict) -> list[str]:
    """Plain lines: per world, each family's choice with its validation score, diverged ones named."""
    lines = []
    for world, sel in selection.items():
        lines.append(
            f"{world}: best per family on the validation split ({sel['score']}, seeds {sel['seeds']})"
        )
        for fam, e in sel["families"].items():
            cands = ", ".join(f"{k} {v:.3f}" for k, v in e["candidates"].items())
            div = "; diverged: " + ", ".join(e["diverged"]) if e["diverged"] else ""
            star = " (best rival)" if fam == sel["best_rival"] else ""
            lines.append(f"  {fam}: {e['setting']}{star}  [{cands}{div}]")
        lines.append(f"  5 seeds: {', '.join(sel['five_seeds'])}")
    return lines
