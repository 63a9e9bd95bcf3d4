"""Differential smoothing inside TRL's ``GRPOTrainer``: dsnb's advantage, TRL's engine (multi-GPU).

Used by ``scripts/trl_ds_grpo.py``, ``benchmarks/bench_vs_trl.py`` and docs/trl.md. Nothing is
re-implemented: advantages come from :func:`dsnb.rl.loss.compute_advantages` ([GRPO1], [DS3] or
[DS4]) on :func:`dsnb.rl.loss.sequence_logp` ([DS5]); the group pass@k from
:func:`dsnb.metrics.pass_at_k` ([PK1]). TRL keeps its loss, clipping, KL, optimizer and
distributed machinery.

How it hooks into TRL 1.16 (``trl/trainer/grpo_trainer.py``), by two overrides, no patching:

- ``_calculate_rewards`` returns every reward function's scores for the whole generation batch,
  gathered over processes (N_global, F). We keep them and this process's completions.
- ``_generate_and_score_completions`` returns this process's slice with TRL's ``advantages``.
  We recompute them with dsnb on the gathered batch (a group of G may straddle processes) and
  slice this process's part back in.

Where pi_old comes from. TRL 1.16 computes ``old_per_token_logps`` only when
``gradient_accumulation_steps % (steps_per_generation * num_iterations) != 0`` (e.g.
``num_iterations > 1``), or with vLLM and ``vllm_importance_sampling_correction`` (its default
there). In the default setting (one update per generation) it skips them, because pi_old = pi at
the first update; DS then costs one extra no-grad forward, run with TRL's own scorer at the
sampling temperature. ``ds.ref == "base"`` uses TRL's ``ref_per_token_logps`` when beta > 0, else
the adapter-disabled model (PEFT) or TRL's ``ref_model``.

You should know: ``DSGRPOTrainer`` is built on first access (module ``__getattr__``), which is
when TRL is imported and its version checked. ``import dsnb`` never imports TRL.
"""

from __future__ import annotations

import contextlib
import functools
import inspect
import os
import warnings
from dataclasses import dataclass

import numpy as np
import torch

from dsnb.metrics import distinct_correct, pass_at_k
from dsnb.rl.advantages import compute_advantages, sequence_logp
from dsnb.rl.loss import LossConfig
from dsnb.tasks.rewards import completion_text

TESTED_TRL = ("1.16.0", "1.17.0")
"""TRL versions this module is tested with: [low, high)."""
UNTESTED_OK = "DSNB_TRL_UNTESTED_OK"
"""Set to 1 to run on a TRL outside TESTED_TRL anyway (the hook check still runs)."""
TRL_STD_EPS = 1e-4
"""TRL adds this to the group std before dividing; dsnb uses the same eps so GRPO matches."""
LOSS_TYPES = {"token-mean": "dapo", "seq-mean": "grpo", "dr-grpo": "dr_grpo"}
"""dsnb ``loss_agg`` ([AGG1]) -> the TRL ``loss_type`` that aggregates the same way."""
HOOKS = {
    "_generate_and_score_completions": ("inputs",),
    "_calculate_rewards": ("inputs", "prompts", "completions", "completion_ids_list"),
    "_get_per_token_logps_and_entropies": (
        "model",
        "input_ids",
        "attention_mask",
        "logits_to_keep",
        "batch_size",
    ),
}
"""The GRPOTrainer methods (and their leading parameters) this module relies on."""
TRAINER_ATTRS = (
    "_metrics",
    "reward_func_names",
    "reward_weights",
    "num_generations",
    "num_generations_eval",
    "scale_rewards",
    "multi_objective_aggregation",
    "accelerator",
    "ref_model",
    "model",
    "args",
)
OUTPUT_KEYS = ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask", "advantages")
METRICS = {
    "correct/mean": "fraction of the step's completions that are correct (binary, see "
    "DSConfig.correct_reward)",
    "div/group_distinct_correct": "distinct correct solutions per group of G (needs solution_key), "
    "mean over groups",
    "div/group_pass@k/<k>": "[PK1] pass@k estimated from each group's G samples, mean over groups",
    "ds/seq_logp_mean": "mean [DS5] sequence log-prob of the sampling policy (what DS shapes with)",
    "adv/mean_abs": "mean |advantage| after DS shaping (the advantages TRL's loss receives)",
}
"""Every metric this module adds to TRL's logs (``self._metrics[mode]``), defined once."""


