"""HTML pieces of the live dashboard: the sample viewer, the status line, the error box.

Pure functions from data to an HTML string (an ``ipywidgets.HTML`` shows them), so they are
tested without a notebook. The sample viewer is where sharpening is visible by eye: a collapsed
GRPO group shows one correct completion sixteen times; a smoothed one shows several.
Used by ``dsnb.dashboard.widget``.
"""

from __future__ import annotations

import html
from collections import Counter

from dsnb.report.palette import color

BOX = "font-family:system-ui,sans-serif;font-size:13px;"
MONO = "font-family:ui-monospace,monospace;white-space:pre-wrap;overflow-wrap:anywhere;"
SHADE = {"correct": "#d8f3dc", "partial": "#fff3c4", "wrong": "#fde2e1"}
MAX_ROWS = 8  # distinct completions shown per group (the most frequent first)
MAX_CHARS = 160  # long completions keep their end, where the answer is


def completion_html(text: str) -> str:
    """A completion for display: escaped, long ones cut to their end, answer tags greyed.

    >>> completion_html("<answer>3+4</answer>")
    "<span style='color:#999'>&lt;answer&gt;</span>3+4<span style='color:#999'>&lt;/answer&gt;</span>"
    """
    text = text if len(text) <= MAX_CHARS else "…" + text[-MAX_CHARS:]
    out = html.escape(text) or "(empty)"
    for tag in ("&lt;answer&gt;", "&lt;/answer&gt;"):
        out = out.replace(tag, f"<span style='color:#999'>{tag}</span>")
    return out


def prompt_text(prompt) -> str:
    """A prompt as plain text: strings as they are, chat messages by their last message."""
    return prompt if isinstance(prompt, str) else str(prompt[-1]["content"])


def count_duplicates(texts, rewards, correct, keys):
    """Identical completions merged, most frequent first: [(text, count, reward, correct, key)].

    >>> count_duplicates(["a", "b", "a"], [1.0, 0.0, 1.0], [True, False, True], ["A", None, "A"])
    [('a', 2, 1.0, True, 'A'), ('b', 1, 0.0, False, None)]
    """
    counts = Counter(texts)
    first = {}
    for t, r, c, k in zip(texts, rewards, correct, keys):
        first.setdefault(t, (r, c, k))
    return [(t, n, *first[t]) for t, n in counts.most_common()]


def group_html(name: str, group) -> str:
    """One group of G completions (a ``dsnb.dashboard.history.Group``): correct ones green,
    duplicates counted, and the two numbers that matter (correct, distinct correct). Says so when
    the group gives no gradient, and when only part of it was logged (samples.jsonl)."""
    texts, rewards, correct, keys = group.texts, group.rewards, group.correct, group.keys
    G, n_ok = len(texts), sum(correct)
    distinct = len({k for k, ok in zip(keys, correct) if ok and k is not None})
    head = (
        f"<div style='border-left:4px solid {color(name)};padding-left:6px'><b>{html.escape(name)}</b> · "
        f"step {group.step} · prompt <code>{html.escape(prompt_text(group.prompt)[-120:])}</code><br>"
    )
    if group.of:
        head += f"{n_ok}/{G} correct among the {G} of {group.of} completions the run logged"
    else:
        head += (
            f"{n_ok}/{G} correct · <b>{distinct}</b> distinct correct solution{'s' * (distinct != 1)} "
            f"(3+4 and 4+3 count once)"
        )
        if len(set(rewards)) == 1:
            head += " · <i>all rewards equal: this group gives no gradient</i>"
    merged = count_duplicates(texts, rewards, correct, keys)
    rows = []
    for text, n, reward, ok, _ in merged[:MAX_ROWS]:
        shade = SHADE["correct" if ok else ("partial" if reward > 0 else "wrong")]
        rows.append(
            f"<div style='background:{shade};margin:1px 0;padding:1px 4px'>"
            f"<span style='{MONO}'>{completion_html(text)}</span>"
            f"<span style='float:right'>{'✓' if ok else ''} ×{n}</span></div>"
        )
    if len(merged) > MAX_ROWS:
        rest = merged[MAX_ROWS:]
        rows.append(
            f"<div style='color:#666'>… {len(rest)} more distinct completions "
            f"({sum(r[1] for r in rest)} samples, {sum(r[1] for r in rest if r[3])} correct)</div>"
        )
    return head + "</div>" + "".join(rows)


def samples_html(groups: dict) -> str:
    """The latest group of every run side by side, {name: Group}, all of the same step."""
    if not groups:
        return f"<div style='{BOX}color:#666'>Samples appear after the first step.</div>"
    cols = "".join(f"<div style='flex:1;min-width:0'>{group_html(n, g)}</div>" for n, g in groups.items())
    legend = (
        f"<span style='background:{SHADE['correct']}'>correct</span> "
        f"<span style='background:{SHADE['partial']}'>right format, wrong value</span> "
        f"<span style='background:{SHADE['wrong']}'>no valid answer</span>"
    )
    same = " (same prompt for every run)" if len(groups) > 1 else ""
    return (
        f"<div style='{BOX}'><b>Latest group of completions</b>{same} "
        f"{legend}<div style='display:flex;gap:12px;margin-top:4px'>{cols}</div></div>"
    )


def duration(seconds: float) -> str:
    """A short human duration.

    >>> duration(42.4), duration(125), duration(3 * 3600 + 60)
    ('42 s', '2 min 5 s', '3 h 1 min')
    """
    s = int(round(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60} s"
    return f"{s // 3600} h {s % 3600 // 60} min"


def status_html(
    state: str,
    steps: dict[str, int],
    total: int,
    sec_per_step: float | None,
    note: str = "",
    eta_s: float | None = None,
) -> str:
    """One line: state, steps done per run, speed (one step of every run), time left, note.

    >>> line = status_html("running", {"grpo": 3, "ds": 3}, 10, 2.0, eta_s=14)
    >>> "grpo step 3/10 · ds step 3/10" in line, "2.00 s/step (both runs)" in line, "14 s left" in line
    (True, True, True)
    """
    dot = {"running": "#2a9d3a", "paused": "#e0a800", "stopping": "#e0a800", "error": "#c00"}.get(
        state, "#888"
    )
    done = " · ".join(f"{n} step {s}/{total}" for n, s in steps.items())
    both = " (both runs)" if len(steps) == 2 else (f" (all {len(steps)} runs)" if len(steps) > 2 else "")
    speed = f" · {sec_per_step:.2f} s/step{both}" if sec_per_step else ""
    left = f" · about {duration(eta_s)} left" if eta_s and state in ("running", "paused") else ""
    extra = f" · {html.escape(note)}" if note else ""
    return (
        f"<div style='{BOX}'><span style='color:{dot}'>●</span> <b>{state}</b> · "
        f"{done}{speed}{left}{extra}</div>"
    )


def error_html(trace: str | None) -> str:
    """The error box: empty when all is well, else the traceback of the training thread."""
    if not trace:
        return ""
    return (
        f"<div style='{BOX}border:2px solid #c00;background:#fff0f0;padding:6px'>"
        f"<b>Training stopped with an error</b> (everything up to the last finished step "
        f"is in the run directory):<pre style='{MONO}font-size:11px;max-height:260px;overflow:auto'>"
        f"{html.escape(trace)}</pre></div>"
    )
