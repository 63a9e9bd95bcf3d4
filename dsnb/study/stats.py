"""The study's statistics: intervals over seeds, paired comparisons on the same problems, verdicts.

Used by the study (``dsnb.study.run``, its report and the README results table), the demo and
notebook 05. Nothing here trains or samples: every function reads rows of ``results.jsonl`` (see
``dsnb.study.run``), so a report can be redrawn on a CPU in seconds, without torch.

Two sources of noise, two intervals (both 95% Student-t):

- over *seeds*: a training seed changes the LoRA init, the prompt order and the sampling, so
  two seeds of one setting give different models. With 3 seeds t = 4.30: intervals are wide.
- over *problems*: the held-out set is a sample of problems; a paired comparison (same problems,
  same sampling seed) removes the problem-to-problem spread that both methods share.

A verdict says "better" or "worse" only when *both* intervals of the paired difference exclude
zero; otherwise "within noise". With one seed the seed interval is unknown, so no verdict is won.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from dsnb.metrics import MULTIPLICITY_BUCKETS, multiplicity_bucket, pass_at_k
from dsnb.report.noise import T95, Z975, interval, t95, t95_series, verdict  # noqa: F401 (re-exported)


def bootstrap_passk(n: int, c_per_problem, ks=(1, 8, 64), reps: int = 500, seed: int = 0):
    """95% bootstrap interval of pass@k over problems: how noisy the eval set itself is."""
    c = np.asarray(c_per_problem)
    rng = np.random.default_rng(seed)
    out = {}
    for k in ks:
        if k > n:
            continue
        per = np.asarray(pass_at_k(n, c, k), dtype=float)
        means = [per[rng.integers(0, len(per), len(per))].mean() for _ in range(reps)]
        out[k] = (float(np.percentile(means, 2.5)), float(np.percentile(means, 97.5)))
    return out


def mean_ci(values) -> tuple[float, float]:
    """:func:`interval` for JSON: the half-width of a single value is 0, not inf (a report never
    shows it: one seed is printed as its value alone).

    >>> mean_ci([1.0, 1.0, 1.0]), mean_ci([0.5])
    ((1.0, 0.0), (0.5, 0.0))
    """
    mean, half = interval(values)
    return mean, 0.0 if math.isinf(half) else half


# ----------------------------------------------------------------------------- per-problem values
def compared_metrics(n: int) -> list[str]:
    """The metrics a study reports for n samples per problem (pass@8 only when 8 < n).

    >>> compared_metrics(64)
    ['pass@1', 'pass@8', 'pass@64', 'distinct_correct', 'coverage']
    >>> compared_metrics(4)
    ['pass@1', 'pass@4', 'distinct_correct', 'coverage']
    """
    ks = [1] + ([8] if 8 < n else []) + ([n] if n > 1 else [])
    return [f"pass@{k}" for k in ks] + ["distinct_correct", "coverage"]


PER_PROBLEM = {
    "distinct_correct": "distinct",
    "coverage": "coverage_per_problem",
    "top_share": "top_share_per_problem",
}
"""Row keys of the per-problem lists behind each metric (pass@k comes from the counts "c")."""


def per_problem(row: dict, metric: str):
    """One value per evaluation problem: unbiased pass@k from the counts c, distinct correct
    solutions, coverage of the known solution set (nan where the set is unknown) or the top
    solution's share of the correct samples (nan where none is correct). (P,)"""
    if metric.startswith("pass@"):
        return np.asarray(pass_at_k(row["eval_n"], np.asarray(row["c"]), int(metric[5:])), dtype=float)
    if metric in PER_PROBLEM:
        return np.asarray(row[PER_PROBLEM[metric]], dtype=float)
    raise ValueError(f"unknown metric {metric!r}; use pass@k, {', '.join(PER_PROBLEM)}")