@dataclass
class DSConfig:
    gamma_p: float = 0.0
    """DS strength on correct completions ([DS3]); gamma_p = gamma_n = 0 is plain GRPO."""
    gamma_n: float = 0.0
    """DS strength on incorrect completions."""
    ds_logp: str = "mean"
    """Sequence log-prob ([DS5]): "sum" (paper formula) or "mean" (length-normalised, authors' code)."""
    ds_where: str = "advantage"
    """"advantage" ([DS3], shape after normalisation) or "score" ([DS4]; needs scale_rewards="none")."""
    ds_ref: str = "old"
    """Whose log-prob: "old" (the sampling policy, practice) or "base" (the reference, theory)."""
    correct_reward: str | None = None
    """Reward function (its TRL name, i.e. ``__name__``) whose value == 1 marks a correct
    completion; None = the weighted sum of all rewards == 1."""
    pass_ks: tuple = ()
    """k values for ``div/group_pass@k/<k>``; () = 1, 2, 4, ... up to G."""

    def __post_init__(self):
        self.loss_config(2, self.ds_where != "score")  # dsnb's own validation and teaching messages

    def loss_config(self, group_size: int, normalize_std: bool) -> LossConfig:
        """The dsnb LossConfig whose advantages this trainer uses (TRL's eps, TRL's G)."""
        return LossConfig(
            group_size=group_size,
            normalize_std=normalize_std,
            std_eps=TRL_STD_EPS,
            gamma_p=self.gamma_p,
            gamma_n=self.gamma_n,
            ds_logp=self.ds_logp,
            ds_where=self.ds_where,
            ds_ref=self.ds_ref,
        )

    @classmethod
    def from_loss(cls, loss: LossConfig, **kw) -> DSConfig:
        """The DS part of a dsnb LossConfig (the rest maps to GRPOConfig: grpo_config_kwargs)."""
        return cls(
            gamma_p=loss.gamma_p,
            gamma_n=loss.gamma_n,
            ds_logp=loss.ds_logp,
            ds_where=loss.ds_where,
            ds_ref=loss.ds_ref,
            **kw,
        )

    @classmethod
    def paper_math(cls, **kw) -> DSConfig:
        """The authors' math setting: gamma_p = gamma_n = 0.01 on the mean log-prob."""
        return cls(**{"gamma_p": 0.01, "gamma_n": 0.01, "ds_logp": "mean", **kw})


# ----------------------------------------------------------------------------- version guard
def version_problem(version: str) -> str | None:
    """Why this TRL version is outside the tested range, or None.

    >>> version_problem("1.16.0") is None, version_problem("1.17.2")
    (True, 'trl 1.17.2 is outside the tested range >=1.16.0,<1.17.0')
    """
    from packaging.version import Version

    low, high = TESTED_TRL
    if Version(low) <= Version(version) < Version(high):
        return None
    return f"trl {version} is outside the tested range >={low},<{high}"


def missing_hooks(cls) -> list[str]:
    """The GRPOTrainer methods (or their parameters) this module needs but ``cls`` lacks."""
    out = []
    for name, params in HOOKS.items():
        fn = getattr(cls, name, None)
        if fn is None:
            out.append(f"{name}()")
            continue
        have = list(inspect.signature(fn).parameters)[1 : 1 + len(params)]  # drop self
        if tuple(have) != params:
            out.append(f"{name}{params} (found {tuple(have)})")
    return out


def check_trl(version: str, cls) -> None:
    """Fail loudly when TRL's internals may have moved. The env var skips only the version test."""
    low, high = TESTED_TRL
    gone = missing_hooks(cls)
    if gone:
        raise RuntimeError(
            f"dsnb.integrations.trl needs GRPOTrainer internals that trl {version} "
            f"does not have: {gone}. It is tested with trl >={low},<{high}: "
            f'pip install "trl>={low},<{high}"'
        )
    problem = version_problem(version)
    if problem and os.environ.get(UNTESTED_OK) == "1":
        warnings.warn(
            f"{problem}; running anyway because {UNTESTED_OK}=1. Check the advantages "
            "against tests/test_trl_integration.py before trusting a run.",
            stacklevel=2,
        )
    elif problem:
        raise RuntimeError(
            f"{problem}. dsnb's DS hook overrides TRL internals that change "
            f'between releases: pip install "trl>={low},<{high}", or set '
            f"{UNTESTED_OK}=1 to try this version at your own risk."
        )


