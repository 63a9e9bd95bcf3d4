"""A real browser drives JupyterLab: open notebook 03, Run All, move the γp slider while the
model trains, and check that the run logged the new value and the plot redrew with its marker.
Leaves screenshots in test-artifacts/ (look at them: would a student understand the page?).

Needs /usr/bin/chromium (Debian package) and the playwright Python package (never
`playwright install`); skipped with the reason otherwise. The notebook runs with its real
settings on a tiny model (DSNB_NANO), so training is slow enough to steer and fast to start.
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "03_live_ds_grpo_nano.ipynb"
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"no {CHROMIUM} (apt-get install chromium)"),
]
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


def ds_rows(root: Path) -> list[dict]:
    path = root / "runs" / "03_nano_compare" / "ds" / "metrics.jsonl"
    return [json.loads(x) for x in path.read_text().splitlines()] if path.exists() else []


def test_moving_the_gamma_slider_in_jupyterlab_steers_the_run_and_redraws_the_plot(lab):
    url, root = lab
    artifacts = ROOT / "test-artifacts"
    artifacts.mkdir(exist_ok=True)
    t0 = time.time()
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1900})
        try:
            steer_in_the_browser(page, url, root, artifacts)
        except Exception:
            page.screenshot(path=str(artifacts / "browser_03_failure.png"))
            raise
        finally:
            browser.close()
    seconds = {"open_run_steer_check": round(time.time() - t0, 1)}
    (artifacts / "browser_seconds.json").write_text(json.dumps(seconds))


def steer_in_the_browser(page, url, root, artifacts):
    """Open, Run All, press ArrowRight on the γp slider, check the run and the plot."""
    page.goto(f"{url}/lab/tree/{NOTEBOOK}")
    page.wait_for_selector(".jp-Notebook-ExecutionIndicator[data-status='idle']", timeout=60_000)
    wait_for(lambda: kernel_ready(url), 60, "the kernel to connect")  # else Lab asks for a kernel
    page.click(".lm-MenuBar-itemLabel:text-is('Run')")
    page.click(".lm-Menu-itemLabel:text-is('Run All Cells')")
    handle = page.locator(".widget-slider .noUi-handle").first
    handle.wait_for(timeout=90_000)
    wait_for(lambda: len(ds_rows(root)) >= 1, 120, "the first training step")
    handle.scroll_into_view_if_needed()
    handle.click()
    for _ in range(4):  # γp: 0 -> 0.2 in steps of 0.05
        page.keyboard.press("ArrowRight")
    readout = page.locator(".widget-slider .widget-readout").first
    wait_for(lambda: readout.text_content().strip() == "0.200", 10, "the slider readout")
    wait_for(
        lambda: [r for r in ds_rows(root) if r["ds/gamma_p"] == pytest.approx(0.2)],
        120,
        "a metrics row with the new gamma_p",
    )
    events = (root / "runs" / "03_nano_compare" / "ds" / "events.jsonl").read_text()
    assert '"field": "gamma_p"' in events and '"new": 0.2' in events
    marker = page.locator(".js-plotly-plot .annotation-text", has_text="γp").filter(has_text="0.2")
    marker.first.wait_for(timeout=60_000)  # the plot redrew, with the change marked
    dashboard = page.locator(".jp-OutputArea-output:has(.widget-slider)").first
    dashboard.screenshot(path=str(artifacts / "browser_03_dashboard.png"))
    page.screenshot(path=str(artifacts / "browser_03_page.png"))
