"""The study's HTML page (self-contained, opens offline), drawn from OUT/results.jsonl alone.

Per world (task x model): the finding in one sentence, computed with the study's noise rule
(``dsnb.study.stats``: paired differences, the wider of the over-problems and over-seeds 95%
intervals); a table of means ± 95% intervals over seeds with the base model; a table of every
setting's paired difference to its reference; pass@k curves with the base model and the paired
Δ pass@k (small multiples: a handful of methods per panel), bars and training curves with seed
bands. Used by ``dsnb study``, ``dsnb study --report-only``, the demo page and notebook 05.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import plotly.graph_objects as go
from plotly.subplots import make_subplots

from dsnb.report.figures import (
    bars,
    grid,
    legend_key,
    panel_groups,
    passk_figure,
    rgba,
    specs,
    training_curves,
    wrap,
)
from dsnb.report.labels import BASE_LABEL, method_label
from dsnb.report.noise import seed_words
from dsnb.report.page import page
from dsnb.report.palette import family, log_k_ticks, styles
from dsnb.study.frontier import frontier_figures, frontier_summary, frontier_verdicts, summary_html
from dsnb.study.select import selection_lines
from dsnb.study.stability import precheck_lines, precheck_status
from dsnb.study.stats import (
    Paired,
    by_bucket,
    cell,
    compare,
    compared_metrics,
    fmt_diff,
    load_results,
    metric_words,
    paired,
    setting_summary,
    value,
    verdicts,
    worlds,
)

HEADLINE_METRICS = ("pass@1", "pass@{n}", "distinct_correct")
"""What a finding sentence quotes (the table has the rest)."""


# ----------------------------------------------------------------------------- names and styles
def setting_label(row: dict) -> str:
    """A study setting's method label, with its training overrides ("... [lr = 0.0005]")."""
    label = method_label(row)
    train = row.get("train") or {}
    return label + (f" [{', '.join(f'{k} = {v}' for k, v in train.items())}]" if train else "")


def world_labels(world: dict) -> dict[str, str]:
    """{setting: label} (unique: a repeated label gets its setting's name), plus the base model."""
    out = {name: setting_label(rows[0]) for name, rows in world["settings"].items()}
    seen: dict[str, int] = {}
    for lab in out.values():
        seen[lab] = seen.get(lab, 0) + 1
    out = {name: (lab if seen[lab] == 1 else f"{lab} [{name}]") for name, lab in out.items()}
    return {"base": BASE_LABEL, **out}


def world_styles(world: dict) -> dict[str, dict]:
    """Colour by family, dash by variant (``dsnb.report.palette.styles``), base first."""
    return styles({"base": "base", **{n: family(rs[0]) for n, rs in world["settings"].items()}})


def world_kinds(world: dict) -> dict[str, str]:
    """Panel titles of the small multiples: GRPO variants, DS with γn = 0, DS with γn > 0, ..."""
    out = {}
    for name, rows in world["settings"].items():
        fam = family(rows[0])
        if fam == "ds":
            out[name] = "DS-GRPO, γn = 0" if not rows[0].get("gamma_n") else "DS-GRPO, γn > 0 (as published)"
        elif fam in ("grpo", "grpo_kl"):
            out[name] = "GRPO variants"
        elif fam.startswith("entropy"):
            out[name] = "entropy bonus and penalty"
        else:
            out[name] = "other methods"
    return out


def reference(world: dict) -> str | None:
    """The setting the others are compared with (the one without a reference of its own)."""
    return next((n for n, ref in world["baseline"].items() if ref is None), None)


def world_panels(world: dict, with_base: bool = True) -> list[tuple[str, list[str]]]:
    names = (["base"] if with_base and world["base"] is not None else []) + list(world["settings"])
    fams = {"base": "base", **{n: family(rs[0]) for n, rs in world["settings"].items()}}
    ctx = [c for c in ("base", reference(world)) if c]
    return panel_groups(names, fams, kinds={"base": "", **world_kinds(world)}, context=ctx)