# ----------------------------------------------------------------------------- pure helpers
def rewards_and_correct(rewards_per_func, weights, names, correct_reward=None):
    """The summed reward r_i that GRPO centres, and the binary correctness DS needs.

    Shapes: rewards_per_func (N, F) (TRL's, NaN where a function returned None), weights (F,),
    names F strings -> (rewards (N,), correct (N,) bool). Correct = ``names[correct_reward]``
    == 1, or the weighted sum == 1 when correct_reward is None (a 0.1 format score is incorrect).
    """
    if torch.isnan(rewards_per_func).all(dim=1).any():
        raise ValueError(
            "a completion got no reward from any reward function (all returned None); "
            "DS needs every completion scored to tell correct from incorrect"
        )
    rewards = (rewards_per_func * weights.unsqueeze(0)).nansum(dim=1)  # (N,)
    if correct_reward is None:
        return rewards, rewards == 1.0
    return rewards, rewards_per_func[:, list(names).index(correct_reward)] == 1.0


def group_diversity(keys, correct, group_size: int, ks=()) -> dict[str, float]:
    """[PK1] per-group pass@k and distinct correct solutions, means over the batch's groups.

    keys: N solution keys (None = no solution) or None to skip distinctness; correct: N bools,
    ordered group by group.

    >>> group_diversity(["a", "a", "b", None], [True, True, True, False], 4, ks=(1, 2))
    {'div/group_pass@k/1': 0.75, 'div/group_pass@k/2': 1.0, 'div/group_distinct_correct': 2.0}
    """
    ok = np.asarray(correct, dtype=bool).reshape(-1, group_size)  # (N,) -> (B, G)
    ks = ks or tuple(2**i for i in range(group_size.bit_length()) if 2**i <= group_size)
    out = {
        f"div/group_pass@k/{k}": float(np.mean(pass_at_k(group_size, ok.sum(1), k)))
        for k in ks
        if k <= group_size
    }
    if keys is not None:
        per = [
            distinct_correct(keys[g * group_size : (g + 1) * group_size], ok[g].tolist())
            for g in range(ok.shape[0])
        ]
        out["div/group_distinct_correct"] = float(np.mean(per))
    return out


