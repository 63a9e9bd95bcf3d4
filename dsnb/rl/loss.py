"""The DS-GRPO objective: its config, the clipped surrogate, KL, entropy and aggregation.

Used by the trainer (``dsnb.rl.trainer``), the TRL bridge and notebooks 03-05. Formulas: the
method page (docs/method.md) sections 5-6, tags [PPO1], [KL3], [ENT2], [AGG1] here. The
advantages, where differential smoothing lives ([GRPO1], [DS3]-[DS5]), are in
``dsnb.rl.advantages``.

Every baseline is the same loss with one switch (docs/method.md section 6): plain GRPO is the
default; gamma_p, gamma_n > 0 is DS-GRPO; ``normalize_std=False`` + ``loss_agg="dr-grpo"`` is
Dr.GRPO; ``entropy_coef`` is the entropy bonus (> 0) or penalty (< 0); ``clip_eps_high >
clip_eps_low`` is DAPO's clip-higher. The rivals of the study: ``unlikeliness_coef`` [UNL1] and
``passk_k`` [PKA1] (advantage level, in ``dsnb.rl.advantages``) and ``clipcov_frac`` [COV1]
(Clip-Cov, token level, here). Shapes: completion tensors are (N, T), N = B·G ordered group by
group; per-sequence tensors are (N,).

You should know: why Clip-Cov and not CISPO or KL-Cov. The trainer makes ONE update per sampled
batch, so pi = pi_old when the loss is differentiated (rho = 1 exactly). CISPO's loss
−sg(clip(rho))·A·log pi then has the gradient −A·∇log pi, which is GRPO's; KL-Cov's extra term
|log pi − log pi_old| on its selected tokens has zero gradient at pi = pi_old (any divergence
does). Both are GRPO here, to the last bit (tests/test_rivals.py shows it). Clip-Cov, from the
same paper as KL-Cov (Cui et al. 2025), removes the gradient of its selected tokens, which acts
on the first update too.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import torch
from torch import Tensor

from dsnb.rl.checks import need_bool, need_int, need_number, need_str

__all__ = [
    "LossConfig",
    "clipped_surrogate",
    "clip_cov_mask",
    "k3_kl",
    "token_entropy",
    "aggregate",
    "masked_mean",
    "policy_loss",
]

LOSS_AGG = ("token-mean", "seq-mean", "dr-grpo")
SEQ_LOGP = ("sum", "mean")
DS_WHERE = ("advantage", "score")
DS_REF = ("old", "base")


def _choice(name: str, value: str, allowed: tuple[str, ...], why: str) -> None:
    if value not in allowed:
        raise ValueError(f"{name}={value!r} is not one of {allowed}: {why}")


@dataclass
class LossConfig:
    group_size: int = 8
    """G, completions sampled per prompt; the group mean is the baseline."""
    clip_eps_low: float = 0.2
    """The ratio pi/pi_old is clipped below at 1 − clip_eps_low."""
    clip_eps_high: float = 0.2
    """... and above at 1 + clip_eps_high (> clip_eps_low is DAPO's clip-higher, e.g. 0.28)."""
    beta: float = 0.0
    """Weight of the k3 KL to the reference ([KL3]); 0 = no reference forward pass (paper practice)."""
    loss_agg: str = "token-mean"
    """How token losses become one number ([AGG1]): "token-mean", "seq-mean" or "dr-grpo"."""
    normalize_std: bool = True
    """Divide the centred group reward by its std ([GRPO1]); False = Dr.GRPO (centre only)."""
    std_eps: float = 1e-4
    """Added to the group std before dividing."""
    entropy_coef: float = 0.0
    """loss −= entropy_coef · mean token entropy ([ENT2]): > 0 bonus, < 0 penalty."""
    gamma_p: float = 0.0
    """DS strength on correct completions (smooths the correct set); 0 with gamma_n = 0 is GRPO."""
    gamma_n: float = 0.0
    """DS strength on incorrect completions (sharpens the incorrect set)."""
    ds_logp: str = "sum"
    """Sequence log-prob for DS and the unlikeliness rank ([DS5]): "sum" (paper formula) or "mean"."""
    ds_where: str = "advantage"
    """"advantage" (shape after normalisation, [DS3]) or "score" (shape, then centre, [DS4])."""
    ds_ref: str = "old"
    """Whose log-prob DS uses: "old" (pi_old, practice) or "base" (adapter disabled, theory)."""
    max_completion_len: int | None = None
    """The constant length normaliser of "dr-grpo" (T_max); required for it, unused otherwise."""
    unlikeliness_coef: float = 0.0
    """β of the unlikeliness reward [UNL1] (He et al. 2025): likely correct answers lose β·rank/G; 0 = off."""
    passk_k: int = 0
    """k of the analytic pass@k advantage [PKA1] (Chen et al. 2025), 1 <= k < G; 0 = off (GRPO)."""
    clipcov_frac: float = 0.0
    """Clip-Cov [COV1] (Cui et al. 2025): fraction of tokens whose gradient is dropped; 0 = off."""
    clipcov_low: float = 1.0
    """Clip-Cov picks its tokens among those with covariance in (clipcov_low, clipcov_high) ..."""
    clipcov_high: float = 5.0
    """... (the defaults of the authors' code)."""

    def __post_init__(self):
        need_int(
            self,
            "group_size",
            lo=2,
            why="a group of one completion has no baseline (its advantage is always 0); "
            "use group_size >= 2 (the paper uses 8)",
        )
        need_number(
            self,
            "clip_eps_low",
            lo=0.0,
            hi=1.0,
            hi_open=True,
            why="the ratio is clipped below at 1 − clip_eps_low, which must stay positive",
        )
        need_number(self, "clip_eps_high", lo=0.0, why="the ratio is clipped above at 1 + clip_eps_high")
        need_number(self, "beta", lo=0.0, why="a negative KL weight rewards moving away from the reference")
        need_number(self, "std_eps", lo=0.0, why="it only guards the division by the std")
        need_number(self, "entropy_coef", why="> 0 is a bonus, < 0 a penalty")
        for name in ("gamma_p", "gamma_n"):
            need_number(
                self,
                name,
                lo=0.0,
                why="gamma_p and gamma_n must be >= 0: the DS signs are built into [DS3] (−gamma_p·log pi "
                "on correct, +gamma_n·log pi on incorrect); a negative gamma_p would sharpen the "
                "correct set, the opposite of DS",
            )
        need_bool(self, "normalize_std")
        for name in ("loss_agg", "ds_logp", "ds_where", "ds_ref"):
            need_str(self, name)
        _choice("loss_agg", self.loss_agg, LOSS_AGG, "see [AGG1] in NOTATION.md")
        _choice(
            "ds_logp",
            self.ds_logp,
            SEQ_LOGP,
            "'sum' is the true sequence log-prob, 'mean' divides it by the length",
        )
        _choice(
            "ds_where",
            self.ds_where,
            DS_WHERE,
            "shape the advantage after normalisation [DS3] or the score before centring [DS4]",
        )
        _choice(
            "ds_ref",
            self.ds_ref,
            DS_REF,
            "'old' = the sampling policy (practice), 'base' = adapter disabled (theory)",
        )
        if self.max_completion_len is not None:
            need_int(self, "max_completion_len", lo=1, why="T_max is a positive number of tokens")
        if self.loss_agg == "dr-grpo" and self.max_completion_len is None:
            raise ValueError(
                "loss_agg='dr-grpo' divides by the constant N·T_max; set "
                "max_completion_len to the generation limit (T_max)"
            )
        self._check_rivals()
        if self.ds_where == "score" and self.normalize_std:
            raise ValueError(
                "ds_where='score' ([DS4]) centres the shaped score without std "
                "division (Dr.GRPO style); set normalize_std=False, or use "
                "LossConfig.ds_score()"
            )

    def _check_rivals(self):
        if not 0.0 <= self.unlikeliness_coef <= 1.0:
            raise ValueError(
                "unlikeliness_coef must be in [0, 1]: the most likely correct answer keeps "
                "1 − β(G − 1)/G of its reward, and β > 1 would score it below a wrong one"
            )
        if self.passk_k and not 1 <= self.passk_k < self.group_size:
            raise ValueError(
                f"passk_k = {self.passk_k}: pass@k of a group of G = {self.group_size} needs "
                "1 <= k < G (k = G gives every group zero advantage); 0 switches it off"
            )
        if self.passk_k and not self.normalize_std:
            raise ValueError(
                "passk_k brings its own normalisation (σ of the group's pass@k, [PKA1]); "
                "leave normalize_std=True"
            )
        if not 0.0 <= self.clipcov_frac <= 1.0:
            raise ValueError("clipcov_frac is a fraction of the batch's tokens: use 0 <= clipcov_frac <= 1")
        if self.clipcov_low >= self.clipcov_high:
            raise ValueError(
                "Clip-Cov picks tokens with covariance in (clipcov_low, clipcov_high): "
                "clipcov_low must be below clipcov_high"
            )
        on = [
            name
            for name, active in (
                ("DS (gamma_p/gamma_n)", self.uses_ds),
                ("unlikeliness_coef", self.unlikeliness_coef > 0),
                ("passk_k", self.passk_k > 0),
            )
            if active
        ]
        if len(on) > 1:
            raise ValueError(
                f"{' and '.join(on)} are separate methods that each rewrite the advantage; "
                "switch on one of them (the study compares them side by side)"
            )

    @property
    def uses_ds(self) -> bool:
        """True when differential smoothing is on (gamma_p or gamma_n > 0)."""
        return self.gamma_p > 0 or self.gamma_n > 0

    @property
    def needs_seq_logp(self) -> bool:
        """True when the advantage needs each completion's sequence log-prob (DS, unlikeliness)."""
        return self.uses_ds or self.unlikeliness_coef > 0

    @property
    def needs_ref(self) -> bool:
        """True when the trainer must compute log-probs with the adapter disabled."""
        return self.beta > 0 or (self.uses_ds and self.ds_ref == "base")

    @classmethod
    def _preset(cls, base: dict, overrides: dict) -> LossConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(overrides) - known
        if unknown:
            raise ValueError(f"unknown LossConfig field(s) {sorted(unknown)}; known: {sorted(known)}")
        return cls(**{**base, **overrides})

    @classmethod
    def grpo(cls, **overrides) -> LossConfig:
        """Plain GRPO: std-normalised group advantage, token-mean, no KL, no entropy, no DS."""
        return cls._preset({}, overrides)

    @classmethod
    def ds(cls, gamma_p: float = 0.01, gamma_n: float = 0.01, **overrides) -> LossConfig:
        """DS-GRPO for real models: [DS3] with the length-normalised log-prob (authors' code)."""
        return cls._preset(dict(gamma_p=gamma_p, gamma_n=gamma_n, ds_logp="mean"), overrides)

    @classmethod
    def ds_nano(cls, gamma_p: float = 1.0, gamma_n: float = 0.0, **overrides) -> LossConfig:
        """DS-GRPO for the nano world (~10-token answers): "sum", gamma_p ~ 1, gamma_n = 0."""
        return cls._preset(dict(gamma_p=gamma_p, gamma_n=gamma_n, ds_logp="sum"), overrides)

    @classmethod
    def ds_score(cls, gamma_p: float = 0.01, gamma_n: float = 0.01, **overrides) -> LossConfig:
        """The authors' latest variant [DS4]: shape the score, centre, no std division."""
        return cls._preset(
            dict(gamma_p=gamma_p, gamma_n=gamma_n, ds_logp="mean", ds_where="score", normalize_std=False),
            overrides,
        )

    @classmethod
    def dr_grpo(cls, max_completion_len: int, **overrides) -> LossConfig:
        """Dr.GRPO: centre only, divide the token sum by the constant N·T_max."""
        return cls._preset(
            dict(normalize_std=False, loss_agg="dr-grpo", max_completion_len=max_completion_len), overrides
        )

    @classmethod
    def entropy_bonus(cls, coef: float = 0.01, **overrides) -> LossConfig:
        """GRPO + a global token-entropy bonus (raises entropy everywhere, errors included)."""
        return cls._preset(dict(entropy_coef=abs(coef)), overrides)

    @classmethod
    def entropy_penalty(cls, coef: float = 0.01, **overrides) -> LossConfig:
        """GRPO + a global token-entropy penalty (sharpens everywhere, correct set included)."""
        return cls._preset(dict(entropy_coef=-abs(coef)), overrides)

    @classmethod
    def unlikeliness(cls, coef: float = 0.25, **overrides) -> LossConfig:
        """GRPO on the unlikeliness reward [UNL1]: ranks by the mean log-prob, as the authors' code."""
        return cls._preset(dict(unlikeliness_coef=coef, ds_logp="mean"), overrides)

    @classmethod
    def passk(cls, k: int = 4, **overrides) -> LossConfig:
        """The analytic pass@k advantage [PKA1] in place of GRPO's."""
        return cls._preset(dict(passk_k=k), overrides)

    @classmethod
    def clip_cov(cls, frac: float = 0.02, **overrides) -> LossConfig:
        """GRPO with Clip-Cov [COV1]: no gradient from a few high-covariance tokens."""
        return cls._preset(dict(clipcov_frac=frac), overrides)

    @classmethod
    def clip_higher(cls, eps_high: float = 0.28, **overrides) -> LossConfig:
        """GRPO with DAPO's asymmetric clip: rare tokens may grow further before clipping."""
        return cls._preset(dict(clip_eps_high=eps_high), overrides)


def clipped_surrogate(
    logp: Tensor, logp_old: Tensor, adv: Tensor, eps_low: float, eps_high: float
) -> tuple[Tensor, Tensor]:
    """[PPO1] L_t = −min(rho_t·A, clip(rho_t, 1 − eps_low, 1 + eps_high)·A), rho_t = pi/pi_old.

    Shapes: logp, logp_old (N, T); adv (N,) broadcast over the T tokens of its sequence ->
    (per-token loss (N, T), clipped (N, T) bool: where the clipped branch wins and the token
    gets no gradient). logp_old is detached.

    What a learner gets wrong: the clip only bites in the direction the advantage pushes:
    rho > 1 + eps_high is clipped when A > 0, rho < 1 − eps_low when A < 0. On the first update
    rho = 1 exactly, and the gradient is REINFORCE's: −A·∇log pi(y_t).

    >>> loss, clipped = clipped_surrogate(torch.log(torch.tensor([[1.5, 0.5]])),
    ...                                   torch.zeros(1, 2), torch.tensor([1.0]), 0.2, 0.2)
    >>> loss, clipped
    (tensor([[-1.2000, -0.5000]]), tensor([[ True, False]]))
    """
    if adv.dim() != 1 or adv.shape[0] != logp.shape[0]:
        raise ValueError(
            f"adv must be one advantage per sequence, shape ({logp.shape[0]},), "
            f"got {tuple(adv.shape)}; it is broadcast over tokens here"
        )
    ratio = torch.exp(logp - logp_old.detach())  # (N, T), rho_t
    a = adv.detach().to(ratio.dtype).unsqueeze(1)  # (N,) -> (N, 1), broadcast over T
    unclipped = ratio * a
    clipped_obj = torch.clamp(ratio, 1.0 - eps_low, 1.0 + eps_high) * a
    return -torch.minimum(unclipped, clipped_obj), clipped_obj < unclipped


def clip_cov_mask(
    logp: Tensor,
    adv: Tensor,
    mask: Tensor,
    frac: float,
    low: float = 1.0,
    high: float = 5.0,
    exclude: Tensor | None = None,
    generator: torch.Generator | None = None,
) -> Tensor:
    """[COV1] Cov_t = (A_t − mean A)·(log pi(y_t) − mean log pi); mute ⌊frac·#tokens⌋ with low < Cov_t < high.

    Means are over the real tokens; at least one token is muted when there is a candidate.

    Clip-Cov of Cui et al. (2025, arXiv 2505.22617), as in their code: the tokens are drawn at
    random among the candidates (never among ``exclude``, the tokens PPO already clipped).
    Shapes: logp (N, T) (detached here), adv (N,) broadcast over tokens, mask (N, T) -> (N, T)
    bool, True where the token's loss (and gradient) is dropped.

    What a learner gets wrong: the covariance is the token's contribution to the entropy's
    change (Cui et al.): a confident token (log pi above the batch mean) with a positive
    advantage, or an unlikely one with a negative advantage, is what collapses entropy; those
    tokens are muted, the rest train as usual.

    >>> lp = torch.tensor([[-0.1, -3.0], [-2.0, -0.5]]); m = torch.ones(2, 2)
    >>> clip_cov_mask(lp, torch.tensor([2.0, -2.0]), m, frac=0.5, low=0.5)  # Cov = 2.6, −3.2, 1.2, −1.8
    tensor([[ True, False],
            [ True, False]])
    """
    keep = mask.bool()
    a = adv.detach().to(logp.dtype).unsqueeze(1).expand_as(logp)  # (N,) -> (N, T)
    lp = logp.detach()
    cov = (a - a[keep].mean()) * (lp - lp[keep].mean())  # (N, T)
    cand = keep & (cov > low) & (cov < high)
    if exclude is not None:
        cand &= ~exclude.bool()
    idx = cand.flatten().nonzero().squeeze(1)  # flat indices of candidates
    n_drop = min(max(int(frac * int(keep.sum())), 1), idx.numel()) if frac > 0 else 0
    pick = idx[torch.randperm(idx.numel(), generator=generator, device=idx.device)[:n_drop]]
    out = torch.zeros(logp.numel(), dtype=torch.bool, device=logp.device)
    out[pick] = True
    return out.view_as(logp)


def k3_kl(logp: Tensor, logp_ref: Tensor) -> Tensor:
    """[KL3] k3_t = exp(l_ref − l) − (l_ref − l) − 1 with l = log pi(y_t), l_ref = log pi_ref(y_t).

    Shapes: (N, T), (N, T) -> (N, T). logp_ref is detached.

    What a learner gets wrong: k3 is an unbiased estimate of KL(pi ‖ pi_ref) only in expectation
    over tokens sampled from pi; a single k3_t is >= 0 always and 0 only where pi = pi_ref.

    >>> k3_kl(torch.tensor([0.0, -1.0]), torch.tensor([0.0, 0.0]))
    tensor([0.0000, 0.7183])
    """
    d = logp_ref.detach() - logp  # (N, T)
    return torch.exp(d) - d - 1.0


def token_entropy(logits: Tensor) -> Tensor:
    """[ENT2] H_t = −Σ_v p_v log p_v with p = softmax(logits_t).

    Shapes: logits (N, T, V) -> (N, T). Stable for huge logits and for −inf (masked) logits, and
    differentiable (the entropy bonus needs its gradient).

    What a learner gets wrong: use the logits at the same temperature as the log-probs, and
    note 0·log 0 = 0: a naive p·log p gives nan for masked vocab entries.

    >>> token_entropy(torch.zeros(1, 1, 4))  # uniform over 4 tokens: log 4
    tensor([[1.3863]])
    """
    logp = torch.log_softmax(logits, dim=-1)  # (N, T, V)
    finite = logp.clamp(min=torch.finfo(logp.dtype).min)  # −inf -> most negative float
    return -(logp.exp() * finite).sum(dim=-1)


def masked_mean(x: Tensor, mask: Tensor) -> Tensor:
    """Mean of x over positions where mask is set (0 if none); padding values never leak in."""
    keep = mask.bool()
    total = torch.where(keep, x, torch.zeros_like(x)).sum()
    return total / keep.sum().clamp(min=1).to(total.dtype)


def _token_mean(x, keep, max_len):
    return x.sum() / keep.sum().clamp(min=1).to(x.dtype)


def _seq_mean(x, keep, max_len):
    per_seq = x.sum(dim=-1) / keep.sum(dim=-1).clamp(min=1).to(x.dtype)  # (N,)
    return per_seq.mean()


def _dr_grpo(x, keep, max_len):
    if max_len is None:
        raise ValueError("dr-grpo divides by N·T_max: pass max_len (cfg.max_completion_len)")
    return x.sum() / (x.shape[0] * max_len)


AGGREGATIONS = {"token-mean": _token_mean, "seq-mean": _seq_mean, "dr-grpo": _dr_grpo}


def aggregate(per_token: Tensor, mask: Tensor, how: str = "token-mean", max_len: int | None = None) -> Tensor:
    """[AGG1] token-mean: Σ_{i,t} L/Σ_{i,t} 1; seq-mean: mean_i (Σ_t L/T_i); dr-grpo: Σ_{i,t} L/(N·T_max).

    Shapes: per_token (N, T), mask (N, T) (1 on real tokens) -> scalar.

    What a learner gets wrong: seq-mean weights every *sequence* equally, so each token of a
    short answer counts more than a token of a long one (GRPO's length bias); token-mean and
    dr-grpo weight tokens equally, and dr-grpo's constant does not change with the batch.

    >>> L = torch.tensor([[1., 2., 3.], [4., 0., 0.]]); m = torch.tensor([[1, 1, 1], [1, 0, 0]])
    >>> [round(aggregate(L, m, h, max_len=3).item(), 4) for h in AGGREGATIONS]
    [2.5, 3.0, 1.6667]
    """
    _choice("how", how, tuple(AGGREGATIONS), "see [AGG1] in NOTATION.md")
    if per_token.shape != mask.shape:
        raise ValueError(
            f"per_token {tuple(per_token.shape)} and mask {tuple(mask.shape)} must have the same (N, T) shape"
        )
    keep = mask.bool()
    x = torch.where(keep, per_token, torch.zeros_like(per_token))  # padding -> 0, nan-safe
    return AGGREGATIONS[how](x, keep, max_len)


def policy_loss(
    logp: Tensor,
    logp_old: Tensor,
    adv: Tensor,
    mask: Tensor,
    cfg: LossConfig,
    logp_ref: Tensor | None = None,
    entropy: Tensor | None = None,
) -> tuple[Tensor, dict[str, float]]:
    """[PPO1]+[KL3]+[ENT2] loss = agg(L_t) + beta·agg(k3_t) − entropy_coef·mean_t H_t, agg = [AGG1].

    Shapes: logp, logp_old, logp_ref, entropy, mask (N, T); adv (N,) from
    :func:`compute_advantages` -> (scalar loss, stats). Stats keys (defined in
    ``dsnb.metrics.GLOSSARY``): "loss/policy", "loss/kl" (beta > 0), "kl" (whenever logp_ref is
    given), "entropy/token_mean" (whenever entropy is given), "clip/frac", "clipcov/frac"
    (clipcov_frac > 0, [COV1]), "loss/total".

    What a learner gets wrong: the entropy term is a plain masked token mean whatever loss_agg
    is (as in TRL), and it must carry gradient (compute it from the logits, do not detach).
    """
    if cfg.beta > 0 and logp_ref is None:
        raise ValueError(
            "beta > 0 needs logp_ref, the token log-probs under the reference "
            "(with LoRA: the same model with the adapter disabled)"
        )
    if cfg.entropy_coef != 0 and entropy is None:
        raise ValueError("entropy_coef != 0 needs entropy = token_entropy(logits), with gradient")
    per_token, clipped = clipped_surrogate(
        logp, logp_old, adv, cfg.clip_eps_low, cfg.clip_eps_high
    )  # (N, T) each
    total = aggregate(per_token, mask, cfg.loss_agg, cfg.max_completion_len)
    stats = {"loss/policy": total.item(), "clip/frac": masked_mean(clipped.to(per_token.dtype), mask).item()}
    if cfg.clipcov_frac > 0:  # [COV1]: mute a few high-covariance tokens (loss and gradient)
        drop = clip_cov_mask(logp, adv, mask, cfg.clipcov_frac, cfg.clipcov_low, cfg.clipcov_high, clipped)
        per_token = per_token.masked_fill(drop, 0.0)
        total = aggregate(per_token, mask, cfg.loss_agg, cfg.max_completion_len)
        stats["loss/policy"] = total.item()
        stats["clipcov/frac"] = masked_mean(drop.to(per_token.dtype), mask).item()
    if logp_ref is not None:
        k3 = k3_kl(logp, logp_ref)  # (N, T)
        stats["kl"] = masked_mean(k3.detach(), mask).item()
        if cfg.beta > 0:
            loss_kl = aggregate(k3, mask, cfg.loss_agg, cfg.max_completion_len)
            stats["loss/kl"] = loss_kl.item()
            total = total + cfg.beta * loss_kl
    if entropy is not None:
        ent = masked_mean(entropy, mask)
        stats["entropy/token_mean"] = ent.item()
        total = total - cfg.entropy_coef * ent
    stats["loss/total"] = total.item()
    return total, stats
