"""A real browser drives JupyterLab through notebook 03 as a student would: Run All, move the γp
slider while the model trains, let it run past 20 steps and read the step labels the page draws
(few, evenly spaced, not overlapping), press Stop (both runs at one step, one prompt in the sample
viewer), then run the dashboard cell again and check that the re-opened run shows its history in
every panel. Leaves screenshots in test-artifacts/ (look at them: would a student understand the
page?) and the measured seconds in test-artifacts/browser_seconds.json.

Needs /usr/bin/chromium (Debian package) and the playwright Python package (never
`playwright install`); skipped with the reason otherwise. The notebook runs with its real
settings on a tiny model (DSNB_NANO, DSNB_NANO4W), so training is slow enough to steer and fast to start.
"""

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest
from browser_support import ARGS, CHROMIUM, MARKS

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "03_live_ds_grpo_nano.ipynb"
pytestmark = MARKS
sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package is missing")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(cond, timeout: float, what: str, poll: float = 0.25):
    end = time.time() + timeout
    while time.time() < end:
        value = cond()
        if value:
            return value
        time.sleep(poll)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


@pytest.fixture()
def lab(tmp_path, tiny_model_dir):
    """A JupyterLab server on a copy of notebook 03; yields (url, root dir)."""
    root = tmp_path / "root"
    root.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, root / NOTEBOOK)
    env = {k: v for k, v in os.environ.items() if k != "DSNB_SMOKE"}  # the real settings
    env.update(
        DSNB_NANO=tiny_model_dir,
        DSNB_NANO4W=tiny_model_dir,  # notebook 03 trains on the flagship world
        JUPYTER_CONFIG_DIR=str(tmp_path / "cfg"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "rt"),
        JUPYTER_DATA_DIR=str(tmp_path / "data"),
    )
    jupyter = [sys.executable, "-m", "jupyter"]
    subprocess.run(
        jupyter + ["labextension", "disable", "--level=user", "@jupyterlab/apputils-extension:announcements"],
        env=env,
        check=True,
        capture_output=True,
    )
    port = free_port()
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen(
        jupyter
        + [
            "lab",
            "--allow-root",
            "--no-browser",
            "--ip=127.0.0.1",
            f"--port={port}",
            "--IdentityProvider.token=",
            "--ServerApp.password=",
            f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_for(lambda: responds(f"{url}/api/status"), 60, "JupyterLab to start")
        yield url, root
    finally:
        os.killpg(server.pid, signal.SIGTERM)  # the server and its kernel, by our PID
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
        log.close()


def responds(url: str) -> bool:
    try:
        return urllib.request.urlopen(url, timeout=2).status == 200
    except OSError:
        return False


def kernel_ready(url: str) -> bool:
    kernels = json.loads(urllib.request.urlopen(f"{url}/api/kernels", timeout=5).read())
    return bool(kernels) and all(k["execution_state"] == "idle" and k["connections"] > 0 for k in kernels)


def run_rows(root: Path, name: str = "ds") -> list[dict]:
    path = root / "runs" / "03_nano_compare" / name / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


# What the page shows, read from plotly's SVG: per figure, per panel, the x tick labels with their
# horizontal extent, and how many drawn lines have at least two points.
READ_PLOTS = """() => [...document.querySelectorAll('.js-plotly-plot')].map(plot =>
  [...plot.querySelectorAll('.cartesianlayer > .subplot')].map(sub => {
    const ax = sub.getAttribute('class').split(' ')[1].match(/^x[0-9]*/)[0];
    const ticks = [...plot.querySelectorAll('.' + ax + 'tick text')].map(t => {
      const r = t.getBoundingClientRect();
      return {text: t.textContent, left: r.left, right: r.right};
    });
    const lines = [...sub.querySelectorAll('.scatterlayer path.js-line')]
      .filter(p => ((p.getAttribute('d') || '').match(/[ML]/g) || []).length >= 2).length;
    return {ax, ticks, lines};
  }))"""


def plots_on_page(page) -> dict:
    """{"training": [panel, ...], "passk": [panel]} as READ_PLOTS reads them."""
    figs = page.evaluate(READ_PLOTS)
    return {
        "training": next((f for f in figs if len(f) == 6), []),
        "passk": next((f for f in figs if len(f) == 1), []),
    }


def check_step_labels(panel: dict, steps: int) -> list[int]:
    """Readable step labels: 3-7 of them, evenly spaced numbers, none past the `steps` done, and
    no two overlapping on screen. Returns the labels."""
    labels = [int(t["text"].replace("−", "-")) for t in panel["ticks"]]
    assert 3 <= len(labels) <= 7, f"{panel['ax']}: {len(labels)} step labels {labels}"
    gaps = {b - a for a, b in zip(labels, labels[1:])}
    assert len(gaps) == 1 and gaps.pop() > 0 and labels[-1] <= steps, labels  # the plot may lag a redraw
    boxes = sorted((t["left"], t["right"]) for t in panel["ticks"])
    assert all(r1 + 2 <= l2 for (_, r1), (l2, _) in zip(boxes, boxes[1:])), f"labels overlap: {boxes}"
    return labels


def test_the_dashboard_in_jupyterlab_steers_stops_and_reopens_a_run(lab):
    """Run All, move the γp slider, train >= 20 steps, read the axes, Stop, re-run the cell."""
    url, root = lab
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    t0 = time.time()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1900})
        try:
            facts = steer_in_the_browser(page, url, root, artifacts)
            facts.update(stop_in_the_browser(page, root, artifacts))
            facts.update(reopen_in_the_browser(page, root, artifacts))
        except Exception:
            page.screenshot(path=str(artifacts / "browser_03_failure.png"))
            raise
        finally:
            browser.close()
    facts["seconds_total"] = round(time.time() - t0, 1)
    (artifacts / "browser_seconds.json").write_text(json.dumps(facts, indent=1))