# ----------------------------------------------------------------------------- sentences
def and_join(items: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'.

    >>> and_join(["a"]), and_join(["a", "b", "c"])
    ('a', 'a, b and c')
    """
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def number(metric: str, x: float) -> str:
    return f"{x:.2f}" if metric == "distinct_correct" else f"{x:.3f}"


def finding(label: str, ref_label: str, comps: list[Paired], values: dict, n_seeds: int) -> str:
    """One plain sentence: the numbers of `label` vs `ref_label` and what the noise rule says.

    values: metric -> (mean of the setting, mean of the reference).

    >>> p = Paired("pass@1", 0.05, 0.01, 0.02, [0, 1, 2], 150)
    >>> q = Paired("distinct_correct", 0.03, 0.01, 0.09, [0, 1, 2], 150)
    >>> text = finding("DS", "GRPO", [p, q], {"pass@1": (0.3, 0.25), "distinct_correct": (0.87, 0.84)}, 3)
    >>> for part in text.split("; "):
    ...     print(part)
    DS vs GRPO: higher pass@1 (0.300 vs 0.250), beyond the noise of 3 seeds
    distinct correct 0.87 vs 0.84 within noise.
    """
    said = {"better": [], "worse": [], "within noise": []}
    for p in comps:
        a, b = values[p.metric]
        said[p.verdict].append((metric_words(p.metric), f"{number(p.metric, a)} vs {number(p.metric, b)}"))
    head = f"{label} vs {ref_label}: "
    if not said["better"] and not said["worse"]:
        items = and_join([f"{m} {v}" for m, v in said["within noise"]])
        return head + f"{items}, all within noise at {seed_words(n_seeds)}."
    parts = [
        f"{word} {and_join([f'{m} ({v})' for m, v in said[key]])}"
        for key, word in (("better", "higher"), ("worse", "lower"))
        if said[key]
    ]
    text = head + ", ".join(parts) + f", beyond the noise of {seed_words(n_seeds)}"
    if said["within noise"]:
        text += "; " + and_join([f"{m} {v}" for m, v in said["within noise"]]) + " within noise"
    return text + "."


def headline_comps(rows: list[dict], ref_rows: list[dict], n: int) -> list[Paired]:
    ms = list(dict.fromkeys(m.format(n=n) for m in HEADLINE_METRICS))  # n = 1: pass@1 once
    return [p for p in (paired(rows, ref_rows, m) for m in ms) if p is not None]


def setting_vs(world: dict, name: str, ref: str, labels: dict) -> str:
    """The finding sentence of one setting against `ref` (a setting or "base")."""
    rows = world["settings"][name]
    ref_rows = [world["base"]] if ref == "base" else world["settings"][ref]
    comps = headline_comps(rows, ref_rows, world["n"])
    values = {
        p.metric: (setting_summary(rows, p.metric)[0], setting_summary(ref_rows, p.metric)[0]) for p in comps
    }
    text = finding(labels[name], labels[ref], comps, values, len(rows))
    up = {p.metric for p in comps if p.verdict == "better"}
    if ref == "base" and "pass@1" in up and any(p.verdict == "worse" for p in comps):
        text = text[:-1] + ": the signature of sharpening."
    return text


def world_finding(world: dict, labels: dict) -> dict:
    """The world's conclusion with the study's noise rule: {"headline": one sentence (how many
    settings beat the reference, and how the reference moved from the base model), "better",
    "worse", "trades": [label (metrics)]}."""
    ref, n = reference(world), world["n"]
    out = {"headline": "No reference setting in these results: nothing to compare.", "better": []}
    out.update(worse=[], trades=[], sharpening="")
    if ref is None:
        return out
    calm = 0
    for name, r in world["baseline"].items():
        if r != ref:
            continue
        comps = compare(world["settings"][name], world["settings"][ref], n)
        up = [metric_words(p.metric) for p in comps if p.verdict == "better"]
        down = [metric_words(p.metric) for p in comps if p.verdict == "worse"]
        if up and down:
            out["trades"].append(f"{labels[name]} (higher {', '.join(up)}; lower {', '.join(down)})")
        elif up or down:
            out["better" if up else "worse"].append(f"{labels[name]} ({', '.join(up or down)})")
        else:
            calm += 1
    total = calm + sum(len(out[k]) for k in ("better", "worse", "trades"))
    seeds = seed_words(max(len(rs) for rs in world["settings"].values()))
    won = len(out["better"])
    if not won and not out["trades"]:
        text = f"No setting beat {labels[ref]} on any measure beyond the noise of {seeds}"
    else:
        text = (
            f"{won} of {total} settings beat {labels[ref]} beyond the noise of {seeds} and were nowhere worse"
        )
    rest = [f"{len(out['worse'])} were worse on some measure"] if out["worse"] else []
    rest += [f"{len(out['trades'])} traded one measure for another"] if out["trades"] else []
    rest += [f"{calm} of {total} were within noise on every measure"] if won or out["trades"] else []
    out["headline"] = text + (f" ({total} compared)" if not rest else "; " + and_join(rest)) + "."
    if world["base"] is not None:
        out["sharpening"] = setting_vs(world, ref, "base", labels)
    return out


def finding_html(f: dict) -> str:
    """The finding box: the headline, who was better or worse, the reference against the base."""
    lists = "".join(
        f"<div>{title}:<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in f[key]) + "</ul></div>"
        for key, title in (
            ("better", "Better than the reference, nowhere worse"),
            ("trades", "Trades"),
            ("worse", "Worse than the reference on some measure"),
        )
        if f[key]
    )
    return (
        f"<div class='finding'><b>Finding.</b> {html.escape(f['headline'])}{lists}"
        + (f"<div>{html.escape(f['sharpening'])}</div>" if f["sharpening"] else "")
        + "</div>"
    )


# ----------------------------------------------------------------------------- tables
def table_html(world: dict, labels: dict | None = None) -> str:
    """Means ± 95% half-widths over seeds ('?' with one seed), the base model on top."""
    labels = labels or world_labels(world)
    ms = compared_metrics(world["n"])
    digits = {m: 2 if m == "distinct_correct" else 3 for m in ms}
    head = "".join(f"<th>{metric_words(m)}</th>" for m in ms)
    rows = []
    if world["base"] is not None:
        rows.append(
            f"<tr><td>base<br><small>{BASE_LABEL}</small></td><td>-</td>"
            + "".join(f"<td class='num'>{value(world['base'], m):.{digits[m]}f}</td>" for m in ms)
            + "</tr>"
        )
    for name, rs in world["settings"].items():
        cells = "".join(f"<td class='num'>{cell(*setting_summary(rs, m), digits[m])}</td>" for m in ms)
        note = world["note"].get(name) or ""
        sub = html.escape(labels[name] + (f" · {note}" if note else ""))
        rows.append(f"<tr><td>{html.escape(name)}<br><small>{sub}</small></td><td>{len(rs)}</td>{cells}</tr>")
    return f"<table><tr><th>setting</th><th>seeds</th>{head}</tr>{''.join(rows)}</table>"


VERDICT_CLASS = {"better": "up", "worse": "down", "within noise": "same"}
SYMBOL = {"better": "↑", "worse": "↓", "within noise": "="}


def verdict_table(world: dict) -> str:
    """Every setting's paired difference to its reference (Δ ± the wider 95% half-width), ↑/↓
    only when both intervals exclude zero; the reference against the base model first."""
    ms = compared_metrics(world["n"])
    head = "".join(f"<th>Δ {metric_words(m)}</th>" for m in ms)
    body = []
    order = [(n, "base") for n, r in world["baseline"].items() if r is None and world["base"] is not None]
    order += [(n, r) for n, r in world["baseline"].items() if r is not None and r in world["settings"]]
    for name, ref in order:
        ref_rows = [world["base"]] if ref == "base" else world["settings"][ref]
        comps = {p.metric: p for p in compare(world["settings"][name], ref_rows, world["n"])}
        cells = "".join(verdict_cell(comps[m]) if m in comps else "<td>-</td>" for m in ms)
        body.append(f"<tr><td>{html.escape(name)} <small>vs {html.escape(ref)}</small></td>{cells}</tr>")
    return f"<table class='verdicts'><tr><th>setting</th>{head}</tr>{''.join(body)}</table>"


def verdict_cell(p: Paired) -> str:
    return f"<td class='num {VERDICT_CLASS[p.verdict]}'>{fmt_diff(p)} {SYMBOL[p.verdict]}</td>"


# ----------------------------------------------------------------------------- figures
def delta_figure(world: dict, labels: dict | None = None, st: dict | None = None):
    """pass@k(setting) − pass@k(reference) against k, paired, one small panel per setting, with
    the wider 95% half-width as a band (a band that straddles 0 is noise). Shared y axis."""
    labels, st = labels or world_labels(world), st or world_styles(world)
    n, ks = world["n"], list(range(1, world["n"] + 1))
    panels = []
    for name, ref in world["baseline"].items():
        if ref is None or ref not in world["settings"]:
            continue
        ps = [paired(world["settings"][name], world["settings"][ref], f"pass@{k}") for k in ks]
        if all(p is not None for p in ps):
            panels.append((name, ref, ps))
    rows, cols = grid(len(panels), cols=3) if panels else (1, 1)
    titles = [wrap(labels[name], 44) for name, _, _ in panels]
    fig = make_subplots(
        rows=rows,
        cols=cols,
        specs=specs(len(panels), rows, cols) if panels else None,
        subplot_titles=titles or None,
        shared_yaxes=True,
        vertical_spacing=0.32 / rows if rows > 1 else 0.1,
        horizontal_spacing=0.04,
    )
    lo_all, hi_all = 0.0, 0.0
    ticks = log_k_ticks(n)
    for i, (name, ref, ps) in enumerate(panels):
        pos = dict(row=i // cols + 1, col=i % cols + 1)
        mid = [p.diff for p in ps]
        half = [p.half if math.isfinite(p.half) else float("nan") for p in ps]
        hi, lo = [m + h for m, h in zip(mid, half)], [m - h for m, h in zip(mid, half)]
        lo_all = min([lo_all, *[x for x in lo if x == x]])
        hi_all = max([hi_all, *[x for x in hi if x == x]])
        color = st[name]["color"]
        fig.add_trace(
            go.Scatter(
                x=ks + ks[::-1],
                y=hi + lo[::-1],
                fill="toself",
                mode="lines",
                fillcolor=rgba(color, 0.18),
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
            ),
            **pos,
        )
        fig.add_trace(
            go.Scatter(
                x=ks,
                y=mid,
                mode="lines",
                name=f"{labels[name]} − {labels[ref]}",
                showlegend=False,
                line=dict(color=color, width=2.5, dash=st[name]["dash"]),
            ),
            **pos,
        )
        fig.add_trace(
            go.Scatter(
                x=[1, n],
                y=[0, 0],
                mode="lines",
                line=dict(color="#444", width=1, dash="dot"),
                showlegend=False,
            ),
            **pos,
        )
        fig.update_xaxes(type="log", tickvals=ticks, ticktext=[str(t) for t in ticks], **pos)
        fig.update_xaxes(title_text="k", **pos)
        if pos["col"] == 1:
            fig.update_yaxes(title_text="Δ pass@k", **pos)
    pad = 0.05 * (hi_all - lo_all or 1)
    fig.update_yaxes(range=[lo_all - pad, hi_all + pad])
    ref = reference(world) or "the reference"
    legend_key(fig, "line: mean paired difference", width=2.5)
    legend_key(fig, "band: 95% interval (the wider of over-seeds and over-problems)", fill=True)
    legend_key(fig, "dotted: no difference", width=1, dash="dot")
    height = 160 + 290 * rows
    fig.update_layout(
        title=f"pass@k minus {html.escape(labels.get(ref, ref))}'s, on the same problems<br>"
        "<sup>one panel per setting; a band that straddles the dotted zero line is noise</sup>",
        height=height,
        template="plotly_white",
        margin=dict(t=110, l=60, r=10, b=60),
        legend=dict(orientation="h", x=0, y=-60 / (height - 150), yanchor="top"),
    )
    fig.update_annotations(font_size=11)
    return fig


def figures(world: dict) -> list:
    """pass@k with the base, paired Δ pass@k, bars with intervals, training curves (all seeds)."""
    labels, st = world_labels(world), world_styles(world)
    curves = {"base": world["base"]["pass@k"]} if world["base"] is not None else {}
    bands = {}
    for name, rs in world["settings"].items():
        cols = list(zip(*[r["pass@k"] for r in rs]))
        curves[name] = [sum(col) / len(col) for col in cols]
        if len(rs) > 1:
            bands[name] = ([min(c) for c in cols], [max(c) for c in cols])
    seeds = max(len(rs) for rs in world["settings"].values()) if world["settings"] else 0
    ms = [m for m in compared_metrics(world["n"]) if m != f"pass@{world['n']}"]
    summ = {name: {m: setting_summary(rs, m)[0] for m in ms} for name, rs in world["settings"].items()}
    errs = {
        name: {m: (h if math.isfinite(h) else 0.0) for m in ms for h in [setting_summary(rs, m)[1]]}
        for name, rs in world["settings"].items()
    }
    runs = {
        name: [
            [dict(zip(r["curve"], vals)) for vals in zip(*r["curve"].values())] for r in rs if r.get("curve")
        ]
        for name, rs in world["settings"].items()
    }
    runs = {name: v for name, v in runs.items() if v}
    keys = [k for k in ("correct/mean", "div/distinct_correct") if all(k in r[0][0] for r in runs.values())]
    no_base = world_panels(world, with_base=False)
    passk = passk_figure(
        curves,
        bands=bands,
        title=f"pass@k on held-out problems<br><sup>mean over {seeds} seeds; band: range over the seeds; "
        "the base model in every panel</sup>",
        labels=labels,
        styles=st,
        panels=world_panels(world),
    )
    return [
        passk,
        delta_figure(world, labels, st),
        bars(
            summ,
            keys=tuple(ms),
            errors=errs,
            labels=labels,
            styles=st,
            title="Means over seeds",
            error_label="error bars: 95% t-interval over seeds",
        ),
        training_curves(
            {n: runs[n] for n in runs},
            keys=keys or ("correct/mean",),
            labels=labels,
            styles=st,
            panels=[(t, [n for n in ns if n in runs]) for t, ns in no_base],
            title="During training (every seed)",
        ),
    ]


# ----------------------------------------------------------------------------- the page
INTRO = (
    "<p>Every cell of the grid (a setting x a training seed) trained the same nano model with the "
    "same budget and was evaluated on the same held-out problems with the same sampling seed; the "
    "base model is the same network with the adapter off. A seed changes the LoRA init, the prompt "
    "order and the sampling.</p>"
    "<p class='note'><b>How to read the numbers.</b> Table: mean over seeds ± the 95% Student-t "
    "half-width over seeds ('?' with one seed). Verdicts compare each setting with its reference "
    "<i>paired</i>, on the same problems: the difference is the mean over problems of the "
    "seed-averaged per-problem difference, and ± is the <i>wider</i> of two 95% t half-widths, "
    "one over problems and one over seeds. 'better' (↑) or 'worse' (↓) means both intervals "
    "exclude zero; everything else is 'within noise' (=). Each label is a 95% claim and the page "
    "makes many, so a stray one can arise by chance: trust patterns that repeat across metrics, "
    "settings and tasks. Nothing was tuned on the evaluation set.</p>"
)


def bullets(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"


def bucket_html(rows: list[dict], methods: list[str]) -> str:
    """Rows of :func:`dsnb.study.stats.by_bucket` as a table: per bucket and metric the base
    value, each method's mean and its paired change from the base (↑/↓ only when both 95%
    intervals exclude zero)."""
    arrow = {"better": " ↑", "worse": " ↓"}
    head = "".join(f"<th>{html.escape(m)}</th>" for m in methods)
    body = []
    for r in rows:
        cells = ""
        for m in methods:
            mean, p = r[m]
            change = "" if p is None else f" <small>({p.diff:+.3f}{arrow.get(p.verdict, '')})</small>"
            cells += f"<td class='num'>{mean:.3f}{change}</td>"
        body.append(
            f"<tr><td>{r['bucket']} <small>({r['problems']} problems)</small></td>"
            f"<td>{metric_words(r['metric'])}</td><td class='num'>{r['base']:.3f}</td>{cells}</tr>"
        )
    return (
        f"<table><tr><th>solutions per problem</th><th>metric</th><th>base</th>{head}</tr>"
        f"{''.join(body)}</table>"
    )


def world_buckets(world: dict) -> list[str]:
    """The world's per-multiplicity table, or a line saying why there is none."""
    if world["base"] is None:
        return []
    try:
        rows = by_bucket(world["base"], world["settings"])
    except ValueError as err:  # results recorded before the multiplicity dial
        return [f"<p class='note'>No per-multiplicity numbers: {html.escape(str(err))}.</p>"]
    return [
        "<h3>By multiplicity: problems with 1, 2-3 and 4+ solutions</h3><p>Sharpening inside the "
        "correct set can only show where there is more than one solution; in brackets, the paired "
        "change from the base model on those problems.</p>",
        bucket_html(rows, list(world["settings"])),
    ]


