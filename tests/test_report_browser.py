"""A real browser opens each report (demo, study, theory) and reads every figure's plotly layout
from the page: every figure rendered, every axis that shows numbers has a title, no panel is an
empty frame, and no title or subtitle runs past its figure's edge or into another. Leaves
full-page screenshots in test-artifacts/ (look at them).

The pages are drawn without training: the study's and the theory's from shipped results and
closed forms, the demo's from the study's cells that the demo reproduces (same settings, seeds 0
and 1). Needs /usr/bin/chromium and the playwright package, skipped with the reason otherwise.
"""

import shutil
from pathlib import Path

import pytest
from browser_support import ARGS, CHROMIUM, MARKS

ROOT = Path(__file__).resolve().parents[1]
pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")

# What every plotly figure on the page looks like, read from the page's own plotly objects.
INSPECT = """() => Array.from(document.querySelectorAll('.js-plotly-plot')).map(gd => {
  const L = gd._fullLayout, used = new Set();
  for (const t of gd._fullData) {
    if (t.visible === false) continue;
    if (t.xaxis) used.add(t.xaxis.replace('x', 'xaxis'));
    if (t.yaxis) used.add(t.yaxis.replace('y', 'yaxis'));
  }
  const axes = Object.keys(L).filter(k => /^[xy]axis\\d*$/.test(k));
  const title = a => (L[a].title && L[a].title.text) || '';
  const box = gd.getBoundingClientRect();
  const rect = e => e.getBoundingClientRect();
  const texts = Array.from(gd.querySelectorAll('.gtitle, .annotation-text'));
  const meet = (a, b) => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom;
  const heads = texts.filter(e => e.classList.contains('gtitle'));
  return {
    title: (L.title && L.title.text) || '',
    traces: gd._fullData.length,
    drawn: gd.querySelectorAll('svg.main-svg .scatterlayer .trace, svg.main-svg .barlayer .trace').length,
    untitled: axes.filter(a => L[a].visible !== false && L[a].showticklabels !== false && !title(a)),
    empty: axes.filter(a => !used.has(a)),
    overflow: texts.filter(e => rect(e).left < box.left - 1 || rect(e).right > box.right + 1)
                   .map(e => e.textContent),
    collide: heads.flatMap(h => texts.filter(e => e !== h && meet(rect(h), rect(e))).map(e => e.textContent)),
    legend: Array.from(gd.querySelectorAll('.legendtext')).map(e => e.textContent),
    logk: axes.filter(a => L[a].type === 'log' && used.has(a)).map(a => (L[a].tickvals || []).join(',')),
  };
})"""


def demo_page(out: Path) -> Path:
    """The demo page from the study's cells that the demo reproduces (grpo, ds_asym,
    entropy_bonus_0.1 at seeds 0 and 1): summarize + write_demo_report, no training."""
    from dsnb.study.demo import DemoConfig, summarize, write_demo_report
    from dsnb.study.stats import load_results

    rows = load_results(ROOT / "dsnb" / "data" / "results" / "study")
    cell = {(r["setting"], r["seed"]): r for r in rows if r["kind"] == "run" and r["task"] == "countdown3"}
    [base] = [r for r in rows if r["kind"] == "base" and r["task"] == "countdown3"]
    study_name = {"grpo": "grpo", "ds": "ds_asym", "entropy_bonus": "entropy_bonus_0.1"}
    cfg = DemoConfig(out=str(out))
    per_run = {(m, s): {**cell[(n, s)], "seed": s} for m, n in study_name.items() for s in cfg.seeds}
    summary = summarize(cfg, per_run, {**base, "seed": None})
    curves = {
        m: [
            [dict(zip(c, vals)) for vals in zip(*c.values())]
            for c in (cell[(n, s)]["curve"] for s in cfg.seeds)
        ]
        for m, n in study_name.items()
    }
    out.mkdir(parents=True, exist_ok=True)
    return write_demo_report(out / "report.html", summary, curves)


def study_page(out: Path) -> Path:
    from dsnb.study.report import write_study_report

    out.mkdir(parents=True)
    for name in ("results.jsonl", "grid.json"):
        shutil.copy(ROOT / "dsnb" / "data" / "results" / "study" / name, out / name)
    return write_study_report(out)


def theory_page(out: Path) -> Path:
    from dsnb.theory.report import write_theory_report

    return write_theory_report(out)


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield b
        b.close()


@pytest.mark.parametrize("name, make", [("demo", demo_page), ("study", study_page), ("theory", theory_page)])
def test_every_figure_of_the_report_renders_with_titled_axes(name, make, browser, tmp_path):
    path = make(tmp_path / name)
    page = browser.new_page(viewport={"width": 1200, "height": 1000})
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(path.as_uri())
    page.wait_for_function(
        "document.querySelectorAll('.js-plotly-plot .main-svg').length > 0", timeout=60_000
    )
    page.wait_for_timeout(500)
    figs = page.evaluate(INSPECT)
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    page.screenshot(path=str(artifacts / f"report_{name}.png"), full_page=True)
    page.close()
    assert not errors, errors
    assert len(figs) >= 3, f"{name}: only {len(figs)} figures on the page"
    for i, f in enumerate(figs):
        where = f"{name} figure {i + 1} ({f['title'][:60]!r})"
        assert f["title"], f"{where}: no title"
        assert f["traces"] > 0 and f["drawn"] > 0, f"{where}: nothing drawn"
        assert not f["untitled"], f"{where}: axes without a title: {f['untitled']}"
        assert not f["empty"], f"{where}: empty panels {f['empty']}"
        assert not f["overflow"], f"{where}: text runs past the figure's edge: {f['overflow']}"
        assert not f["collide"], f"{where}: the title overlaps {f['collide']}"
    html = path.read_text()
    assert "class='finding'" in html, f"{name}: the page states no finding"
    if name in ("demo", "study"):
        legends = [t for f in figs for t in f["legend"]]
        assert any(t.startswith("thin line") for t in legends) and any(t.startswith("band") for t in legends)
        gamma = "3" if name == "demo" else "1"  # the demo's preset; the first-edition study's ds_asym
        assert f"DS-GRPO (γp = {gamma}, γn = 0, summed log-prob)" in html and "{'gamma_p'" not in html
    # every log-k axis is ticked 1, 2, 4, ..., n (a pass@k axis reads "1 2 4 8 16 32 64")
    logk = {t for f in figs for t in f["logk"] if t.startswith("1,2,4")}
    n = 1024 if name == "theory" else 64
    assert logk == {",".join(str(2**i) for i in range(n.bit_length()))}, logk