def dashboard_output(page):
    return page.locator(".jp-OutputArea-output:has(.widget-slider)").first


def status_text(page) -> str:
    """The status line: "● running · grpo step 3/150 · ds step 3/150 · ..."."""
    line = dashboard_output(page).locator(".widget-html", has_text=re.compile(r"grpo step \d+/"))
    return line.first.text_content()


def steer_in_the_browser(page, url, root, artifacts) -> dict:
    """Open, Run All, press ArrowRight on the γp slider, check the run and the plot, then let
    it train to 20 steps and read the step labels the page draws."""
    page.goto(f"{url}/lab/tree/{NOTEBOOK}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    wait_for(lambda: kernel_ready(url), 60, "the kernel to connect")  # else Lab asks for a kernel
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.wait_for(timeout=90_000)
    wait_for(lambda: len(run_rows(root)) >= 1, 180, "the first training step")
    handle.scroll_into_view_if_needed()
    handle.click()
    for _ in range(4):  # γp: 0 -> 0.2 in steps of 0.05
        page.keyboard.press("ArrowRight")
    readout = page.locator(".widget-slider .widget-readout").first
    wait_for(lambda: readout.text_content().strip() == "0.200", 10, "the slider readout")
    wait_for(
        lambda: [r for r in run_rows(root) if r["ds/gamma_p"] == pytest.approx(0.2)],
        120,
        "a metrics row with the new gamma_p",
    )
    events = (root / "runs" / "03_nano_compare" / "ds" / "events.jsonl").read_text()
    assert '"field": "gamma_p"' in events and '"new": 0.2' in events
    marker = page.locator(".js-plotly-plot .annotation-text", has_text="γp").filter(has_text="0.2")
    marker.first.wait_for(timeout=180_000)  # the plot redrew, with the change marked
    t_steps = time.time()
    wait_for(lambda: len(run_rows(root, "grpo")) >= 20, 600, "20 training steps", poll=1)
    wait_for(
        lambda: max(int(t["text"]) for t in plots_on_page(page)["training"][0]["ticks"]) >= 20,
        60,
        "the plot to redraw past step 20",
    )
    training = plots_on_page(page)["training"]
    shown = max(int(t["text"]) for t in training[0]["ticks"])
    labels = {p["ax"]: check_step_labels(p, len(run_rows(root, "grpo"))) for p in training}
    assert all(p["lines"] >= 2 for p in training[:5]), training  # both runs drawn in every panel
    dashboard_output(page).screenshot(path=str(artifacts / "browser_03_dashboard.png"))
    page.screenshot(path=str(artifacts / "browser_03_page.png"))
    return {
        "step_labels_at_20": labels["x"],
        "last_label": shown,
        "seconds_for_20_steps": round(time.time() - t_steps),
    }


def stop_in_the_browser(page, root, artifacts) -> dict:
    """Press Stop: "stopped" soon, both runs at the same step, one prompt in the sample viewer."""
    stop = dashboard_output(page).locator("button.widget-button", has_text="Stop")
    stop.scroll_into_view_if_needed()
    t0 = time.time()
    stop.click()
    wait_for(lambda: "stopping" in status_text(page) or "stopped" in status_text(page), 5, "Stop to answer")
    answered = time.time() - t0
    wait_for(lambda: "stopped" in status_text(page), 120, "the run to stop")
    stopped = time.time() - t0
    status = status_text(page)
    steps = re.findall(r"(grpo|ds) step (\d+)/", status)
    assert len(steps) == 2 and steps[0][1] == steps[1][1], status
    step = int(steps[0][1])
    assert len(run_rows(root, "grpo")) == len(run_rows(root, "ds")) == step
    viewer = dashboard_output(page).locator(".widget-html", has_text="Latest group").first.text_content()
    heads = re.findall(r"(grpo|ds) · step (\d+) · prompt ([^:]*:)", viewer)
    assert len(heads) == 2 and heads[0][1:] == heads[1][1:] == (str(step), heads[0][2]), heads
    dashboard_output(page).screenshot(path=str(artifacts / "browser_03_stopped.png"))
    return {"stop_answered_s": round(answered, 2), "stop_to_stopped_s": round(stopped, 2), "stopped_at": step}


def reopen_in_the_browser(page, root, artifacts) -> dict:
    """Run the dashboard cell again: the re-opened run shows its history in every panel at once."""
    cell = page.locator(".jp-CodeCell", has_text="dsnb.dashboard.live(").first
    cell.locator(".jp-InputArea-editor").click()
    t0 = time.time()
    page.keyboard.press("Control+Enter")  # run this cell, stay on it
    wait_for(lambda: "continuing" in status_text(page), 120, "the re-opened dashboard")
    wait_for(lambda: plots_on_page(page)["passk"] and plots_on_page(page)["training"], 60, "its plots")
    shown = plots_on_page(page)
    assert all(p["lines"] >= 2 for p in shown["training"][:5]), shown["training"]  # history drawn
    assert shown["passk"][0]["lines"] == 3, shown["passk"]  # base, grpo, ds from evaluations.jsonl
    assert [t["text"] for t in shown["passk"][0]["ticks"]] == ["1", "2", "4", "8", "16"]
    marker = page.locator(".js-plotly-plot .annotation-text", has_text="γp").filter(has_text="0.2")
    assert marker.count() >= 1  # the control change is marked again
    viewer = dashboard_output(page).locator(".widget-html", has_text="Latest group").first.text_content()
    assert len(re.findall(r"(grpo|ds) · step \d+ · prompt", viewer)) == 2
    reopened = time.time() - t0
    dashboard_output(page).screenshot(path=str(artifacts / "browser_03_reopened.png"))
    stop = dashboard_output(page).locator("button.widget-button", has_text="Stop")
    stop.click()
    wait_for(lambda: "stopped" in status_text(page), 120, "the re-opened run to stop")
    return {"reopen_to_history_s": round(reopened, 1)}