def world_blocks(key, world: dict, budget: dict) -> list:
    task, model = key
    labels = world_labels(world)
    return [
        f"<h2>{html.escape(task)} <small>(model: {html.escape(model)})</small></h2>",
        finding_html(world_finding(world, labels)),
        f"<p>{budget.get('steps')} steps x {budget.get('prompts_per_step')} prompts x G = "
        f"{budget.get('group_size')}; evaluation: {budget.get('eval_problems')} problems x n = "
        f"{world['n']} samples (seed {budget.get('eval_seed')}).</p>",
        table_html(world, labels),
        "<h3>Paired differences against the reference</h3><p>Sharpening (first row, against the base "
        "model): pass@1 up, while distinct correct solutions, coverage and large-k pass@k go down.</p>",
        verdict_table(world),
        "<details><summary>The same verdicts in words</summary>" + bullets(verdicts(world)) + "</details>",
        *world_buckets(world),
        *frontier_blocks(world),
        *figures(world),
    ]


FRONTIER_INTRO = (
    "<h3>Frontiers: each method's sweep</h3><p>The paper's claim (Theorem 3.4) is about frontiers: "
    "for any entropy-regularised policy a DS policy at least as correct <i>and</i> as diverse. Each "
    "method's knob was swept, and each sweep is drawn as a line from GRPO (its knob = 0) on, in the "
    "plane pass@1 (x) against pass@64 or distinct correct solutions (y), overall and per "
    "solution-multiplicity bucket. The table reads DS's line against each other line: <b>above</b> "
    "means that at a matched pass@1 inside both lines' range DS's y is higher with both paired 95% "
    "intervals (over problems, over seeds) excluding zero, and nowhere lower; <b>below</b> the "
    "reverse; <b>cross</b> both; <b>within noise</b> neither. Against GRPO (a single point) the "
    "comparison is point against point: one point dominates another when it is better on pass@1 or "
    "on y and worse on neither. Under each verdict: the paired difference that decides it.</p>"
)


