"""The study's HTML page (self-contained, opens offline), drawn from OUT/results.jsonl alone.

Per world (task x model): a table of means ± 95% intervals over seeds with the base model, the
verdict lines (GRPO against the base model, then every setting against its reference), pass@k
curves with the base model, the paired pass@k difference against the reference with its
interval, bars and the training curves. Used by ``dsnb study`` and ``dsnb study --report-only``.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path

import plotly.graph_objects as go

from dsnb.report.figures import bars, passk_figure, training_curves
from dsnb.report.page import page
from dsnb.report.palette import color
from dsnb.study.stats import (
    cell,
    compared_metrics,
    load_results,
    metric_words,
    paired,
    setting_summary,
    value,
    verdicts,
    worlds,
)

FAMILY_ORDER = ("grpo", "ds", "entropy_bonus", "entropy_penalty")


def family(row: dict) -> str:
    """Which colour family a setting belongs to (one colour per method everywhere)."""
    if row.get("gamma_p", 0) > 0 or row.get("gamma_n", 0) > 0:
        return "ds"
    coef = row.get("entropy_coef", 0)
    return "entropy_bonus" if coef > 0 else "entropy_penalty" if coef < 0 else "grpo"


def shade(hex_color: str, t: float) -> str:
    """Blend a colour towards white by t in [0, 1).

    >>> shade("#000000", 0.5)
    '#7f7f7f'
    """
    rgb = [int(hex_color[i : i + 2], 16) for i in (1, 3, 5)]
    return "#" + "".join(f"{int(c + (255 - c) * t):02x}" for c in rgb)


def setting_colors(world: dict) -> dict[str, str]:
    """The family colour for each setting, lighter for the 2nd, 3rd... member of a family."""
    seen: dict[str, int] = {}
    out = {"base": color("base")}
    for name, rows in world["settings"].items():
        fam = family(rows[0])
        i = seen[fam] = seen.get(fam, -1) + 1
        out[name] = shade(color(fam), min(0.7, 0.22 * i))
    return out


def recolor(fig, colors: dict[str, str]):
    """Give named traces (and the unnamed faint trace just before each) their setting's colour."""
    for i, tr in enumerate(fig.data):
        c = colors.get(tr.name)
        if c is None:
            continue
        if tr.type == "bar":
            continue
        tr.line.color = c
        if i > 0 and fig.data[i - 1].name is None and fig.data[i - 1].type == "scatter":
            fig.data[i - 1].line.color = c
    for tr in fig.data:
        if tr.type == "bar":
            tr.marker.color = [colors.get(x, "#7f7f7f") for x in tr.x]
    return fig


def delta_figure(world: dict, colors: dict[str, str]):
    """pass@k(setting) − pass@k(reference) against k, paired, with the wider 95% half-width."""
    n, fig = world["n"], go.Figure()
    ks = list(range(1, n + 1))
    for name, ref in world["baseline"].items():
        if ref is None or ref not in world["settings"]:
            continue
        ps = [paired(world["settings"][name], world["settings"][ref], f"pass@{k}") for k in ks]
        if any(p is None for p in ps):
            continue
        mid = [p.diff for p in ps]
        half = [p.half if math.isfinite(p.half) else 0.0 for p in ps]
        fig.add_trace(
            go.Scatter(
                x=ks + ks[::-1],
                y=[m + h for m, h in zip(mid, half)] + [m - h for m, h in zip(mid, half)][::-1],
                fill="toself",
                fillcolor=colors[name],
                opacity=0.12,
                line=dict(width=0),
                hoverinfo="skip",
                showlegend=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=ks, y=mid, mode="lines", name=f"{name} − {ref}", line=dict(color=colors[name], width=2.5)
            )
        )
    fig.add_hline(y=0, line=dict(color="#444", width=1, dash="dot"))
    fig.update_xaxes(type="log", title_text="k (samples per problem)")
    fig.update_yaxes(title_text="paired Δ pass@k")
    fig.update_layout(
        title="pass@k minus the reference's, same problems (band: 95%, the wider of "
        "over-seeds and over-problems)",
        height=420,
        template="plotly_white",
        margin=dict(t=50, l=50, r=10, b=40),
    )
    return fig


