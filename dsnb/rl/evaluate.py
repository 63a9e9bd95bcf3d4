"""Evaluate a policy the way the paper does: n samples per held-out problem, the unbiased pass@k
curve for k = 1..n [PK1], distinct correct solutions and coverage of the solver's solution set,
each also for the base model (adapter disabled) on the same problems with the same sampling seed.

Every number is also reported per *multiplicity bucket* (problems with 1, 2-3 or 4+ distinct
solutions, by the exact solver): the quantity the paper's argument turns on. DS can only act where
a problem has more than one correct answer.

Used by ``dsnb demo``, the study, the dashboard's mini-evaluation and notebook 05.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from dsnb.metrics import MULTIPLICITY_BUCKETS, answer_entropy, multiplicity_bucket, pass_at_k_curve
from dsnb.rl.policy import Policy
from dsnb.rl.rundir import RunDir
from dsnb.rl.trainer import TrainConfig
from dsnb.tasks.registry import get_task, grade


@dataclass
class EvalResult:
    """Per-problem counts and the summary a report shows."""

    n: int  # samples per problem
    c: list[int]  # correct samples per problem
    distinct: list[int]  # distinct correct solutions per problem
    coverage: list[float]  # fraction of the known solution set found (nan when unknown)
    answer_entropy: list[float]  # entropy (nats) of the histogram of correct solutions
    top_share: list[float] = field(default_factory=list)
    """The most frequent correct solution's share of the correct samples (nan: none correct)."""
    multiplicity: list[int] = field(default_factory=list)
    """Distinct solutions each problem has (by the solver; 0 = unknown, e.g. GSM8K)."""

    def summary(self) -> dict:
        """Means over problems, and the same per multiplicity bucket under "by_multiplicity"."""
        out = self._means(range(len(self.c)))
        buckets = {}
        for name, _, _ in MULTIPLICITY_BUCKETS:
            idx = [i for i, m in enumerate(self.multiplicity) if multiplicity_bucket(m) == name]
            if idx:
                buckets[name] = self._means(idx)
        if buckets:
            out["by_multiplicity"] = buckets
        return out

    def _means(self, idx) -> dict:
        idx = list(idx)
        curve = pass_at_k_curve(self.n, np.array([self.c[i] for i in idx]))
        cov = [self.coverage[i] for i in idx if self.coverage[i] == self.coverage[i]]
        top = [
            self.top_share[i]
            for i in idx
            if i < len(self.top_share) and self.top_share[i] == self.top_share[i]
        ]
        return {
            "n": self.n,
            "problems": len(idx),
            "pass@k": [float(x) for x in curve],
            "pass@1": float(curve[0]),
            f"pass@{self.n}": float(curve[-1]),
            "distinct_correct": float(np.mean([self.distinct[i] for i in idx])),
            "coverage": float(np.mean(cov)) if cov else float("nan"),
            "answer_entropy": float(np.mean([self.answer_entropy[i] for i in idx])),
            "top_share": float(np.mean(top)) if top else float("nan"),
        }


def sample_and_grade(
    policy,
    task,
    problems,
    n: int,
    temperature: float,
    max_new_tokens: int,
    seed: int,
    adapter: bool = True,
    chunk: int = 2048,
) -> EvalResult:
    """Draw n completions per problem (seeded), grade them, count solutions per problem."""
    torch.manual_seed(seed)
    per = max(1, chunk // n)
    res = EvalResult(n, [], [], [], [], [], [len(p.solutions) for p in problems])
    for s in range(0, len(problems), per):
        part = problems[s : s + per]
        roll = policy.sample([p.prompt for p in part], n, max_new_tokens, temperature, adapter=adapter)
        g = grade(task, part, roll.texts, n)
        correct, keys = g.correct, g.keys
        for i, prob in enumerate(part):
            ks = [k for k in keys[i * n : (i + 1) * n] if k is not None]
            res.c.append(sum(correct[i * n : (i + 1) * n]))
            res.distinct.append(len(set(ks)))
            found = len(set(ks) & prob.solutions)
            res.coverage.append(found / len(prob.solutions) if prob.solutions else float("nan"))
            res.answer_entropy.append(answer_entropy(ks) if ks else 0.0)
            res.top_share.append(max(map(ks.count, set(ks))) / len(ks) if ks else float("nan"))
    return res


def evaluate(
    policy,
    problems,
    task,
    n: int = 64,
    temperature: float = 1.0,
    max_new_tokens: int = 24,
    seed: int = 1234,
    base: bool = True,
) -> dict:
    """[PK1] pass@k (k = 1..n), distinct correct solutions and coverage for the trained policy
    and (``base=True``) for the base model on the same problems and sampling seed.

    Returns {"policy": summary, "base": summary, "relative": policy minus base} (summaries as in
    :meth:`EvalResult.summary`), plus the raw per-problem results under "raw".
    """
    if isinstance(task, str):
        task = get_task(task)
    if n < 1 or not problems:
        raise ValueError("evaluate needs n >= 1 samples and at least one problem")
    out = {"raw": {}}
    runs = {"policy": True, "base": False} if base else {"policy": True}
    for name, adapter in runs.items():
        res = sample_and_grade(policy, task, problems, n, temperature, max_new_tokens, seed, adapter)
        out[name] = res.summary()
        out["raw"][name] = res
    if base:
        p, b = out["policy"], out["base"]
        out["relative"] = {k: p[k] - b[k] for k in ("pass@1", f"pass@{n}", "distinct_correct", "coverage")}
    return out


def evaluate_runs(run_dirs: dict, n_problems: int = 100, n: int = 32, seed: int = 1234) -> dict:
    """{name: pass@k curve} of each run directory's newest checkpoint, plus "base" (the adapter
    switched off, evaluated once), all on the first `n_problems` held-out problems of the runs'
    task with the same sampling seed. Runs without a checkpoint yet are left out."""
    curves = {}
    for name, path in run_dirs.items():
        run = RunDir(path)
        ckpt = run.latest_checkpoint()
        if ckpt is None:
            continue
        cfg = TrainConfig.from_dict(run.read_config())
        policy = Policy(cfg.policy, seed=cfg.seed)
        policy.load_adapter(ckpt)
        task = get_task(cfg.task)
        problems = task.load("eval", n_problems, 0, cfg.template or task.default_template)
        res = evaluate(
            policy,
            problems,
            task,
            n=n,
            temperature=cfg.temperature,
            max_new_tokens=cfg.max_new_tokens,
            seed=seed,
            base="base" not in curves,
        )
        curves.setdefault("base", res.get("base", {}).get("pass@k"))
        curves[name] = res["policy"]["pass@k"]
    return curves