def frontier_blocks(world: dict) -> list:
    """The frontier section of a world that swept a knob (none otherwise): the verdict table, the
    figures, the verdicts in words (``dsnb.study.frontier``)."""
    rows = [r for rs in world["settings"].values() for r in rs] + [world["base"]] * (
        world["base"] is not None
    )
    if not any(r.get("sweep") for r in rows):
        return []
    try:
        summary = frontier_summary(rows)
    except ValueError as err:  # per-problem solution counts not recoverable
        return [f"<p class='note'>No frontiers: {html.escape(str(err))}.</p>"]
    if not summary:
        return []
    return [
        FRONTIER_INTRO,
        summary_html(summary),
        *frontier_figures(rows),
        "<details><summary>Every frontier verdict in words</summary>"
        + bullets(frontier_verdicts(rows))
        + "</details>",
    ]


def stage_blocks(out: Path) -> list[str]:
    """The v2 study's stability pre-check and its choice of each family's best (on the validation
    split), when OUT holds them."""
    blocks = []
    status = precheck_status(out)
    if status:
        bad = [v for v in status.values() if v["status"] != "ok"]
        blocks.append(
            f"<h2>Stability pre-check</h2><p>Every setting, {next(iter(status.values()))['steps']} steps "
            f"at seed {next(iter(status.values())).get('seed')}: {len(status) - len(bad)} of {len(status)} "
            "stable; a diverged setting is kept and reported, never dropped.</p>"
            "<details><summary>Each setting</summary>" + bullets(precheck_lines(status)) + "</details>"
        )
    sel = out / "selection.json"
    if sel.exists():
        blocks.append(
            "<h2>The best of each family, chosen on the validation split</h2><p>Validation problems are "
            "disjoint from the reported ones; the score is the mean of pass@k at k = 1, 2, 4, ..., n. "
            "The chosen settings got two more seeds.</p><pre>"
            + html.escape("\n".join(selection_lines(json.loads(sel.read_text()))))
            + "</pre>"
        )
    return blocks