def grpo_config_kwargs(cfg, num_processes: int = 1) -> dict:
    """``GRPOConfig(**kw)`` arguments that make a TRL step the same as dsnb's ``Trainer`` step.

    cfg is a :class:`dsnb.rl.trainer.TrainConfig`. Matched on purpose (TRL's defaults differ):
    constant lr (TRL: linear decay), AdamW torch without weight decay, fp32 (TRL: bf16=True),
    no gradient checkpointing (TRL: True), top_k = 0, the loss_type that aggregates like
    ``loss_agg`` (token-mean = "dapo"), scale_rewards from ``normalize_std``.
    """
    loss = cfg.loss
    n = cfg.prompts_per_step * loss.group_size
    per_device = min(cfg.micro_batch or n, n // num_processes)
    if n % (per_device * num_processes):
        raise ValueError(
            f"B*G = {n} completions do not split into {num_processes} processes x "
            f"micro-batches of {per_device}"
        )
    if loss.loss_agg == "dr-grpo" and loss.max_completion_len != cfg.max_new_tokens:
        raise ValueError(
            "TRL's dr_grpo divides by max_completion_length; set "
            "loss.max_completion_len = max_new_tokens to compare"
        )
    return dict(
        output_dir=cfg.run_dir,
        max_steps=cfg.steps,
        seed=cfg.seed,
        per_device_train_batch_size=per_device,
        gradient_accumulation_steps=n // (per_device * num_processes),
        num_generations=loss.group_size,
        max_completion_length=cfg.max_new_tokens,
        temperature=cfg.temperature,
        top_p=cfg.top_p,
        top_k=0,
        learning_rate=cfg.lr,
        lr_scheduler_type="constant",
        warmup_steps=0,
        weight_decay=0.0,
        optim="adamw_torch",
        max_grad_norm=cfg.grad_clip,
        beta=loss.beta,
        epsilon=loss.clip_eps_low,
        epsilon_high=loss.clip_eps_high,
        loss_type=LOSS_TYPES[loss.loss_agg],
        scale_rewards="group" if loss.normalize_std else "none",
        entropy_coef=loss.entropy_coef,
        num_iterations=1,
        bf16=False,
        gradient_checkpointing=cfg.policy.gradient_checkpointing,
        report_to="none",
        save_strategy="no",
        logging_steps=1,
    )


# ----------------------------------------------------------------------------- the trainer
def _check_settings(tr) -> None:
    """Refuse TRL settings under which dsnb's group advantage is not defined."""
    if tr.multi_objective_aggregation != "sum_then_normalize":
        raise ValueError(
            "DS shapes the summed reward of each completion; use "
            "multi_objective_aggregation='sum_then_normalize'"
        )
    if tr.scale_rewards not in ("group", "none"):
        raise ValueError(
            f"scale_rewards={tr.scale_rewards!r}: [GRPO1] divides by the *group* "
            "std; use 'group' (GRPO) or 'none' (Dr.GRPO, and DS where='score')"
        )
    if tr.ds.ds_where == "score" and tr.scale_rewards != "none":
        raise ValueError(
            "ds.ds_where='score' ([DS4]) centres without std division: set GRPOConfig(scale_rewards='none')"
        )
    name = tr.ds.correct_reward
    if name is not None and name not in tr.reward_func_names:
        raise ValueError(
            f"ds.correct_reward={name!r} is not a reward function of this trainer; "
            f"choose one of {list(tr.reward_func_names)}"
        )


def _score_completions(tr, out, base: bool):
    """Per-token log-probs of this process's completions, no grad, at the sampling temperature."""
    from accelerate.utils import is_peft_model
    from trl.models.utils import disable_gradient_checkpointing
    from trl.trainer.utils import use_adapter

    if "pixel_values" in out:
        raise NotImplementedError(
            "DS on multimodal batches needs TRL's old_per_token_logps "
            "(e.g. num_iterations > 1); text-only batches are supported"
        )
    model, ctx = tr.model, contextlib.nullcontext()
    if base and tr.ref_model is not None:
        model = tr.ref_model
    elif base:
        peft = tr.accelerator.unwrap_model(tr.model)
        if not is_peft_model(peft):
            raise ValueError(
                "ds.ds_ref='base' needs the base policy: train a PEFT adapter (the base "
                "is the adapter switched off) or set beta > 0 so TRL loads one"
            )
        ctx = use_adapter(peft, adapter_name="ref" if "ref" in peft.peft_config else None)
    ids = torch.cat([out["prompt_ids"], out["completion_ids"]], dim=1)  # (n, P + T)
    attn = torch.cat([out["prompt_mask"], out["completion_mask"]], dim=1)
    with (
        torch.no_grad(),
        disable_gradient_checkpointing(tr.model, tr.args.gradient_checkpointing_kwargs),
        ctx,
    ):
        logp, _, _ = tr._get_per_token_logps_and_entropies(
            model, ids, attn, out["completion_ids"].size(1), batch_size=tr.args.per_device_train_batch_size
        )
    return logp  # (n, T)


def _ds_token_logp(tr, out):
    """TRL's pi_old (or reference) log-probs when it computed them, else our own forward."""
    key = "ref_per_token_logps" if tr.ds.ds_ref == "base" else "old_per_token_logps"
    return out[key] if key in out else _score_completions(tr, out, base=tr.ds.ds_ref == "base")


def _apply_ds(tr, out: dict) -> dict:
    """Replace TRL's advantages by dsnb's ([GRPO1]/[DS3]/[DS4]) and log the diversity metrics."""
    from accelerate.utils import gather_object

    gone = [k for k in OUTPUT_KEYS if k not in out]
    if gone:
        raise RuntimeError(
            f"TRL's batch lacks {gone}: its internals moved (tested: trl >={TESTED_TRL[0]},<{TESTED_TRL[1]})"
        )
    inputs, completions, rewards_per_func = tr._ds_scored
    mode = "train" if tr.model.training else "eval"
    G = tr.num_generations if mode == "train" else tr.num_generations_eval
    rewards, correct = rewards_and_correct(
        rewards_per_func,
        tr.reward_weights.to(rewards_per_func.device),
        tr.reward_func_names,
        tr.ds.correct_reward,
    )  # (N,) each
    cfg = tr.ds.loss_config(G, tr.scale_rewards != "none")
    mask = out["completion_mask"] * out.get("tool_mask", 1)  # (n, T), n = this process's share
    seq = None
    if cfg.uses_ds:
        seq = tr.accelerator.gather(sequence_logp(_ds_token_logp(tr, out), mask, cfg.ds_logp))  # (N,)
    adv = compute_advantages(rewards, seq, cfg, correct)  # (N,), all processes, group by group
    n = len(inputs)
    mine = slice(tr.accelerator.process_index * n, (tr.accelerator.process_index + 1) * n)
    tr.last_ds_batch = {
        "inputs": inputs,
        "rewards": rewards,
        "correct": correct,
        "seq_logp": seq,
        "advantages": adv,
        "trl_advantages": out["advantages"],
        "slice": mine,
        **{k: out[k] for k in OUTPUT_KEYS[:4]},
    }
    out["advantages"] = adv[mine].to(out["advantages"].dtype)
    keys = None
    if tr.solution_key is not None:
        local = [
            tr.solution_key(completion_text(c), {k: v for k, v in x.items() if k != "prompt"}) if ok else None
            for c, x, ok in zip(completions, inputs, correct[mine].tolist())
        ]
        keys = gather_object(local)
    stats = group_diversity(keys, correct.tolist(), G, tuple(tr.ds.pass_ks))
    stats.update({"correct/mean": correct.float().mean().item(), "adv/mean_abs": adv.abs().mean().item()})
    if seq is not None:
        stats["ds/seq_logp_mean"] = seq.mean().item()
    for k, v in stats.items():
        tr._metrics[mode][k].append(v)
    return out


def _define(base):
    class DSGRPOTrainer(base):
        """TRL's GRPOTrainer with dsnb's group advantage: [GRPO1], [DS3] or [DS4] by ``ds``.

        ``DSGRPOTrainer(model=..., reward_funcs=..., args=GRPOConfig(...), train_dataset=...,
        ds=DSConfig(gamma_p, gamma_n, ds_logp, ds_where, ds_ref, correct_reward), solution_key=None)``.
        ``solution_key(completion_text, columns) -> hashable | None`` names a correct
        completion's solution (e.g. ``dsnb.tasks.registry.get_task("countdown3").key_fn``) for
        ``div/group_distinct_correct``. After each generation ``last_ds_batch`` holds the
        batch, rewards, correctness, sequence log-probs and both TRL's and dsnb's advantages.
        """

        def __init__(self, *args, ds: DSConfig | None = None, solution_key=None, **kwargs):
            super().__init__(*args, **kwargs)
            missing = [a for a in TRAINER_ATTRS if not hasattr(self, a)]
            if missing:
                raise RuntimeError(
                    f"GRPOTrainer lacks {missing}: TRL's internals moved "
                    f"(tested: trl >={TESTED_TRL[0]},<{TESTED_TRL[1]})"
                )
            self.ds = ds or DSConfig()
            self.solution_key = solution_key
            self.last_ds_batch = None
            self._ds_scored = None
            _check_settings(self)

        def _calculate_rewards(self, inputs, prompts, completions, completion_ids_list):
            rewards_per_func = super()._calculate_rewards(inputs, prompts, completions, completion_ids_list)
            self._ds_scored = (inputs, completions, rewards_per_func)  # (N_global, F), gathered
            return rewards_per_func

        def _generate_and_score_completions(self, inputs):
            return _apply_ds(self, super()._generate_and_score_completions(inputs))

    DSGRPOTrainer.__qualname__ = "DSGRPOTrainer"
    DSGRPOTrainer.__module__ = __name__
    return DSGRPOTrainer


@functools.cache
def trainer_class():
    """Import TRL, check its version and internals, and build ``DSGRPOTrainer`` (once)."""
    import trl

    check_trl(trl.__version__, trl.GRPOTrainer)
    return _define(trl.GRPOTrainer)


def __getattr__(name):
    if name == "DSGRPOTrainer":
        return trainer_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