def in_bucket(row: dict, bucket: str) -> dict:
    """The row restricted to the problems of one multiplicity bucket ("1", "2-3", "4+"): every
    per-problem list filtered alike, so every function here (intervals, paired tests, verdicts)
    works per bucket unchanged. Rows without multiplicities (older results) raise.

    >>> r = {"eval_n": 2, "eval_set": "e", "c": [2, 0, 1], "distinct": [1, 0, 1], "multiplicity": [1, 5, 4]}
    >>> in_bucket(r, "4+")["c"], in_bucket(r, "4+")["eval_set"]
    ([0, 1], 'e/4+')
    """
    if not row.get("multiplicity"):
        raise ValueError(
            "this results row has no per-problem multiplicities (made before the "
            "multiplicity dial existed); rerun its cell to get per-bucket numbers"
        )
    keep = [i for i, m in enumerate(row["multiplicity"]) if multiplicity_bucket(m) == bucket]
    out = {**row, "eval_set": f"{row.get('eval_set')}/{bucket}"}
    for key in ("c", "multiplicity", *PER_PROBLEM.values()):
        if key in row:
            out[key] = [row[key][i] for i in keep]
    return out


def value(row: dict, metric: str) -> float:
    """The row's metric averaged over problems (problems with unknown coverage left out)."""
    v = per_problem(row, metric)
    v = v[~np.isnan(v)]
    return float(v.mean()) if v.size else float("nan")


def setting_summary(rows: list[dict], metric: str) -> tuple[float, float]:
    """Mean over seeds and the 95% t half-width over seeds of one setting's metric."""
    return interval([value(r, metric) for r in rows])


# ----------------------------------------------------------------------------- paired comparison
@dataclass
class Paired:
    """A paired difference (setting − reference) on the same problems and sampling seed."""

    metric: str
    diff: float  # mean over problems of the seed-averaged per-problem difference
    half_problems: float  # 95% t half-width over problems
    half_seeds: float  # 95% t half-width over seeds (inf with one seed)
    seeds: list
    problems: int

    @property
    def half(self) -> float:
        """The wider of the two half-widths: a claim must survive both noise sources."""
        return max(self.half_problems, self.half_seeds)

    @property
    def verdict(self) -> str:
        return verdict(self.diff, self.half)


def paired(rows: list[dict], ref_rows: list[dict], metric: str) -> Paired | None:
    """Setting − reference on the same problems. D[s, j] = value of seed s on problem j minus the
    reference's (same seed; the base model, which has no seed, serves every seed). The difference
    is the mean of D; its intervals come from D averaged over seeds (one value per problem) and
    over problems (one value per seed). None when the two share no seed.
    """
    ref = {r["seed"]: r for r in ref_rows}
    pairs = [(r, ref.get(r["seed"], ref.get(None))) for r in rows]
    pairs = [(a, b) for a, b in pairs if b is not None]
    if not pairs:
        return None
    if len({a["eval_set"] for a, _ in pairs} | {b["eval_set"] for _, b in pairs}) != 1:
        raise ValueError("a paired comparison needs the same evaluation problems on both sides")
    D = np.array([per_problem(a, metric) - per_problem(b, metric) for a, b in pairs])  # (S, P)
    D = D[:, ~np.isnan(D).any(axis=0)]  # drop problems whose coverage is unknown
    if D.shape[1] == 0:
        return None
    diff, half_p = interval(D.mean(axis=0)) if D.shape[1] > 1 else (float(D.mean()), math.inf)
    _, half_s = interval(D.mean(axis=1))
    return Paired(metric, float(diff), half_p, half_s, [a["seed"] for a, _ in pairs], D.shape[1])


def by_bucket(base: dict, runs: dict[str, list[dict]], metrics=("pass@1", "distinct_correct")) -> list[dict]:
    """The multiplicity dial in numbers: for each bucket ("1", "2-3", "4+" solutions) with
    problems, the base model's value of each metric and, per method, its seed mean and the paired
    difference to the base on those problems (:func:`paired` on :func:`in_bucket` rows).

    Returns rows ``{"bucket", "problems", "metric", "base", "<method>": (mean, Paired)}``; base
    and runs are study-shaped rows (per-problem lists and "multiplicity")."""
    out = []
    for name, _, _ in MULTIPLICITY_BUCKETS:
        b = in_bucket(base, name)
        if not b["c"]:
            continue
        for metric in metrics:
            row = {"bucket": name, "problems": len(b["c"]), "metric": metric, "base": value(b, metric)}
            for m, rows in runs.items():
                sub = [in_bucket(r, name) for r in rows]
                row[m] = (float(np.mean([value(r, metric) for r in sub])), paired(sub, [b], metric))
            out.append(row)
    return out