def table_html(world: dict) -> str:
    """Means ± 95% half-widths over seeds ('?' with one seed), the base model on top."""
    ms = compared_metrics(world["n"])
    digits = {m: 2 if m == "distinct_correct" else 3 for m in ms}
    head = "".join(f"<th>{metric_words(m)}</th>" for m in ms)
    rows = []
    if world["base"] is not None:
        rows.append(
            "<tr><td>base (adapter off)</td><td>-</td>"
            + "".join(f"<td>{value(world['base'], m):.{digits[m]}f}</td>" for m in ms)
            + "</tr>"
        )
    for name, rs in world["settings"].items():
        cells = "".join(f"<td>{cell(*setting_summary(rs, m), digits[m])}</td>" for m in ms)
        note = html.escape(world["note"].get(name) or "")
        rows.append(
            f"<tr><td>{html.escape(name)}<br><small>{note}</small></td><td>{len(rs)}</td>{cells}</tr>"
        )
    return f"<table><tr><th>setting</th><th>seeds</th>{head}</tr>{''.join(rows)}</table>"


def figures(world: dict) -> list:
    """pass@k with the base, paired Δ pass@k, bars with intervals, training curves (first seed)."""
    colors = setting_colors(world)
    curves = {"base": world["base"]["pass@k"]} if world["base"] is not None else {}
    for name, rs in world["settings"].items():
        curves[name] = [sum(col) / len(col) for col in zip(*[r["pass@k"] for r in rs])]
    ms = [m for m in compared_metrics(world["n"]) if m != f"pass@{world['n']}"]
    summ = {name: {m: setting_summary(rs, m)[0] for m in ms} for name, rs in world["settings"].items()}
    errs = {
        name: {m: (h if math.isfinite(h) else 0.0) for m in ms for h in [setting_summary(rs, m)[1]]}
        for name, rs in world["settings"].items()
    }
    runs = {
        name: [dict(zip(rs[0]["curve"], vals)) for vals in zip(*rs[0]["curve"].values())]
        for name, rs in world["settings"].items()
    }
    return [
        recolor(passk_figure(curves, title="pass@k on held-out problems (mean over seeds)"), colors),
        delta_figure(world, colors),
        recolor(bars(summ, keys=tuple(ms), errors=errs), colors),
        recolor(training_curves(runs), colors),
    ]


INTRO = (
    "<p>Every cell of the grid (a setting x a training seed) trained the same nano model with the "
    "same budget and was evaluated on the same held-out problems with the same sampling seed; the "
    "base model is the same network with the adapter off. A seed changes the LoRA init, the prompt "
    "order and the sampling.</p>"
    "<p class='note'><b>How to read the numbers.</b> Table: mean over seeds ± the 95% Student-t "
    "half-width over seeds ('?' with one seed). Verdicts compare each setting with its reference "
    "<i>paired</i>, on the same problems: the difference is the mean over problems of the "
    "seed-averaged per-problem difference, and ± is the <i>wider</i> of two 95% t half-widths, "
    "one over problems and one over seeds. 'better' or 'worse' means both intervals exclude zero; "
    "everything else is 'within noise'. Each label is a 95% claim and the page makes many, so a "
    "stray one can arise by chance: trust patterns that repeat across metrics, settings and "
    "tasks. Nothing was tuned on the evaluation set.</p>"
)


def bullets(lines: list[str]) -> str:
    return "<ul>" + "".join(f"<li>{html.escape(x)}</li>" for x in lines) + "</ul>"


def world_blocks(key, world: dict, budget: dict) -> list:
    task, model = key
    lines = verdicts(world)
    ref_lines = [ln for ln in lines if " vs base:" in ln]
    other = [ln for ln in lines if ln not in ref_lines]
    return [
        f"<h2>{html.escape(task)} <small>(model: {html.escape(model)})</small></h2>",
        f"<p>{budget.get('steps')} steps x {budget.get('prompts_per_step')} prompts x G = "
        f"{budget.get('group_size')}; evaluation: {budget.get('eval_problems')} problems x n = "
        f"{world['n']} samples (seed {budget.get('eval_seed')}).</p>",
        table_html(world),
        "<h3>Does the reference sharpen? (against the base model)</h3>"
        "<p>Sharpening: pass@1 up, while distinct correct solutions, coverage and large-k "
        "pass@k go down.</p>" + bullets(ref_lines or ["no base-model row for this world"]),
        "<h3>Each setting against its reference</h3>" + bullets(other or ["no comparisons"]),
        *figures(world),
    ]


def write_study_report(out) -> Path:
    """OUT/report.html from OUT/results.jsonl (and OUT/grid.json for what was not run)."""
    out = Path(out)
    rows = load_results(out / "results.jsonl")
    info_path = out / "grid.json"
    info = json.loads(info_path.read_text()) if info_path.exists() else {"settings": {}, "skipped": {}}
    blocks = [INTRO]
    for key, world in worlds(rows).items():
        first = next(iter(world["settings"].values()), [world["base"]])[0]
        blocks += world_blocks(key, world, first)
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
    path = out / "report.html"
    path.write_text(page("dsnb study: when does differential smoothing beat GRPO?", blocks))
    return path
