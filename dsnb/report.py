"""Self-contained HTML reports (plotly.js inlined: they open offline) for the demo and the study."""
from __future__ import annotations

import html
from pathlib import Path


def page(title: str, blocks: list) -> str:
    """An HTML page from a list of blocks: strings are HTML, other objects are plotly figures."""
    parts, first = [], True
    for b in blocks:
        if isinstance(b, str):
            parts.append(b)
        else:
            parts.append(b.to_html(full_html=False, include_plotlyjs="inline" if first else False))
            first = False
    style = ("body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;"
             "color:#222}table{border-collapse:collapse}td,th{padding:4px 10px;border-bottom:1px solid #ddd;"
             "text-align:right}th:first-child,td:first-child{text-align:left}.note{background:#f6f6f6;"
             "padding:.6em 1em;border-left:4px solid #888}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
            f"<style>{style}</style></head><body><h1>{html.escape(title)}</h1>{''.join(parts)}</body></html>")


def summary_table(summary: dict) -> str:
    n = summary["config"]["eval_n"]
    cols = ("pass@1", "pass@8", f"pass@{n}", "distinct_correct", "coverage")
    head = "".join(f"<th>{c}</th>" for c in cols)
    base = summary["base"]
    rows = ["<tr><td>base</td>" + "".join(f"<td>{base[c]:.3f}</td>" for c in cols) + "</tr>"]
    for m, s in summary["methods"].items():
        cells = "".join(f"<td>{spread(summary, s, c)}</td>" for c in cols)
        rows.append(f"<tr><td>{html.escape(m)} <small>{html.escape(str(s['settings']))}</small></td>{cells}</tr>")
    return f"<table><tr><th>method</th>{head}</tr>{''.join(rows)}</table>"


def spread(summary: dict, s: dict, col: str) -> str:
    """A method's value: the mean alone (1 seed), with each seed's value (2 seeds: a t-interval
    from 2 values is 12.7 standard errors wide, useless), or ± the 95% interval (3+ seeds)."""
    n = len(summary["seeds"])
    if n == 1:
        return f"{s[col]:.3f}"
    if n == 2:
        return f"{s[col]:.3f} ({', '.join(f'{r[col]:.3f}' for r in s['per_seed'])})"
    return f"{s[col]:.3f} ± {s['ci95'][col]:.3f}"


def write_demo_report(path, summary: dict, curves: dict[str, list[list[dict]]]) -> Path:
    """The demo page: pass@k vs base, training curves, the table, seeds and noise stated."""
    from dsnb.run_plots import passk_figure, training_curves
    cfg = summary["config"]
    seeds = summary["seeds"]
    noise = summary["eval_noise_95"]
    pk = {"base": summary["base"]["pass@k"], **{m: s["pass@k"] for m, s in summary["methods"].items()}}
    first_seed = {m: runs[0] for m, runs in curves.items() if runs}
    blocks = [
        f"<p>The nano world: a {cfg['task']} model pretrained by dsnb, LoRA-trained with GRPO, "
        f"DS-GRPO and an entropy bonus for {cfg['steps']} steps ({cfg['prompts_per_step']} prompts x "
        f"G = {cfg['group_size']}), then evaluated on {cfg['eval_problems']} held-out problems with "
        f"n = {cfg['eval_n']} samples each. The base model is the same network with the adapter off.</p>",
        f"<p class='note'><b>Seeds and noise.</b> {len(seeds)} training seed(s): {seeds}. With 3 or more "
        f"seeds the table shows the mean ± a 95% interval over seeds; with 2 it shows the mean and each "
        f"seed's value in brackets; with 1 the value alone. Differences smaller than the seed-to-seed "
        f"spread are not evidence: <code>dsnb study</code> runs the same budget with 3 seeds and paired "
        f"tests (data/results/study). The evaluation set itself "
        f"is noisy too: the base model's pass@1 has a 95% bootstrap interval of {fmt(noise.get('1'))} "
        f"and its pass@8 of {fmt(noise.get('8'))} over problems.</p>",
        "<h2>pass@k on held-out problems</h2><p>Sharpening shows as a trained curve above the base "
        "at k = 1 that meets or falls below it at large k (the crossover).</p>",
        passk_figure(pk),
        "<h2>Summary</h2>", summary_table(summary),
        "<h2>During training (seed " + str(seeds[0]) + ")</h2><p>correct/mean is pass@1 on the "
        "training prompts; div/distinct_correct counts distinct correct solutions per group of G.</p>",
        training_curves(first_seed),
        training_curves(first_seed, keys=("entropy/token_mean", "reward/frac_zero_std")),
        f"<p><small>Produced by dsnb demo in {summary.get('seconds', 0):.0f} s.</small></p>",
    ]
    path = Path(path)
    path.write_text(page("dsnb demo: sharpening and differential smoothing in the nano world", blocks))
    return path


def fmt(interval) -> str:
    return "n/a" if not interval else f"[{interval[0]:.3f}, {interval[1]:.3f}]"