# ----------------------------------------------------------------------------- words
def fmt_diff(p: Paired) -> str:
    """'+0.050 ± 0.020' (± the wider half-width; '?' when one seed leaves it unknown)."""
    digits = 2 if p.metric == "distinct_correct" else 3
    half = "?" if math.isinf(p.half) else f"{p.half:.{digits}f}"
    return f"{p.diff:+.{digits}f} ± {half}"


def metric_words(metric: str) -> str:
    return {"distinct_correct": "distinct correct", "coverage": "coverage"}.get(metric, metric)


def verdict_line(name: str, ref: str, comps: list[Paired]) -> str:
    """'ds vs grpo: pass@1 within noise (-0.010 ± 0.030); pass@64 +0.050 ± 0.020: better; ...'
    followed by a plain conclusion that never claims a win the intervals do not support."""
    parts = []
    for p in comps:
        if p.verdict == "within noise":
            parts.append(f"{metric_words(p.metric)} within noise ({fmt_diff(p)})")
        else:
            parts.append(f"{metric_words(p.metric)} {fmt_diff(p)}: {p.verdict}")
    better = [metric_words(p.metric) for p in comps if p.verdict == "better"]
    worse = [metric_words(p.metric) for p in comps if p.verdict == "worse"]
    if ref == "base":
        end = sharpening_words(better, worse)
    elif not better:
        end = f"did not beat {ref} on any measure"
    elif worse:
        end = f"a trade: better on {', '.join(better)}, worse on {', '.join(worse)}"
    else:
        end = f"better than {ref} on {', '.join(better)}, nowhere worse"
    seeds = comps[0].seeds if comps else []
    note = (
        " (one seed: the seed-to-seed spread is unknown, so nothing can be claimed)" if len(seeds) < 2 else ""
    )
    return f"{name} vs {ref}: " + "; ".join(parts) + f". Verdict: {end}{note}."


def sharpening_words(better: list[str], worse: list[str]) -> str:
    """The reading of a trained model against the base: sharpening = pass@1 up, diversity down.

    >>> sharpening_words(["pass@1"], ["pass@64", "distinct correct"])
    'sharpening shown: pass@1 up while pass@64, distinct correct went down'
    """
    if "pass@1" in better and worse:
        return f"sharpening shown: pass@1 up while {', '.join(worse)} went down"
    if "pass@1" in better:
        return "pass@1 up with no measured loss elsewhere (no sharpening shown)"
    return "no measured gain in pass@1 over the base" + (f"; worse on {', '.join(worse)}" if worse else "")


def compare(rows: list[dict], ref_rows: list[dict], n: int) -> list[Paired]:
    """Paired comparisons for every reported metric (those that can be computed)."""
    out = [paired(rows, ref_rows, m) for m in compared_metrics(n)]
    return [p for p in out if p is not None]


# ----------------------------------------------------------------------------- organising rows
def load_results(path) -> list[dict]:
    """The rows of a results.jsonl (a path to the file or to the study's directory)."""
    path = Path(path)
    path = path / "results.jsonl" if path.is_dir() else path
    if not path.exists():
        raise ValueError(f"no study results at {path}: run `dsnb study --out {path.parent}` first")
    return fill_multiplicity([json.loads(line) for line in path.read_text().splitlines() if line.strip()])