def write_study_report(out) -> Path:
    """OUT/report.html from OUT/results.jsonl (and OUT/grid.json for what was not run)."""
    out = Path(out)
    rows = load_results(out / "results.jsonl")
    info_path = out / "grid.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {"settings": {}, "skipped": {}}
    found = []
    blocks = []
    for key, world in worlds(rows).items():
        first = next(iter(world["settings"].values()), [world["base"]])[0]
        blocks += world_blocks(key, world, first)
        headline = world_finding(world, world_labels(world))["headline"]
        found.append(f"<li><b>{html.escape(key[0])}</b>: {html.escape(headline)}</li>")
    ran = {r["setting"] for r in rows}
    missing = {
        n: info["skipped"].get(n, "not run yet (or left out with --only)")
        for n in info["settings"]
        if n not in ran
    }
    if missing:
        blocks.append(
            "<h2>Declared but not in these results</h2><ul>"
            + "".join(f"<li>{html.escape(n)}: {html.escape(why)}</li>" for n, why in missing.items())
            + "</ul>"
        )
    blocks += stage_blocks(out)
    top = (
        "<div class='finding'><b>What these results say</b> (paired test, 95%):<ul>"
        + "".join(found)
        + "</ul></div>"
    )
    path = out / "report.html"
    path.write_text(page("dsnb study: when does differential smoothing beat GRPO?", [top, INTRO, *blocks]))
    return path