def fill_multiplicity(rows: list[dict]) -> list[dict]:
    """Give rows recorded before the multiplicity dial their problems' solution counts, read from
    the shipped Countdown problem file, but only where the file's first eval problems are provably
    the ones evaluated (the row's ``eval_set`` fingerprint matches). Other rows stay as they are."""
    from dsnb.tasks.registry import TASKS, eval_set_id, get_task

    cache: dict = {}
    for r in rows:
        if (
            r.get("multiplicity")
            or not str(r.get("task", "")).startswith("countdown")
            or r["task"] not in TASKS
        ):
            continue
        key = (r["task"], len(r.get("c", [])), r.get("template") or "nano")
        if key not in cache:
            problems = get_task(r["task"]).load("eval", key[1], 0, key[2])
            cache[key] = (eval_set_id(problems), [len(p.solutions) for p in problems])
        fingerprint, counts = cache[key]
        if r.get("eval_set") == fingerprint:
            r["multiplicity"] = counts
    return rows


def worlds(rows: list[dict]) -> dict:
    """Group rows by world (task, model): its base row, its settings' rows (seed order), each
    setting's reference, n and the setting order of first appearance. Worlds come sorted
    (countdown3 before countdown4), whatever order the file holds them in."""
    out: dict = {}
    for r in rows:
        w = out.setdefault(
            (r["task"], r["model"]),
            {"base": None, "settings": {}, "baseline": {}, "note": {}, "n": r["eval_n"]},
        )
        if r["kind"] == "base":
            w["base"] = r
        else:
            w["settings"].setdefault(r["setting"], []).append(r)
            w["baseline"][r["setting"]] = r.get("baseline")
            w["note"][r["setting"]] = r.get("note", "")
    for w in out.values():
        for name in w["settings"]:
            w["settings"][name].sort(key=lambda r: r["seed"])
    return dict(sorted(out.items()))


def verdicts(world: dict) -> list[str]:
    """Plain verdict lines: the reference (GRPO) against the base model first, then every
    setting against its reference."""
    lines, n = [], world["n"]
    for name, ref in world["baseline"].items():
        if ref is None and world["base"] is not None:
            lines.append(verdict_line(name, "base", compare(world["settings"][name], [world["base"]], n)))
    for name, ref in world["baseline"].items():
        if ref is None:
            continue
        if ref not in world["settings"]:
            lines.append(f"{name} vs {ref}: no comparison ({ref} has no results in this file).")
            continue
        comps = compare(world["settings"][name], world["settings"][ref], n)
        lines.append(verdict_line(name, ref, comps) if comps else f"{name} vs {ref}: no common seed.")
    return lines


def cell(mean: float, half: float, digits: int = 3) -> str:
    """'0.412 ± 0.031' ('± ?' for one seed).

    >>> cell(0.41234, 0.031), cell(2.5, float('inf'), 2)
    ('0.412 ± 0.031', '2.50 ± ?')
    """
    return f"{mean:.{digits}f} ± " + ("?" if math.isinf(half) else f"{half:.{digits}f}")


SYMBOL = {"better": "↑", "worse": "↓", "within noise": "="}


def results_table(results: list[dict]) -> str:
    """A markdown table per world: base, then every setting's mean ± 95% interval over seeds,
    and its paired verdicts against its reference (↑ better, ↓ worse, = within noise)."""
    blocks = []
    for (task, model), w in worlds(results).items():
        ms = compared_metrics(w["n"])
        head = "| setting | seeds | " + " | ".join(metric_words(m) for m in ms) + " | vs reference |"
        lines = [
            f"**{task}** (model: {model}, {w['n']} samples per problem)",
            "",
            head,
            "|" + "---|" * (len(ms) + 3),
        ]
        if w["base"] is not None:
            lines.append(
                "| base | - | "
                + " | ".join(f"{value(w['base'], m):.{2 if m == 'distinct_correct' else 3}f}" for m in ms)
                + " | |"
            )
        for name, rows in w["settings"].items():
            cells = [cell(*setting_summary(rows, m), 2 if m == "distinct_correct" else 3) for m in ms]
            ref = w["baseline"][name] or ("base" if w["base"] is not None else None)
            refrows = w["settings"].get(ref) if ref != "base" else [w["base"]]
            marks = ""
            if refrows:
                marks = f"{ref}: " + " ".join(
                    f"{metric_words(p.metric)} {SYMBOL[p.verdict]}" for p in compare(rows, refrows, w["n"])
                )
            lines.append(f"| {name} | {len(rows)} | " + " | ".join(cells) + f" | {marks} |")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"
